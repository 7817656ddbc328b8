package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/processors/inventory"
)

// flashSale is GET /v1/flash-sales/{id}.
type flashSale struct {
	Status           string `json:"status"`
	Reason           string `json:"reason"`
	Allocated        int64  `json:"allocated"`
	Sold             int64  `json:"sold"`
	Settled          bool   `json:"settled"`
	Settlement       string `json:"settlement"`
	SettlementReason string `json:"settlement_reason"`
}

type apiErr struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// startFlashInstance runs one instance with the inventory and flash sales
// behind the API on the real broker, in a namespace of its own, logging to
// log, and waits until it is ready.
func startFlashInstance(t *testing.T, log *slog.Logger) (*e2e, *instance.Instance) {
	t.Helper()
	return runInstance(t, instance.Config{
		Partitions:  2,
		Topologies:  []string{instance.TopologyInventory, instance.TopologyFlashSale},
		CommandWait: 30 * time.Second, ReadWait: 30 * time.Second, SweepInterval: 200 * time.Millisecond,
		Logger: log,
	})
}

func saleBody(id, sku string, units int64, end time.Time) string {
	return fmt.Sprintf(`{"id":%q,"sku":%q,"units":%d,"starts_at":%q,"ends_at":%q,"per_user_limit":1,"price":500,"buckets":2}`,
		id, sku, units, time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339Nano))
}

func (c *e2e) sale(id string) flashSale {
	c.t.Helper()
	var s flashSale
	decodeInto(c.t, c.do("GET", "/v1/flash-sales/"+id, "", 200), &s)
	return s
}

func (c *e2e) stock(sku string) stock {
	c.t.Helper()
	var s stock
	decodeInto(c.t, c.do("GET", "/v1/inventory/"+sku, "", 200), &s)
	return s
}

func (c *e2e) refused(method, uri, body string, status int, code string) {
	c.t.Helper()
	var e apiErr
	decodeInto(c.t, c.do(method, uri, body, status), &e)
	if e.Code != code {
		c.t.Errorf("%s %s: %+v, want %s", method, uri, e, code)
	}
}

// TestFlashSaleEndToEnd: over HTTP, a sale of every unit of a SKU. Its
// allocation is Titan's: no client can release or commit it, the name it
// once had names nothing, and no normal reservation gets its units; the
// buyers buy exactly the units, and after the end the inventory shows them
// sold and nothing held, and the sale settled.
func TestFlashSaleEndToEnd(t *testing.T) {
	c, _ := startFlashInstance(t, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	const (
		sku   = "sku-fs-e2e"
		id    = "fs-e2e"
		units = 5
	)
	var s stock
	c.command("/v1/inventory/"+sku+"/restock", "restock-fs", `"qty":5`, 200, &s)
	end := time.Now().Add(20 * time.Second)
	var created flashSale
	decodeInto(t, c.do("POST", "/v1/flash-sales", saleBody(id, sku, units, end), 201), &created)
	if created.Status != "active" || created.Allocated != units || created.Settlement != "pending" {
		t.Fatalf("created %+v", created)
	}

	for _, op := range []string{"release", "commit"} {
		c.refused("POST", "/v1/inventory/reservations/titan:flash-sale:"+id+"/"+op, `{"command_id":"client-`+op+`"}`, 409, "reserved_id")
	}
	c.refused("GET", "/v1/inventory/reservations/flash-sale:"+id, "", 404, "reservation_not_found")
	var r reservation
	c.command("/v1/inventory/"+sku+"/reservations", "reserve-during-sale", `"order_id":"o-fs","qty":1,"ttl_ms":600000`, 409, &r)
	if r.Reason != "insufficient_stock" {
		t.Fatalf("a normal reservation during the sale: %+v", r)
	}
	checkStock(t, c.stock(sku), units, units, 0)

	bought := 0
	for i := range units + 2 {
		status, b, err := c.try("POST", "/v1/flash-sales/"+id+"/purchases", fmt.Sprintf(`{"user_id":"buyer-%d","qty":1,"idempotency_key":"k-%d"}`, i, i))
		switch {
		case err != nil:
			t.Fatal(err)
		case status == 201:
			bought++
		case status != 409 || !strings.Contains(string(b), "sold_out"):
			t.Fatalf("purchase %d: %d %s", i, status, b)
		}
	}
	if bought != units {
		t.Fatalf("bought %d of %d units", bought, units)
	}

	ctx, cancel := context.WithTimeout(t.Context(), time.Until(end)+2*time.Minute)
	defer cancel()
	var last flashSale
	if err := poll(ctx, func() bool {
		last = c.sale(id)
		return last.Settled
	}); err != nil {
		t.Fatalf("sale never settled: %+v", last)
	}
	if last.Status != "ended" || last.Sold != units || last.Settlement != "settled" {
		t.Errorf("sale %+v", last)
	}
	if err := poll(ctx, func() bool {
		s = c.stock(sku)
		return s.Sold == units
	}); err != nil {
		t.Fatalf("stock never showed the settlement: %+v", s)
	}
	checkStock(t, s, 0, 0, units)
}

// errorRecorder keeps the records logged at Error and passes every record
// at Warn and above on to stderr.
type errorRecorder struct {
	next slog.Handler
	mu   *sync.Mutex
	errs *[]slog.Record
}

func newErrorRecorder() errorRecorder {
	return errorRecorder{next: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}), mu: &sync.Mutex{},
		errs: new([]slog.Record)}
}

func (h errorRecorder) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }
func (h errorRecorder) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.mu.Lock()
		*h.errs = append(*h.errs, r.Clone())
		h.mu.Unlock()
	}
	return h.next.Handle(ctx, r)
}
func (h errorRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return errorRecorder{next: h.next.WithAttrs(as), mu: h.mu, errs: h.errs}
}
func (h errorRecorder) WithGroup(g string) slog.Handler {
	return errorRecorder{next: h.next.WithGroup(g), mu: h.mu, errs: h.errs}
}

// find reports whether an error was logged with message prefix and the
// attribute values want.
func (h errorRecorder) find(prefix string, want map[string]string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range *h.errs {
		if !strings.HasPrefix(r.Message, prefix) {
			continue
		}
		got := map[string]string{}
		r.Attrs(func(a slog.Attr) bool {
			got[a.Key] = a.Value.String()
			return true
		})
		ok := true
		for k, v := range want {
			ok = ok && got[k] == v
		}
		if ok {
			return true
		}
	}
	return false
}

// TestFlashSaleSettlementFailureEndToEnd: the sale's allocation is released
// under it by a command on the inventory's internal topic (an operator's, a
// bug's). The sale says its settlement failed and why, keeps saying so
// after the end, never claims to be settled, and the error is logged with
// the sale's id.
func TestFlashSaleSettlementFailureEndToEnd(t *testing.T) {
	log := newErrorRecorder()
	c, inst := startFlashInstance(t, slog.New(log))
	const (
		sku = "sku-fs-lost"
		id  = "fs-lost"
	)
	var s stock
	c.command("/v1/inventory/"+sku+"/restock", "restock-lost", `"qty":3`, 200, &s)
	end := time.Now().Add(15 * time.Second)
	c.do("POST", "/v1/flash-sales", saleBody(id, sku, 3, end), 201)
	c.do("POST", "/v1/flash-sales/"+id+"/purchases", `{"user_id":"buyer","qty":1,"idempotency_key":"k"}`, 201)

	cl, err := kgo.NewClient(kgo.SeedBrokers(inst.Brokers()...), kgo.RecordPartitioner(partition.Kgo()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	release := inventory.CommandToWire(inventory.Command{ID: "titan:operator:release-" + id, Kind: inventory.KindRelease,
		OrderID: "titan:flash-sale:" + id, SKU: sku, Time: time.Now()})
	v, err := proto.Marshal(release)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Until(end)+2*time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: string(inst.Names().Internal), Key: []byte(sku), Value: v}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	var last flashSale
	if err := poll(ctx, func() bool {
		last = c.sale(id)
		return last.Settlement == "failed"
	}); err != nil {
		t.Fatalf("the settlement never showed failed: %+v", last)
	}
	if last.Settled || last.SettlementReason != "already_released" {
		t.Errorf("sale %+v", last)
	}
	// Past the end the buckets close and report; the sale stays failed.
	if err := poll(ctx, func() bool {
		last = c.sale(id)
		return last.Status == "ended"
	}); err != nil {
		t.Fatalf("sale %+v", last)
	}
	if err := poll(ctx, func() bool {
		return log.find("flash-sale settlement failed", map[string]string{"sale": id, "reason": "already_released"})
	}); err != nil {
		t.Error("no error logged for the failed settlement")
	}
	// The settler's next passes close the buckets, whose reports settle
	// nothing.
	select {
	case <-time.After(time.Until(end.Add(3 * time.Second))):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	last = c.sale(id)
	if last.Settled || last.Settlement != "failed" || last.Sold != 1 {
		t.Errorf("after the end: %+v", last)
	}
	// What the operator sees: the allocation released, the unit the sale
	// sold still on hand.
	checkStock(t, c.stock(sku), 3, 0, 0)
}
