package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/api"
	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/instancetest"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/schemas/codec"
)

// e2e talks to one instance over real HTTP.
type e2e struct {
	t    *testing.T
	base string
	hc   *http.Client
	// ids are the command ids the test sent; nothing else may reach the
	// commands topic but the sweeper's expiries.
	ids map[string]bool
}

// startInstance runs one instance on the real broker in a namespace of
// its own, waits until it is ready, and stops it and deletes its topics
// and groups when the test ends.
func startInstance(t *testing.T) (*e2e, *instance.Instance) {
	t.Helper()
	return runInstance(t, instance.Config{
		Partitions: 2,
		// Long waits, so a slow machine answers late rather than 202.
		CommandWait:   30 * time.Second,
		ReadWait:      30 * time.Second,
		SweepInterval: 200 * time.Millisecond,
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
}

// runInstance runs an instance of cfg (instancetest.Run) with its HTTP API on a free loopback
// port, and waits until the API answers ready.
func runInstance(t *testing.T, cfg instance.Config) (*e2e, *instance.Instance) {
	t.Helper()
	cfg.HTTPAddr = "127.0.0.1:0"
	// The instance builds with the test's context, which lives as long as the instance does.
	inst := instancetest.Run(t.Context(), t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c := &e2e{t: t, base: "http://" + inst.HTTPAddr(), hc: &http.Client{Timeout: 2 * time.Minute}, ids: map[string]bool{}}
	if err := poll(ctx, func() bool {
		status, _, err := c.try("GET", "/readyz", "")
		return err == nil && status == 200
	}); err != nil {
		t.Fatalf("instance not ready: %v", err)
	}
	return c, inst
}

// poll calls ok until it reports true or ctx ends.
func poll(ctx context.Context, ok func() bool) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !ok() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// try sends one request as a well-behaved client does (a POST says its
// body is JSON); uri goes on the wire byte for byte.
func (c *e2e) try(method, uri, body string) (int, []byte, error) {
	path, query, _ := strings.Cut(uri, "?")
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.URL.Opaque, req.URL.RawQuery = path, query
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// tryHeadersOnly announces the body's length but sends only the headers.
// fasthttp refuses a body far over the limit as soon as it reads
// Content-Length, answers and closes without reading the rest; a client
// still writing the body then sometimes gets a connection reset instead
// of the answer, so the test checks the answer without racing the reset.
func (c *e2e) tryHeadersOnly(method, uri, body string) (int, []byte, error) {
	conn, err := net.Dial("tcp", strings.TrimPrefix(c.base, "http://"))
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	if d, ok := c.t.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	if _, err := fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: titan\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		method, uri, len(body)); err != nil {
		return 0, nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (c *e2e) do(method, uri, body string, status int) []byte {
	c.t.Helper()
	got, b, err := c.try(method, uri, body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, uri, err)
	}
	if got != status {
		c.t.Fatalf("%s %s %.200s: status %d, want %d: %s", method, uri, body, got, status, b)
	}
	return b
}

// command sends a command endpoint request with a command id of the
// test's and decodes the answer into out. It records the ids that reach
// Kafka: id itself, or for commit and release the per-SKU lineIDs.
func (c *e2e) command(uri, id, fields string, status int, out any, lineIDs ...string) {
	c.t.Helper()
	if len(lineIDs) == 0 {
		c.ids[id] = true
	}
	for _, l := range lineIDs {
		c.ids[l] = true
	}
	sep := ","
	if fields == "" {
		sep = ""
	}
	body := fmt.Sprintf(`{"command_id":%q%s%s}`, id, sep, fields)
	decodeInto(c.t, c.do("POST", uri, body, status), out)
}

func decodeInto(t *testing.T, b []byte, out any) {
	t.Helper()
	if out == nil {
		return
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

type stock struct {
	SKU       string `json:"sku"`
	OnHand    int64  `json:"on_hand"`
	Reserved  int64  `json:"reserved"`
	Available int64  `json:"available"`
	Sold      int64  `json:"sold"`
	Offset    int64  `json:"offset"`
}

type reservation struct {
	OrderID   string `json:"order_id"`
	SKU       string `json:"sku"`
	Qty       int64  `json:"qty"`
	Status    string `json:"status"`
	Reason    string `json:"reason"`
	ExpiresAt string `json:"expires_at"`
	Offset    int64  `json:"offset"`
	CommandID string `json:"command_id"`
}

type order struct {
	OrderID      string        `json:"order_id"`
	Reservations []reservation `json:"reservations"`
}

// stockAt reads the SKU's stock once it includes the command at offset.
func (c *e2e) stockAt(sku string, offset int64) stock {
	c.t.Helper()
	var s stock
	decodeInto(c.t, c.do("GET", fmt.Sprintf("/v1/inventory/%s?min_offset=%d", sku, offset), "", 200), &s)
	if s.Offset < offset {
		c.t.Fatalf("stock at offset %d, asked for %d", s.Offset, offset)
	}
	return s
}

func checkStock(t *testing.T, got stock, onHand, reserved, sold int64) {
	t.Helper()
	if got.OnHand != onHand || got.Reserved != reserved || got.Sold != sold || got.Available != onHand-reserved {
		t.Fatalf("stock %+v, want on_hand %d reserved %d sold %d", got, onHand, reserved, sold)
	}
}

func TestEndToEnd(t *testing.T) {
	c, inst := startInstance(t)
	const sku = "sku-e2e"
	var (
		s   stock
		res reservation
		o   order
	)
	reserve := "/v1/inventory/" + sku + "/reservations"

	c.command("/v1/inventory/"+sku+"/restock", "restock-1", `"qty":10`, 200, &s)
	checkStock(t, s, 10, 0, 0)

	// Read your write: the reservation's offset as min_offset.
	c.command(reserve, "reserve-o1", `"order_id":"o-1","qty":3,"ttl_ms":600000`, 201, &res)
	if res.Status != "reserved" || res.OrderID != "o-1" || res.SKU != sku || res.Qty != 3 || res.ExpiresAt == "" {
		t.Fatalf("reservation %+v", res)
	}
	checkStock(t, c.stockAt(sku, res.Offset), 10, 3, 0)

	c.command("/v1/inventory/reservations/o-1/commit", "commit-o1", "", 200, &o, "commit-o1/"+sku)
	if len(o.Reservations) != 1 || o.Reservations[0].Status != "committed" || o.Reservations[0].CommandID != "commit-o1/"+sku {
		t.Fatalf("commit %+v", o)
	}
	checkStock(t, c.stockAt(sku, o.Reservations[0].Offset), 7, 0, 3)

	// Release of another order gives its units back.
	c.command(reserve, "reserve-o2", `"order_id":"o-2","qty":2,"ttl_ms":600000`, 201, &res)
	checkStock(t, c.stockAt(sku, res.Offset), 7, 2, 3)
	c.command("/v1/inventory/reservations/o-2/release", "release-o2", "", 200, &o, "release-o2/"+sku)
	if len(o.Reservations) != 1 || o.Reservations[0].Status != "released" {
		t.Fatalf("release %+v", o)
	}
	checkStock(t, c.stockAt(sku, o.Reservations[0].Offset), 7, 0, 3)

	// A retry with the same command id answers the first result and
	// changes nothing; a later command's offset shows it.
	var first, again reservation
	c.command(reserve, "reserve-o3", `"order_id":"o-3","qty":1,"ttl_ms":600000`, 201, &first)
	c.command(reserve, "reserve-o3", `"order_id":"o-3","qty":1,"ttl_ms":600000`, 201, &again)
	if first != again {
		t.Fatalf("retry answered %+v, first %+v", again, first)
	}
	var r1, r2 stock
	c.command("/v1/inventory/"+sku+"/restock", "restock-2", `"qty":1`, 200, &r1)
	c.command("/v1/inventory/"+sku+"/restock", "restock-2", `"qty":1`, 200, &r2)
	if r1 != r2 {
		t.Fatalf("restock retry answered %+v, first %+v", r2, r1)
	}
	c.command("/v1/inventory/"+sku+"/restock", "restock-3", `"qty":1`, 200, &s)
	checkStock(t, c.stockAt(sku, s.Offset), 9, 1, 3)

	c.command(reserve, "reserve-o4", `"order_id":"o-4","qty":1000,"ttl_ms":600000`, 409, &res)
	if res.Status != "rejected" || res.Reason != "insufficient_stock" {
		t.Fatalf("oversized reservation %+v", res)
	}

	// Every bad input: a 4xx JSON error, and the stock stays as it was.
	before := c.stockAt(sku, s.Offset)
	for _, b := range api.BadRequests(sku, "o-3", 64<<10) {
		// Bodies just over the limit are read whole and refused by the
		// handler, so sending them is safe.
		status, body, err := c.try(b.Method, b.URI, b.Body)
		if err != nil {
			t.Errorf("%s: %v", b.Name, err)
			continue
		}
		want, _ := api.StatusOf(b.Code)
		var e struct {
			Code    api.Code `json:"code"`
			Message string   `json:"message"`
		}
		if err := json.Unmarshal(body, &e); err != nil || status != want || e.Code != b.Code || e.Message == "" {
			t.Errorf("%s: %s %s: %d %s, want %d %s", b.Name, b.Method, b.URI, status, body, want, b.Code)
		}
	}
	c.command("/v1/inventory/"+sku+"/restock", "restock-sentinel", `"qty":1`, 200, &s)
	// A body far over the limit is refused by fasthttp from its
	// Content-Length alone, still as a JSON error.
	status, body, err := c.tryHeadersOnly("POST", "/v1/inventory/"+sku+"/restock", strings.Repeat(" ", 1<<20))
	if err != nil || status != 413 || !strings.Contains(string(body), `"body_too_large"`) {
		t.Errorf("1 MiB body: %d %s %v", status, body, err)
	}
	after := c.stockAt(sku, s.Offset)
	checkStock(t, after, before.OnHand+1, before.Reserved, before.Sold)

	// A short reservation expires without any traffic on its SKU.
	c.command(reserve, "reserve-o5", `"order_id":"o-5","qty":1,"ttl_ms":300`, 201, &res)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := poll(ctx, func() bool {
		status, b, err := c.try("GET", "/v1/inventory/reservations/o-5", "")
		if err != nil || status != 200 {
			return false
		}
		var o order
		return json.Unmarshal(b, &o) == nil && len(o.Reservations) == 1 && o.Reservations[0].Status == "expired"
	}); err != nil {
		t.Fatalf("reservation o-5 never showed expired: %v", err)
	}
	if err := poll(ctx, func() bool {
		var s stock
		status, b, err := c.try("GET", "/v1/inventory/"+sku, "")
		return err == nil && status == 200 && json.Unmarshal(b, &s) == nil && s.Reserved == after.Reserved
	}); err != nil {
		t.Fatalf("stock still holds o-5's unit: %v", err)
	}

	metrics := string(c.do("GET", "/metrics", "", 200))
	for _, name := range []string{"titan_http_requests_total", "titan_processor_messages_processed_total"} {
		if !strings.Contains(metrics, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	doc, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.do("GET", "/openapi.yaml", "", 200); !bytes.Equal(got, doc) {
		t.Errorf("/openapi.yaml served %d bytes, file has %d", len(got), len(doc))
	}

	c.auditCommands(inst)
}

// auditCommands reads the whole commands topic: apart from the sweeper's
// expiries, every command in it is one the test sent on purpose, so no
// bad request got through.
func (c *e2e) auditCommands(inst *instance.Instance) {
	t := c.t
	topic := string(inst.Names().Commands)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	adm := kafkatest.Admin(t, inst.Brokers())
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	start := map[int32]kgo.Offset{}
	remaining := 0
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			start[o.Partition] = kgo.NewOffset().AtStart()
			remaining++
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(inst.Brokers()...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	dec := codec.Command()
	seen := map[string]bool{}
	for remaining > 0 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v", topic, ctx.Err())
		}
		fetches.EachError(func(_ string, p int32, err error) { t.Fatalf("fetch partition %d: %v", p, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			if end, _ := ends.Lookup(topic, r.Partition); r.Offset == end.Offset-1 {
				remaining--
			}
			cmd, err := dec.DecodeMessage(r.Value)
			if err != nil {
				t.Errorf("undecodable command at %d/%d: %v", r.Partition, r.Offset, err)
				return
			}
			if cmd.GetExpire() != nil {
				return
			}
			seen[cmd.GetCommandId()] = true
			if !c.ids[cmd.GetCommandId()] {
				t.Errorf("unexpected command in %s at %d/%d: %v", topic, r.Partition, r.Offset, cmd)
			}
		})
	}
	for id := range c.ids {
		if !seen[id] {
			t.Errorf("command %q is not in %s", id, topic)
		}
	}
}
