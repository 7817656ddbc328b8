package orderstopo

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/processors/fraud"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/processors/orders"
	"github.com/titan-commerce/titan/processors/pricing"
	"github.com/titan-commerce/titan/schemas"
	fraudv1 "github.com/titan-commerce/titan/schemas/fraud/v1"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	"github.com/titan-commerce/titan/topologies/pricingtopo"
)

// These tests run the saga group on goka's in-memory tester: they check
// the wiring (which topic feeds which callback, what lands where, what the
// table keeps), not the saga's rules, which processors/orders tests.

// testTime is the time Kafka gives the checkout's records and, unless a
// test says otherwise, the time the checkout stamps on its events.
var testTime = time.UnixMilli(1_700_000_000_000).UTC()

// stamped is the tester option that gives a record the time Kafka would;
// the saga checks an event's own time against it.
var stamped = tester.WithTime(testTime)

// The peers' topics and the pricing table, named apart from the saga's own
// so a wrong edge shows up as a record on the wrong topic.
var testPeers = Peers{
	InventoryCommands:    "test.inventory.internal",
	InventoryOrderEvents: "test.inventory.order-events",
	FraudObservations:    "test.fraud.observations",
}

const testPrices goka.Table = "test.pricing-table"

// The lines every test orders: two SKUs, so a test sees the saga act per
// line and not just once.
var testLines = []orders.Line{{SKU: "sku-a", Qty: 2, UnitPrice: 1000}, {SKU: "sku-b", Qty: 1, UnitPrice: 500}}

// runSaga starts the saga group on the tester with the pricing group's own
// codec and Quoter, as internal/instance wires them.
func runSaga(t *testing.T) (*tester.Tester, Names) {
	t.Helper()
	tt := tester.New(t)
	n := NamesFor("test")
	g := &saga{
		names:  n,
		peers:  testPeers,
		prices: Prices{Table: testPrices, Codec: pricingtopo.StateCodec, Quote: pricingtopo.Quoter(pricing.DefaultPolicy())},
		policy: orders.DefaultPolicy(),
		window: schemas.DefaultTimeWindow(),
	}
	p, err := goka.NewProcessor(nil, g.graph(observe.Decorator{}), goka.WithTester(tt))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- p.Run(ctx) }()
	// A processor that failed consumes nothing more, which would pass every
	// check that a record changed nothing: the test fails unless it ran to
	// the end.
	t.Cleanup(func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("the processor failed: %v", err)
		}
	})
	return tt, n
}

// price gives sku a base price in the pricing table an hour before the
// orders, as the pricing group would have stored it.
func price(t *testing.T, tt *tester.Tester, sku string, minor int64) {
	t.Helper()
	s, _, _ := pricing.Apply(pricing.NewState(), pricing.Command{
		ID: "base:" + sku, Kind: pricing.KindSetBase, SKU: sku, Time: testTime.Add(-time.Hour),
		BasePrice: minor, Currency: "EUR",
	}, pricing.DefaultPolicy())
	if s.Currency != "EUR" {
		t.Fatalf("pricing refused the base price of %s: %+v", sku, s)
	}
	tt.SetTableValue(testPrices, sku, s)
}

func placedEvent(id string) *ordersv1.OrderEvent {
	return orders.PlacedToWire(orders.Placed{
		EventID: "ev-" + id, OrderID: id, UserID: "user-1", DeviceID: "dev-1", PaymentID: "card-1",
		Currency: "EUR", Lines: testLines, Time: testTime,
	})
}

func marshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// placedWith is order id's OrderPlaced after edit.
func placedWith(t *testing.T, id string, edit func(*ordersv1.OrderEvent)) []byte {
	t.Helper()
	ev := placedEvent(id)
	edit(ev)
	return marshal(t, ev)
}

func approve(t *testing.T, id string) []byte {
	t.Helper()
	return marshal(t, &ordersv1.SagaMessage{OrderId: id, TimestampMs: testTime.Add(time.Second).UnixMilli(),
		Kind: &ordersv1.SagaMessage_Fraud{Fraud: &fraudv1.Decision{
			OrderId: id, UserId: "user-1", Outcome: fraudv1.Outcome_OUTCOME_APPROVE, Score: 0.1, ModelVersion: "m1",
			TimestampMs: testTime.Add(time.Second).UnixMilli(),
		}}})
}

// reserved is the inventory's answer to the saga's Reserve of one line.
func reserved(t *testing.T, id string, l orders.Line) []byte {
	t.Helper()
	return marshal(t, inventory.EventToWire(inventory.Event{
		Type: inventory.EventReserved, CommandID: orders.CommandID(id, l.SKU, inventory.KindReserve),
		OrderID: id, SKU: l.SKU, Qty: l.Qty, Time: testTime.Add(2 * time.Second),
		ExpiresAt: testTime.Add(time.Hour),
	}))
}

func order(t *testing.T, tt *tester.Tester, n Names, id string) orders.Order {
	t.Helper()
	v := tt.TableValue(n.Table(), id)
	if v == nil {
		t.Fatalf("order %s is not in the table", id)
	}
	return v.(orders.Order)
}

// drain decodes every record q has not yet returned, with its key.
func drain[M proto.Message](t *testing.T, q *tester.QueueTracker, fresh func() M) (keys []string, out []M) {
	t.Helper()
	for {
		k, v, ok := q.NextRaw()
		if !ok {
			return keys, out
		}
		m := fresh()
		if err := proto.Unmarshal(v, m); err != nil {
			t.Fatalf("record %q: %v", k, err)
		}
		keys, out = append(keys, k), append(out, m)
	}
}

func observations(t *testing.T, q *tester.QueueTracker) ([]string, []fraud.Observation) {
	t.Helper()
	keys, ws := drain(t, q, func() *fraudv1.Observation { return new(fraudv1.Observation) })
	var out []fraud.Observation
	for _, w := range ws {
		out = append(out, fraud.ObservationFromWire(w))
	}
	return keys, out
}

func commands(t *testing.T, q *tester.QueueTracker) ([]string, []inventory.Command) {
	t.Helper()
	keys, ws := drain(t, q, func() *inventoryv1.Command { return new(inventoryv1.Command) })
	var out []inventory.Command
	for _, w := range ws {
		out = append(out, inventory.CommandFromWire(w, 0, 0))
	}
	return keys, out
}

func outcomes(t *testing.T, q *tester.QueueTracker) ([]string, []*ordersv1.OrderEvent) {
	t.Helper()
	return drain(t, q, func() *ordersv1.OrderEvent { return new(ordersv1.OrderEvent) })
}

// deadLetters reads the dead letters as "topic reason", after checking
// each keeps the record whole so it can be fixed and sent again.
func deadLetters(t *testing.T, q *tester.QueueTracker) []string {
	t.Helper()
	var out []string
	for {
		_, v, ok := q.NextRaw()
		if !ok {
			return out
		}
		var d observe.DeadLetter
		if err := json.Unmarshal(v, &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Value) == 0 || d.Error == "" || d.Topology == "" {
			t.Fatalf("dead letter lacks the record: %+v", d)
		}
		out = append(out, d.Topic+" "+d.Reason)
	}
}

// trackers follow every output of the saga from the moment they are made.
type trackers struct {
	dlq, obs, inv, out *tester.QueueTracker
}

func track(tt *tester.Tester, n Names) trackers {
	return trackers{
		dlq: tt.NewQueueTracker(string(n.DeadLetters)),
		obs: tt.NewQueueTracker(string(testPeers.FraudObservations)),
		inv: tt.NewQueueTracker(string(testPeers.InventoryCommands)),
		out: tt.NewQueueTracker(string(n.Outcomes)),
	}
}

// quiet fails the test if any output got a record since it was last read.
func (q trackers) quiet(t *testing.T, when string) {
	t.Helper()
	for name, tr := range map[string]*tester.QueueTracker{"dead letters": q.dlq, "fraud observations": q.obs,
		"inventory commands": q.inv, "outcomes": q.out} {
		if k, v, ok := tr.NextRaw(); ok {
			t.Fatalf("%s: unexpected record on %s: key %q, %d bytes", when, name, k, len(v))
		}
	}
}

// An OrderPlaced is scored before anything else: the saga sends one
// observation to the fraud group keyed by the buyer's device and stores the
// order waiting for its verdict, with no stock held and no outcome, even
// though every line has a price.
func TestGraphPlacedOrderAwaitsItsFraudVerdict(t *testing.T) {
	tt, n := runSaga(t)
	price(t, tt, "sku-a", 1000)
	price(t, tt, "sku-b", 500)
	q := track(tt, n)

	tt.Consume(string(n.Events), "o1", marshal(t, placedEvent("o1")), stamped)

	keys, obs := observations(t, q.obs)
	if len(obs) != 1 {
		t.Fatalf("observations %+v, want one", obs)
	}
	o := obs[0]
	if keys[0] != fraud.DeviceKey("dev-1") || o.Key != keys[0] || o.Stage != fraud.StageDevice {
		t.Fatalf("observation keyed %q, stage %v key %q: want the device's", keys[0], o.Stage, o.Key)
	}
	if o.Kind != fraud.KindOrder || o.OrderID != "o1" || o.UserID != "user-1" || o.PaymentID != "card-1" ||
		o.Currency != "EUR" || o.Amount != 2*1000+500 || !o.Time.Equal(testTime) {
		t.Fatalf("observation %+v", o)
	}
	// The fraud group de-duplicates by origin, so it must name the record.
	if o.Origin.Stream != fraud.StreamSaga || o.Origin.Offset < 0 {
		t.Fatalf("observation origin %+v", o.Origin)
	}
	q.quiet(t, "after placing")

	got := order(t, tt, n, "o1")
	if got.Status != orders.StatusScoring || got.ID != "o1" || got.PlacedEventID != "ev-o1" || !got.PlacedAt.Equal(testTime) ||
		got.DeviceID != "dev-1" || got.Currency != "EUR" || got.Fingerprint == "" {
		t.Fatalf("order %+v", got)
	}
	if len(got.Lines) != len(testLines) {
		t.Fatalf("lines %+v", got.Lines)
	}
	for i, l := range got.Lines {
		if l.SKU != testLines[i].SKU || l.Qty != testLines[i].Qty || l.UnitPrice != testLines[i].UnitPrice ||
			l.Status != orders.LinePending || l.Quoted {
			t.Fatalf("line %d %+v", i, l)
		}
	}
	if len(got.History) != 1 || got.History[0].Name != orders.StepPlaced {
		t.Fatalf("history %+v", got.History)
	}
}

// An approved order is priced from the pricing table through the Lookup,
// with no trip to the pricing group, and then reserves every line on the
// inventory's topic, keyed by SKU, under the saga's own command ids.
func TestGraphApprovedOrderReservesAtTheLookedUpPrices(t *testing.T) {
	tt, n := runSaga(t)
	// Within the policy's 1 % of the order's prices, yet not equal to
	// them: the line must show the table's price, not its own.
	price(t, tt, "sku-a", 1005)
	price(t, tt, "sku-b", 499)
	tt.Consume(string(n.Events), "o1", marshal(t, placedEvent("o1")), stamped)
	q := track(tt, n)

	tt.Consume(string(n.Saga), "o1", approve(t, "o1"))

	keys, cmds := commands(t, q.inv)
	if len(cmds) != len(testLines) {
		t.Fatalf("inventory commands %+v, want a reserve per line", cmds)
	}
	for i, c := range cmds {
		l := testLines[i]
		if keys[i] != l.SKU || c.SKU != l.SKU || c.Kind != inventory.KindReserve || c.OrderID != "o1" ||
			c.ID != orders.CommandID("o1", l.SKU, inventory.KindReserve) || c.Qty != l.Qty ||
			c.TTL != orders.DefaultPolicy().ReserveTTL || c.Time.IsZero() {
			t.Fatalf("command %d keyed %q: %+v", i, keys[i], c)
		}
	}
	q.quiet(t, "after the verdict")

	got := order(t, tt, n, "o1")
	if got.Status != orders.StatusReserving || got.Fraud.Outcome != orders.FraudApprove {
		t.Fatalf("order %+v", got)
	}
	for i, want := range []int64{1005, 499} {
		l := got.Lines[i]
		if !l.Quoted || !l.QuoteFound || l.QuotedPrice != want || l.QuotedCurrency != "EUR" || l.Status != orders.LineReserving {
			t.Fatalf("line %d %+v, want quoted at %d EUR and reserving", i, l, want)
		}
	}
}

// A SKU the pricing table does not hold rejects the order at once: one
// rejected outcome, and nothing reserved for the line that had a price.
func TestGraphUnpricedSKURejectsTheOrder(t *testing.T) {
	tt, n := runSaga(t)
	price(t, tt, "sku-a", 1000)
	tt.Consume(string(n.Events), "o1", marshal(t, placedEvent("o1")), stamped)
	q := track(tt, n)

	tt.Consume(string(n.Saga), "o1", approve(t, "o1"))

	keys, outs := outcomes(t, q.out)
	if len(outs) != 1 || keys[0] != "o1" || outs[0].GetOrderId() != "o1" ||
		outs[0].GetEventId() != orders.OutcomeEventID("o1") || outs[0].GetRejected().GetReason() != orders.ReasonPriceUnavailable {
		t.Fatalf("outcomes %v keyed %v, want o1 rejected as %s", outs, keys, orders.ReasonPriceUnavailable)
	}
	q.quiet(t, "after the rejection")
	got := order(t, tt, n, "o1")
	if got.Status != orders.StatusRejected || got.Reason != orders.ReasonPriceUnavailable {
		t.Fatalf("order %+v", got)
	}
	for i, l := range got.Lines {
		if l.Status != orders.LineSkipped {
			t.Fatalf("line %d %+v, want skipped", i, l)
		}
	}
}

// The inventory's answers reach the saga on its order-events topic: the last
// reservation confirms the order, commits every line and publishes the
// outcome. An answer about an order the saga never placed (a shop's own
// reservation) is none of its business: no state, no record.
func TestGraphReservedOrderIsConfirmed(t *testing.T) {
	tt, n := runSaga(t)
	price(t, tt, "sku-a", 1000)
	price(t, tt, "sku-b", 500)
	tt.Consume(string(n.Events), "o1", marshal(t, placedEvent("o1")), stamped)
	tt.Consume(string(n.Saga), "o1", approve(t, "o1"))
	q := track(tt, n)

	tt.Consume(string(testPeers.InventoryOrderEvents), "o1", reserved(t, "o1", testLines[0]))
	q.quiet(t, "with one line of two reserved")
	if got := order(t, tt, n, "o1"); got.Status != orders.StatusReserving || got.Lines[0].Status != orders.LineReserved {
		t.Fatalf("order %+v", got)
	}
	tt.Consume(string(testPeers.InventoryOrderEvents), "o1", reserved(t, "o1", testLines[1]))

	keys, cmds := commands(t, q.inv)
	if len(cmds) != len(testLines) {
		t.Fatalf("inventory commands %+v, want a commit per line", cmds)
	}
	for i, c := range cmds {
		sku := testLines[i].SKU
		if keys[i] != sku || c.Kind != inventory.KindCommit || c.ID != orders.CommandID("o1", sku, inventory.KindCommit) || c.Qty != 0 {
			t.Fatalf("command %d keyed %q: %+v", i, keys[i], c)
		}
	}
	okeys, outs := outcomes(t, q.out)
	if len(outs) != 1 || okeys[0] != "o1" || outs[0].GetConfirmed().GetTotalMinor() != 2500 || outs[0].GetConfirmed().GetUserId() != "user-1" {
		t.Fatalf("outcomes %v keyed %v, want o1 confirmed for 2500", outs, okeys)
	}
	if got := order(t, tt, n, "o1"); got.Status != orders.StatusConfirmed {
		t.Fatalf("order %+v", got)
	}

	tt.Consume(string(testPeers.InventoryOrderEvents), "by-hand", reserved(t, "by-hand", testLines[0]))
	q.quiet(t, "after a shop's own reservation")
	if v := tt.TableValue(n.Table(), "by-hand"); v != nil {
		t.Fatalf("a shop's reservation left state: %+v", v)
	}
}

// Every record a callback cannot apply goes to the dead letters with the
// reason it broke, in the order it came, and changes nothing: no state, no
// request to a peer. A good record after them is still processed.
func TestGraphDeadLetters(t *testing.T) {
	tt, n := runSaga(t)
	price(t, tt, "sku-a", 1000)
	price(t, tt, "sku-b", 500)
	q := track(tt, n)
	events, sagaTopic, inv := string(n.Events), string(n.Saga), string(testPeers.InventoryOrderEvents)

	// The checkout's topic is public: its records are checked in full.
	tt.Consume(events, "o1", []byte{0xff, 0xff, 0xff}, stamped)
	tt.Consume(events, "o1", placedWith(t, "o1", func(ev *ordersv1.OrderEvent) { ev.GetPlaced().Currency = "" }), stamped)
	tt.Consume(events, "o1", placedWith(t, "o2", func(*ordersv1.OrderEvent) {}), stamped)
	reservedID := schemas.ReservedPrefix + "order:o1"
	tt.Consume(events, reservedID, placedWith(t, reservedID, func(*ordersv1.OrderEvent) {}), stamped)
	tt.Consume(events, "o1", placedWith(t, "o1", func(ev *ordersv1.OrderEvent) { ev.GetPlaced().DeviceId = "" }), stamped)
	tt.Consume(events, "o1", placedWith(t, "o1", func(ev *ordersv1.OrderEvent) {
		ev.TimestampMs = testTime.Add(time.Hour).UnixMilli()
	}), stamped)
	tt.Consume(events, "o1", marshal(t, &ordersv1.OrderEvent{EventId: "ev-forged", OrderId: "o1", TimestampMs: testTime.UnixMilli(),
		Kind: &ordersv1.OrderEvent_Confirmed{Confirmed: &ordersv1.OrderConfirmed{}}}), stamped)
	// Answers for orders the saga does not hold, or of no kind.
	tt.Consume(sagaTopic, "o1", []byte{0xff, 0xff, 0xff})
	tt.Consume(sagaTopic, "o1", approve(t, "o2"))
	tt.Consume(sagaTopic, "ghost", approve(t, "ghost"))
	tt.Consume(inv, "o1", []byte{0xff, 0xff, 0xff})
	tt.Consume(inv, "o1", reserved(t, "o2", testLines[0]))

	tt.Consume(events, "o1", marshal(t, placedEvent("o1")), stamped)
	if _, obs := observations(t, q.obs); len(obs) != 1 || obs[0].OrderID != "o1" {
		t.Fatalf("the good order after the bad records: observations %+v", obs)
	}
	want := order(t, tt, n, "o1")

	// Once the order exists: another content under its id, an answer of
	// no kind.
	tt.Consume(events, "o1", placedWith(t, "o1", func(ev *ordersv1.OrderEvent) {
		ev.EventId = "ev-o1-again"
		ev.GetPlaced().Lines[0].Qty = 3
	}), stamped)
	tt.Consume(sagaTopic, "o1", marshal(t, &ordersv1.SagaMessage{OrderId: "o1", TimestampMs: testTime.UnixMilli()}))

	got := deadLetters(t, q.dlq)
	wantDL := []string{
		events + " decode", events + " missing_currency", events + " key_mismatch", events + " reserved_id",
		events + " missing_device_id", events + " invalid_timestamp", events + " not_a_checkout_event",
		sagaTopic + " decode", sagaTopic + " key_mismatch", sagaTopic + " unknown_order",
		inv + " decode", inv + " key_mismatch",
		events + " order_conflict", sagaTopic + " missing_kind",
	}
	if !slices.Equal(got, wantDL) {
		t.Fatalf("dead letters\n got %v\nwant %v", got, wantDL)
	}
	q.quiet(t, "after the bad records")
	if keys := tt.GetTableKeys(n.Table()); !slices.Equal(keys, []string{"o1"}) {
		t.Fatalf("table keys %v, want only the good order", keys)
	}
	if after := order(t, tt, n, "o1"); after.Fingerprint != want.Fingerprint || after.Steps() != want.Steps() ||
		after.Status != orders.StatusScoring || after.Lines[0].Qty != testLines[0].Qty {
		t.Fatalf("the bad records changed the order: %+v, was %+v", after, want)
	}
}

// Inputs arrive at least once: an OrderPlaced delivered again, or retried
// by the checkout under a new event id and time, is the same order and
// sends nothing more; the verdict and the inventory's answers delivered
// again change nothing either, so the order publishes one outcome.
func TestGraphRedeliveredInputsActOnce(t *testing.T) {
	tt, n := runSaga(t)
	price(t, tt, "sku-a", 1000)
	price(t, tt, "sku-b", 500)
	q := track(tt, n)
	placed := marshal(t, placedEvent("o1"))

	tt.Consume(string(n.Events), "o1", placed, stamped)
	first := order(t, tt, n, "o1")
	tt.Consume(string(n.Events), "o1", placed, stamped)
	later := testTime.Add(time.Minute)
	tt.Consume(string(n.Events), "o1", placedWith(t, "o1", func(ev *ordersv1.OrderEvent) {
		ev.EventId, ev.TimestampMs = "ev-o1-retry", later.UnixMilli()
	}), tester.WithTime(later))

	if _, obs := observations(t, q.obs); len(obs) != 1 {
		t.Fatalf("observations %+v, want one for three deliveries", obs)
	}
	q.quiet(t, "after the copies")
	if keys := tt.GetTableKeys(n.Table()); !slices.Equal(keys, []string{"o1"}) {
		t.Fatalf("table keys %v", keys)
	}
	if again := order(t, tt, n, "o1"); again.Steps() != first.Steps() || again.PlacedEventID != "ev-o1" || again.Status != orders.StatusScoring {
		t.Fatalf("the copies changed the order: %+v, was %+v", again, first)
	}

	for range 2 {
		tt.Consume(string(n.Saga), "o1", approve(t, "o1"))
	}
	if _, cmds := commands(t, q.inv); len(cmds) != len(testLines) {
		t.Fatalf("inventory commands %+v, want one reserve per line for two verdicts", cmds)
	}
	for range 2 {
		for _, l := range testLines {
			tt.Consume(string(testPeers.InventoryOrderEvents), "o1", reserved(t, "o1", l))
		}
	}
	_, cmds := commands(t, q.inv)
	var kinds []string
	for _, c := range cmds {
		kinds = append(kinds, c.Kind.String()+":"+c.SKU)
	}
	if strings.Join(kinds, " ") != "commit:sku-a commit:sku-b" {
		t.Fatalf("inventory commands %v, want one commit per line", kinds)
	}
	if _, outs := outcomes(t, q.out); len(outs) != 1 || outs[0].GetConfirmed() == nil {
		t.Fatalf("outcomes %v, want one confirmation", outs)
	}
	q.quiet(t, "after the answers' copies")
}
