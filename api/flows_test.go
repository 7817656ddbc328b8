package api

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/titan-commerce/titan/processors/inventory"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

var reservationFields = []string{"order_id", "sku", "qty", "status", "reason", "expires_at", "offset"}

func checkFields(t *testing.T, r response, required []string, optional ...string) {
	t.Helper()
	m := fields(t, r)
	for _, f := range required {
		if _, ok := m[f]; !ok {
			t.Errorf("field %q missing from %s", f, r)
		}
	}
	for f := range m {
		if !slices.Contains(required, f) && !slices.Contains(optional, f) {
			t.Errorf("unexpected field %q in %s", f, r)
		}
	}
}

func TestReserveCreated(t *testing.T) {
	e := newEnv(t, Options{})
	e.restock(t, "sku-1", 10)
	before := time.Now()
	r := e.mustDo(t, "POST", "/v1/inventory/sku-1/reservations",
		`{"order_id":"o-1","qty":3,"ttl_ms":60000,"command_id":"c-1"}`, 201)
	after := time.Now()
	checkFields(t, r, reservationFields, "command_id")

	got := decode[reservationJSON](t, r)
	want := reservationJSON{OrderID: "o-1", SKU: "sku-1", Qty: 3, Status: "reserved", Offset: 1, CommandID: "c-1", ExpiresAt: got.ExpiresAt}
	if got != want {
		t.Errorf("reservation %+v, want %+v", got, want)
	}
	// Commands carry millisecond timestamps, so the deadline is the
	// request's time truncated to the millisecond plus the TTL.
	exp, err := time.Parse(time.RFC3339Nano, got.ExpiresAt)
	if err != nil {
		t.Fatalf("expires_at %q: %v", got.ExpiresAt, err)
	}
	if lo, hi := before.Truncate(time.Millisecond).Add(time.Minute), after.Add(time.Minute); exp.Before(lo) || exp.After(hi) {
		t.Errorf("expires_at %v not in [%v, %v]", exp, lo, hi)
	}

	sent := e.k.sent()
	if len(sent) != 2 {
		t.Fatalf("%d commands sent, want 2", len(sent))
	}
	c := sent[1]
	if c.GetCommandId() != "c-1" || c.GetSku() != "sku-1" || c.GetOrderId() != "o-1" || c.GetQty() != 3 ||
		c.GetReserve().GetTtlMs() != 60000 {
		t.Errorf("command sent %v", c)
	}
	if ts := c.GetTimestampMs(); ts < before.UnixMilli() || ts > after.UnixMilli() {
		t.Errorf("command timestamp %d not in [%d, %d]", ts, before.UnixMilli(), after.UnixMilli())
	}

	st := decode[stockJSON](t, e.mustDo(t, "GET", "/v1/inventory/sku-1?min_offset=1", ``, 200))
	if st != (stockJSON{SKU: "sku-1", OnHand: 10, Reserved: 3, Available: 7, Offset: 1}) {
		t.Errorf("stock %+v", st)
	}
}

func TestReserveRejected(t *testing.T) {
	e := newEnv(t, Options{})
	e.restock(t, "sku-1", 2)
	r := e.mustDo(t, "POST", "/v1/inventory/sku-1/reservations", `{"order_id":"o-1","qty":3,"ttl_ms":60000}`, 409)
	checkFields(t, r, reservationFields, "command_id")
	got := decode[reservationJSON](t, r)
	if got.Status != "rejected" || got.Reason != inventory.ReasonInsufficientStock || got.Qty != 3 ||
		got.ExpiresAt != "" || got.OrderID != "o-1" || got.SKU != "sku-1" || got.Offset != 1 {
		t.Errorf("rejection %+v", got)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(got.CommandID) {
		t.Errorf("generated command id %q", got.CommandID)
	}

	e.mustDo(t, "POST", "/v1/inventory/sku-1/reservations", `{"order_id":"o-2","qty":2,"ttl_ms":60000}`, 201)
	r = e.mustDo(t, "POST", "/v1/inventory/sku-1/reservations", `{"order_id":"o-2","qty":1,"ttl_ms":60000}`, 409)
	if got := decode[reservationJSON](t, r); got.Reason != inventory.ReasonAlreadyReserved {
		t.Errorf("second reservation of one order: %+v", got)
	}
}

// TestIdempotentRetry: a command id seen before yields its first result,
// offset included, and changes nothing.
func TestIdempotentRetry(t *testing.T) {
	e := newEnv(t, Options{})
	first := decode[stockJSON](t, e.mustDo(t, "POST", "/v1/inventory/sku-1/restock", `{"qty":5,"command_id":"r-1"}`, 200))
	again := decode[stockJSON](t, e.mustDo(t, "POST", "/v1/inventory/sku-1/restock", `{"qty":5,"command_id":"r-1"}`, 200))
	if first != again || first != (stockJSON{SKU: "sku-1", OnHand: 5, Available: 5, Offset: 0}) {
		t.Errorf("restock %+v, retry %+v", first, again)
	}
	body := `{"order_id":"o-1","qty":2,"ttl_ms":60000,"command_id":"c-1"}`
	a := decode[reservationJSON](t, e.mustDo(t, "POST", "/v1/inventory/sku-1/reservations", body, 201))
	b := decode[reservationJSON](t, e.mustDo(t, "POST", "/v1/inventory/sku-1/reservations", body, 201))
	if a != b {
		t.Errorf("reserve %+v, retry %+v", a, b)
	}
	st := decode[stockJSON](t, e.mustDo(t, "GET", "/v1/inventory/sku-1", ``, 200))
	if st.OnHand != 5 || st.Reserved != 2 {
		t.Errorf("stock after retries %+v", st)
	}
}

func TestRestock(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.mustDo(t, "POST", "/v1/inventory/sku-1/restock", `{"qty":7}`, 200)
	checkFields(t, r, []string{"sku", "on_hand", "reserved", "available", "sold", "offset"})
	if got := decode[stockJSON](t, r); got != (stockJSON{SKU: "sku-1", OnHand: 7, Available: 7}) {
		t.Errorf("stock %+v", got)
	}
	if c := e.k.sent()[0]; c.GetRestock() == nil || c.GetQty() != 7 || c.GetOrderId() != "" {
		t.Errorf("command sent %v", c)
	}
}

func TestCommandPending(t *testing.T) {
	e := newEnv(t, Options{CommandWait: 20 * time.Millisecond})
	e.restock(t, "sku-1", 10)
	e.k.setSilent(true) // Kafka takes the commands; no result comes back

	pendingFields := []string{"status", "command_id", "offset", "poll"}
	r := e.mustDo(t, "POST", "/v1/inventory/sku-1/reservations", `{"order_id":"o/1","qty":1,"ttl_ms":60000,"command_id":"c-1"}`, 202)
	checkFields(t, r, pendingFields)
	p := decode[pendingJSON](t, r)
	if p != (pendingJSON{Status: "pending", CommandID: "c-1", Offset: 1, Poll: "/v1/inventory/reservations/o%2F1"}) {
		t.Errorf("pending %+v", p)
	}
	// The poll URL answers once the command is applied (the fake applied
	// it already).
	o := decode[orderJSON](t, e.mustDo(t, "GET", p.Poll, ``, 200))
	if len(o.Reservations) != 1 || o.Reservations[0].Status != "reserved" || o.OrderID != "o/1" {
		t.Errorf("poll %+v", o)
	}

	r = e.mustDo(t, "POST", "/v1/inventory/s%20k/restock", `{"qty":1}`, 202)
	p = decode[pendingJSON](t, r)
	if p.Status != "pending" || p.Offset != 2 || p.Poll != "/v1/inventory/s%20k?min_offset=2" || len(p.CommandID) != 32 {
		t.Errorf("pending %+v", p)
	}
	if st := decode[stockJSON](t, e.mustDo(t, "GET", p.Poll, ``, 200)); st.OnHand != 1 || st.SKU != "s k" {
		t.Errorf("poll %+v", st)
	}

	r = e.mustDo(t, "POST", "/v1/inventory/reservations/o%2F1/commit", `{"command_id":"k"}`, 202)
	p = decode[pendingJSON](t, r)
	if p != (pendingJSON{Status: "pending", CommandID: "k/sku-1", Offset: 3, Poll: "/v1/inventory/reservations/o%2F1"}) {
		t.Errorf("pending commit %+v", p)
	}

	// The offset of a pending answer is the one Kafka acknowledged.
	e.k.setAnswer(func(*inventoryv1.Command) (int32, int64, error) { return 7, 42, nil })
	p = decode[pendingJSON](t, e.mustDo(t, "POST", "/v1/inventory/sku-1/restock", `{"qty":1}`, 202))
	if p.Offset != 42 {
		t.Errorf("pending offset %d, want 42", p.Offset)
	}
}

func TestSendFailure(t *testing.T) {
	e := newEnv(t, Options{})
	seedOrder(t, e)
	e.k.setAnswer(func(*inventoryv1.Command) (int32, int64, error) { return 0, 0, errors.New("broker gone") })
	for _, req := range [][2]string{
		{"/v1/inventory/" + testSKU + "/restock", `{"qty":1}`},
		{"/v1/inventory/" + testSKU + "/reservations", `{"order_id":"o-9","qty":1,"ttl_ms":1000}`},
		{"/v1/inventory/reservations/" + testOrder + "/commit", ``},
		{"/v1/inventory/reservations/" + testOrder + "/release", `{}`},
	} {
		checkError(t, e.do("POST", req[0], req[1]), errUnavailable.Code)
	}
}

func TestCommitAndRelease(t *testing.T) {
	e := newEnv(t, Options{})
	e.restock(t, "a", 5)
	e.restock(t, "b", 5)
	for _, sku := range []string{"a", "b", "c"} { // c has no stock: rejected
		e.do("POST", "/v1/inventory/"+sku+"/reservations", `{"order_id":"o-1","qty":2,"ttl_ms":60000}`)
	}
	n := len(e.k.sent())

	r := e.mustDo(t, "POST", "/v1/inventory/reservations/o-1/commit", `{"command_id":"k1"}`, 200)
	checkFields(t, r, []string{"order_id", "reservations"})
	o := decode[orderJSON](t, r)
	if o.OrderID != "o-1" || len(o.Reservations) != 2 {
		t.Fatalf("commit answer %+v", o)
	}
	for i, sku := range []string{"a", "b"} {
		if l := o.Reservations[i]; l.SKU != sku || l.Status != "committed" || l.Qty != 2 || l.CommandID != "k1/"+sku {
			t.Errorf("line %d: %+v", i, l)
		}
	}
	checkCloseCommands(t, e.k.sent()[n:], "commit", "o-1", "k1/a", "k1/b")
	want := stockJSON{SKU: "a", OnHand: 3, Sold: 2, Available: 3}
	checkStockIgnoringOffset(t, e, want)

	// A retry repeats the same commands, which change nothing.
	n = len(e.k.sent())
	again := decode[orderJSON](t, e.mustDo(t, "POST", "/v1/inventory/reservations/o-1/commit", `{"command_id":"k1"}`, 200))
	checkCloseCommands(t, e.k.sent()[n:], "commit", "o-1", "k1/a", "k1/b")
	for i := range again.Reservations {
		if again.Reservations[i] != o.Reservations[i] {
			t.Errorf("retry line %d: %+v, first %+v", i, again.Reservations[i], o.Reservations[i])
		}
	}
	checkStockIgnoringOffset(t, e, want)

	// A new id on a committed order is a new command, and it is refused.
	r = e.mustDo(t, "POST", "/v1/inventory/reservations/o-1/release", ``, 409)
	for _, l := range decode[orderJSON](t, r).Reservations {
		if l.Status != "rejected" || l.Reason != inventory.ReasonAlreadyCommitted {
			t.Errorf("release of a committed order: %+v", l)
		}
	}

	// Release gives the units back.
	e.mustDo(t, "POST", "/v1/inventory/a/reservations", `{"order_id":"o-2","qty":1,"ttl_ms":60000}`, 201)
	n = len(e.k.sent())
	o = decode[orderJSON](t, e.mustDo(t, "POST", "/v1/inventory/reservations/o-2/release", `{"command_id":"k2"}`, 200))
	if len(o.Reservations) != 1 || o.Reservations[0].Status != "released" {
		t.Errorf("release answer %+v", o)
	}
	checkCloseCommands(t, e.k.sent()[n:], "release", "o-2", "k2/a")
	if st := decode[stockJSON](t, e.mustDo(t, "GET", "/v1/inventory/a", ``, 200)); st.Available != 3 || st.Reserved != 0 {
		t.Errorf("stock after release %+v", st)
	}
	r = e.mustDo(t, "POST", "/v1/inventory/reservations/o-2/commit", ``, 409)
	if l := decode[orderJSON](t, r).Reservations; len(l) != 1 || l[0].Reason != inventory.ReasonAlreadyReleased {
		t.Errorf("commit of a released order: %+v", l)
	}
}

// TestCloseCommandIDs: without a command id each request gets its own;
// an id too long to take a suffix is replaced by a digest, the same on
// every retry and different per SKU.
func TestCloseCommandIDs(t *testing.T) {
	e := newEnv(t, Options{})
	for _, sku := range []string{"a", "b"} {
		e.restock(t, sku, 5)
		for _, order := range []string{"o-1", "o-2"} {
			e.mustDo(t, "POST", "/v1/inventory/"+sku+"/reservations", `{"order_id":"`+order+`","qty":1,"ttl_ms":60000}`, 201)
		}
	}
	n := len(e.k.sent())
	e.mustDo(t, "POST", "/v1/inventory/reservations/o-1/commit", ``, 200)
	sent := e.k.sent()[n:]
	gen := regexp.MustCompile(`^[0-9a-f]{32}/(a|b)$`)
	if len(sent) != 2 || !gen.MatchString(sent[0].GetCommandId()) ||
		sent[1].GetCommandId() != strings.TrimSuffix(sent[0].GetCommandId(), "a")+"b" {
		t.Errorf("commands %v", sent)
	}

	long := strings.Repeat("k", 128)
	n = len(e.k.sent())
	e.mustDo(t, "POST", "/v1/inventory/reservations/o-2/release", `{"command_id":"`+long+`"}`, 200)
	e.mustDo(t, "POST", "/v1/inventory/reservations/o-2/release", `{"command_id":"`+long+`"}`, 200)
	sent = e.k.sent()[n:]
	digest := regexp.MustCompile(`^[0-9a-f]{64}$`)
	ids := []string{sent[0].GetCommandId(), sent[1].GetCommandId(), sent[2].GetCommandId(), sent[3].GetCommandId()}
	if !digest.MatchString(ids[0]) || !digest.MatchString(ids[1]) || ids[0] == ids[1] || ids[0] != ids[2] || ids[1] != ids[3] {
		t.Errorf("ids of a long command id: %q", ids)
	}
	if ids[0] != lineCommandID(long, "a") {
		t.Errorf("id %q, want lineCommandID %q", ids[0], lineCommandID(long, "a"))
	}
	// An id that fits with its suffix is kept readable.
	if got := lineCommandID(strings.Repeat("k", 126), "a"); got != strings.Repeat("k", 126)+"/a" {
		t.Errorf("lineCommandID at the limit: %q", got)
	}
}

func checkStockIgnoringOffset(t *testing.T, e *testEnv, want stockJSON) {
	t.Helper()
	st := decode[stockJSON](t, e.mustDo(t, "GET", "/v1/inventory/"+want.SKU, ``, 200))
	st.Offset = want.Offset
	if st != want {
		t.Errorf("stock %+v, want %+v", st, want)
	}
}

func checkCloseCommands(t *testing.T, sent []*inventoryv1.Command, kind, order string, ids ...string) {
	t.Helper()
	if len(sent) != len(ids) {
		t.Fatalf("%d commands sent, want %d: %v", len(sent), len(ids), sent)
	}
	for i, c := range sent {
		k := inventory.CommandFromWire(c, 0, 0).Kind.String()
		sku := ids[i][strings.LastIndexByte(ids[i], '/')+1:]
		if k != kind || c.GetCommandId() != ids[i] || c.GetOrderId() != order || c.GetSku() != sku {
			t.Errorf("command %d: %v, want %s %s id %s", i, c, kind, order, ids[i])
		}
	}
}

func TestCloseUnknownOrder(t *testing.T) {
	e := newEnv(t, Options{CommandWait: 20 * time.Millisecond})
	// An order whose only line was rejected holds nothing to close.
	e.mustDo(t, "POST", "/v1/inventory/empty/reservations", `{"order_id":"rejected","qty":1,"ttl_ms":1000}`, 409)
	n := len(e.k.sent())
	for _, uri := range []string{
		"/v1/inventory/reservations/nope/commit", "/v1/inventory/reservations/nope/release",
		"/v1/inventory/reservations/rejected/commit",
	} {
		checkError(t, e.do("POST", uri, ``), errReservationNotFound.Code)
	}
	checkError(t, e.do("GET", "/v1/inventory/reservations/nope", ``), errReservationNotFound.Code)
	if got := len(e.k.sent()); got != n {
		t.Errorf("%d commands sent for unknown orders", got-n)
	}
}

// TestCloseWaitsForIndex: a commit that arrives before the order index
// shows the reservation waits for it.
func TestCloseWaitsForIndex(t *testing.T) {
	e := newEnv(t, Options{})
	e.restock(t, "a", 5)
	done := make(chan response, 1)
	go func() { done <- e.do("POST", "/v1/inventory/reservations/late/commit", `{"command_id":"k"}`) }()
	waitWaiter(t, e.k.ordersN, "late")
	select {
	case r := <-done:
		t.Fatalf("commit answered before the reservation existed: %d %s", r.status, r)
	default:
	}
	e.mustDo(t, "POST", "/v1/inventory/a/reservations", `{"order_id":"late","qty":1,"ttl_ms":60000}`, 201)
	r := waitResponse(t, done)
	if r.status != 200 {
		t.Fatalf("commit: %d %s", r.status, r)
	}
	if o := decode[orderJSON](t, r); len(o.Reservations) != 1 || o.Reservations[0].Status != "committed" {
		t.Errorf("commit %+v", o)
	}
}

func TestGetStockNeverSeen(t *testing.T) {
	e := newEnv(t, Options{ReadWait: 20 * time.Millisecond})
	r := e.mustDo(t, "GET", "/v1/inventory/never", ``, 200)
	checkFields(t, r, []string{"sku", "on_hand", "reserved", "available", "sold", "offset"})
	if got := decode[stockJSON](t, r); got != (stockJSON{SKU: "never", Offset: -1}) {
		t.Errorf("stock %+v", got)
	}
	checkError(t, e.do("GET", "/v1/inventory/never?min_offset=0", ``), errOffsetNotReached.Code)
}

func TestGetStockMinOffset(t *testing.T) {
	e := newEnv(t, Options{})
	e.restock(t, "a", 1) // offset 0
	e.restock(t, "b", 1) // offset 1
	for _, q := range []string{"", "?min_offset=0", "?other=1", "?min_offset=0&min_offset=9"} {
		if st := decode[stockJSON](t, e.mustDo(t, "GET", "/v1/inventory/a"+q, ``, 200)); st.OnHand != 1 || st.Offset != 0 {
			t.Errorf("%s: %+v", q, st)
		}
	}

	done := make(chan response, 1)
	go func() { done <- e.do("GET", "/v1/inventory/a?min_offset=3", ``) }()
	waitWaiter(t, e.k.stockN, "a")
	noResponse(t, done)

	// An update below min_offset wakes the read, which waits again.
	e.restock(t, "a", 1) // offset 2
	waitWaiter(t, e.k.stockN, "a")
	noResponse(t, done)

	e.restock(t, "b", 1) // offset 3, another key: no wake-up
	noResponse(t, done)

	e.restock(t, "a", 1) // offset 4
	r := waitResponse(t, done)
	if r.status != 200 {
		t.Fatalf("read: %d %s", r.status, r)
	}
	if st := decode[stockJSON](t, r); st.OnHand != 3 || st.Offset != 4 {
		t.Errorf("stock %+v", st)
	}
}

func TestGetStockOffsetNotReached(t *testing.T) {
	e := newEnv(t, Options{ReadWait: 20 * time.Millisecond})
	e.restock(t, "a", 1)
	checkError(t, e.do("GET", "/v1/inventory/a?min_offset=1", ``), errOffsetNotReached.Code)
	checkError(t, e.do("GET", "/v1/inventory/a?min_offset=9223372036854775807", ``), errOffsetNotReached.Code)
}

func TestGetReservations(t *testing.T) {
	e := newEnv(t, Options{})
	e.restock(t, "a", 5)
	e.mustDo(t, "POST", "/v1/inventory/a/reservations", `{"order_id":"o-1","qty":2,"ttl_ms":60000,"command_id":"c"}`, 201)
	e.mustDo(t, "POST", "/v1/inventory/b/reservations", `{"order_id":"o-1","qty":2,"ttl_ms":60000}`, 409)
	r := e.mustDo(t, "GET", "/v1/inventory/reservations/o-1", ``, 200)
	checkFields(t, r, []string{"order_id", "reservations"})
	o := decode[orderJSON](t, r)
	if o.OrderID != "o-1" || len(o.Reservations) != 2 {
		t.Fatalf("order %+v", o)
	}
	if a := o.Reservations[0]; a.SKU != "a" || a.Status != "reserved" || a.Qty != 2 || a.ExpiresAt == "" || a.CommandID != "" {
		t.Errorf("line a %+v", a)
	}
	if b := o.Reservations[1]; b.SKU != "b" || b.Status != "rejected" || b.Reason != inventory.ReasonInsufficientStock {
		t.Errorf("line b %+v", b)
	}
	// Lines are reservations as the document describes them: no command id.
	if strings.Contains(string(r.body), "command_id") {
		t.Errorf("order lines carry command ids: %s", r)
	}
}

func TestReadiness(t *testing.T) {
	e := newEnv(t, Options{})
	seedOrder(t, e)
	n := len(e.k.sent())
	e.mustDo(t, "GET", "/readyz", ``, 200)

	e.extReady.Store(false)
	checkError(t, e.do("GET", "/readyz", ``), errNotReady.Code)
	e.mustDo(t, "GET", "/healthz", ``, 200)
	checkError(t, e.do("POST", "/v1/inventory/"+testSKU+"/restock", `{"qty":1}`), errNotReady.Code)
	checkError(t, e.do("POST", "/v1/inventory/"+testSKU+"/reservations", `{"order_id":"x","qty":1,"ttl_ms":1000}`), errNotReady.Code)
	checkError(t, e.do("POST", "/v1/inventory/reservations/"+testOrder+"/commit", ``), errNotReady.Code)
	checkError(t, e.do("POST", "/v1/inventory/reservations/"+testOrder+"/release", ``), errNotReady.Code)
	if got := len(e.k.sent()); got != n {
		t.Errorf("%d commands sent while not ready", got-n)
	}
	e.extReady.Store(true)

	e.k.stock.recovered.Store(false)
	checkError(t, e.do("GET", "/readyz", ``), errNotReady.Code)
	checkError(t, e.do("GET", "/v1/inventory/"+testSKU, ``), errNotReady.Code)
	e.k.stock.recovered.Store(true)

	e.k.orders.recovered.Store(false)
	checkError(t, e.do("GET", "/readyz", ``), errNotReady.Code)
	checkError(t, e.do("POST", "/v1/inventory/reservations/"+testOrder+"/commit", ``), errNotReady.Code)
	if got := len(e.k.sent()); got != n {
		t.Errorf("%d commands sent while not ready", got-n)
	}
}

// TestGetReservationsNotReady: the order index of a view still
// recovering is not an answer. A goka view that is not running yet
// answers Get with an error, which today becomes a 500; a recovering one
// answers from a partial replica, which can be a false 404.
func TestGetReservationsNotReady(t *testing.T) {
	e := newEnv(t, Options{CommandWait: 20 * time.Millisecond})
	seedOrder(t, e)
	e.k.orders.recovered.Store(false)
	checkError(t, e.do("GET", "/v1/inventory/reservations/"+testOrder, ``), errNotReady.Code)
	checkError(t, e.do("GET", "/v1/inventory/reservations/unknown", ``), errNotReady.Code)
	// commit must not wait out CommandWait and answer 404 for an order
	// the replica has not caught up with.
	checkError(t, e.do("POST", "/v1/inventory/reservations/unknown/commit", ``), errNotReady.Code)
}

func TestTableErrors(t *testing.T) {
	e := newEnv(t, Options{})
	seedOrder(t, e)
	e.k.stock.failWith(errors.New("disk on fire"))
	checkError(t, e.do("GET", "/v1/inventory/"+testSKU, ``), errInternal.Code)
	e.k.orders.failWith(errors.New("disk on fire"))
	checkError(t, e.do("GET", "/v1/inventory/reservations/"+testOrder, ``), errInternal.Code)
	checkError(t, e.do("POST", "/v1/inventory/reservations/"+testOrder+"/commit", ``), errInternal.Code)
}

// TestRouting: literal segments win over parameters at equal depth, and
// parameters are unescaped once.
func TestRouting(t *testing.T) {
	e := newEnv(t, Options{})
	// "reservations" is a SKU where a SKU is the only reading.
	e.mustDo(t, "POST", "/v1/inventory/reservations/restock", `{"qty":2}`, 200)
	if st := decode[stockJSON](t, e.mustDo(t, "GET", "/v1/inventory/reservations", ``, 200)); st.SKU != "reservations" || st.OnHand != 2 {
		t.Errorf("stock of SKU reservations %+v", st)
	}
	e.mustDo(t, "POST", "/v1/inventory/reservations/reservations", `{"order_id":"restock","qty":1,"ttl_ms":60000}`, 201)
	// ...and an order where the literal says so.
	o := decode[orderJSON](t, e.mustDo(t, "GET", "/v1/inventory/reservations/restock", ``, 200))
	if o.OrderID != "restock" || len(o.Reservations) != 1 || o.Reservations[0].SKU != "reservations" {
		t.Errorf("order restock %+v", o)
	}
	// %25 is a literal percent sign, not a second escape.
	e.mustDo(t, "POST", "/v1/inventory/100%2541/restock", `{"qty":1}`, 200)
	if st := decode[stockJSON](t, e.mustDo(t, "GET", "/v1/inventory/100%2541", ``, 200)); st.SKU != "100%41" || st.OnHand != 1 {
		t.Errorf("stock %+v", st)
	}
	// Surrounding slashes do not change the route.
	e.mustDo(t, "GET", "/healthz/", ``, 200)
}

func TestMetricsAndDocument(t *testing.T) {
	e := newEnv(t, Options{})
	e.restock(t, "a", 1)
	e.do("GET", "/nowhere", ``)
	r := e.mustDo(t, "GET", "/metrics", ``, 200)
	for _, want := range []string{
		`titan_http_requests_total{code="200",route="restock"} 1`,
		`titan_http_requests_total{code="404",route="unmatched"} 1`,
		`titan_http_request_duration_seconds_count{route="restock"} 1`,
	} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	r = e.mustDo(t, "GET", "/openapi.yaml", ``, 200)
	if r.ctype != "application/yaml" || string(r.body) != string(readOpenAPI(t)) {
		t.Errorf("openapi.yaml served as %q, %d bytes", r.ctype, len(r.body))
	}
}

// TestNotifierForgetsAbandonedWaits: a read that gives up must not leave
// its key behind in the notifier, or every min_offset read of a quiet SKU
// and every close of an unknown order grows the map for good.
func TestNotifierForgetsAbandonedWaits(t *testing.T) {
	e := newEnv(t, Options{ReadWait: time.Millisecond, CommandWait: time.Millisecond})
	for i := range 50 {
		e.do("GET", "/v1/inventory/ghost-"+itoa(i)+"?min_offset=1", ``)
		e.do("POST", "/v1/inventory/reservations/ghost-"+itoa(i)+"/commit", ``)
	}
	for name, n := range map[string]*Notifier{"stock": e.k.stockN, "orders": e.k.ordersN} {
		n.mu.Lock()
		left := len(n.mu.waiters)
		n.mu.Unlock()
		if left != 0 {
			t.Errorf("%s notifier keeps %d keys nobody waits for", name, left)
		}
	}
}

func TestResults(t *testing.T) {
	r := newTestResults()
	a, cancelA, _ := r.wait("c-1")
	b, cancelB, _ := r.wait("c-1")
	other, cancelOther, _ := r.wait("c-2")
	defer cancelOther()
	r.deliver(inventory.Event{Type: inventory.EventRestocked, CommandID: "c-1", Offset: 9})
	r.deliver(inventory.Event{Type: inventory.EventRestocked, CommandID: "nobody"})
	for _, ch := range []<-chan inventory.Event{a, b} {
		select {
		case e := <-ch:
			if e.Offset != 9 {
				t.Errorf("event %+v", e)
			}
		default:
			t.Error("a waiter got no event")
		}
	}
	select {
	case e := <-other:
		t.Errorf("waiter for c-2 got %+v", e)
	default:
	}
	cancelA()
	cancelB()

	// A cancelled waiter is forgotten and never blocks a delivery.
	_, cancel, _ := r.wait("c-3")
	cancel()
	r.deliver(inventory.Event{CommandID: "c-3"})
	if got := r.waiters.take("c-3", func(answerWaiter[inventory.Event]) bool { return true }); len(got) != 0 || r.waiters.keys() != 1 {
		t.Errorf("waiters left: %d under c-3, %d keys", len(got), r.waiters.keys())
	}
}

// waitWaiter waits until a request is blocked on key in n.
func waitWaiter(t *testing.T, n *Notifier, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		n.mu.Lock()
		_, ok := n.mu.waiters[key]
		n.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("nobody waits for %q", key)
		case <-tick.C:
		}
	}
}

func waitResponse(t *testing.T, ch <-chan response) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		t.Fatal("no response")
		return response{}
	}
}

func noResponse(t *testing.T, ch <-chan response) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("answered early: %d %s", r.status, r)
	default:
	}
}
