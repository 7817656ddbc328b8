package recommendationstopo

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/processors/recommendations"
	"github.com/titan-commerce/titan/schemas"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
	"github.com/titan-commerce/titan/state"
)

// recordTime is when Kafka received the records the tests consume: the
// time window of a view is measured from it.
var recordTime = time.UnixMilli(1_700_000_000_000)

// received gives a record the time Kafka would.
var received = tester.WithTime(recordTime)

// testOutcomes stands in for the order saga's outcomes topic.
const testOutcomes goka.Stream = "test.order-outcomes"

// recs is the three groups running on goka's in-memory tester.
type recs struct {
	t  *testing.T
	tt *tester.Tester
	n  Names
	// state holds the items table in Pebble, as the processor keeps it:
	// the neighbors live under keys of their own, which goka's in-memory
	// storage can neither range in order nor reach through TableValue.
	state *state.Builder
}

func runGroups(t *testing.T) *recs {
	t.Helper()
	b, err := state.NewBuilder(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last first: the processors stop before the storages
	// they write go away.
	t.Cleanup(func() { _ = b.Close() })
	r := &recs{t: t, tt: tester.New(t), n: NamesFor("test"), state: b}
	g := &groups{names: r.n, outcomes: testOutcomes, policy: recommendations.DefaultPolicy(),
		window: schemas.DefaultTimeWindow(), keys: gokaopts.NewKeys(r.n.ItemsTable())}
	users, orders, items := g.graphs(observe.Decorator{})
	ctx, cancel := context.WithCancel(context.Background())
	var done []chan error
	t.Cleanup(func() {
		cancel()
		for _, d := range done {
			if err := <-d; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("processor: %v", err)
			}
		}
	})
	for _, gg := range []*goka.GroupGraph{users, orders, items} {
		opts := []goka.ProcessorOption{goka.WithTester(r.tt)}
		if gg == items {
			opts = append(opts, goka.WithStorageBuilder(g.keys.Storage(b.Build)),
				goka.WithProducerBuilder(g.keys.Producer(r.tt.ProducerBuilder())))
		}
		p, err := goka.NewProcessor(nil, gg, opts...)
		if err != nil {
			t.Fatal(err)
		}
		d := make(chan error, 1)
		done = append(done, d)
		go func() { d <- p.Run(ctx) }()
	}
	return r
}

// view consumes v under key, received at recordTime.
func (r *recs) view(key string, v recommendations.ViewEvent) {
	r.t.Helper()
	r.tt.Consume(string(r.n.Views), key, r.wire(recommendations.ViewToWire(v)), received)
}

func (r *recs) wire(m proto.Message) []byte {
	r.t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		r.t.Fatal(err)
	}
	return b
}

func (r *recs) history(user string) recommendations.UserHistory {
	r.t.Helper()
	v := r.tt.TableValue(r.n.UsersTable(), user)
	if v == nil {
		return recommendations.UserHistory{}
	}
	return v.(recommendations.UserHistory)
}

// item reads an item back from the items table as the API does; the
// tester's topics have one partition.
func (r *recs) item(sku string) (recommendations.ItemState, bool) {
	r.t.Helper()
	st, ok := r.state.Lookup(string(r.n.ItemsTable()), 0)
	if !ok {
		r.t.Fatal("the items table is not open")
	}
	s, found, err := LoadItem(st, sku)
	if err != nil {
		r.t.Fatal(err)
	}
	return s, found
}

// neighbors are an item's neighbors by SKU.
func (r *recs) neighbors(sku string) map[string]recommendations.Neighbor {
	r.t.Helper()
	s, _ := r.item(sku)
	out := map[string]recommendations.Neighbor{}
	for _, n := range s.Neighbors {
		out[n.SKU] = n
	}
	return out
}

// sentPair is one record of the pairs topic.
type sentPair struct {
	key   string
	value []byte
	pairs []recommendations.Pair
}

func (r *recs) sentPairs(q *tester.QueueTracker) []sentPair {
	r.t.Helper()
	var out []sentPair
	for {
		k, v, ok := q.NextRaw()
		if !ok {
			return out
		}
		var w recommendationsv1.Pair
		if err := proto.Unmarshal(v, &w); err != nil {
			r.t.Fatal(err)
		}
		ps, err := recommendations.PairsFromRecord(&w)
		if err != nil {
			r.t.Fatal(err)
		}
		out = append(out, sentPair{key: k, value: v, pairs: ps})
	}
}

// deadLetters reads the reasons of the dead letters, in order, checking
// that each carries the record it sets aside.
func (r *recs) deadLetters(q *tester.QueueTracker, from ...goka.Stream) []string {
	r.t.Helper()
	var reasons []string
	for {
		_, v, ok := q.NextRaw()
		if !ok {
			return reasons
		}
		var d observe.DeadLetter
		if err := json.Unmarshal(v, &d); err != nil {
			r.t.Fatal(err)
		}
		if len(d.Value) == 0 || !slices.Contains(from, goka.Stream(d.Topic)) || d.Error == "" || !d.Time.Equal(recordTime) {
			r.t.Fatalf("dead letter lacks the record: %+v", d)
		}
		reasons = append(reasons, d.Reason)
	}
}

// near reports whether a decayed score is within rounding of want: pairs
// a few seconds after an item's epoch weigh a hair over one.
func near(got, want float64) bool { return math.Abs(got-want) < 1e-3 }

func TestGraphViewsBecomeNeighborsBothWays(t *testing.T) {
	r := runGroups(t)
	pq := r.tt.NewQueueTracker(string(r.n.Pairs))
	dlq := r.tt.NewQueueTracker(string(r.n.DeadLetters))

	r.view("u1", recommendations.ViewEvent{EventID: "v1", UserID: "u1", SKU: "a", SessionID: "s1", Time: recordTime.Add(-10 * time.Second)})
	r.view("u1", recommendations.ViewEvent{EventID: "v2", UserID: "u1", SKU: "b", SessionID: "s1", Time: recordTime.Add(-5 * time.Second)})

	h := r.history("u1")
	if len(h.Recent) != 2 || h.Recent[0].SKU != "a" || h.Recent[1].SKU != "b" || h.Recent[1].SessionID != "s1" ||
		!slices.Equal(h.EventIDs, []string{"v1", "v2"}) {
		t.Fatalf("history %+v", h)
	}
	// The first view has nothing to pair with; the second pairs b with a
	// both ways, one record per item, keyed by it.
	sent := r.sentPairs(pq)
	if len(sent) != 2 {
		t.Fatalf("pair records %+v", sent)
	}
	for i, want := range [][2]string{{"b", "a"}, {"a", "b"}} {
		s := sent[i]
		if s.key != want[0] || len(s.pairs) != 1 || s.pairs[0].Item != want[0] || s.pairs[0].Other != want[1] ||
			s.pairs[0].Signal != recommendations.SignalView || !s.pairs[0].Time.Equal(recordTime.Add(-5*time.Second)) {
			t.Fatalf("pair record %d %+v, want %s-%s", i, s, want[0], want[1])
		}
	}
	for _, want := range [][2]string{{"a", "b"}, {"b", "a"}} {
		s, found := r.item(want[0])
		if !found || s.SKU != want[0] || len(s.Neighbors) != 1 {
			t.Fatalf("item %s %+v", want[0], s)
		}
		if n := s.Neighbors[0]; n.SKU != want[1] || !near(n.ViewScore, 1) || n.PurchaseScore != 0 {
			t.Fatalf("item %s's neighbor %+v, want %s co-viewed once", want[0], n, want[1])
		}
	}
	if _, found := r.item("c"); found {
		t.Fatal("an item nobody viewed is in the table")
	}
	if reasons := r.deadLetters(dlq, r.n.Views, r.n.Pairs); len(reasons) != 0 {
		t.Fatalf("dead letters %v", reasons)
	}
}

func TestGraphDeadLettersViewsAndGoesOn(t *testing.T) {
	r := runGroups(t)
	pq := r.tt.NewQueueTracker(string(r.n.Pairs))
	dlq := r.tt.NewQueueTracker(string(r.n.DeadLetters))
	at := recordTime.Add(-time.Minute)
	good := func(id, sku string) recommendations.ViewEvent {
		return recommendations.ViewEvent{EventID: id, UserID: "u1", SKU: sku, SessionID: "s1", Time: at}
	}

	r.view("u1", good("v1", "a"))
	r.tt.Consume(string(r.n.Views), "u1", []byte{0xff, 0xff, 0xff}, received)
	// Each bad view below names an item the good ones do not, so any that
	// got through would show in the history or the pairs.
	r.view("u1", recommendations.ViewEvent{EventID: "x1", UserID: "u2", SKU: "c", SessionID: "s1", Time: at})
	r.view("u1", good("x2", ""))
	r.view("u1", recommendations.ViewEvent{EventID: "x3", UserID: "u1", SKU: "d", SessionID: schemas.ReservedPrefix + "s", Time: at})
	// A good view among the bad: they are refused for what they say, not
	// for coming after a bad one.
	r.view("u1", good("x4", "e"))
	r.view("u1", recommendations.ViewEvent{EventID: "x5", UserID: "u1", SKU: "f", SessionID: "s1", Time: recordTime.AddDate(1, 0, 0)})
	r.view("u1", recommendations.ViewEvent{EventID: "x6", UserID: "u1", SKU: "g", SessionID: "s1", Time: recordTime.Add(-2 * time.Hour)})
	// A view whose id the user's history holds for another view is not the
	// same view sent again.
	r.view("u1", good("v1", "h"))
	r.view("u1", good("v2", "b"))

	want := []string{"decode", "key_mismatch", string(schemas.ReasonMissingSKU), string(schemas.ReasonReservedID),
		string(schemas.ReasonInvalidTimestamp), string(schemas.ReasonInvalidTimestamp), "command_id_conflict"}
	got := r.deadLetters(dlq, r.n.Views)
	if !slices.Equal(got, want) {
		t.Fatalf("dead letters %v, want %v", got, want)
	}
	h := r.history("u1")
	var skus []string
	for _, s := range h.Recent {
		skus = append(skus, s.SKU)
	}
	if !slices.Equal(skus, []string{"a", "e", "b"}) || !slices.Equal(h.EventIDs, []string{"v1", "x4", "v2"}) {
		t.Fatalf("history %v, ids %v: want a, e, b by v1, x4, v2", skus, h.EventIDs)
	}
	if h := r.history("u2"); len(h.Recent) != 0 {
		t.Fatalf("a view keyed by u1 made a history for u2: %+v", h)
	}
	// Going on after the bad records: b pairs with e and a.
	b := r.neighbors("b")
	if len(b) != 2 || !near(b["a"].ViewScore, 1) || !near(b["e"].ViewScore, 1) {
		t.Fatalf("b's neighbors %+v, want a and e", b)
	}
	for _, sku := range []string{"c", "d", "f", "g", "h"} {
		if _, found := r.item(sku); found {
			t.Fatalf("a refused view reached item %s", sku)
		}
	}
	var items []string
	for _, s := range r.sentPairs(pq) {
		items = append(items, s.key)
	}
	if !slices.Equal(items, []string{"e", "a", "b", "e", "a"}) {
		t.Fatalf("pair records for %v", items)
	}
}

func TestGraphDeadLettersPairs(t *testing.T) {
	r := runGroups(t)
	dlq := r.tt.NewQueueTracker(string(r.n.DeadLetters))
	pair := func(key, item, other string) {
		r.t.Helper()
		p := recommendations.PairToWire(recommendations.Pair{Item: item, Other: other, Signal: recommendations.SignalView,
			Time: recordTime, Origin: recommendations.Origin{Stream: recommendations.StreamViews, Offset: 1}})
		r.tt.Consume(string(r.n.Pairs), key, r.wire(p), received)
	}

	r.tt.Consume(string(r.n.Pairs), "a", []byte{0xff, 0xff, 0xff}, received)
	pair("a", "b", "c")
	pair("a", "a", "a")
	pair("a", "a", "")
	pair("a", "a", "b")

	want := []string{"decode", "invalid_pair", "invalid_pair", "invalid_pair"}
	if got := r.deadLetters(dlq, r.n.Pairs); !slices.Equal(got, want) {
		t.Fatalf("dead letters %v, want %v", got, want)
	}
	if _, found := r.item("b"); found {
		t.Fatal("a pair keyed by another item reached its item")
	}
	if a := r.neighbors("a"); len(a) != 1 || !near(a["b"].ViewScore, 1) {
		t.Fatalf("a's neighbors %+v, want b alone", a)
	}
}

func TestGraphCountsAViewOnce(t *testing.T) {
	r := runGroups(t)
	pq := r.tt.NewQueueTracker(string(r.n.Pairs))
	a := recommendations.ViewEvent{EventID: "v1", UserID: "u1", SKU: "a", SessionID: "s1", Time: recordTime.Add(-10 * time.Second)}
	b := recommendations.ViewEvent{EventID: "v2", UserID: "u1", SKU: "b", SessionID: "s1", Time: recordTime.Add(-5 * time.Second)}

	r.view("u1", a)
	r.view("u1", b)
	first := r.sentPairs(pq)
	// A storefront retrying sends the same view again.
	r.view("u1", b)
	r.view("u1", a)
	if again := r.sentPairs(pq); len(again) != 0 {
		t.Fatalf("a view sent again sent pairs again: %+v", again)
	}
	if h := r.history("u1"); !slices.Equal(h.EventIDs, []string{"v1", "v2"}) || len(h.Recent) != 2 {
		t.Fatalf("history %+v", h)
	}
	// A users group that fails after sending its pairs reads the view
	// again and sends the same pairs, from the same origin: the items
	// count them once.
	if len(first) != 2 {
		t.Fatalf("pair records %+v", first)
	}
	for _, s := range first {
		r.tt.Consume(string(r.n.Pairs), s.key, s.value, received)
	}
	for _, want := range [][2]string{{"a", "b"}, {"b", "a"}} {
		ns := r.neighbors(want[0])
		if n := ns[want[1]]; len(ns) != 1 || !near(n.ViewScore, 1) {
			t.Fatalf("item %s's neighbors %+v, want %s co-viewed once", want[0], ns, want[1])
		}
	}
	// The control: the same two items viewed in another session count a
	// second time.
	r.view("u1", recommendations.ViewEvent{EventID: "v3", UserID: "u1", SKU: "a", SessionID: "s2", Time: recordTime.Add(-4 * time.Second)})
	r.view("u1", recommendations.ViewEvent{EventID: "v4", UserID: "u1", SKU: "b", SessionID: "s2", Time: recordTime.Add(-3 * time.Second)})
	if n := r.neighbors("a")["b"]; !near(n.ViewScore, 2) {
		t.Fatalf("a's neighbor %+v, want b co-viewed twice", n)
	}
}

func TestGraphConfirmedOrdersPairAndTellTheBuyer(t *testing.T) {
	r := runGroups(t)
	pq := r.tt.NewQueueTracker(string(r.n.Purchases))
	dlq := r.tt.NewQueueTracker(string(r.n.DeadLetters))
	at := recordTime.Add(-time.Minute)
	confirmed := func(order string, skus ...string) []byte {
		c := &ordersv1.OrderConfirmed{UserId: "u1"}
		for _, s := range skus {
			c.Lines = append(c.Lines, &ordersv1.OrderLine{Sku: s, Qty: 1, UnitPriceMinor: 100})
		}
		return r.wire(&ordersv1.OrderEvent{EventId: "order:" + order + ":outcome", OrderId: order, TimestampMs: at.UnixMilli(),
			Kind: &ordersv1.OrderEvent_Confirmed{Confirmed: c}})
	}

	r.tt.Consume(string(testOutcomes), "o1", confirmed("o1", "a", "d"), received)
	// The saga publishing its outcome again buys nothing more.
	r.tt.Consume(string(testOutcomes), "o1", confirmed("o1", "a", "d"), received)
	// A rejected order bought nothing.
	r.tt.Consume(string(testOutcomes), "o2", r.wire(&ordersv1.OrderEvent{EventId: "order:o2:outcome", OrderId: "o2",
		TimestampMs: at.UnixMilli(), Kind: &ordersv1.OrderEvent_Rejected{Rejected: &ordersv1.OrderRejected{}}}), received)
	r.tt.Consume(string(testOutcomes), "o3", confirmed("o4", "a", "e"), received)
	r.tt.Consume(string(testOutcomes), "o5", []byte{0xff, 0xff, 0xff}, received)

	if got, want := r.deadLetters(dlq, testOutcomes), []string{"key_mismatch", "decode"}; !slices.Equal(got, want) {
		t.Fatalf("dead letters %v, want %v", got, want)
	}
	for _, want := range [][2]string{{"a", "d"}, {"d", "a"}} {
		ns := r.neighbors(want[0])
		if n := ns[want[1]]; len(ns) != 1 || !near(n.PurchaseScore, 1) || n.ViewScore != 0 {
			t.Fatalf("item %s's neighbors %+v, want %s co-bought once", want[0], ns, want[1])
		}
	}
	if _, found := r.item("e"); found {
		t.Fatal("an order keyed by another reached its items")
	}
	var sent []string
	for {
		k, _, ok := pq.NextRaw()
		if !ok {
			break
		}
		sent = append(sent, k)
	}
	if !slices.Equal(sent, []string{"u1", "u1"}) {
		t.Fatalf("purchases sent to %v, want u1's two", sent)
	}
	h := r.history("u1")
	var bought []string
	for _, s := range h.Bought {
		bought = append(bought, s.SKU)
	}
	if !slices.Equal(bought, []string{"a", "d"}) {
		t.Fatalf("u1 bought %v, want a and d", bought)
	}
	if b, ok := r.tt.TableValue(r.n.OrdersTable(), "o1").(recommendations.Basket); !ok || !slices.Equal(b.SKUs, []string{"a", "d"}) {
		t.Fatalf("basket %+v", b)
	}
	if v := r.tt.TableValue(r.n.OrdersTable(), "o2"); v != nil {
		t.Fatalf("a rejected order has a basket: %+v", v)
	}
}
