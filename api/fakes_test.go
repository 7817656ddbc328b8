package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lovoo/goka/storage"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/processors/inventory"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// fakeTable is a goka view held in a map. Values are what the view's codec
// would give: inventory.State for stock, inventory.OrderIndex for orders.
type fakeTable struct {
	recovered atomic.Bool
	mu        struct {
		sync.Mutex
		values map[string]any
		err    error
	}
}

func newFakeTable() *fakeTable {
	t := &fakeTable{}
	t.mu.values = map[string]any{}
	t.recovered.Store(true)
	return t
}

func (t *fakeTable) Get(key string) (any, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.err != nil {
		return nil, t.mu.err
	}
	return t.mu.values[key], nil
}

func (t *fakeTable) Recovered() bool { return t.recovered.Load() }

func (t *fakeTable) set(key string, v any) {
	t.mu.Lock()
	t.mu.values[key] = v
	t.mu.Unlock()
}

func (t *fakeTable) failWith(err error) {
	t.mu.Lock()
	t.mu.err = err
	t.mu.Unlock()
}

// newTestResults builds a Results without a consumer; tests hand it events
// through deliver, as Run would.
func newTestResults() *Results {
	return newResults(nil, slog.New(slog.DiscardHandler))
}

// fakeKafka is the Sender and, behind it, a one-partition stand-in for the
// inventory topology: by default every command it takes gets the next
// offset, goes through inventory.Decide against the stock table, and its
// events update both tables (waking the notifiers as the views' callbacks
// would) and reach Results. answer replaces all of that with a canned reply.
type fakeKafka struct {
	stock, orders   *fakeTable
	stockN, ordersN *Notifier
	results         *Results
	mem             storage.Storage

	mu struct {
		sync.Mutex
		// states are the SKUs whole, as the processor's memory holds
		// them; the stock view holds their heads.
		states map[string]inventory.State
		sent   []*inventoryv1.Command
		next   int64
		silent bool
		answer func(*inventoryv1.Command) (int32, int64, error)
	}
}

// decideLocked applies a command to a SKU as the topology would, keeping
// the whole SKU and giving the stock view its head; k.mu is held.
func (k *fakeKafka) decideLocked(c inventory.Command) (inventory.State, []inventory.Event) {
	prev, ok := k.mu.states[c.SKU]
	if !ok {
		prev = inventory.NewState()
	}
	next, events := inventory.Decide(prev, c, inventory.DefaultPolicy())
	if k.mu.states == nil {
		k.mu.states = map[string]inventory.State{}
	}
	k.mu.states[c.SKU] = next
	k.stock.set(c.SKU, next.Head())
	return next, events
}

// state is a SKU whole, as the processor's memory holds it.
func (k *fakeKafka) state(sku string) (inventory.State, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s, ok := k.mu.states[sku]
	return s, ok
}

func (k *fakeKafka) send(_ context.Context, cmd *inventoryv1.Command) (int32, int64, error) {
	k.mu.Lock()
	k.mu.sent = append(k.mu.sent, proto.Clone(cmd).(*inventoryv1.Command))
	answer := k.mu.answer
	k.mu.Unlock()
	if answer != nil {
		return answer(cmd)
	}
	return 0, k.apply(cmd), nil
}

// apply runs a command through the decision logic as the topology would
// and returns its offset.
func (k *fakeKafka) apply(cmd *inventoryv1.Command) int64 {
	k.mu.Lock()
	offset := k.mu.next
	k.mu.next++
	silent := k.mu.silent
	c := inventory.CommandFromWire(cmd, 0, offset)
	_, events := k.decideLocked(c)
	var changedOrders []string
	for _, e := range events {
		v, _ := k.orders.Get(e.OrderID)
		x, _ := v.(inventory.OrderIndex)
		if x, changed := inventory.IndexEvent(x, e); changed {
			k.orders.set(e.OrderID, x)
			changedOrders = append(changedOrders, e.OrderID)
		}
	}
	k.mu.Unlock()

	k.notify(k.stockN, c.SKU)
	for _, id := range changedOrders {
		k.notify(k.ordersN, id)
	}
	if !silent {
		for _, e := range events {
			if e.IsResult() {
				k.results.deliver(e)
			}
		}
	}
	return offset
}

// notify reports an update of key through the callback a view calls.
func (k *fakeKafka) notify(n *Notifier, key string) {
	if err := n.Callback()(nil, k.mem, key, []byte{1}); err != nil {
		panic(err)
	}
}

func (k *fakeKafka) sent() []*inventoryv1.Command {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]*inventoryv1.Command(nil), k.mu.sent...)
}

func (k *fakeKafka) setSilent(v bool) {
	k.mu.Lock()
	k.mu.silent = v
	k.mu.Unlock()
}

func (k *fakeKafka) setAnswer(f func(*inventoryv1.Command) (int32, int64, error)) {
	k.mu.Lock()
	k.mu.answer = f
	k.mu.Unlock()
}

// testEnv is a Server over fakes.
type testEnv struct {
	s        *Server
	k        *fakeKafka
	reg      *prometheus.Registry
	extReady atomic.Bool
}

func newEnv(t testing.TB, opts Options) *testEnv {
	t.Helper()
	k := &fakeKafka{
		stock: newFakeTable(), orders: newFakeTable(),
		stockN: NewNotifier(), ordersN: NewNotifier(),
		results: newTestResults(), mem: storage.NewMemory(),
	}
	e := &testEnv{k: k, reg: prometheus.NewRegistry()}
	e.extReady.Store(true)
	if opts.CommandWait == 0 {
		// Results come back inside Send, so a test that expects one never
		// sees this wait run out.
		opts.CommandWait = time.Minute
	}
	if opts.ReadWait == 0 {
		opts.ReadWait = time.Minute
	}
	opts.Registerer = e.reg
	opts.Logger = slog.New(slog.DiscardHandler)
	s, err := New(Deps{
		Stock: k.stock, StockNotifier: k.stockN,
		Orders: k.orders, OrdersNotifier: k.ordersN,
		Send: k.send, Results: k.results,
		Ready: e.extReady.Load,
	}, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.s = s
	return e
}

type response struct {
	status int
	ctype  string
	body   []byte
	// allow and authenticate are the Allow and WWW-Authenticate headers.
	allow, authenticate string
	// retryAfter, viewLag and viewAge are the Retry-After and view
	// freshness headers; viewLag is nil when absent.
	retryAfter, viewAge string
	viewLag             []byte
}

func (r response) String() string { return string(r.body) }

// do runs one request through Server.Handler as a well-behaved client
// sends it: a POST says its body is JSON. uri is sent as is, so it may
// carry escapes and a query.
func (e *testEnv) do(method, uri, body string) response {
	var h []string
	if method == "POST" {
		h = []string{"Content-Type", "application/json"}
	}
	return e.doWith(method, uri, body, h...)
}

// doWith is do with exactly the headers given, as name, value pairs.
func (e *testEnv) doWith(method, uri, body string, headers ...string) response {
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI(uri)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if body != "" {
		req.SetBodyString(body)
	}
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, nil, nil)
	e.s.Handler(&ctx)
	return response{
		status:       ctx.Response.StatusCode(),
		ctype:        string(ctx.Response.Header.ContentType()),
		body:         append([]byte(nil), ctx.Response.Body()...),
		allow:        string(ctx.Response.Header.Peek("Allow")),
		authenticate: string(ctx.Response.Header.Peek("WWW-Authenticate")),
		retryAfter:   string(ctx.Response.Header.Peek("Retry-After")),
		viewLag:      append([]byte(nil), ctx.Response.Header.Peek(HeaderViewLag)...),
		viewAge:      string(ctx.Response.Header.Peek(HeaderViewAge)),
	}
}

// mustDo is do for requests that are expected to succeed with status.
func (e *testEnv) mustDo(t testing.TB, method, uri, body string, status int) response {
	t.Helper()
	r := e.do(method, uri, body)
	if r.status != status {
		t.Fatalf("%s %s %s: status %d, want %d: %s", method, uri, body, r.status, status, r)
	}
	return r
}

// mustDoWith is doWith for requests that are expected to succeed with
// status.
func (e *testEnv) mustDoWith(t testing.TB, method, uri, body string, status int, headers ...string) response {
	t.Helper()
	r := e.doWith(method, uri, body, headers...)
	if r.status != status {
		t.Fatalf("%s %s %s %q: status %d, want %d: %s", method, uri, body, headers, r.status, status, r)
	}
	return r
}

// restock brings sku's stock on hand up by qty through the API.
func (e *testEnv) restock(t testing.TB, sku string, qty int) {
	t.Helper()
	e.mustDo(t, "POST", "/v1/inventory/"+sku+"/restock", `{"qty":`+itoa(qty)+`}`, 200)
}

// checkError asserts r is the catalogue's error with code, as JSON with
// the fields code and message, and field where it names one.
func checkError(t testing.TB, r response, code Code) {
	t.Helper()
	want, ok := byCode(code)
	if !ok {
		t.Fatalf("code %q is not in the catalogue", code)
	}
	if r.status != want.status {
		t.Errorf("status %d, want %d (%s): %s", r.status, want.status, code, r)
	}
	if r.ctype != "application/json" {
		t.Errorf("content type %q, want application/json", r.ctype)
	}
	var got map[string]any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatalf("error body is not JSON: %v: %q", err, r.body)
	}
	message, _ := got["message"].(string)
	field, hasField := got["field"].(string)
	if got["code"] != string(code) || len(got) != 2+btoi(hasField) {
		t.Errorf("error body %s, want {code: %q, message, field (optional)}", r, code)
	}
	if err := catalogueMessage(want, message, field); err != nil {
		t.Errorf("error body %s: %v", r, err)
	}
}

// catalogueMessage checks an error's message and field against the
// catalogue's entry want: without a field, the message is the entry's;
// with one, it starts with the field, and is then the entry's message or,
// for invalid_field, unknown_field and invalid_views, which always name
// one, a detail.
func catalogueMessage(want apiError, message, field string) error {
	perField := want.Code == errInvalidField.Code || want.Code == errUnknownField.Code || want.Code == errInvalidViews.Code
	switch {
	case field == "" && perField:
		return fmt.Errorf("%s names no field", want.Code)
	case field == "" && message != want.Message:
		return fmt.Errorf("message %q, want %q", message, want.Message)
	case field == "":
		return nil
	case !strings.HasPrefix(message, field+": "):
		return fmt.Errorf("message %q does not start with its field %q", message, field)
	case perField && len(message) == len(field)+2:
		return fmt.Errorf("message %q says nothing after the field", message)
	case !perField && message != field+": "+want.Message:
		return fmt.Errorf("message %q, want %q", message, field+": "+want.Message)
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func byCode(code Code) (apiError, bool) {
	for _, e := range catalogue {
		if e.Code == code {
			return e, true
		}
	}
	return apiError{}, false
}

func decode[T any](t testing.TB, r response) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("response %q does not decode as %T: %v", r.body, v, err)
	}
	return v
}

// fields returns the keys of a JSON object response.
func fields(t testing.TB, r response) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %q is not a JSON object: %v", r.body, err)
	}
	return m
}

func itoa(n int) string { return strconv.Itoa(n) }
