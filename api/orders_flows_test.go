package api

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

var (
	orderConfirmedFields = []string{"order_id", "status", "total", "review", "review_reasons"}
	orderRejectedFields  = []string{"order_id", "status", "reason", "detail"}
	sagaOrderFields      = []string{"order_id", "status", "reason", "detail", "review", "user_id", "currency", "total",
		"placed_at", "lines", "fraud", "history", "history_dropped"}
)

func TestPlaceOrderConfirmed(t *testing.T) {
	e := newOrderEnv(t, Options{})
	body := `{"order_id":"o-1","user_id":"u-1","device_id":"d-1","payment_id":"c-1",` +
		`"lines":[{"sku":"sku-1","qty":2,"unit_price":1999},{"sku":"sku-2","qty":1,"unit_price":0}]}`
	before := time.Now()
	r := e.mustDo(t, "POST", "/v1/orders", body, 201)
	after := time.Now()
	checkFields(t, r, orderConfirmedFields)
	got := decode[orderConfirmedJSON](t, r)
	want := orderConfirmedJSON{OrderID: "o-1", Status: "confirmed", Total: 3998, ReviewReasons: []string{}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("answer %+v, want %+v", got, want)
	}

	// The checkout's event, as a shop would publish it.
	sent := e.saga.sentOrders()
	if len(sent) != 1 {
		t.Fatalf("%d events sent, want 1", len(sent))
	}
	ev := sent[0]
	wantPlaced := &ordersv1.OrderPlaced{UserId: "u-1", DeviceId: "d-1", PaymentId: "c-1", Currency: "EUR",
		Lines: []*ordersv1.OrderLine{{Sku: "sku-1", Qty: 2, UnitPriceMinor: 1999}, {Sku: "sku-2", Qty: 1}}}
	if ev.GetEventId() != "api:o-1" || ev.GetOrderId() != "o-1" || !samePlacedBody(ev.GetPlaced(), wantPlaced) ||
		ev.GetTimestampMs() < before.UnixMilli() || ev.GetTimestampMs() > after.UnixMilli() {
		t.Errorf("event %v", ev)
	}

	r = e.mustDo(t, "GET", "/v1/orders/o-1", ``, 200)
	checkFields(t, r, sagaOrderFields)
	o := decode[orderStateJSON](t, r)
	price := int64(1999)
	zero := int64(0)
	wantLines := []orderLineJSON{
		{SKU: "sku-1", Qty: 2, UnitPrice: 1999, QuotedPrice: &price, Status: "committed"},
		{SKU: "sku-2", Qty: 1, UnitPrice: 0, QuotedPrice: &zero, Status: "committed"},
	}
	if o.OrderID != "o-1" || o.Status != "confirmed" || o.UserID != "u-1" || o.Currency != "EUR" || o.Total == nil || *o.Total != 3998 ||
		o.PlacedAt != formatMs(ev.GetTimestampMs()) || !reflect.DeepEqual(o.Lines, wantLines) {
		t.Errorf("order %+v", o)
	}
	if o.Fraud == nil || o.Fraud.Outcome != "approve" || o.Fraud.ModelVersion != "m-1" || o.Fraud.Reasons == nil {
		t.Errorf("fraud %+v", o.Fraud)
	}
	if len(o.History) != 2 || o.History[0] != (stepJSON{At: formatMs(ev.GetTimestampMs()), Name: "placed", Detail: "api:o-1"}) ||
		o.History[1].Name != "confirmed" {
		t.Errorf("history %+v", o.History)
	}
	if n := e.saga.waiting(); n != 0 {
		t.Errorf("%d outcome waiters left", n)
	}
}

func samePlacedBody(a, b *ordersv1.OrderPlaced) bool {
	return samePlaced(&ordersv1.Order{Placed: a}, b)
}

// TestPlaceOrderRetry: the same request again is answered from the saga
// table and sends nothing; other content under the id is order_exists.
func TestPlaceOrderRetry(t *testing.T) {
	e := newOrderEnv(t, Options{})
	body := orderBody("o-1", "u-1", "sku-1", "sku-2")
	first := e.mustDo(t, "POST", "/v1/orders", body, 201)
	n := e.saga.sent()
	again := e.mustDo(t, "POST", "/v1/orders", body, 201)
	if first.String() != again.String() {
		t.Errorf("retry %s, first %s", again, first)
	}
	// An explicit default currency is the same order.
	e.mustDo(t, "POST", "/v1/orders", strings.Replace(body, `"lines"`, `"currency":"EUR","lines"`, 1), 201)
	for name, other := range map[string]string{
		"user":     orderBody("o-1", "u-2", "sku-1", "sku-2"),
		"lines":    orderBody("o-1", "u-1", "sku-1"),
		"order":    orderBody("o-1", "u-1", "sku-2", "sku-1"),
		"qty":      strings.Replace(body, `"qty":1`, `"qty":2`, 1),
		"price":    strings.Replace(body, `"unit_price":100`, `"unit_price":99`, 1),
		"currency": strings.Replace(body, `"lines"`, `"currency":"USD","lines"`, 1),
		"device":   strings.Replace(body, `"d-1"`, `"d-2"`, 1),
		"payment":  strings.Replace(body, `"c-1"`, `"c-2"`, 1),
	} {
		t.Run(name, func(t *testing.T) { checkError(t, e.do("POST", "/v1/orders", other), errOrderExists.Code) })
	}
	if got := e.saga.sent(); got != n {
		t.Errorf("%d events sent for repeated orders", got-n)
	}
}

func TestPlaceOrderRejected(t *testing.T) {
	e := newOrderEnv(t, Options{})
	for _, c := range []struct {
		body           string
		reason, detail string
	}{
		{orderBody("o-1", "u-1", "sku-1", "oos-2"), "out_of_stock", "oos-2"},
		{orderBody("o-2", userFraud, "sku-1"), "fraud_rejected", "score 0.97"},
	} {
		r := e.mustDo(t, "POST", "/v1/orders", c.body, 409)
		checkFields(t, r, orderRejectedFields)
		got := decode[orderRejectedJSON](t, r)
		id := got.OrderID
		if got != (orderRejectedJSON{OrderID: id, Status: "rejected", Reason: c.reason, Detail: c.detail}) {
			t.Errorf("answer %+v", got)
		}
		again := e.mustDo(t, "POST", "/v1/orders", c.body, 409)
		if again.String() != r.String() {
			t.Errorf("retry %s, first %s", again, r)
		}
		o := decode[orderStateJSON](t, e.mustDo(t, "GET", "/v1/orders/"+id, ``, 200))
		if o.Status != "rejected" || o.Reason != c.reason || o.Detail != c.detail {
			t.Errorf("order %+v", o)
		}
	}
	o := decode[orderStateJSON](t, e.mustDo(t, "GET", "/v1/orders/o-2", ``, 200))
	want := decisionJSON{OrderID: "o-2", Outcome: "reject", Score: 0.97, ModelVersion: "m-1", At: o.Fraud.At,
		Reasons: []reasonJSON{{Code: "card_users_24h", Detail: "5 users on the card", Contribution: 2.5}}}
	if !reflect.DeepEqual(*o.Fraud, want) {
		t.Errorf("fraud %+v, want %+v", *o.Fraud, want)
	}
}

// TestPlaceOrderReview: an order held for review is confirmed with the
// reasons, the same from the outcome and, on a retry, from the table.
func TestPlaceOrderReview(t *testing.T) {
	e := newOrderEnv(t, Options{})
	body := orderBody("o-1", userReview, "sku-1")
	want := orderConfirmedJSON{OrderID: "o-1", Status: "confirmed", Total: 100, Review: true, ReviewReasons: []string{"new_device"}}
	for range 2 {
		if got := decode[orderConfirmedJSON](t, e.mustDo(t, "POST", "/v1/orders", body, 201)); !reflect.DeepEqual(got, want) {
			t.Errorf("answer %+v, want %+v", got, want)
		}
	}
	if o := decode[orderStateJSON](t, e.mustDo(t, "GET", "/v1/orders/o-1", ``, 200)); !o.Review || o.Fraud.Outcome != "review" {
		t.Errorf("order %+v", o)
	}
}

// TestPlaceOrderPending: an outcome that does not come within the wait is
// a 202 with the poll URL; once the saga has decided, polling and
// repeating the request both answer, and the repeat sends nothing.
func TestPlaceOrderPending(t *testing.T) {
	e := newOrderEnv(t, Options{CommandWait: 20 * time.Millisecond})
	e.saga.setMode(fakeSagaMode{hold: true})
	body := orderBody("o/1", "u-1", "sku-1")
	r := e.mustDo(t, "POST", "/v1/orders", body, 202)
	if got := decode[orderPendingJSON](t, r); got != (orderPendingJSON{OrderID: "o/1", Status: "pending", Poll: "/v1/orders/o%2F1"}) {
		t.Errorf("pending %+v", got)
	}
	checkError(t, e.do("GET", "/v1/orders/o%2F1", ``), errOrderNotFound.Code)
	// A repeat before the saga got to it sends the same event again.
	e.mustDo(t, "POST", "/v1/orders", body, 202)
	sent := e.saga.sentOrders()
	if len(sent) != 2 || !proto2Equal(sent[0], sent[1]) {
		t.Fatalf("sent %v", sent)
	}

	e.saga.setMode(fakeSagaMode{})
	e.saga.release()
	if o := decode[orderStateJSON](t, e.mustDo(t, "GET", "/v1/orders/o%2F1", ``, 200)); o.Status != "confirmed" {
		t.Errorf("order %+v", o)
	}
	e.mustDo(t, "POST", "/v1/orders", body, 201)
	if n := len(e.saga.sentOrders()); n != 2 {
		t.Errorf("%d events sent, want 2", n)
	}
	if n := e.saga.waiting(); n != 0 {
		t.Errorf("%d outcome waiters left", n)
	}
}

// proto2Equal compares events but their timestamps, which a repeat sets
// anew.
func proto2Equal(a, b *ordersv1.OrderEvent) bool {
	return a.GetEventId() == b.GetEventId() && a.GetOrderId() == b.GetOrderId() && samePlacedBody(a.GetPlaced(), b.GetPlaced())
}

// TestPlaceOrderLaggingPaths: either path alone answers, well within the
// wait: the table when the outcomes consumer lags, the consumer when the
// table's replica lags.
func TestPlaceOrderLaggingPaths(t *testing.T) {
	for name, mode := range map[string]fakeSagaMode{
		"consumer lags": {noOutcomes: true},
		"replica lags":  {noTable: true},
	} {
		t.Run(name, func(t *testing.T) {
			// A wait far longer than the test may take: an answer means
			// the other path gave it. With the replica behind, the
			// outcome is checked against the table for ReadWait first.
			e := newOrderEnv(t, Options{CommandWait: time.Hour, ReadWait: time.Millisecond})
			e.saga.setMode(mode)
			got := decode[orderConfirmedJSON](t, e.mustDo(t, "POST", "/v1/orders", orderBody("o-1", userReview, "sku-1"), 201))
			if !got.Review || got.Total != 100 || !reflect.DeepEqual(got.ReviewReasons, []string{"new_device"}) {
				t.Errorf("answer %+v", got)
			}
			r := e.mustDo(t, "POST", "/v1/orders", orderBody("o-2", "u-1", "oos-1"), 409)
			if got := decode[orderRejectedJSON](t, r); got.Reason != "out_of_stock" {
				t.Errorf("answer %+v", got)
			}
		})
	}
}

// TestPlaceOrderRaceConflict: another body under the same id reaches the
// saga first, while this request waits; the outcome on the topic is the
// other order's, and the request must not take it for its own.
func TestPlaceOrderRaceConflict(t *testing.T) {
	e := newOrderEnv(t, Options{CommandWait: time.Hour})
	e.saga.setMode(fakeSagaMode{hold: true})
	sent := e.saga.nextSend()
	done := make(chan response, 1)
	go func() { done <- e.do("POST", "/v1/orders", orderBody("o-1", "u-1", "sku-1")) }()
	select {
	case <-sent:
	case <-t.Context().Done():
		t.Fatal("the request sent nothing")
	}
	// The checkout published another body under the id first.
	other := &ordersv1.OrderEvent{EventId: "checkout:o-1", OrderId: "o-1", TimestampMs: 1,
		Kind: &ordersv1.OrderEvent_Placed{Placed: &ordersv1.OrderPlaced{UserId: "u-9", DeviceId: "d-9", PaymentId: "c-9",
			Currency: "EUR", Lines: []*ordersv1.OrderLine{{Sku: "sku-9", Qty: 1, UnitPriceMinor: 5}}}}}
	e.saga.process(other)
	checkError(t, <-done, errOrderExists.Code)
	e.saga.setMode(fakeSagaMode{})
	e.saga.release()
	if o := decode[orderStateJSON](t, e.mustDo(t, "GET", "/v1/orders/o-1", ``, 200)); o.UserID != "u-9" {
		t.Errorf("the saga kept %+v", o)
	}
}

// TestPlaceOrderKafkaDown: an event Kafka did not take is a 503; the same
// request later goes through.
func TestPlaceOrderKafkaDown(t *testing.T) {
	e := newOrderEnv(t, Options{})
	e.saga.failWith(errors.New("no brokers"))
	body := orderBody("o-1", "u-1", "sku-1")
	checkError(t, e.do("POST", "/v1/orders", body), errUnavailable.Code)
	checkError(t, e.do("POST", "/v1/prices/sku-1", `{"base_price":1,"currency":"EUR"}`), errUnavailable.Code)
	checkError(t, e.do("GET", "/v1/orders/o-1", ``), errOrderNotFound.Code)
	e.saga.failWith(nil)
	e.mustDo(t, "POST", "/v1/orders", body, 201)
	if n := e.saga.waiting(); n != 0 {
		t.Errorf("%d outcome waiters left", n)
	}
}

// TestOrdersNotReady: a replica still recovering answers not_ready, to
// valid requests only.
func TestOrdersNotReady(t *testing.T) {
	e := newOrderEnv(t, Options{})
	e.mustDo(t, "POST", "/v1/orders", orderBody("o-1", "u-1", "sku-1"), 201)
	e.setReady(false)
	for _, c := range [][3]string{
		{"POST", "/v1/orders", orderBody("o-2", "u-1", "sku-1")},
		{"POST", "/v1/orders", orderBody("o-1", "u-1", "sku-1")},
		{"GET", "/v1/orders/o-1", ``},
		{"GET", "/v1/prices/sku-1", ``},
		{"GET", "/v1/prices/sku-1/history", ``},
		{"GET", "/v1/fraud/users/u-1", ``},
	} {
		checkError(t, e.do(c[0], c[1], c[2]), errNotReady.Code)
	}
	checkError(t, e.do("POST", "/v1/orders", orderBody("", "u-1", "sku-1")), errInvalidOrderID.Code)
	if n := len(e.saga.sentOrders()); n != 1 {
		t.Errorf("%d events sent", n)
	}
	// A price command reads nothing, so it does not wait for recovery.
	e.mustDo(t, "POST", "/v1/prices/sku-1", `{"base_price":1,"currency":"EUR"}`, 202)
	e.setReady(true)
	e.mustDo(t, "GET", "/v1/orders/o-1", ``, 200)
}

// TestOrdersNotEnabled: without OrderSaga the routes exist and answer
// not_enabled, bad input included, as flash sales do.
func TestOrdersNotEnabled(t *testing.T) {
	e := newEnv(t, Options{})
	for _, c := range [][3]string{
		{"POST", "/v1/orders", orderBody("o-1", "u-1", "sku-1")},
		{"POST", "/v1/orders", `{`},
		{"GET", "/v1/orders/o-1", ``},
		{"POST", "/v1/prices/sku-1", `{"base_price":1,"currency":"EUR"}`},
		{"GET", "/v1/prices/sku-1", ``},
		{"GET", "/v1/prices/sku-1/history?limit=0", ``},
		{"GET", "/v1/fraud/users/u-1", ``},
	} {
		checkError(t, e.do(c[0], c[1], c[2]), errNotEnabled.Code)
	}
}

func TestOrderDepsRequired(t *testing.T) {
	e := newOrderEnv(t, Options{})
	deps := e.s.deps
	for name, drop := range map[string]func(*OrderDeps){
		"Orders":        func(d *OrderDeps) { d.Orders = nil },
		"SendOrder":     func(d *OrderDeps) { d.SendOrder = nil },
		"Outcomes":      func(d *OrderDeps) { d.Outcomes = nil },
		"PriceAt":       func(d *OrderDeps) { d.PriceAt = nil },
		"FraudFeatures": func(d *OrderDeps) { d.FraudFeatures = nil },
	} {
		od := *deps.OrderSaga
		drop(&od)
		d := deps
		d.OrderSaga = &od
		if _, err := New(d, Options{}); err == nil {
			t.Errorf("New without %s: no error", name)
		}
	}
	if _, err := New(deps, Options{DefaultCurrency: "euro"}); err == nil {
		t.Error("New with DefaultCurrency euro: no error")
	}
}

// TestPlaceOrderDefaultCurrency: an order without currency takes the
// server's.
func TestPlaceOrderDefaultCurrency(t *testing.T) {
	e := newEnv(t, Options{DefaultCurrency: "SEK"})
	f := withOrders(t, e)
	e.mustDo(t, "POST", "/v1/orders", orderBody("o-1", "u-1", "sku-1"), 201)
	if c := f.sentOrders()[0].GetPlaced().GetCurrency(); c != "SEK" {
		t.Errorf("currency %q", c)
	}
}

// TestPlaceOrderLongID: the event id of an order id near the limit is
// derived from its digest, still the same for every repeat.
func TestPlaceOrderLongID(t *testing.T) {
	e := newOrderEnv(t, Options{})
	id := strings.Repeat("o", 128)
	e.mustDo(t, "POST", "/v1/orders", orderBody(id, "u-1", "sku-1"), 201)
	ev := e.saga.sentOrders()[0]
	if got := ev.GetEventId(); len(got) > 128 || !strings.HasPrefix(got, "api:") || got != placedEventID(id) {
		t.Errorf("event id %q", got)
	}
	e.mustDo(t, "GET", "/v1/orders/"+id, ``, 200)
	e.mustDo(t, "POST", "/v1/orders", orderBody(id, "u-1", "sku-1"), 201)
}
