package orderstopo

import (
	"context"
	"testing"
	"time"

	"github.com/lovoo/goka/storage"

	"github.com/titan-commerce/titan/internal/localindex"
	"github.com/titan-commerce/titan/processors/orders"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

// withOpenOrders is a storage that keeps OpenOrders, as the processor's do.
func withOpenOrders(t *testing.T) storage.Storage {
	t.Helper()
	st, err := localindex.Builder(func(string, int32) (storage.Storage, error) { return storage.NewMemory(), nil }, "t", OpenOrders)("t", 0)
	if err == nil {
		err = st.Open()
	}
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func putOrder(t *testing.T, st storage.Storage, o orders.Order) {
	t.Helper()
	b, err := OrderCodec.Encode(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Set(o.ID, b); err != nil {
		t.Fatal(err)
	}
}

// The scanner proposes a Timeout for an open order whose step count has
// not changed for the timeout on its own clock, whatever the order's own
// times say; once again if that one is not applied within the timeout;
// never for an order that ended or moved.
func TestDeadlinesPropose(t *testing.T) {
	st := withOpenOrders(t)
	pol := orders.DefaultPolicy()
	// Event times a day in the past: the scanner's clock decides.
	past := time.Now().Add(-24 * time.Hour)
	put := func(o orders.Order) { t.Helper(); putOrder(t, st, o) }
	placed := func(id string) orders.Order {
		o, _, err := orders.Place(orders.Order{}, orders.Placed{EventID: "e-" + id, OrderID: id, UserID: "u", DeviceID: "d",
			PaymentID: "p", Currency: "EUR", Lines: []orders.Line{{SKU: "a", Qty: 1, UnitPrice: 1}}, Time: past}, pol)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	still, moving := placed("still"), placed("moving")
	ended, _ := orders.OnFraud(placed("ended"), orders.FraudVerdict{Outcome: orders.FraudReject, Time: past}, pol)
	put(still)
	put(moving)
	put(ended)

	var sent []*ordersv1.SagaMessage
	const timeout = time.Minute
	d := NewDeadlines(func() []storage.Storage { return []storage.Storage{st} },
		func(_ context.Context, msgs []*ordersv1.SagaMessage) ([]int64, error) {
			sent = append(sent, msgs...)
			return make([]int64, len(msgs)), nil
		},
		timeout, time.Second, nil)
	t0 := time.Now()
	scanAt := func(after time.Duration) {
		t.Helper()
		d.now = func() time.Time { return t0.Add(after) }
		if err := d.Scan(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	scanAt(0)
	if len(sent) != 0 {
		t.Fatalf("proposed at first sight: %v", sent)
	}
	// "moving" takes a step half way.
	scanAt(timeout / 2)
	moved, _ := orders.OnFraud(moving, orders.FraudVerdict{Outcome: orders.FraudApprove, Time: past}, pol)
	put(moved)
	scanAt(timeout - time.Millisecond)
	if len(sent) != 0 {
		t.Fatalf("proposed before the timeout: %v", sent)
	}
	scanAt(timeout)
	if len(sent) != 1 || sent[0].GetOrderId() != "still" || sent[0].GetTimeout().GetSteps() != still.Steps() ||
		sent[0].GetTimestampMs() != t0.Add(timeout).UnixMilli() {
		t.Fatalf("sent %v", sent)
	}
	// The scan just before the timeout saw "moving" move: its watch began
	// then, and it is due a timeout later; "still" is in flight.
	scanAt(2*timeout - time.Millisecond)
	if len(sent) != 2 || sent[1].GetOrderId() != "moving" || sent[1].GetTimeout().GetSteps() != moved.Steps() {
		t.Fatalf("sent %v", sent)
	}
	scanAt(2 * timeout)
	if len(sent) != 3 || sent[2].GetOrderId() != "still" {
		t.Fatalf("not proposed again after a timeout in flight: %v", sent)
	}
	if openSteps([]byte{0xff}) != 0 {
		t.Fatal("unreadable bytes read as an open order")
	}
}

// TestOpenOrdersFollowTheOrders: an order is in the index while it is
// open, and leaves it when it ends.
func TestOpenOrdersFollowTheOrders(t *testing.T) {
	st := withOpenOrders(t)
	pol := orders.DefaultPolicy()
	now := time.Now()
	o, _, err := orders.Place(orders.Order{}, orders.Placed{EventID: "e", OrderID: "o1", UserID: "u", DeviceID: "d",
		PaymentID: "p", Currency: "EUR", Lines: []orders.Line{{SKU: "a", Qty: 1, UnitPrice: 1}}, Time: now}, pol)
	if err != nil {
		t.Fatal(err)
	}
	open := func() []string {
		t.Helper()
		var ids []string
		if err := eachOpen(st, func(order string, _ int64) { ids = append(ids, order) }); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	put := func(o orders.Order) { t.Helper(); putOrder(t, st, o) }
	put(o)
	if got := open(); len(got) != 1 || got[0] != "o1" {
		t.Fatalf("open orders %v, want [o1]", got)
	}
	ended, _ := orders.OnFraud(o, orders.FraudVerdict{Outcome: orders.FraudReject, Time: now}, pol)
	put(ended)
	if got := open(); len(got) != 0 {
		t.Fatalf("open orders after the order ended: %v", got)
	}
	if has, err := st.Has("\xffoo1"); err != nil || has {
		t.Fatalf("the ended order's index key is still stored (%v, %v)", has, err)
	}
}
