package flashsaletopo

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
	"github.com/lovoo/goka/tester"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

const (
	testPartitions = 8
	// testInventory is the inventory's internal commands topic.
	testInventory = "test.inventory-internal"
)

// start is when the test sales start; they are created a minute before.
var (
	start   = time.UnixMilli(1_700_000_000_000).UTC()
	created = start.Add(-time.Minute)
)

// env is the flash-sale groups on goka's tester, with a stand-in for the
// inventory topology: pump runs what the sale keys sent to the inventory's
// internal topic through the inventory's decision logic, and routes the
// events about allocations back to the allocations topic keyed as the
// inventory's Reply option does (AllocationKey).
type env struct {
	t      *testing.T
	tt     *tester.Tester
	n      Names
	r      *flashsale.Keys
	policy flashsale.Policy
	logs   *logRecorder

	invq  *tester.QueueTracker
	stock map[string]inventory.State
	// invOffset numbers the inventory's commands.
	invOffset int64
	// settled numbers the settler's messages.
	settled int64
}

func run(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, tt: tester.New(t), n: NamesFor("test"), r: flashsale.NewKeys(testPartitions), policy: flashsale.DefaultPolicy(),
		logs: &logRecorder{}, stock: map[string]inventory.State{}}
	g := &group{names: e.n, inventory: testInventory, router: e.r, policy: e.policy, window: schemas.DefaultTimeWindow(),
		log: slog.New(e.logs)}
	sale, purchases := g.graphs(observe.Decorator{Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, gg := range []*goka.GroupGraph{sale, purchases} {
		p, err := goka.NewProcessor(nil, gg, goka.WithTester(e.tt))
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = p.Run(ctx) }()
	}
	e.invq = e.tt.NewQueueTracker(testInventory)
	return e
}

func (e *env) encode(m flashsale.Message) []byte {
	e.t.Helper()
	b, err := proto.Marshal(flashsale.MessageToWire(m))
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// buy sends a client's message on the public topic, stamped by "the
// broker" at the message's own time.
func (e *env) public(m flashsale.Message) {
	e.tt.Consume(string(e.n.Commands), m.Key, e.encode(m), tester.WithTime(m.Time))
}

// internal sends one of Titan's messages on the internal topic.
func (e *env) internal(m flashsale.Message) { e.tt.Consume(string(e.n.Internal), m.Key, e.encode(m)) }

func (e *env) create(s flashsale.Sale) {
	e.internal(flashsale.Message{Kind: flashsale.KindCreate, SaleID: s.ID, Key: e.r.Sale(s.ID), Sale: s, Time: created})
}

// restock gives sku qty units on hand.
func (e *env) restock(sku string, qty int64) {
	e.apply(inventory.Command{ID: "titan:test:restock:" + sku, Kind: inventory.KindRestock, SKU: sku, Qty: qty, Time: created})
}

// apply runs one internal command through the inventory and routes its
// allocation events; it returns its events.
func (e *env) apply(c inventory.Command) []inventory.Event {
	e.t.Helper()
	st, ok := e.stock[c.SKU]
	if !ok {
		st = inventory.NewState()
	}
	c.Internal, c.Offset = true, e.invOffset
	e.invOffset++
	st, events := inventory.Decide(st, c, inventory.DefaultPolicy())
	if err := inventory.CheckState(st); err != nil {
		e.t.Fatal(err)
	}
	e.stock[c.SKU] = st
	for _, ev := range events {
		if !strings.HasPrefix(ev.OrderID, flashsale.AllocationPrefix) {
			continue
		}
		b, err := proto.Marshal(inventory.EventToWire(ev))
		if err != nil {
			e.t.Fatal(err)
		}
		e.tt.Consume(string(e.n.Allocations), AllocationKey(ev.OrderID), b)
	}
	return events
}

// sent reads the commands the sale keys sent to the inventory since the
// last call.
func (e *env) sent() []inventory.Command {
	e.t.Helper()
	var out []inventory.Command
	for {
		key, v, ok := e.invq.NextRaw()
		if !ok {
			return out
		}
		var w inventoryv1.Command
		if err := proto.Unmarshal(v, &w); err != nil {
			e.t.Fatal(err)
		}
		if err := schemas.CheckInternalCommand(&w); err != nil || key != w.GetSku() {
			e.t.Fatalf("the sale key sent %v under key %q: %v", &w, key, err)
		}
		out = append(out, inventory.CommandFromWire(&w, 0, 0))
	}
}

// pump applies what the sale keys sent to the inventory, and what that
// leads to, until nothing is left.
func (e *env) pump() {
	for cmds := e.sent(); len(cmds) > 0; cmds = e.sent() {
		for _, c := range cmds {
			e.apply(c)
		}
	}
}

func (e *env) sale(id string) flashsale.SaleState {
	e.t.Helper()
	v := e.tt.TableValue(e.n.Table(), e.r.Sale(id))
	if v == nil {
		return flashsale.SaleState{}
	}
	return *v.(flashsale.State).Sale
}

// settler runs one pass of a settler over the tester's table at now,
// sending on the internal topic.
func (e *env) settle(now time.Time) {
	e.t.Helper()
	st := storageOf(e.t, e.tt, e.n)
	s := NewSettler(func() []storage.Storage { return []storage.Storage{st} }, func(_ context.Context, ms []*flashsalev1.Message) ([]int64, error) {
		offsets := make([]int64, len(ms))
		for i, w := range ms {
			b, err := proto.Marshal(w)
			if err != nil {
				return nil, err
			}
			e.tt.Consume(string(e.n.Internal), w.GetKey(), b)
			e.settled++
			offsets[i] = e.settled
		}
		return offsets, nil
	}, e.r, time.Second, slog.New(slog.DiscardHandler))
	s.now = func() time.Time { return now }
	if err := s.Settle(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

// open creates s on a SKU holding stock units and answers its allocation.
func (e *env) open(s flashsale.Sale, stock int64) {
	e.t.Helper()
	e.restock(s.SKU, stock)
	e.create(s)
	e.pump()
	if st := e.sale(s.ID); st.Phase != flashsale.PhaseOpen {
		e.t.Fatalf("sale %s not open: %+v", s.ID, st)
	}
}

func purchase(r *flashsale.Keys, s flashsale.Sale, user, key string, qty int64, at time.Time) flashsale.Message {
	return flashsale.Message{Kind: flashsale.KindPurchase, SaleID: s.ID, Key: r.User(s.ID, user), UserID: user,
		IdempotencyKey: key, Qty: qty, Bucket: flashsale.BucketOf(user, s.Buckets), Time: at}
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

// deadLetters reads the dead letters' reasons, by key.
func deadLetters(t *testing.T, q *tester.QueueTracker) map[string]string {
	t.Helper()
	out := map[string]string{}
	for {
		key, v, ok := q.NextRaw()
		if !ok {
			return out
		}
		var dl observe.DeadLetter
		if err := json.Unmarshal(v, &dl); err != nil {
			t.Fatal(err)
		}
		out[key] = dl.Reason
	}
}

// logRecorder keeps the records logged at Warn and above.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(_ context.Context, lvl slog.Level) bool { return lvl >= slog.LevelWarn }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Clone())
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// find returns the attributes of the first record at lvl whose message
// starts with prefix.
func (l *logRecorder) find(lvl slog.Level, prefix string) (map[string]string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.records {
		if r.Level != lvl || !strings.HasPrefix(r.Message, prefix) {
			continue
		}
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value.String()
			return true
		})
		return attrs, true
	}
	return nil, false
}

func TestRouterSpreadsBuckets(t *testing.T) {
	r := flashsale.NewKeys(testPartitions)
	seen := map[string]bool{}
	for b := range testPartitions {
		k := r.Bucket("sale-1", b)
		if seen[k] || flashsale.KeyKind(k) != 'b' || r.Bucket("sale-1", b) != k {
			t.Fatalf("bucket %d key %q", b, k)
		}
		seen[k] = true
	}
	if k := AllocationKey(flashsale.AllocationOrder("sale-1")); k != r.Sale("sale-1") {
		t.Fatalf("the inventory's answers go to %q, the sale key is %q", k, r.Sale("sale-1"))
	}
}

func TestGraphSellsExactlyTheUnits(t *testing.T) {
	e := run(t)
	evq := e.tt.NewQueueTracker(string(e.n.Events))
	s := flashsale.Sale{ID: "fs1", SKU: "sku-9", Units: 10, Start: start, End: start.Add(time.Hour), PerUserLimit: 2, PriceMinor: 500, Buckets: 4}
	e.open(s, 12)

	var attempts []flashsale.Message
	for i := range 40 {
		user := fmt.Sprintf("user-%d", i%15)
		m := purchase(e.r, s, user, fmt.Sprintf("k%d", i), 1, start.Add(time.Second))
		attempts = append(attempts, m)
		e.public(m)
		if i%5 == 0 {
			e.public(m) // a client retry
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
	res, ok := e.tt.TableValue(e.n.PurchasesTable(), flashsale.PurchaseKey(s.ID, "k0")).(flashsale.Result)
	if !ok || res != byKey["k0"] {
		t.Fatalf("index %+v, want %+v", res, byKey["k0"])
	}
}

// TestGraphRefusesClientsTitansMessages: the public topic takes purchases
// only, held to the id rule, the buyer's own key and the time window;
// everything else is set aside with its reason, and no state changes.
func TestGraphRefusesClientsTitansMessages(t *testing.T) {
	e := run(t)
	dlq := e.tt.NewQueueTracker(string(e.n.DeadLetters))
	s := flashsale.Sale{ID: "fs1", SKU: "sku-1", Units: 5, Start: start, End: start.Add(time.Hour), PerUserLimit: 5, Buckets: 2}
	buy := purchase(e.r, s, "alice", "k", 1, start.Add(time.Second))
	for _, tc := range []struct {
		name   string
		m      flashsale.Message
		reason string
	}{
		{"a create", flashsale.Message{Kind: flashsale.KindCreate, SaleID: s.ID, Key: e.r.Sale(s.ID), Sale: s, Time: start}, "internal_kind"},
		{"a define", flashsale.Message{Kind: flashsale.KindDefine, SaleID: "fs2", Key: e.r.Sale("fs2"), Sale: s, Time: start}, "internal_kind"},
		{"an abandon", flashsale.Message{Kind: flashsale.KindAbandon, SaleID: "fs3", Key: e.r.Sale("fs3"), Time: start}, "internal_kind"},
		{"a close", flashsale.Message{Kind: flashsale.KindClose, SaleID: s.ID, Key: e.r.Bucket(s.ID, 0), Time: start.Add(2 * time.Hour)}, "internal_kind"},
		{"a grant", flashsale.Message{Kind: flashsale.KindGrant, SaleID: s.ID, Key: e.r.Bucket(s.ID, 1), Units: 1000}, "internal_kind"},
		{"a purchase on another buyer's key", func() flashsale.Message { m := buy; m.Key = e.r.User(s.ID, "mallory"); return m }(), "key_mismatch"},
		{"a user id of Titan's", purchase(e.r, s, "titan:u", "k1", 1, start), "reserved_id"},
		{"an idempotency key of Titan's", purchase(e.r, s, "bob", "titan:k", 1, start), "reserved_id"},
		{"an unprintable user id", purchase(e.r, s, "b\u200bob", "k2", 1, start), "invalid_id"},
		{"no idempotency key", purchase(e.r, s, "carol", "", 1, start), "missing_idempotency_key"},
		{"too many units", purchase(e.r, s, "dave", "k3", schemas.MaxPurchaseQty+1, start), "invalid_qty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.public(tc.m)
			if got := deadLetters(t, dlq); !reflect.DeepEqual(got, map[string]string{tc.m.Key: tc.reason}) {
				t.Fatalf("dead letters %v, want %s under %q", got, tc.reason, tc.m.Key)
			}
		})
	}
	// A purchase stamped an hour after the broker received it.
	late := purchase(e.r, s, "erin", "k4", 1, start.Add(time.Hour))
	e.tt.Consume(string(e.n.Commands), late.Key, e.encode(late), tester.WithTime(start))
	if got := deadLetters(t, dlq); got[late.Key] != "invalid_timestamp" {
		t.Fatalf("dead letters %v", got)
	}
	if keys := e.tt.GetTableKeys(e.n.Table()); len(keys) != 0 {
		t.Fatalf("client messages left state under %v", keys)
	}
	if cmds := e.sent(); len(cmds) != 0 {
		t.Fatalf("client messages reached the inventory: %+v", cmds)
	}
}

// TestGraphCreateConflict: another definition under a created sale's id
// is set aside and changes nothing.
func TestGraphCreateConflict(t *testing.T) {
	e := run(t)
	dlq := e.tt.NewQueueTracker(string(e.n.DeadLetters))
	s := flashsale.Sale{ID: "fs1", SKU: "sku-1", Units: 5, Start: start, End: start.Add(time.Hour), PerUserLimit: 5, Buckets: 2}
	e.open(s, 5)
	before := e.sale(s.ID)
	e.create(s)
	other := s
	other.Units = 4
	e.create(other)
	if got := deadLetters(t, dlq); !reflect.DeepEqual(got, map[string]string{e.r.Sale(s.ID): flashsale.ReasonSaleConflict}) {
		t.Fatalf("dead letters %v", got)
	}
	if after := e.sale(s.ID); !reflect.DeepEqual(after, before) || len(e.sent()) != 0 {
		t.Fatalf("a repeated create changed %+v into %+v", before, after)
	}
}

// TestGraphCreationStallReleases: the inventory does not answer the
// allocation. Past the deadline the settler abandons the creation; the sale
// fails, and the release it sends follows the reserve on the inventory's
// topic, so when the inventory gets to both the units come back, and the
// late answer opens nothing.
func TestGraphCreationStallReleases(t *testing.T) {
	e := run(t)
	s := flashsale.Sale{ID: "fs1", SKU: "sku-1", Units: 5, Start: start, End: start.Add(time.Hour), PerUserLimit: 5, Buckets: 2}
	e.restock(s.SKU, 5)
	e.create(s)
	held := e.sent()
	st := e.sale(s.ID)
	if st.Phase != flashsale.PhaseAllocating || len(held) != 1 || held[0].Kind != inventory.KindReserve {
		t.Fatalf("creation: %+v, sent %+v", st, held)
	}
	e.settle(st.Deadline.Add(-time.Millisecond))
	if st := e.sale(s.ID); st.Phase != flashsale.PhaseAllocating || len(e.sent()) != 0 {
		t.Fatalf("abandoned before the deadline: %+v", st)
	}
	e.settle(st.Deadline)
	st = e.sale(s.ID)
	release := e.sent()
	if st.Phase != flashsale.PhaseFailed || st.Reason != flashsale.ReasonCreationTimedOut || len(release) != 1 ||
		release[0].Kind != inventory.KindRelease || release[0].ID != flashsale.AbandonCommandID(s.ID) {
		t.Fatalf("after the deadline: %+v, sent %+v", st, release)
	}
	if attrs, ok := e.logs.find(slog.LevelWarn, "flash-sale creation failed"); !ok || attrs["sale"] != s.ID || attrs["reason"] != flashsale.ReasonCreationTimedOut {
		t.Fatalf("no warning for the failed creation: %v", attrs)
	}
	// The inventory catches up, in the order of its topic.
	if ev := e.apply(held[0]); ev[len(ev)-1].Type != inventory.EventReserved {
		t.Fatalf("late reserve: %+v", ev)
	}
	if ev := e.apply(release[0]); ev[len(ev)-1].Type != inventory.EventReleased {
		t.Fatalf("release: %+v", ev)
	}
	if got := e.stock[s.SKU].Stock; got != (inventory.Stock{OnHand: 5}) {
		t.Fatalf("stock %+v: the units did not come back", got)
	}
	if after := e.sale(s.ID); !reflect.DeepEqual(after, st) || len(e.sent()) != 0 {
		t.Fatalf("the late answer moved the sale: %+v", after)
	}
	for b := range s.Buckets {
		if v := e.tt.TableValue(e.n.Table(), e.r.Bucket(s.ID, b)); v != nil {
			t.Fatalf("bucket %d opened: %+v", b, v)
		}
	}
}

// TestGraphCreationRefused: the inventory refuses the allocation; the sale
// fails with its reason and nothing is held.
func TestGraphCreationRefused(t *testing.T) {
	e := run(t)
	s := flashsale.Sale{ID: "fs1", SKU: "sku-1", Units: 5, Start: start, End: start.Add(time.Hour), PerUserLimit: 5, Buckets: 2}
	e.restock(s.SKU, 4)
	e.create(s)
	e.pump()
	if st := e.sale(s.ID); st.Phase != flashsale.PhaseFailed || st.Reason != inventory.ReasonInsufficientStock {
		t.Fatalf("sale %+v", st)
	}
	if got := e.stock[s.SKU].Stock; got != (inventory.Stock{OnHand: 4}) {
		t.Fatalf("stock %+v", got)
	}
}

func TestGraphSettlesWithInventory(t *testing.T) {
	e := run(t)
	s := flashsale.Sale{ID: "fs2", SKU: "sku-7", Units: 5, Start: start, End: start.Add(time.Minute), PerUserLimit: 2, PriceMinor: 100, Buckets: 3}
	e.open(s, 8)
	for i := range 3 {
		user := fmt.Sprintf("u%d", i)
		e.public(purchase(e.r, s, user, user, 1, start.Add(time.Second)))
	}
	if got := e.stock[s.SKU].Stock; got != (inventory.Stock{OnHand: 8, Reserved: 5}) {
		t.Fatalf("stock while the sale sells: %+v", got)
	}
	// What the settler does once the end has passed, twice.
	e.settle(s.End)
	e.settle(s.End.Add(time.Minute))
	settle := e.sent()
	if len(settle) != 1 || settle[0].ID != flashsale.SettleCommandID(s.ID) || settle[0].Kind != inventory.KindCommit ||
		settle[0].Qty != 3 || settle[0].OrderID != flashsale.AllocationOrder(s.ID) {
		t.Fatalf("settlement %+v", settle)
	}
	if st := e.sale(s.ID); st.Phase != flashsale.PhaseSettling {
		t.Fatalf("sale %+v", st)
	}
	e.apply(settle[0])
	if st := e.sale(s.ID); !st.Settled() {
		t.Fatalf("sale not settled: %+v", st)
	}
	if got := e.stock[s.SKU].Stock; got != (inventory.Stock{OnHand: 5, Sold: 3}) {
		t.Fatalf("stock after the settlement %+v", got)
	}
	// A settled sale is left alone.
	e.settle(s.End.Add(time.Hour))
	if cmds := e.sent(); len(cmds) != 0 {
		t.Fatalf("settled twice: %+v", cmds)
	}
}

// TestGraphSettlementOfALostAllocation: the allocation is not there when
// the sale settles. Released under the sale by a command that is not its
// own (an operator's, a bug's), the sale fails its settlement as soon as
// the event arrives; gone without a word (forgotten by the inventory), the
// settlement's rejection says so. Either way the sale shows it, and the
// error is logged with the sale's id.
func TestGraphSettlementOfALostAllocation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lose   func(e *env, s flashsale.Sale)
		reason string
	}{
		{"released by another command", func(e *env, s flashsale.Sale) {
			e.apply(inventory.Command{ID: "titan:operator:release", Kind: inventory.KindRelease, OrderID: flashsale.AllocationOrder(s.ID),
				SKU: s.SKU, Time: start})
		}, inventory.ReasonAlreadyReleased},
		{"gone without an event", func(e *env, s flashsale.Sale) {
			st := e.stock[s.SKU]
			st.Stock.Reserved -= s.Units
			st.Reservations = nil
			e.stock[s.SKU] = st
		}, inventory.ReasonNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := run(t)
			s := flashsale.Sale{ID: "fs3", SKU: "sku-3", Units: 4, Start: start, End: start.Add(time.Minute), PerUserLimit: 2, Buckets: 2}
			e.open(s, 4)
			e.public(purchase(e.r, s, "u", "k", 2, start.Add(time.Second)))
			tc.lose(e, s)
			e.settle(s.End)
			e.pump()
			st := e.sale(s.ID)
			if st.Phase != flashsale.PhaseSettlementFailed || st.Reason != tc.reason || st.Settled() || st.Sold() != 2 {
				t.Fatalf("sale %+v", st)
			}
			attrs, ok := e.logs.find(slog.LevelError, "flash-sale settlement failed")
			if !ok || attrs["sale"] != s.ID || attrs["sku"] != s.SKU || attrs["reason"] != tc.reason {
				t.Fatalf("error logged: %v %v", ok, attrs)
			}
			// Nothing is sold on the inventory's side: the operator's to put
			// right, not the settler's to retry.
			e.settle(s.End.Add(time.Hour))
			if cmds := e.sent(); len(cmds) != 0 || e.stock[s.SKU].Stock.Sold != 0 {
				t.Fatalf("after the failure: %+v %+v", cmds, e.stock[s.SKU].Stock)
			}
		})
	}
}

// TestGraphIdempotencyKeyConflict: a buyer's second attempt under a used
// key with another qty is answered as a conflict; the index keeps the
// first attempt's result and nothing more is sold.
func TestGraphIdempotencyKeyConflict(t *testing.T) {
	e := run(t)
	evq := e.tt.NewQueueTracker(string(e.n.Events))
	s := flashsale.Sale{ID: "fs1", SKU: "sku-1", Units: 5, Start: start, End: start.Add(time.Hour), PerUserLimit: 5, PriceMinor: 7, Buckets: 1}
	e.open(s, 5)
	e.public(purchase(e.r, s, "u", "k", 1, start.Add(time.Second)))
	e.public(purchase(e.r, s, "u", "k", 3, start.Add(2*time.Second)))
	got := results(t, evq)
	if len(got) != 2 || got[0].Status != flashsale.StatusPurchased || got[1].Reason != flashsale.ReasonIdempotencyConflict || got[1].Qty != 3 {
		t.Fatalf("results %+v", got)
	}
	if idx := e.tt.TableValue(e.n.PurchasesTable(), flashsale.PurchaseKey(s.ID, "k")); idx != got[0] {
		t.Fatalf("index %+v, want the first attempt's %+v", idx, got[0])
	}
	if b := e.tt.TableValue(e.n.Table(), e.r.Bucket(s.ID, 0)).(flashsale.State).Bucket; b.Sold != 1 {
		t.Fatalf("bucket sold %d", b.Sold)
	}
}

// storageOf copies the tester's table into a storage the settler can scan.
func storageOf(t *testing.T, tt *tester.Tester, n Names) storage.Storage {
	t.Helper()
	st := storage.NewMemory()
	for _, k := range tt.GetTableKeys(n.Table()) {
		b, err := StateCodec.Encode(tt.TableValue(n.Table(), k))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Set(k, b); err != nil {
			t.Fatal(err)
		}
	}
	return st
}
