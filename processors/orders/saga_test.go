package orders

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/titan-commerce/titan/processors/inventory"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

const oid = "o1"

func newPlaced(lines ...Line) Placed {
	return Placed{
		EventID: "e1", OrderID: oid, UserID: "u1", DeviceID: "d1", PaymentID: "p1",
		Currency: "EUR", Lines: lines, Time: at(0),
	}
}

// two is the order most cases use: 2 x a at 500 and 1 x b at 1000.
var two = newPlaced(Line{SKU: "a", Qty: 2, UnitPrice: 500}, Line{SKU: "b", Qty: 1, UnitPrice: 1000})

// input is one message delivered to the saga.
type input struct {
	name  string
	apply func(Order, Policy) (Order, Effects, error)
}

func place(p Placed) input {
	return input{"place", func(o Order, pol Policy) (Order, Effects, error) { return Place(o, p, pol) }}
}

func noErr(o Order, fx Effects) (Order, Effects, error) { return o, fx, nil }

func fraud(outcome string, sec int, codes ...string) input {
	var reasons []FraudReason
	for _, c := range codes {
		reasons = append(reasons, FraudReason{Code: c, Detail: c + " detail", Contribution: 0.5})
	}
	v := FraudVerdict{Outcome: outcome, Score: 0.25, Reasons: reasons, ModelVersion: "m1", Time: at(sec)}
	return input{"fraud " + outcome, func(o Order, pol Policy) (Order, Effects, error) { return noErr(OnFraud(o, v, pol)) }}
}

func quote(line int32, sku string, price int64, cur string, sec int) input {
	q := PriceQuote{SKU: sku, Line: line, Found: true, Price: price, Currency: cur, Time: at(sec)}
	return input{fmt.Sprintf("quote %d", line), func(o Order, pol Policy) (Order, Effects, error) { return noErr(OnQuote(o, q, pol)) }}
}

func noPrice(line int32, sku string, sec int) input {
	q := PriceQuote{SKU: sku, Line: line, Time: at(sec)}
	return input{"no price", func(o Order, pol Policy) (Order, Effects, error) { return noErr(OnQuote(o, q, pol)) }}
}

// inv is the inventory's answer to the saga's command of kind on sku.
func inv(typ inventory.EventType, kind inventory.Kind, sku, reason string, sec int) input {
	e := inventory.Event{Type: typ, CommandID: CommandID(oid, sku, kind), OrderID: oid, SKU: sku, Reason: reason, Time: at(sec)}
	return invEvent(e)
}

func invEvent(e inventory.Event) input {
	return input{"inventory " + e.Type.String() + " " + e.SKU, func(o Order, pol Policy) (Order, Effects, error) {
		return noErr(OnInventory(o, e, pol))
	}}
}

func reserved(sku string, sec int) input {
	return inv(inventory.EventReserved, inventory.KindReserve, sku, "", sec)
}

func refused(sku string, sec int) input {
	return inv(inventory.EventRejected, inventory.KindReserve, sku, inventory.ReasonInsufficientStock, sec)
}

func committed(sku string, sec int) input {
	return inv(inventory.EventCommitted, inventory.KindCommit, sku, "", sec)
}

func released(sku string, sec int) input {
	return inv(inventory.EventReleased, inventory.KindRelease, sku, "", sec)
}

// expired is an expiry made due by the sweeper's command.
func expired(sku string, sec int) input {
	return invEvent(inventory.Event{
		Type: inventory.EventExpired, CommandID: "sweep-1", OrderID: oid, SKU: sku, Time: at(sec),
		ReserveCommandID: CommandID(oid, sku, inventory.KindReserve),
	})
}

// timeout is the deadline scanner's Timeout, sent at sec, for the order as
// it was after steps steps.
func timeout(steps int64, sec int) input {
	return input{"timeout", func(o Order, pol Policy) (Order, Effects, error) { return noErr(Timeout(o, steps, at(sec), pol)) }}
}

func cancel(reason string, sec int) input {
	return input{"cancel", func(o Order, pol Policy) (Order, Effects, error) { return noErr(Cancel(o, reason, at(sec), pol)) }}
}

func payFail(eventID string, sec int) input {
	pf := FailedPayment{EventID: eventID, OrderID: oid, UserID: "u1", DeviceID: "d1", PaymentID: "p1", Amount: 2000, Reason: "declined", Time: at(sec)}
	return input{"payment failed", func(o Order, pol Policy) (Order, Effects, error) { return noErr(PaymentFailed(o, pf, pol)) }}
}

func paid(eventID string, sec int) input {
	p := Payment{EventID: eventID, OrderID: oid, UserID: "u1", PaymentID: "p1", Amount: 2000, Currency: "EUR", Time: at(sec)}
	return input{"paid " + eventID, func(o Order, pol Policy) (Order, Effects, error) { return noErr(Paid(o, p, pol)) }}
}

// summary renders effects as short strings, in order.
func summary(fx Effects) []string {
	var out []string
	if f := fx.Fraud; f != nil {
		out = append(out, fmt.Sprintf("fraud:%s:%d", f.Kind, f.Amount))
	}
	for _, pc := range fx.PriceChecks {
		out = append(out, fmt.Sprintf("price:%d:%s", pc.Line, pc.SKU))
	}
	for _, c := range fx.Inventory {
		s := c.Kind.String() + ":" + c.SKU
		if c.Qty != 0 {
			s += fmt.Sprintf(":%d", c.Qty)
		}
		out = append(out, s)
	}
	if oc := fx.Outcome; oc != nil {
		if oc.Confirmed {
			out = append(out, fmt.Sprintf("confirmed:%d", oc.Total))
		} else {
			out = append(out, "rejected:"+oc.Reason)
		}
	}
	return out
}

func lineSummary(o Order) string {
	var s []string
	for _, l := range o.Lines {
		s = append(s, l.Status.String())
	}
	return strings.Join(s, ",")
}

// step is one input and what it must produce.
type step struct {
	in     input
	fx     []string
	status Status
	lines  string
	err    error
}

// The saga's step tables are scenario files: see TestSagaScenarios.

func runSteps(t *testing.T, pol Policy, steps []step) Order {
	t.Helper()
	var o Order
	for i, s := range steps {
		next, fx, err := s.in.apply(o, pol)
		if !errors.Is(err, s.err) || (err == nil) != (s.err == nil) {
			t.Fatalf("step %d %s: error %v, want %v", i, s.in.name, err, s.err)
		}
		if err != nil && !reflect.DeepEqual(next, o) {
			t.Fatalf("step %d %s: an error changed the order", i, s.in.name)
		}
		if got := summary(fx); !reflect.DeepEqual(got, s.fx) {
			t.Fatalf("step %d %s: effects %q, want %q", i, s.in.name, got, s.fx)
		}
		if s.status != StatusUnknown || next.Status == StatusUnknown {
			if next.Status != s.status {
				t.Fatalf("step %d %s: status %s, want %s", i, s.in.name, next.Status, s.status)
			}
		}
		if s.lines != "" && lineSummary(next) != s.lines {
			t.Fatalf("step %d %s: lines %s, want %s", i, s.in.name, lineSummary(next), s.lines)
		}
		checkStep(t, next)
		checkEffects(t, next, fx)
		if next.Status != StatusUnknown {
			// The same message again, as Kafka may deliver it, is a no-op.
			again, fx2, _ := s.in.apply(next, pol)
			if !fx2.Empty() || !reflect.DeepEqual(again, next) {
				t.Fatalf("step %d %s: a duplicate changed the order or sent %q", i, s.in.name, summary(fx2))
			}
		}
		if err == nil && s.in.name != "place" && reflect.DeepEqual(next.History, o.History) && !reflect.DeepEqual(next, o) {
			t.Fatalf("step %d %s: the order changed without a history step", i, s.in.name)
		}
		o = next
	}
	return o
}

// checkStep holds after every step of every test.
func checkStep(t *testing.T, o Order) {
	t.Helper()
	if err := CheckOrder(o); err != nil {
		t.Fatal(err)
	}
	if got := OrderFromWire(OrderToWire(o)); !reflect.DeepEqual(got, o) {
		t.Fatalf("wire round trip:\n got %+v\nwant %+v", got, o)
	}
}

// checkEffects checks what every effect must carry.
func checkEffects(t *testing.T, o Order, fx Effects) {
	t.Helper()
	for _, c := range fx.Inventory {
		if c.OrderID != o.ID || c.ID != CommandID(o.ID, c.SKU, c.Kind) || c.Time.Before(o.PlacedAt) {
			t.Fatalf("inventory command %+v", c)
		}
		if c.Kind == inventory.KindReserve && (c.TTL != DefaultPolicy().ReserveTTL || c.Qty <= 0) {
			t.Fatalf("reserve %+v", c)
		}
		if c.Kind != inventory.KindReserve && c.Qty != 0 {
			t.Fatalf("%s with qty %d", c.Kind, c.Qty)
		}
	}
	for _, pc := range fx.PriceChecks {
		if !pc.Time.Equal(o.PlacedAt) || pc.OrderID != o.ID || o.Lines[pc.Line].SKU != pc.SKU {
			t.Fatalf("price check %+v", pc)
		}
	}
	if oc := fx.Outcome; oc != nil {
		if !o.Status.Terminal() || oc.Confirmed != (o.Status == StatusConfirmed) || oc.Reason != o.Reason ||
			!oc.Time.Equal(o.TerminalAt) || oc.Total != o.Total() {
			t.Fatalf("outcome %+v for order %s %s", oc, o.Status, o.Reason)
		}
	}
}

func TestOutcomeCarriesReview(t *testing.T) {
	o := runSteps(t, DefaultPolicy(), []step{
		{in: place(newPlaced(Line{"a", 3, 100})), fx: []string{"fraud:order:300"}},
		{in: fraud(FraudReview, 1, "new_device", "high_amount"), fx: []string{"price:0:a"}},
		{in: quote(0, "a", 100, "EUR", 2), fx: []string{"reserve:a:3"}},
	})
	o, fx := OnInventory(o, inventory.Event{
		Type: inventory.EventReserved, CommandID: CommandID(oid, "a", inventory.KindReserve), OrderID: oid, SKU: "a", Time: at(3),
	}, DefaultPolicy())
	want := &Outcome{Confirmed: true, Total: 300, Review: true, ReviewReasons: []string{"new_device", "high_amount"}, Time: at(3),
		UserID: o.UserID, Currency: "EUR", Lines: []Line{{"a", 3, 100}}}
	if !reflect.DeepEqual(fx.Outcome, want) || !o.Review {
		t.Fatalf("outcome %+v, want %+v", fx.Outcome, want)
	}
}

func TestRejectionDetail(t *testing.T) {
	o := runSteps(t, DefaultPolicy(), []step{
		{in: place(two), fx: []string{"fraud:order:2000"}},
		{in: fraud(FraudApprove, 1), fx: []string{"price:0:a", "price:1:b"}},
		{in: quote(1, "b", 900, "EUR", 2), fx: []string{"rejected:price_mismatch"}},
	})
	if want := "sku b: order price 1000 EUR, current price 900 EUR"; o.Detail != want {
		t.Fatalf("detail %q, want %q", o.Detail, want)
	}
}

// The saga's time never goes back: a late input is judged at the order's
// latest time, and the effects carry it.
func TestTimeNeverGoesBack(t *testing.T) {
	o := runSteps(t, DefaultPolicy(), []step{
		{in: place(two), fx: []string{"fraud:order:2000"}},
		{in: fraud(FraudApprove, 100), fx: []string{"price:0:a", "price:1:b"}},
		{in: quote(0, "a", 500, "EUR", 50)},
	})
	o, fx := OnQuote(o, PriceQuote{SKU: "b", Line: 1, Found: true, Price: 1000, Currency: "EUR", Time: at(60)}, DefaultPolicy())
	for _, c := range fx.Inventory {
		if !c.Time.Equal(at(100)) {
			t.Fatalf("reserve at %v, want %v", c.Time, at(100))
		}
	}
	if !o.Clock().Equal(at(100)) {
		t.Fatalf("clock %v", o.Clock())
	}
}

func TestTolerance(t *testing.T) {
	tests := []struct {
		unit, quoted, bps int64
		ok                bool
	}{
		{100, 100, 0, true},
		{101, 100, 0, false},
		{101, 100, 100, true},
		{99, 100, 100, true},
		{102, 100, 100, false},
		{98, 100, 100, false},
		{1015, 1000, 150, true},
		{1016, 1000, 150, false},
		{0, 0, 100, true},
		{1, 0, 100, false},
		{1<<63 - 1, 1<<63 - 1, 10_000, true},
		{0, 1<<63 - 1, 10_000, true},
		{-1, -1, 100, true},
		{1, -1, 100, false},
	}
	for _, tt := range tests {
		if got := withinTolerance(tt.unit, tt.quoted, tt.bps); got != tt.ok {
			t.Errorf("withinTolerance(%d, %d, %d) = %v, want %v", tt.unit, tt.quoted, tt.bps, got, tt.ok)
		}
	}
}

func TestHistoryIsBounded(t *testing.T) {
	pol := DefaultPolicy()
	pol.MaxHistory = 3
	var steps []step
	steps = append(steps, step{in: place(two), fx: []string{"fraud:order:2000"}})
	for i := range 5 {
		id := fmt.Sprintf("pf%d", i)
		steps = append(steps, step{in: payFail(id, i+1), fx: []string{"fraud:payment_failed:2000"}, status: StatusScoring})
	}
	o := runSteps(t, pol, steps)
	if len(o.History) != 3 || o.HistoryDropped != 3 || o.History[2].Detail != "pf4: declined" {
		t.Fatalf("history %+v, dropped %d", o.History, o.HistoryDropped)
	}
}

func TestInputsAreNotModified(t *testing.T) {
	o := runSteps(t, DefaultPolicy(), []step{
		{in: place(two), fx: []string{"fraud:order:2000"}},
		{in: fraud(FraudApprove, 1), fx: []string{"price:0:a", "price:1:b"}},
		{in: quote(0, "a", 500, "EUR", 2)},
		{in: quote(1, "b", 1000, "EUR", 2), fx: []string{"reserve:a:2", "reserve:b:1"}},
	})
	before := OrderFromWire(OrderToWire(o))
	OnInventory(o, inventory.Event{Type: inventory.EventReserved, CommandID: CommandID(oid, "a", inventory.KindReserve), OrderID: oid, SKU: "a", Time: at(3)}, DefaultPolicy())
	Cancel(o, "x", at(4), DefaultPolicy())
	if !reflect.DeepEqual(o, before) {
		t.Fatal("a transition wrote to its caller's order")
	}
}

// A payment is noted in the order's history whatever its status, sends
// nothing and changes no status; one for an order never placed leaves no
// state, and the same payment again adds nothing (runSteps sends each twice).
func TestPaid(t *testing.T) {
	if o, fx := Paid(Order{}, Payment{EventID: "pay-0", OrderID: oid, Time: at(0)}, DefaultPolicy()); o.Status != StatusUnknown || !fx.Empty() || len(o.History) != 0 {
		t.Fatalf("a payment for an order never placed: %+v, %q", o, summary(fx))
	}
	o := runSteps(t, DefaultPolicy(), []step{
		{in: place(two), fx: []string{"fraud:order:2000"}},
		{in: paid("pay-1", 1), status: StatusScoring},
		{in: fraud(FraudApprove, 2), fx: []string{"price:0:a", "price:1:b"}},
		{in: cancel("customer", 3), fx: []string{"rejected:cancelled"}, status: StatusRejected},
		{in: paid("pay-2", 4), status: StatusRejected},
	})
	var details []string
	for _, h := range o.History {
		if h.Name == StepPaid {
			details = append(details, h.Detail)
		}
	}
	if want := []string{"pay-1: 2000 EUR by p1", "pay-2: 2000 EUR by p1"}; !reflect.DeepEqual(details, want) {
		t.Fatalf("paid steps %q, want %q", details, want)
	}
}
