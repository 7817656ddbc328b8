package api

import (
	"context"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lovoo/goka/storage"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	fraudv1 "github.com/titan-commerce/titan/schemas/fraud/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
)

// fakeSaga stands in for the order saga, pricing and fraud topologies
// behind OrderDeps. An OrderPlaced it takes is decided at once by decide
// (the saga keeps the first body of an order id and ignores any later
// one); the order reaches the saga table's view and its outcome reaches
// OrderOutcomes, waking the notifier as the view's callback would. A
// pricing command sets the SKU's base price once per command id. The
// modes hold back parts of that to play a slow saga, a lagging replica or
// a lagging consumer.
type fakeSaga struct {
	orders, prices, fraud *fakeTable
	ordersN               *Notifier
	outcomes              *OrderOutcomes
	mem                   storage.Storage
	now                   time.Time

	// run serialises processing, one record at a time as in a partition.
	run struct {
		sync.Mutex
		state map[string]*ordersv1.Order // what the saga holds
	}
	mu struct {
		sync.Mutex
		sentOrders  []*ordersv1.OrderEvent
		sentPricing []*pricingv1.Command
		next        int64
		mode        fakeSagaMode
		held        []*ordersv1.OrderEvent
		err         error
		onSend      chan struct{}
	}
}

type fakeSagaMode struct {
	hold       bool // Kafka takes events; the saga does not get to them
	noTable    bool // the saga table's view stops taking updates
	noOutcomes bool // outcomes do not reach OrderOutcomes
}

// The fake saga's rules, by the ids and SKUs of an order.
const (
	userReview    = "u-review" // confirmed, for manual review
	userFraud     = "u-fraud"  // rejected by fraud scoring
	skuOutOfStock = "oos-"     // prefix: rejected, out of stock
)

func newFakeSaga() *fakeSaga {
	f := &fakeSaga{
		orders: newFakeTable(), prices: newFakeTable(), fraud: newFakeTable(),
		ordersN:  NewNotifier(),
		outcomes: newOrderOutcomes(nil, slog.New(slog.DiscardHandler)),
		mem:      storage.NewMemory(),
		now:      time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	f.run.state = map[string]*ordersv1.Order{}
	return f
}

func (f *fakeSaga) deps() *OrderDeps {
	return &OrderDeps{
		Orders: f.orders, OrdersNotifier: f.ordersN,
		Prices:    f.prices,
		Fraud:     f.fraud,
		SendOrder: f.sendOrder, SendPricing: f.sendPricing,
		Outcomes: f.outcomes,
		PriceAt:  fakePriceAt,
		FraudFeatures: func(e *fraudv1.Entity, _ time.Time) []*fraudv1.Feature {
			var orders int64
			for _, b := range e.GetHours() {
				orders += b.GetOrders()
			}
			return []*fraudv1.Feature{{Name: "user_orders_24h", Value: float64(orders)}, {Name: "user_devices", Value: float64(len(e.GetMembers()))}}
		},
		Now: func() time.Time { return f.now },
	}
}

// fakePriceAt is the latest change's price: the fake runs no campaigns.
func fakePriceAt(sp *pricingv1.SkuPrice, _ time.Time) (*pricingv1.Quote, bool) {
	c := sp.GetCurrent()
	if c == nil {
		return nil, false
	}
	return &pricingv1.Quote{Sku: sp.GetSku(), Found: true, PriceMinor: c.GetPriceMinor(), Currency: c.GetCurrency(),
		Contributions: c.GetContributions()}, true
}

func (f *fakeSaga) sendOrder(_ context.Context, ev *ordersv1.OrderEvent) (int32, int64, error) {
	f.mu.Lock()
	f.mu.sentOrders = append(f.mu.sentOrders, proto.Clone(ev).(*ordersv1.OrderEvent))
	if f.mu.onSend != nil {
		close(f.mu.onSend)
		f.mu.onSend = nil
	}
	if err := f.mu.err; err != nil {
		f.mu.Unlock()
		return 0, 0, err
	}
	offset := f.mu.next
	f.mu.next++
	if f.mu.mode.hold {
		f.mu.held = append(f.mu.held, ev)
		f.mu.Unlock()
		return 0, offset, nil
	}
	f.mu.Unlock()
	f.process(ev)
	return 0, offset, nil
}

// process is the saga taking one event.
func (f *fakeSaga) process(ev *ordersv1.OrderEvent) {
	f.run.Lock()
	defer f.run.Unlock()
	p := ev.GetPlaced()
	if p == nil || f.run.state[ev.GetOrderId()] != nil {
		return
	}
	o, out := decideOrder(ev)
	f.run.state[o.GetOrderId()] = o
	f.mu.Lock()
	mode := f.mu.mode
	f.mu.Unlock()
	if !mode.noTable {
		f.orders.set(o.GetOrderId(), o)
		notifyKey(f.ordersN, f.mem, o.GetOrderId())
	}
	if !mode.noOutcomes {
		f.outcomes.deliver(out)
	}
}

// decideOrder is the whole saga of a new order at once.
func decideOrder(ev *ordersv1.OrderEvent) (*ordersv1.Order, *ordersv1.OrderEvent) {
	p, at := ev.GetPlaced(), ev.GetTimestampMs()
	o := &ordersv1.Order{OrderId: ev.GetOrderId(), PlacedEventId: ev.GetEventId(), Placed: p, PlacedAtMs: at,
		Status: ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED, TerminalAtMs: at + 3,
		Fraud: &fraudv1.Decision{OrderId: ev.GetOrderId(), UserId: p.GetUserId(), Outcome: fraudv1.Outcome_OUTCOME_APPROVE,
			Score: 0.01, ModelVersion: "m-1", TimestampMs: at + 1}}
	o.History = append(o.History, &ordersv1.Step{AtMs: at, Name: "placed", Detail: ev.GetEventId()})
	// The total in exact arithmetic: the saga rejects an order whose total
	// does not fit an int64, and the fake must not share the API's sums.
	exact := new(big.Int)
	for _, l := range p.GetLines() {
		exact.Add(exact, new(big.Int).Mul(big.NewInt(l.GetQty()), big.NewInt(l.GetUnitPriceMinor())))
		o.Lines = append(o.Lines, &ordersv1.LineState{Sku: l.GetSku(), Qty: l.GetQty(), UnitPriceMinor: l.GetUnitPriceMinor(),
			Quoted: true, QuoteFound: true, QuotedPriceMinor: l.GetUnitPriceMinor(), QuotedCurrency: p.GetCurrency(),
			Status: ordersv1.LineStatus_LINE_STATUS_COMMITTED})
	}
	reject := func(reason, detail string) {
		o.Status, o.Reason, o.Detail = ordersv1.OrderStatus_ORDER_STATUS_REJECTED, reason, detail
	}
	switch {
	case !exact.IsInt64():
		// The saga checks the order before anything else looks at it.
		o.Fraud = nil
		for _, l := range o.Lines {
			*l = ordersv1.LineState{Sku: l.GetSku(), Qty: l.GetQty(), UnitPriceMinor: l.GetUnitPriceMinor(),
				Status: ordersv1.LineStatus_LINE_STATUS_PENDING}
		}
		reject("invalid_order", "total overflows")
	case p.GetUserId() == userFraud:
		o.Fraud.Outcome, o.Fraud.Score = fraudv1.Outcome_OUTCOME_REJECT, 0.97
		o.Fraud.Reasons = []*fraudv1.Reason{{Code: "card_users_24h", Detail: "5 users on the card", Contribution: 2.5}}
		reject("fraud_rejected", "score 0.97")
	case p.GetUserId() == userReview:
		o.Fraud.Outcome, o.Fraud.Score, o.Review = fraudv1.Outcome_OUTCOME_REVIEW, 0.6, true
		o.Fraud.Reasons = []*fraudv1.Reason{{Code: "new_device", Detail: "first order from the device"}}
	}
	for _, l := range o.Lines {
		if strings.HasPrefix(l.GetSku(), skuOutOfStock) && o.Status != ordersv1.OrderStatus_ORDER_STATUS_REJECTED {
			l.Status, l.Reason = ordersv1.LineStatus_LINE_STATUS_REFUSED, "insufficient_stock"
			reject("out_of_stock", l.GetSku())
		}
	}
	out := &ordersv1.OrderEvent{EventId: "titan:order:" + o.GetOrderId() + ":outcome", OrderId: o.GetOrderId(), TimestampMs: at + 3}
	if o.Status == ordersv1.OrderStatus_ORDER_STATUS_REJECTED {
		o.History = append(o.History, &ordersv1.Step{AtMs: at + 3, Name: "rejected", Detail: o.Reason})
		out.Kind = &ordersv1.OrderEvent_Rejected{Rejected: &ordersv1.OrderRejected{Reason: o.Reason, Detail: o.Detail}}
		return o, out
	}
	o.History = append(o.History, &ordersv1.Step{AtMs: at + 3, Name: "confirmed"})
	c := &ordersv1.OrderConfirmed{TotalMinor: exact.Int64(), Review: o.Review}
	if o.Review {
		for _, r := range o.Fraud.Reasons {
			c.ReviewReasons = append(c.ReviewReasons, r.GetCode())
		}
	}
	out.Kind = &ordersv1.OrderEvent_Confirmed{Confirmed: c}
	return o, out
}

func (f *fakeSaga) sendPricing(_ context.Context, cmd *pricingv1.Command) (int32, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.sentPricing = append(f.mu.sentPricing, proto.Clone(cmd).(*pricingv1.Command))
	if err := f.mu.err; err != nil {
		return 0, 0, err
	}
	offset := f.mu.next
	f.mu.next++
	sb := cmd.GetSetBase()
	v, _ := f.prices.Get(cmd.GetSku())
	sp, _ := v.(*pricingv1.SkuPrice)
	if sp == nil {
		sp = &pricingv1.SkuPrice{Sku: cmd.GetSku()}
	}
	for _, a := range sp.GetApplied() {
		if a.GetCommandId() == cmd.GetCommandId() {
			return 2, offset, nil
		}
	}
	sp = proto.Clone(sp).(*pricingv1.SkuPrice)
	sp.BaseMinor, sp.Currency = sb.GetPriceMinor(), sb.GetCurrency()
	sp.Applied = append(sp.Applied, &pricingv1.AppliedCommand{CommandId: cmd.GetCommandId(), AppliedAtMs: cmd.GetTimestampMs()})
	sp.Current = &pricingv1.PriceChanged{Sku: sp.GetSku(), Currency: sb.GetCurrency(), BaseMinor: sb.GetPriceMinor(),
		PriceMinor: sb.GetPriceMinor(), Cause: "base_price", TimestampMs: cmd.GetTimestampMs(),
		Version: sp.GetCurrent().GetVersion() + 1, CommandId: cmd.GetCommandId()}
	sp.History = append(sp.History, sp.Current)
	f.prices.set(sp.GetSku(), sp)
	return 2, offset, nil
}

func (f *fakeSaga) setMode(m fakeSagaMode) {
	f.mu.Lock()
	f.mu.mode = m
	f.mu.Unlock()
	if !m.noTable {
		// The replica catches up.
		f.run.Lock()
		defer f.run.Unlock()
		for id, o := range f.run.state {
			f.orders.set(id, o)
			notifyKey(f.ordersN, f.mem, id)
		}
	}
}

// release processes the held events in the current mode.
func (f *fakeSaga) release() {
	f.mu.Lock()
	held := f.mu.held
	f.mu.held = nil
	f.mu.Unlock()
	for _, ev := range held {
		f.process(ev)
	}
}

// nextSend returns a channel closed when the next order event is sent.
func (f *fakeSaga) nextSend() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.onSend = make(chan struct{})
	return f.mu.onSend
}

func (f *fakeSaga) failWith(err error) {
	f.mu.Lock()
	f.mu.err = err
	f.mu.Unlock()
}

func (f *fakeSaga) sentOrders() []*ordersv1.OrderEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*ordersv1.OrderEvent(nil), f.mu.sentOrders...)
}

func (f *fakeSaga) sentPricing() []*pricingv1.Command {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*pricingv1.Command(nil), f.mu.sentPricing...)
}

func (f *fakeSaga) sent() int { return len(f.sentOrders()) + len(f.sentPricing()) }

// waiting counts the waiters registered with OrderOutcomes.
func (f *fakeSaga) waiting() int {
	return f.outcomes.waiters.len()
}

// withOrders rebuilds e's server with the order endpoints over a new
// fakeSaga, keeping the rest of its deps.
func withOrders(t testing.TB, e *testEnv) *fakeSaga {
	t.Helper()
	f := newFakeSaga()
	deps := e.s.deps
	deps.OrderSaga = f.deps()
	o := e.s.opts
	e.reg = prometheus.NewRegistry()
	o.Registerer, o.Gatherer = e.reg, e.reg
	s, err := New(deps, o)
	if err != nil {
		t.Fatal(err)
	}
	e.s = s
	return f
}

// orderEnv is a testEnv whose server also runs the order endpoints.
type orderEnv struct {
	*testEnv
	saga *fakeSaga
}

func newOrderEnv(t testing.TB, opts Options) *orderEnv {
	t.Helper()
	e := newEnv(t, opts)
	return &orderEnv{testEnv: e, saga: withOrders(t, e)}
}

// setReady marks every view and the instance (not) recovered.
func (e *orderEnv) setReady(ready bool) {
	e.extReady.Store(ready)
	for _, t := range []*fakeTable{e.k.stock, e.k.orders, e.saga.orders, e.saga.prices, e.saga.fraud} {
		t.recovered.Store(ready)
	}
}

// orderBody is a place request with one line per sku, qty 1 and unit
// price 100 each.
func orderBody(id, user string, skus ...string) string {
	var lines []string
	for _, s := range skus {
		lines = append(lines, `{"sku":"`+s+`","qty":1,"unit_price":100}`)
	}
	return `{"order_id":"` + id + `","user_id":"` + user + `","device_id":"d-1","payment_id":"c-1","lines":[` + strings.Join(lines, ",") + `]}`
}
