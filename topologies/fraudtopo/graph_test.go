package fraudtopo

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/processors/fraud"
	fraudv1 "github.com/titan-commerce/titan/schemas/fraud/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

// graphTime is the event time of the observations; Step reads no clock, so
// any fixed time gives the same windows on every run.
var graphTime = time.UnixMilli(1_700_000_000_000).UTC()

// graphSaga stands in for the order saga's stream, which the topology is
// given rather than naming itself.
const graphSaga = "test.orders.saga"

// runGraph starts the group on goka's in-memory tester with the shipped
// model, and returns that model so decisions can be checked against its
// version.
func runGraph(t *testing.T) (*tester.Tester, Names, *fraud.Model) {
	t.Helper()
	m, err := fraud.ParseModel(fraud.DefaultModelJSON)
	if err != nil {
		t.Fatal(err)
	}
	tt := tester.New(t)
	n := NamesFor("test")
	g := &group{names: n, saga: graphSaga, model: StaticModel(m), policy: fraud.DefaultPolicy()}
	p, err := goka.NewProcessor(nil, g.graph(observe.Decorator{}), goka.WithTester(tt))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = p.Run(ctx) }()
	return tt, n, m
}

// order is what the saga sends for an order placed by user u1 on device
// dev1 paying with pay1.
func order(id string) fraud.Observation {
	return fraud.NewObservation(fraud.KindOrder, id, "u1", "dev1", "pay1", "EUR", 4_200, graphTime, fraud.Origin{})
}

func encodeObservation(t *testing.T, o fraud.Observation) []byte {
	t.Helper()
	b, err := proto.Marshal(fraud.ObservationToWire(o))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// observeOn consumes o on the observations topic under its own key, as the
// saga sends it.
func observeOn(t *testing.T, tt *tester.Tester, n Names, o fraud.Observation) {
	t.Helper()
	tt.Consume(string(n.Observations), o.Key, encodeObservation(t, o))
}

// sagaDecision is one message the group sent to the saga.
type sagaDecision struct {
	key string
	msg *ordersv1.SagaMessage
}

func sagaDecisions(t *testing.T, q *tester.QueueTracker) []sagaDecision {
	t.Helper()
	var out []sagaDecision
	for {
		k, v, ok := q.NextRaw()
		if !ok {
			return out
		}
		var m ordersv1.SagaMessage
		if err := proto.Unmarshal(v, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, sagaDecision{key: k, msg: &m})
	}
}

// entity reads a key's table value; a key never written reads as nil.
func entity(t *testing.T, tt *tester.Tester, n Names, key string) *fraud.Entity {
	t.Helper()
	v := tt.TableValue(n.Table(), key)
	if v == nil {
		return nil
	}
	e := v.(fraud.Entity)
	return &e
}

// orders sums a tier's order counts.
func orders(bs []fraud.Bucket) int64 {
	var sum int64
	for _, b := range bs {
		sum += b.Orders
	}
	return sum
}

func observedIDs(e *fraud.Entity) string {
	var ids []string
	for _, x := range e.Observed {
		ids = append(ids, x.ID)
	}
	return strings.Join(ids, " ")
}

func feature(fs []*fraudv1.Feature, name string) (float64, bool) {
	for _, f := range fs {
		if f.GetName() == name {
			return f.GetValue(), true
		}
	}
	return 0, false
}

// checkCountedOnce fails unless each of the order's three entities holds
// exactly the given observation ids, counted once in every tier.
func checkCountedOnce(t *testing.T, tt *tester.Tester, n Names, ids string) {
	t.Helper()
	for _, key := range []string{fraud.DeviceKey("dev1"), fraud.CardKey("pay1"), fraud.UserKey("u1")} {
		e := entity(t, tt, n, key)
		if e == nil {
			t.Fatalf("%s: no entity, so the observation never reached it", key)
		}
		want := int64(len(strings.Fields(ids)))
		if observedIDs(e) != ids || orders(e.Fine) != want || orders(e.Minutes) != want || orders(e.Hours) != want {
			t.Fatalf("%s: observed %q, orders fine %d minutes %d hours %d; want %q counted once",
				key, observedIDs(e), orders(e.Fine), orders(e.Minutes), orders(e.Hours), ids)
		}
	}
}

func TestGraphWalksDeviceCardUserAndSendsOneDecision(t *testing.T) {
	tt, n, m := runGraph(t)
	sq := tt.NewQueueTracker(graphSaga)
	lq := tt.NewQueueTracker(string(n.Loop()))
	dlq := tt.NewQueueTracker(string(n.DeadLetters))

	observeOn(t, tt, n, order("o1"))

	// Every hop is a record on the loop, so a crash between hops loses
	// nothing: the device's hop goes to the card, the card's to the user,
	// each naming the stream it was read from, since offsets compare only
	// within one.
	var hops []string
	for {
		k, v, ok := lq.NextRaw()
		if !ok {
			break
		}
		var w fraudv1.Observation
		if err := proto.Unmarshal(v, &w); err != nil {
			t.Fatal(err)
		}
		hops = append(hops, fmt.Sprintf("%s=%v@%d", k, w.GetStage(), w.GetOrigin().GetStream()))
	}
	if got, want := strings.Join(hops, " "), fmt.Sprintf("c:pay1=STAGE_CARD@%d u:u1=STAGE_USER@%d", fraud.StreamObservations, fraud.StreamLoop); got != want {
		t.Fatalf("loop hops %q, want %q", got, want)
	}

	got := sagaDecisions(t, sq)
	if len(got) != 1 {
		t.Fatalf("%d saga messages, want one decision", len(got))
	}
	d := got[0]
	f := d.msg.GetFraud()
	if d.key != "o1" || d.msg.GetOrderId() != "o1" || f == nil || f.GetOrderId() != "o1" || f.GetUserId() != "u1" {
		t.Fatalf("saga message under %q: %v; want the fraud decision for o1, keyed by it", d.key, d.msg)
	}
	if f.GetOutcome() == fraudv1.Outcome_OUTCOME_UNSPECIFIED || f.GetModelVersion() != m.Version ||
		d.msg.GetTimestampMs() != graphTime.UnixMilli() {
		t.Fatalf("decision %v: want an outcome from model %q at the order's time", f, m.Version)
	}
	// The decision carries what each stage measured, so each stage counted
	// the order before the user scored it.
	for _, name := range []string{fraud.FeatureDeviceOrders1h, fraud.FeatureCardOrders1h, fraud.FeatureUserOrders1h} {
		if v, ok := feature(f.GetFeatures(), name); !ok || v != 1 {
			t.Fatalf("feature %s = %v (present %v), want 1: %v", name, v, ok, f.GetFeatures())
		}
	}

	checkCountedOnce(t, tt, n, "o:o1")
	u := entity(t, tt, n, fraud.UserKey("u1"))
	if len(u.Recent) != 1 || u.Recent[0].OrderID != "o1" {
		t.Fatalf("user's recent decisions %+v, want o1's", u.Recent)
	}
	if _, _, ok := dlq.NextRaw(); ok {
		t.Fatal("a good observation was dead-lettered")
	}
}

func TestGraphDeadLettersBadObservationsAndGoesOn(t *testing.T) {
	tt, n, _ := runGraph(t)
	dlq := tt.NewQueueTracker(string(n.DeadLetters))
	sq := tt.NewQueueTracker(graphSaga)

	bad := func(id string, edit func(*fraud.Observation)) []byte {
		o := order(id)
		edit(&o)
		return encodeObservation(t, o)
	}
	dev1 := fraud.DeviceKey("dev1")
	tt.Consume(string(n.Observations), dev1, []byte{0xff, 0xff, 0xff})
	// Stored under another key than it names, it would count at an entity
	// it is not about.
	tt.Consume(string(n.Observations), fraud.DeviceKey("dev2"), encodeObservation(t, order("b-key")))
	tt.Consume(string(n.Observations), dev1, bad("b-kind", func(o *fraud.Observation) { o.Kind = fraud.KindUnknown }))
	tt.Consume(string(n.Observations), dev1, bad("", func(*fraud.Observation) {}))
	tt.Consume(string(n.Observations), dev1, bad("b-amount", func(o *fraud.Observation) { o.Amount = -1 }))
	tt.Consume(string(n.Observations), dev1, bad("b-time", func(o *fraud.Observation) { o.Time = time.Time{} }))
	// A device key addressed as the card stage would be counted as a card.
	tt.Consume(string(n.Observations), dev1, bad("b-stage", func(o *fraud.Observation) { o.Stage = fraud.StageCard }))
	// The loop is an input too: a hop that names no stage is refused there
	// as well.
	u1 := fraud.UserKey("u1")
	tt.Consume(string(n.Loop()), u1, bad("b-loop", func(o *fraud.Observation) { o.Stage, o.Key = fraud.StageUnknown, u1 }))
	observeOn(t, tt, n, order("good"))

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
		if len(d.Value) == 0 || (d.Topic != string(n.Observations) && d.Topic != string(n.Loop())) || d.Error == "" {
			t.Fatalf("dead letter lacks the record: %+v", d)
		}
		reasons = append(reasons, d.Reason)
	}
	want := []string{"decode", "key_mismatch", "invalid_observation", "invalid_observation", "invalid_observation",
		"invalid_observation", "invalid_observation", "invalid_observation"}
	if strings.Join(reasons, " ") != strings.Join(want, " ") {
		t.Fatalf("dead letters %v, want %v", reasons, want)
	}

	// Processing went on after the bad records, and they changed nothing:
	// only the good order was counted, and only it was decided.
	got := sagaDecisions(t, sq)
	if len(got) != 1 || got[0].msg.GetOrderId() != "good" {
		t.Fatalf("saga messages %v, want one for the good order", got)
	}
	checkCountedOnce(t, tt, n, "o:good")
	if e := entity(t, tt, n, fraud.DeviceKey("dev2")); e != nil {
		t.Fatalf("a misaddressed observation wrote %+v", e)
	}
}

func TestGraphCountsACopyOnceAndAnswersItAgain(t *testing.T) {
	tt, n, _ := runGraph(t)
	sq := tt.NewQueueTracker(graphSaga)

	o := order("o1")
	observeOn(t, tt, n, o)
	observeOn(t, tt, n, o)

	// The copy may be the saga's retry after losing our answer, so it is
	// answered again, with the decision first made rather than one that
	// counts the order twice.
	got := sagaDecisions(t, sq)
	if len(got) != 2 {
		t.Fatalf("%d saga messages, want the decision and its repeat", len(got))
	}
	// The repeat comes from the user's stored decision, which keeps no
	// features (the windows that gave them are in the entity), so the
	// rest of the answer is what must match.
	first := proto.Clone(got[0].msg).(*ordersv1.SagaMessage)
	first.GetFraud().Features = nil
	if len(got[0].msg.GetFraud().GetFeatures()) == 0 || !proto.Equal(first, got[1].msg) {
		t.Fatalf("the copy was answered %v, the original %v", got[1].msg, got[0].msg)
	}
	checkCountedOnce(t, tt, n, "o:o1")
	if u := entity(t, tt, n, fraud.UserKey("u1")); len(u.Recent) != 1 {
		t.Fatalf("user's recent decisions %+v, want o1's once", u.Recent)
	}

	// A second order is not a copy: the dedupe is by what is reported.
	observeOn(t, tt, n, order("o2"))
	checkCountedOnce(t, tt, n, "o:o1 o:o2")
}

func TestGraphCountsFailedPaymentsWithoutDeciding(t *testing.T) {
	tt, n, _ := runGraph(t)
	sq := tt.NewQueueTracker(graphSaga)

	observeOn(t, tt, n, fraud.NewObservation(fraud.KindPaymentFailed, "o1", "u1", "dev1", "pay1", "EUR", 4_200, graphTime, fraud.Origin{}))

	if got := sagaDecisions(t, sq); len(got) != 0 {
		t.Fatalf("a failed payment was decided: %v", got)
	}
	for _, key := range []string{fraud.DeviceKey("dev1"), fraud.CardKey("pay1"), fraud.UserKey("u1")} {
		e := entity(t, tt, n, key)
		if e == nil || len(e.Hours) != 1 || e.Hours[0].Failed != 1 || e.Hours[0].Orders != 0 {
			t.Fatalf("%s: %+v, want one failed payment and no order", key, e)
		}
	}
}

// An order with no device, card or user still needs an answer, but
// counting it would merge every anonymous order into one busy user.
func TestGraphDecidesAnonymousOrdersWithoutCounting(t *testing.T) {
	tt, n, _ := runGraph(t)
	sq := tt.NewQueueTracker(graphSaga)

	o := fraud.NewObservation(fraud.KindOrder, "anon", "", "", "", "EUR", 4_200, graphTime, fraud.Origin{})
	observeOn(t, tt, n, o)

	got := sagaDecisions(t, sq)
	if len(got) != 1 || got[0].key != "anon" || got[0].msg.GetFraud() == nil {
		t.Fatalf("saga messages %v, want the decision for anon", got)
	}
	if e := entity(t, tt, n, fraud.UserKey("")); e != nil && (len(e.Observed) != 0 || len(e.Hours) != 0 || len(e.Recent) != 0) {
		t.Fatalf("the anonymous user counted %+v", e)
	}
}
