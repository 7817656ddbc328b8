package orders

import (
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
	fraudv1 "github.com/titan-commerce/titan/schemas/fraud/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
)

// The plain enums convert to the wire enums by number, so a drift would
// silently rename states.
func TestEnumsMatchWire(t *testing.T) {
	for st, w := range map[Status]ordersv1.OrderStatus{
		StatusScoring:   ordersv1.OrderStatus_ORDER_STATUS_SCORING,
		StatusPricing:   ordersv1.OrderStatus_ORDER_STATUS_PRICING,
		StatusReserving: ordersv1.OrderStatus_ORDER_STATUS_RESERVING,
		StatusConfirmed: ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED,
		StatusRejected:  ordersv1.OrderStatus_ORDER_STATUS_REJECTED,
	} {
		if ordersv1.OrderStatus(st) != w {
			t.Errorf("%v maps to %v, want %v", st, ordersv1.OrderStatus(st), w)
		}
	}
	for st, w := range map[LineStatus]ordersv1.LineStatus{
		LinePending:   ordersv1.LineStatus_LINE_STATUS_PENDING,
		LineReserving: ordersv1.LineStatus_LINE_STATUS_RESERVING,
		LineReserved:  ordersv1.LineStatus_LINE_STATUS_RESERVED,
		LineCommitted: ordersv1.LineStatus_LINE_STATUS_COMMITTED,
		LineReleased:  ordersv1.LineStatus_LINE_STATUS_RELEASED,
		LineRefused:   ordersv1.LineStatus_LINE_STATUS_REFUSED,
		LineExpired:   ordersv1.LineStatus_LINE_STATUS_EXPIRED,
		LineSkipped:   ordersv1.LineStatus_LINE_STATUS_SKIPPED,
	} {
		if ordersv1.LineStatus(st) != w {
			t.Errorf("%v maps to %v, want %v", st, ordersv1.LineStatus(st), w)
		}
	}
}

func TestPlacedRoundTrip(t *testing.T) {
	ev := PlacedToWire(two)
	if err := schemas.ValidateOrderEvent(ev); err != nil {
		t.Fatalf("the test order is invalid: %v", err)
	}
	got, ok := PlacedFromWire(roundTrip(t, ev))
	if !ok || !reflect.DeepEqual(got, two) {
		t.Fatalf("got %+v, want %+v", got, two)
	}
	if _, ok := PlacedFromWire(&ordersv1.OrderEvent{Kind: &ordersv1.OrderEvent_Cancelled{}}); ok {
		t.Fatal("a cancel read as placed")
	}
}

func TestOtherEventsFromWire(t *testing.T) {
	pf := &ordersv1.OrderEvent{EventId: "e9", OrderId: oid, TimestampMs: at(3).UnixMilli(),
		Kind: &ordersv1.OrderEvent_PaymentFailed{PaymentFailed: &ordersv1.PaymentFailed{
			UserId: "u1", DeviceId: "d1", PaymentId: "p1", AmountMinor: 2000, Reason: "declined"}}}
	want := FailedPayment{EventID: "e9", OrderID: oid, UserID: "u1", DeviceID: "d1", PaymentID: "p1", Amount: 2000, Reason: "declined", Time: at(3)}
	if got, ok := FailedPaymentFromWire(roundTrip(t, pf)); !ok || got != want {
		t.Fatalf("payment failed %+v, want %+v", got, want)
	}
	c := &ordersv1.OrderEvent{EventId: "e8", OrderId: oid, TimestampMs: at(4).UnixMilli(),
		Kind: &ordersv1.OrderEvent_Cancelled{Cancelled: &ordersv1.OrderCancelled{Reason: "buyer"}}}
	if reason, when, ok := CancelFromWire(roundTrip(t, c)); !ok || reason != "buyer" || !when.Equal(at(4)) {
		t.Fatalf("cancel %q %v %v", reason, when, ok)
	}
	if _, _, ok := CancelFromWire(pf); ok {
		t.Fatal("a payment failure read as cancel")
	}
}

func TestSagaMessagesFromWire(t *testing.T) {
	d := &fraudv1.Decision{OrderId: oid, Outcome: fraudv1.Outcome_OUTCOME_REVIEW, Score: 0.5, ModelVersion: "m2",
		TimestampMs: at(1).UnixMilli(), Reasons: []*fraudv1.Reason{{Code: "new_device", Detail: "first seen", Contribution: 1.5}, {Code: "velocity"}}}
	wantV := FraudVerdict{Outcome: FraudReview, Score: 0.5, Reasons: []FraudReason{{Code: "new_device", Detail: "first seen", Contribution: 1.5}, {Code: "velocity"}}, ModelVersion: "m2", Time: at(1)}
	if got := VerdictFromWire(d); !reflect.DeepEqual(got, wantV) {
		t.Fatalf("verdict %+v, want %+v", got, wantV)
	}
	if got := VerdictFromWire(&fraudv1.Decision{}); got.Outcome != "" {
		t.Fatalf("unspecified outcome read as %q", got.Outcome)
	}
	q := &pricingv1.Quote{OrderId: oid, Sku: "a", Line: 1, Found: true, PriceMinor: 500, Currency: "EUR", TimestampMs: at(2).UnixMilli()}
	wantQ := PriceQuote{SKU: "a", Line: 1, Found: true, Price: 500, Currency: "EUR", Time: at(2)}
	if got := QuoteFromWire(q); got != wantQ {
		t.Fatalf("quote %+v, want %+v", got, wantQ)
	}
	pc := PriceCheck{ID: PriceCheckID(oid, 1, "a"), OrderID: oid, SKU: "a", Line: 1, Time: at(0)}
	w := PriceCheckToWire(pc)
	if w.GetCommandId() != pc.ID || w.GetSku() != "a" || w.GetCheck().GetOrderId() != oid || w.GetCheck().GetLine() != 1 ||
		w.GetTimestampMs() != at(0).UnixMilli() {
		t.Fatalf("price check on the wire %v", w)
	}
}

func TestOutcomeToWire(t *testing.T) {
	ok := OutcomeToWire(oid, OutcomeEventID(oid), Outcome{Confirmed: true, Total: 2000, Review: true, ReviewReasons: []string{"x"}, Time: at(5),
		UserID: "u1", Lines: []Line{{"a", 2, 1000}}})
	if err := schemas.ValidateOrderEvent(ok); err != nil {
		t.Fatal(err)
	}
	c := ok.GetConfirmed()
	if c == nil || c.GetTotalMinor() != 2000 || !c.GetReview() || !reflect.DeepEqual(c.GetReviewReasons(), []string{"x"}) ||
		ok.GetTimestampMs() != at(5).UnixMilli() || ok.GetEventId() != "titan:order:o1:outcome" ||
		c.GetUserId() != "u1" || len(c.GetLines()) != 1 || c.GetLines()[0].GetSku() != "a" || c.GetLines()[0].GetQty() != 2 {
		t.Fatalf("confirmed %v", ok)
	}
	no := OutcomeToWire(oid, "x", Outcome{Reason: ReasonOutOfStock, Detail: "sku a", Time: at(5)})
	if err := schemas.ValidateOrderEvent(no); err != nil {
		t.Fatal(err)
	}
	if r := no.GetRejected(); r == nil || r.GetReason() != ReasonOutOfStock || r.GetDetail() != "sku a" {
		t.Fatalf("rejected %v", no)
	}
}

// An order in every state survives the table's encoding.
func TestOrderRoundTrip(t *testing.T) {
	o := runSteps(t, DefaultPolicy(), []step{
		{in: place(two), fx: []string{"fraud:order:2000"}},
		{in: fraud(FraudReview, 1, "new_device"), fx: []string{"price:0:a", "price:1:b"}},
		{in: quote(0, "a", 500, "EUR", 2)},
		{in: quote(1, "b", 1000, "EUR", 2), fx: []string{"reserve:a:2", "reserve:b:1"}},
		{in: reserved("a", 3)},
		{in: refused("b", 3), fx: []string{"release:a", "rejected:out_of_stock"}},
	})
	w := roundTrip(t, OrderToWire(o))
	if got := OrderFromWire(w); !reflect.DeepEqual(got, o) {
		t.Fatalf("got %+v\nwant %+v", got, o)
	}
	if w.GetPlaced().GetLines()[1].GetUnitPriceMinor() != 1000 || w.GetFraud().GetOutcome() != fraudv1.Outcome_OUTCOME_REVIEW {
		t.Fatalf("wire order %v", w)
	}
	if got := OrderFromWire(nil); !reflect.DeepEqual(got, Order{}) {
		t.Fatalf("nil order read as %+v", got)
	}
}

// The fingerprint tells content apart and ignores the envelope, so a retry
// with a new id or time is still a retry.
func TestFingerprint(t *testing.T) {
	base := Fingerprint(two)
	same := two
	same.EventID, same.Time = "other", at(99)
	if Fingerprint(same) != base {
		t.Fatal("the envelope changed the fingerprint")
	}
	for name, edit := range map[string]func(*Placed){
		"user":     func(p *Placed) { p.UserID = "u2" },
		"currency": func(p *Placed) { p.Currency = "USD" },
		"qty":      func(p *Placed) { p.Lines = []Line{{"a", 3, 500}, p.Lines[1]} },
		"price":    func(p *Placed) { p.Lines = []Line{{"a", 2, 501}, p.Lines[1]} },
		"order":    func(p *Placed) { p.Lines = []Line{p.Lines[1], p.Lines[0]} },
		"boundary": func(p *Placed) { p.UserID, p.DeviceID = "u1d", "1" },
	} {
		p := two
		edit(&p)
		if Fingerprint(p) == base {
			t.Errorf("%s: same fingerprint", name)
		}
	}
}

func roundTrip[M proto.Message](t *testing.T, m M) M {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out := m.ProtoReflect().New().Interface().(M)
	if err := proto.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzTransitions feeds every transition an order read from arbitrary
// table bytes: a corrupt or hand-edited value must not make the saga panic.
func FuzzTransitions(f *testing.F) {
	pol := DefaultPolicy()
	placed, _, _ := Place(Order{}, two, pol)
	pricing, _ := OnFraud(placed, FraudVerdict{Outcome: FraudApprove, Time: at(1)}, pol)
	for _, o := range []Order{{}, placed, pricing} {
		b, err := proto.Marshal(OrderToWire(o))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var w ordersv1.Order
		if proto.Unmarshal(b, &w) != nil {
			return
		}
		o := OrderFromWire(&w)
		_ = CheckOrder(o)
		_, _, _ = Place(o, two, pol)
		OnFraud(o, FraudVerdict{Outcome: FraudApprove}, pol)
		for i := range o.Lines {
			OnQuote(o, PriceQuote{SKU: o.Lines[i].SKU, Line: int32(i), Found: true, Price: 1, Currency: "EUR"}, pol)
			for _, k := range []inventory.Kind{inventory.KindReserve, inventory.KindCommit, inventory.KindRelease} {
				for _, typ := range []inventory.EventType{inventory.EventReserved, inventory.EventRejected, inventory.EventCommitted, inventory.EventReleased} {
					OnInventory(o, inventory.Event{Type: typ, CommandID: CommandID(o.ID, o.Lines[i].SKU, k), OrderID: o.ID, SKU: o.Lines[i].SKU}, pol)
				}
			}
			OnInventory(o, inventory.Event{Type: inventory.EventExpired, ReserveCommandID: CommandID(o.ID, o.Lines[i].SKU, inventory.KindReserve), OrderID: o.ID, SKU: o.Lines[i].SKU}, pol)
		}
		Cancel(o, "x", at(1), pol)
		PaymentFailed(o, FailedPayment{}, pol)
	})
}
