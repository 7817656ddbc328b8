package flashsale

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
	"github.com/lovoo/goka/tester"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/processors/flashsale"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

const testPartitions = 8

func run(t *testing.T) (*tester.Tester, Names, *Router) {
	t.Helper()
	tt := tester.New(t)
	n := NamesFor("test")
	r := NewRouter(testPartitions)
	sale, purchases := graphs(n, "test.inventory-commands", r, observe.Decorator{})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, g := range []*goka.GroupGraph{sale, purchases} {
		p, err := goka.NewProcessor(nil, g, goka.WithTester(tt))
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = p.Run(ctx) }()
	}
	return tt, n, r
}

func send(t *testing.T, tt *tester.Tester, n Names, m flashsale.Message) {
	t.Helper()
	b, err := proto.Marshal(flashsale.MessageToWire(m))
	if err != nil {
		t.Fatal(err)
	}
	tt.Consume(string(n.Commands), m.Key, b)
}

func results(t *testing.T, q *tester.QueueTracker) []flashsale.Result {
	t.Helper()
	var out []flashsale.Result
	for {
		_, v, ok := q.NextRaw()
		if !ok {
			return out
		}
		var w flashsalev1.Result
		if err := proto.Unmarshal(v, &w); err != nil {
			t.Fatal(err)
		}
		out = append(out, flashsale.ResultFromWire(&w))
	}
}

func TestRouterSpreadsBuckets(t *testing.T) {
	r := NewRouter(testPartitions)
	seen := map[string]bool{}
	for b := range testPartitions {
		k := r.Bucket("sale-1", b)
		if seen[k] || keyKind(k) != 'b' || r.Bucket("sale-1", b) != k {
			t.Fatalf("bucket %d key %q", b, k)
		}
		seen[k] = true
	}
}

func TestGraphSellsExactlyTheUnits(t *testing.T) {
	tt, n, r := run(t)
	evq := tt.NewQueueTracker(string(n.Events))
	start := time.UnixMilli(1_700_000_000_000)
	s := flashsale.Sale{ID: "fs1", SKU: "sku-9", Units: 10, Start: start, End: start.Add(time.Hour), PerUserLimit: 2, PriceMinor: 500, Buckets: 4}
	send(t, tt, n, flashsale.Message{Kind: flashsale.KindDefine, SaleID: s.ID, Key: r.Sale(s.ID), Sale: s, Time: start})

	var attempts []flashsale.Message
	for i := range 40 {
		user := fmt.Sprintf("user-%d", i%15)
		m := flashsale.Message{Kind: flashsale.KindPurchase, SaleID: s.ID, Key: r.User(s.ID, user), UserID: user,
			IdempotencyKey: fmt.Sprintf("k%d", i), Qty: 1, Bucket: BucketOf(user, s.Buckets), Time: start.Add(time.Second)}
		attempts = append(attempts, m)
		send(t, tt, n, m)
		if i%5 == 0 {
			send(t, tt, n, m) // a client retry
		}
	}
	byKey := map[string]flashsale.Result{}
	var sold int64
	perUser := map[string]int64{}
	for _, res := range results(t, evq) {
		if prev, ok := byKey[res.IdempotencyKey]; ok {
			if prev != res {
				t.Fatalf("two results for %s: %+v %+v", res.IdempotencyKey, prev, res)
			}
			continue
		}
		byKey[res.IdempotencyKey] = res
		if res.Status == flashsale.StatusPurchased {
			sold += res.Qty
			perUser[res.UserID] += res.Qty
		}
	}
	if len(byKey) != len(attempts) {
		t.Fatalf("%d results for %d attempts", len(byKey), len(attempts))
	}
	if sold != s.Units {
		t.Fatalf("sold %d of %d", sold, s.Units)
	}
	for u, q := range perUser {
		if q > s.PerUserLimit {
			t.Fatalf("user %s bought %d", u, q)
		}
	}
	// The purchase index answers polls.
	res, ok := tt.TableValue(n.PurchasesTable(), PurchaseKey(s.ID, "k0")).(flashsale.Result)
	if !ok || res != byKey["k0"] {
		t.Fatalf("index %+v, want %+v", res, byKey["k0"])
	}
}

func TestGraphRejectsClientInternalMessages(t *testing.T) {
	tt, n, r := run(t)
	dlq := tt.NewQueueTracker(string(n.DeadLetters))
	// A client may not hand units to a bucket.
	send(t, tt, n, flashsale.Message{Kind: flashsale.KindGrant, SaleID: "fs1", Key: r.Bucket("fs1", 0), Units: 1000})
	// Nor buy on someone else's key.
	send(t, tt, n, flashsale.Message{Kind: flashsale.KindPurchase, SaleID: "fs1", Key: r.User("fs1", "mallory"), UserID: "alice",
		IdempotencyKey: "x", Qty: 1, Time: time.UnixMilli(1)})
	var n2 int
	for {
		if _, _, ok := dlq.NextRaw(); !ok {
			break
		}
		n2++
	}
	if n2 != 2 {
		t.Fatalf("%d dead letters, want 2", n2)
	}
	if v := tt.TableValue(n.Table(), r.Bucket("fs1", 0)); v != nil {
		t.Fatalf("a client message changed a bucket: %+v", v)
	}
}

func TestGraphSettlesWithInventory(t *testing.T) {
	tt, n, r := run(t)
	invq := tt.NewQueueTracker("test.inventory-commands")
	start := time.UnixMilli(1_700_000_000_000)
	s := flashsale.Sale{ID: "fs2", SKU: "sku-7", Units: 5, Start: start, End: start.Add(time.Minute), PerUserLimit: 2, PriceMinor: 100, Buckets: 3}
	send(t, tt, n, flashsale.Message{Kind: flashsale.KindDefine, SaleID: s.ID, Key: r.Sale(s.ID), Sale: s, Time: start})
	for i := range 3 {
		user := fmt.Sprintf("u%d", i)
		send(t, tt, n, flashsale.Message{Kind: flashsale.KindPurchase, SaleID: s.ID, Key: r.User(s.ID, user), UserID: user,
			IdempotencyKey: user, Qty: 1, Bucket: BucketOf(user, s.Buckets), Time: start.Add(time.Second)})
	}
	// What the settler does once the end has passed, twice.
	st := storageOf(t, tt, n)
	settler := NewSettler(func() []storage.Storage { return []storage.Storage{st} }, func(_ context.Context, ms []*flashsalev1.Message) error {
		for _, w := range ms {
			b, _ := proto.Marshal(w)
			tt.Consume(string(n.Commands), w.GetKey(), b)
		}
		return nil
	}, r, time.Second, nil)
	settler.now = func() time.Time { return s.End }
	for range 2 {
		if err := settler.Settle(context.Background()); err != nil {
			t.Fatal(err)
		}
		settler.now = func() time.Time { return s.End.Add(time.Minute) }
	}

	var cmds []*inventoryv1.Command
	for {
		_, v, ok := invq.NextRaw()
		if !ok {
			break
		}
		var c inventoryv1.Command
		if err := proto.Unmarshal(v, &c); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, &c)
	}
	if len(cmds) == 0 {
		t.Fatal("no settlement")
	}
	for _, c := range cmds {
		if c.GetCommandId() != "titan:flash-sale:fs2:settle" || c.GetCommit() == nil || c.GetQty() != 3 ||
			c.GetOrderId() != flashsale.AllocationOrder("fs2") || c.GetSku() != "sku-7" {
			t.Fatalf("settlement %v", c)
		}
	}
	sale := tt.TableValue(n.Table(), r.Sale(s.ID)).(flashsale.State).Sale
	if !sale.Settled {
		t.Fatalf("sale not settled: %+v", sale)
	}
}

// storageOf copies the tester's table into a storage the settler can scan.
func storageOf(t *testing.T, tt *tester.Tester, n Names) storage.Storage {
	t.Helper()
	st := storage.NewMemory()
	for _, k := range tt.GetTableKeys(n.Table()) {
		b, err := StateCodec{}.Encode(tt.TableValue(n.Table(), k))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Set(k, b); err != nil {
			t.Fatal(err)
		}
	}
	return st
}
