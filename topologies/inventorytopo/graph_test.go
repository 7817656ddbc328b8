package inventorytopo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
	"github.com/lovoo/goka/tester"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	"github.com/titan-commerce/titan/state"
)

// testTime is the time of the tester's commands and, by default, of the
// records that carry them.
var testTime = time.UnixMilli(1_700_000_000_000)

// stamped is the tester option that gives a record the time Kafka would.
var stamped = tester.WithTime(testTime)

// allocations is a reply stream, as the flash-sale topology asks for.
const allocations = "test.allocations"

// run starts both groups on goka's in-memory tester; the stock table is
// in Pebble, as the processor keeps it, and stock reads it.
func run(t *testing.T) (*tester.Tester, Names) {
	tt, n, _ := runWithTable(t)
	return tt, n
}

func runWithTable(t *testing.T) (*tester.Tester, Names, func(sku string) inventory.State) {
	t.Helper()
	tt := tester.New(t)
	n := NamesFor("test")
	g := &graph{names: n, policy: inventory.DefaultPolicy(), window: schemas.DefaultTimeWindow(), replies: []Reply{{
		Prefix: "titan:flash-sale:", Stream: allocations,
		Key: func(order string) string { return "s:" + strings.TrimPrefix(order, "titan:flash-sale:") },
	}}, keys: gokaopts.NewKeys(n.Table())}
	stock, orders := g.graphs(observe.Decorator{})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var st storage.Storage
	table := func(topic string, partition int32) (storage.Storage, error) {
		b, err := state.NewBuilder(t.TempDir())
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { _ = b.Close() })
		st, err = b.Build(topic, partition)
		return st, err
	}
	for _, gg := range []*goka.GroupGraph{stock, orders} {
		opts := []goka.ProcessorOption{goka.WithTester(tt)}
		if gg == stock {
			opts = append(opts, goka.WithStorageBuilder(g.keys.Storage(table)),
				goka.WithProducerBuilder(g.keys.Producer(tt.ProducerBuilder())))
		}
		p, err := goka.NewProcessor(nil, gg, opts...)
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = p.Run(ctx) }()
	}
	return tt, n, func(sku string) inventory.State {
		t.Helper()
		s, err := LoadState(st, sku)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func wire(t *testing.T, c inventory.Command) []byte {
	t.Helper()
	if c.Time.IsZero() {
		c.Time = testTime
	}
	b, err := proto.Marshal(inventory.CommandToWire(c))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func events(t *testing.T, q *tester.QueueTracker) []inventory.Event {
	t.Helper()
	var out []inventory.Event
	for {
		_, v, ok := q.NextRaw()
		if !ok {
			return out
		}
		var w inventoryv1.Event
		if err := proto.Unmarshal(v, &w); err != nil {
			t.Fatal(err)
		}
		out = append(out, inventory.EventFromWire(&w))
	}
}

func TestGraphDecidesAndPublishes(t *testing.T) {
	tt, n, table := runWithTable(t)
	evq := tt.NewQueueTracker(string(n.Events))
	orq := tt.NewQueueTracker(string(n.OrderEvents))

	tt.Consume(string(n.Commands), "sku-1", wire(t, inventory.Command{ID: "c1", Kind: inventory.KindRestock, SKU: "sku-1", Qty: 5}), stamped)
	tt.Consume(string(n.Commands), "sku-1", wire(t, inventory.Command{ID: "c2", Kind: inventory.KindReserve, SKU: "sku-1", OrderID: "o1", Qty: 2, TTL: time.Minute}), stamped)
	tt.Consume(string(n.Commands), "sku-1", wire(t, inventory.Command{ID: "c2", Kind: inventory.KindReserve, SKU: "sku-1", OrderID: "o1", Qty: 2, TTL: time.Minute}), stamped)

	got := events(t, evq)
	if len(got) != 3 || got[0].Type != inventory.EventRestocked || got[1].Type != inventory.EventReserved || got[2] != got[1] {
		t.Fatalf("events %+v", got)
	}
	st := table("sku-1")
	if st.Stock != (inventory.Stock{OnHand: 5, Reserved: 2}) {
		t.Fatalf("stock %+v", st.Stock)
	}
	if o := events(t, orq); len(o) != 2 {
		t.Fatalf("order events %+v", o)
	}
	x := tt.TableValue(n.OrdersTable(), "o1").(inventory.OrderIndex)
	if len(x.Lines) != 1 || x.Lines[0].Type != inventory.EventReserved || x.Lines[0].SKU != "sku-1" {
		t.Fatalf("order index %+v", x)
	}
}

func TestGraphDeadLetters(t *testing.T) {
	tt, n, table := runWithTable(t)
	dlq := tt.NewQueueTracker(string(n.DeadLetters))
	evq := tt.NewQueueTracker(string(n.Events))

	tt.Consume(string(n.Commands), "sku-1", []byte{0xff, 0xff, 0xff}, stamped)
	tt.Consume(string(n.Commands), "sku-1", wire(t, inventory.Command{ID: "c1", Kind: inventory.KindRestock, SKU: "sku-1", Qty: 0}), stamped)
	tt.Consume(string(n.Commands), "other", wire(t, inventory.Command{ID: "c2", Kind: inventory.KindRestock, SKU: "sku-1", Qty: 1}), stamped)
	// Titan's namespace and kinds are not a client's to use.
	tt.Consume(string(n.Commands), "sku-1", wire(t, inventory.Command{ID: "titan:order:o1:sku-1:reserve", Kind: inventory.KindRestock, SKU: "sku-1", Qty: 1}), stamped)
	tt.Consume(string(n.Commands), "sku-1", wire(t, inventory.Command{ID: "c4", Kind: inventory.KindRelease, SKU: "sku-1", OrderID: "titan:flash-sale:s1"}), stamped)
	tt.Consume(string(n.Commands), "sku-1", wire(t, inventory.Command{ID: "c5", Kind: inventory.KindExpire, SKU: "sku-1", OrderID: "o1"}), stamped)
	// Nor is a time far from the record's.
	tt.Consume(string(n.Commands), "sku-1", wire(t, inventory.Command{ID: "c6", Kind: inventory.KindRestock, SKU: "sku-1", Qty: 1, Time: testTime.AddDate(1, 0, 0)}), stamped)
	tt.Consume(string(n.Commands), "sku-1", wire(t, inventory.Command{ID: "c7", Kind: inventory.KindRestock, SKU: "sku-1", Qty: 1, Time: time.UnixMilli(math.MaxInt64)}), stamped)
	tt.Consume(string(n.Commands), "sku-1", wire(t, inventory.Command{ID: "c8", Kind: inventory.KindRestock, SKU: "sku-1", Qty: 1, Time: testTime.Add(-2 * time.Hour)}), stamped)
	// An internal command is Titan's, in its namespace.
	tt.Consume(string(n.Internal), "sku-1", wire(t, inventory.Command{ID: "c9", Kind: inventory.KindRestock, SKU: "sku-1", Qty: 1}), stamped)
	tt.Consume(string(n.Commands), "sku-1", wire(t, inventory.Command{ID: "c3", Kind: inventory.KindRestock, SKU: "sku-1", Qty: 1}), stamped)

	var reasons []string
	for {
		_, v, ok := dlq.NextRaw()
		if !ok {
			break
		}
		var d observe.DeadLetter
		if err := json.Unmarshal(v, &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Value) == 0 || (d.Topic != string(n.Commands) && d.Topic != string(n.Internal)) || d.Error == "" {
			t.Fatalf("dead letter lacks the record: %+v", d)
		}
		reasons = append(reasons, d.Reason)
	}
	want := []string{"decode", "invalid_qty", "key_mismatch", "reserved_id", "reserved_id", "internal_kind",
		"invalid_timestamp", "invalid_timestamp", "invalid_timestamp", "invalid_id"}
	if len(reasons) != len(want) {
		t.Fatalf("dead letters %v, want %v", reasons, want)
	}
	for i := range want {
		if reasons[i] != want[i] {
			t.Fatalf("dead letters %v, want %v", reasons, want)
		}
	}
	// Processing went on after the bad records, and they changed nothing.
	got := events(t, evq)
	if len(got) != 1 || got[0].CommandID != "c3" {
		t.Fatalf("events %+v", got)
	}
	if st := table("sku-1"); st.Stock.OnHand != 1 {
		t.Fatalf("stock %+v", st.Stock)
	}
}

// Reservations made by Titan's internal commands are Titan's: a client's
// command on one is refused with an answer and changes nothing, Titan's own
// ends it, and the answers about a namespace with a reply stream reach it
// keyed as its owner asked.
func TestGraphInternalCommands(t *testing.T) {
	tt, n, table := runWithTable(t)
	evq := tt.NewQueueTracker(string(n.Events))
	rq := tt.NewQueueTracker(allocations)
	internal := func(c inventory.Command) {
		t.Helper()
		tt.Consume(string(n.Internal), c.SKU, wire(t, c))
	}
	client := func(c inventory.Command) {
		t.Helper()
		tt.Consume(string(n.Commands), c.SKU, wire(t, c), stamped)
	}
	client(inventory.Command{ID: "r1", Kind: inventory.KindRestock, SKU: "sku-1", Qty: 10})
	internal(inventory.Command{ID: "titan:flash-sale:s1:allocate", Kind: inventory.KindReserve, SKU: "sku-1",
		OrderID: "titan:flash-sale:s1", Qty: 4, TTL: time.Hour})
	internal(inventory.Command{ID: "titan:order:o1:sku-1:reserve", Kind: inventory.KindReserve, SKU: "sku-1",
		OrderID: "o1", Qty: 2, TTL: time.Hour})
	client(inventory.Command{ID: "c1", Kind: inventory.KindRelease, SKU: "sku-1", OrderID: "o1"})
	client(inventory.Command{ID: "c2", Kind: inventory.KindCommit, SKU: "sku-1", OrderID: "o1"})
	internal(inventory.Command{ID: "titan:flash-sale:s1:settle", Kind: inventory.KindCommit, SKU: "sku-1",
		OrderID: "titan:flash-sale:s1", Qty: 3})

	got := events(t, evq)
	var summary []string
	for _, e := range got {
		summary = append(summary, e.Type.String()+":"+e.Reason)
	}
	want := []string{"restocked:", "reserved:", "reserved:", "rejected:reserved_id", "rejected:reserved_id", "committed:"}
	if strings.Join(summary, " ") != strings.Join(want, " ") {
		t.Fatalf("events %v, want %v", summary, want)
	}
	for i, e := range got {
		// One sequence across both topics; offsets restart per topic.
		if e.Seq != int64(i+1) || e.Internal != (i == 1 || i == 2 || i == 5) {
			t.Fatalf("event %d: seq %d internal %v: %+v", i, e.Seq, e.Internal, got)
		}
	}
	st := table("sku-1")
	if st.Stock != (inventory.Stock{OnHand: 7, Reserved: 2, Sold: 3}) || st.Offset < 0 || st.InternalOffset < 0 {
		t.Fatalf("state %+v", st)
	}
	if r, _ := st.Reservation("o1"); r.Status != inventory.StatusOpen || !r.Internal {
		t.Fatalf("the saga's line %+v", r)
	}
	var keys []string
	for {
		k, v, ok := rq.NextRaw()
		if !ok {
			break
		}
		var w inventoryv1.Event
		if err := proto.Unmarshal(v, &w); err != nil || w.GetOrderId() != "titan:flash-sale:s1" {
			t.Fatalf("reply %v %v", &w, err)
		}
		keys = append(keys, k)
	}
	if strings.Join(keys, " ") != "s:s1 s:s1" {
		t.Fatalf("replies keyed %v, want the allocation's and the settlement's under s:s1", keys)
	}
}

// putState writes a whole SKU into a table partition's storage: in the
// layout the processor writes, or in layout 1 with one value per SKU.
func putState(t *testing.T, st storage.Storage, sku string, s inventory.State, layout1 bool) {
	t.Helper()
	if layout1 {
		b, err := proto.Marshal(inventory.StateToWire(s))
		if err != nil {
			t.Fatal(err)
		}
		set(t, st, write{key: sku, value: b})
		return
	}
	writes, err := explode(sku, s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := encodeStored(stored{head: s.Head(), writer: 1})
	if err != nil {
		t.Fatal(err)
	}
	set(t, st, write{key: sku, value: b})
	for _, w := range writes {
		set(t, st, w)
	}
}

func TestSweeperProposesDueReservations(t *testing.T) {
	for _, layout1 := range []bool{false, true} {
		t.Run(fmt.Sprintf("layout1=%v", layout1), func(t *testing.T) { testSweeperProposes(t, layout1) })
	}
}

func testSweeperProposes(t *testing.T, layout1 bool) {
	st := pebble(t)
	now := time.UnixMilli(1_700_000_000_000)
	s := inventory.NewState()
	for _, c := range []inventory.Command{
		{ID: "c1", Kind: inventory.KindRestock, SKU: "a", Qty: 10, Time: now},
		{ID: "c2", Kind: inventory.KindReserve, SKU: "a", OrderID: "due", Qty: 1, TTL: time.Second, Time: now},
		{ID: "c3", Kind: inventory.KindReserve, SKU: "a", OrderID: "later", Qty: 1, TTL: time.Hour, Time: now},
	} {
		s, _ = inventory.Decide(s, c, inventory.DefaultPolicy())
	}
	putState(t, st, "a", s, layout1)
	// Other SKUs around it, quiet ones and their memories, are stepped
	// over.
	for _, sku := range []string{"", "0", "a-", "b", "zz"} {
		q := inventory.NewState()
		q, _ = inventory.Decide(q, inventory.Command{ID: "q", Kind: inventory.KindRestock, SKU: sku, Qty: 1, Time: now}, inventory.DefaultPolicy())
		q, _ = inventory.Decide(q, inventory.Command{ID: "q2", Kind: inventory.KindReserve, SKU: sku, OrderID: "o", Qty: 1, TTL: time.Hour, Time: now}, inventory.DefaultPolicy())
		putState(t, st, sku, q, false)
	}

	var sent []*inventoryv1.Command
	sw := NewSweeper(func() []storage.Storage { return []storage.Storage{st} },
		func(_ context.Context, cmds []*inventoryv1.Command) ([]int64, error) {
			sent = append(sent, cmds...)
			offsets := make([]int64, len(cmds))
			for i := range offsets {
				offsets[i] = s.Offset + 10
			}
			return offsets, nil
		},
		time.Second, nil)
	sw.now = func() time.Time { return now.Add(2 * time.Second) }

	if err := sw.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(sent) != 1 || sent[0].GetOrderId() != "due" || sent[0].GetSku() != "a" || sent[0].GetExpire() == nil {
		t.Fatalf("sent %v", sent)
	}
	// In flight until the state passes the proposal's offset, however
	// long the processor takes...
	sw.now = func() time.Time { return now.Add(time.Hour / 2) }
	for range 3 {
		if err := sw.Sweep(context.Background()); err != nil || len(sent) != 1 {
			t.Fatalf("re-proposed while in flight: %v %v", sent, err)
		}
	}
	// ...and proposed again if the state passed it with the reservation
	// still open: the proposal was lost.
	s.InternalOffset = s.Offset + 11
	putState(t, st, "a", s, layout1)
	if err := sw.Sweep(context.Background()); err != nil || len(sent) != 2 {
		t.Fatalf("not re-proposed after a lost proposal: %v %v", sent, err)
	}
}

func TestSweeperRetriesFailedSends(t *testing.T) {
	st := pebble(t)
	now := time.UnixMilli(1_700_000_000_000)
	s := inventory.NewState()
	s, _ = inventory.Decide(s, inventory.Command{ID: "c1", Kind: inventory.KindRestock, SKU: "a", Qty: 1, Time: now}, inventory.DefaultPolicy())
	s, _ = inventory.Decide(s, inventory.Command{ID: "c2", Kind: inventory.KindReserve, SKU: "a", OrderID: "o", Qty: 1, TTL: time.Second, Time: now}, inventory.DefaultPolicy())
	putState(t, st, "a", s, false)
	calls := 0
	sw := NewSweeper(func() []storage.Storage { return []storage.Storage{st} },
		func(_ context.Context, cmds []*inventoryv1.Command) ([]int64, error) {
			calls++
			return []int64{-1}, errors.New("broker gone")
		}, time.Second, nil)
	sw.now = func() time.Time { return now.Add(2 * time.Second) }
	for range 2 {
		if err := sw.Sweep(context.Background()); err == nil {
			t.Fatal("a failed send was not reported")
		}
	}
	if calls != 2 {
		t.Fatalf("a failed proposal was not retried: %d sends", calls)
	}
}

func TestNextExpiryReadsOnlyItsField(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	s := inventory.NewState()
	for _, c := range []inventory.Command{
		{ID: "c1", Kind: inventory.KindRestock, SKU: "a", Qty: 10, Time: now},
		{ID: "c2", Kind: inventory.KindReserve, SKU: "a", OrderID: "o1", Qty: 1, TTL: time.Hour, Time: now},
		{ID: "c3", Kind: inventory.KindReserve, SKU: "a", OrderID: "o2", Qty: 1, TTL: time.Minute, Time: now},
	} {
		s, _ = inventory.Decide(s, c, inventory.DefaultPolicy())
	}
	for _, v := range []stored{{head: s.Head(), redo: []write{{key: "k", value: []byte{1}}}, writer: 9}, {legacy: &s}} {
		var b []byte
		var err error
		if v.legacy != nil {
			b, err = proto.Marshal(inventory.StateToWire(s))
		} else {
			b, err = StateCodec.Encode(v)
		}
		if err != nil {
			t.Fatal(err)
		}
		if got, want := nextExpiry(b), now.Add(time.Minute).UnixMilli(); got != want {
			t.Fatalf("next expiry %d, want %d", got, want)
		}
	}
	empty, _ := StateCodec.Encode(newStored())
	if got := nextExpiry(empty); got != 0 {
		t.Fatalf("next expiry of an empty state %d", got)
	}
	if got := nextExpiry([]byte{0xff}); got != -1 {
		t.Fatalf("next expiry of garbage %d", got)
	}
}
