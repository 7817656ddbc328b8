package orderstopo

import (
	"errors"
	"fmt"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/millis"
	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/processors/fraud"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/processors/orders"
	"github.com/titan-commerce/titan/schemas"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
)

// Peers are the streams of the other topologies the saga talks to: it
// sends requests keyed by SKU or device and reads the inventory's
// order-keyed events.
type Peers struct {
	InventoryCommands    goka.Stream
	InventoryOrderEvents goka.Stream
	FraudObservations    goka.Stream
}

// Prices is where the saga quotes an order's lines: the pricing group's
// table, read through a goka Lookup (a view of every partition on each
// instance), and the pricing group's own answer to a check, applied to
// the state found. A decision taken where the state already is takes no
// trip: a line's quote used to cost a command to the pricing group and a
// quote back, two records and two hops per line.
type Prices struct {
	Table goka.Table
	Codec goka.Codec
	// Quote answers a check from a SKU's state (nil: never priced), as
	// topologies/pricingtopo.Quoter does; nil leaves the order waiting, as an
	// unanswered check would.
	Quote func(state any, check *pricingv1.Command) *pricingv1.Quote
}

// OriginStream marks observations the saga sends in their fraud.Origin:
// the saga reads the order events topic, whose offsets are counted apart
// from the fraud group's own inputs.
const OriginStream = fraud.StreamSaga

// saga holds what the callbacks need.
type saga struct {
	names  Names
	peers  Peers
	prices Prices
	policy orders.Policy
	window schemas.TimeWindow
}

func (g *saga) graph(obs observe.Decorator) *goka.GroupGraph {
	n := g.names
	obs.Topology, obs.DeadLetters = string(n.Group), n.DeadLetters
	wrap := obs.Wrap
	return goka.DefineGroup(n.Group,
		goka.Input(n.Events, new(codec.Bytes), wrap(g.onEvent)),
		goka.Input(n.Saga, new(codec.Bytes), wrap(g.onAnswer)),
		goka.Input(g.peers.InventoryOrderEvents, new(codec.Bytes), wrap(g.onInventory)),
		goka.Persist(OrderCodec),
		goka.Output(n.Outcomes, new(codec.Bytes)),
		goka.Output(n.DeadLetters, new(codec.Bytes)),
		goka.Output(g.peers.InventoryCommands, new(codec.Bytes)),
		goka.Lookup(g.prices.Table, g.prices.Codec),
		goka.Output(g.peers.FraudObservations, new(codec.Bytes)),
	)
}

func current(ctx goka.Context) orders.Order {
	if v := ctx.Value(); v != nil {
		return v.(orders.Order)
	}
	return orders.Order{}
}

// onEvent takes the checkout's events: an order placed, cancelled, or a
// failed payment.
func (g *saga) onEvent(ctx goka.Context, msg any) error {
	var w ordersv1.OrderEvent
	if err := proto.Unmarshal(msg.([]byte), &w); err != nil {
		return observe.Reject("decode", err)
	}
	if err := schemas.ValidateOrderEvent(&w); err != nil {
		return observe.Reject(string(schemas.ReasonOf(err)), err)
	}
	if err := schemas.CheckClientOrderEvent(&w); err != nil {
		return observe.Reject(string(schemas.ReasonOf(err)), err)
	}
	if w.GetOrderId() != ctx.Key() {
		return observe.Reject("key_mismatch", fmt.Errorf("key %q, order %q", ctx.Key(), w.GetOrderId()))
	}
	if err := g.window.Check("timestamp_ms", w.GetTimestampMs(), ctx.Timestamp()); err != nil {
		return observe.Reject(string(schemas.ReasonOf(err)), err)
	}
	o := current(ctx)
	at := fraud.Origin{Stream: OriginStream, Partition: ctx.Partition(), Offset: ctx.Offset()}
	switch kind := w.GetKind().(type) {
	case *ordersv1.OrderEvent_Placed:
		if err := requireIdentity(kind.Placed); err != nil {
			return err
		}
		p, _ := orders.PlacedFromWire(&w)
		next, eff, err := orders.Place(o, p, g.policy)
		switch {
		case errors.Is(err, orders.ErrConflict):
			return observe.Reject("order_conflict", err)
		case err != nil:
			return observe.Reject("invalid_order", err)
		}
		return g.apply(ctx, next, eff, at)
	case *ordersv1.OrderEvent_Cancelled:
		reason, when, _ := orders.CancelFromWire(&w)
		next, eff := orders.Cancel(o, reason, when, g.policy)
		return g.apply(ctx, next, eff, at)
	case *ordersv1.OrderEvent_PaymentFailed:
		// A failure before the order exists still counts against the card
		// and the user; apply keeps no state for an order never placed.
		pf, _ := orders.FailedPaymentFromWire(&w)
		next, eff := orders.PaymentFailed(o, pf, g.policy)
		return g.apply(ctx, next, eff, at)
	case *ordersv1.OrderEvent_Paid:
		p, _ := orders.PaymentFromWire(&w)
		next, eff := orders.Paid(o, p, g.policy)
		return g.apply(ctx, next, eff, at)
	default:
		// Confirmed and rejected are the saga's to publish, on Outcomes.
		return observe.Reject("not_a_checkout_event", fmt.Errorf("order event of kind %T on the checkout topic", kind))
	}
}

// requireIdentity: an order the saga cannot score is set aside
// (schemas.CheckPlacedIdentity).
func requireIdentity(p *ordersv1.OrderPlaced) error {
	if err := schemas.CheckPlacedIdentity(p); err != nil {
		return observe.Reject(string(schemas.ReasonOf(err)), err)
	}
	return nil
}

// onAnswer takes fraud decisions and price quotes.
func (g *saga) onAnswer(ctx goka.Context, msg any) error {
	var w ordersv1.SagaMessage
	if err := proto.Unmarshal(msg.([]byte), &w); err != nil {
		return observe.Reject("decode", err)
	}
	if w.GetOrderId() != ctx.Key() {
		return observe.Reject("key_mismatch", fmt.Errorf("key %q, order %q", ctx.Key(), w.GetOrderId()))
	}
	o := current(ctx)
	if o.ID == "" {
		return observe.Reject("unknown_order", fmt.Errorf("answer for order %q, which was never placed", w.GetOrderId()))
	}
	var (
		next orders.Order
		eff  orders.Effects
	)
	switch kind := w.GetKind().(type) {
	case *ordersv1.SagaMessage_Fraud:
		next, eff = orders.OnFraud(o, orders.VerdictFromWire(kind.Fraud), g.policy)
	case *ordersv1.SagaMessage_Quote:
		next, eff = orders.OnQuote(o, orders.QuoteFromWire(kind.Quote), g.policy)
	case *ordersv1.SagaMessage_Timeout:
		next, eff = orders.Timeout(o, kind.Timeout.GetSteps(), millis.Time(w.GetTimestampMs()), g.policy)
	default:
		return observe.Reject("missing_kind", fmt.Errorf("saga message of kind %T", kind))
	}
	return g.apply(ctx, next, eff, fraud.Origin{})
}

// onInventory takes the inventory's results for the order. The topic also
// carries reservations a shop made by hand under order ids the saga never
// saw; those are none of its business and leave no state behind.
func (g *saga) onInventory(ctx goka.Context, msg any) error {
	var w inventoryv1.Event
	if err := proto.Unmarshal(msg.([]byte), &w); err != nil {
		return observe.Reject("decode", err)
	}
	if w.GetOrderId() != ctx.Key() {
		return observe.Reject("key_mismatch", fmt.Errorf("key %q, order %q", ctx.Key(), w.GetOrderId()))
	}
	o := current(ctx)
	if o.ID == "" {
		return nil
	}
	next, eff := orders.OnInventory(o, inventory.EventFromWire(&w), g.policy)
	return g.apply(ctx, next, eff, fraud.Origin{})
}

// apply publishes the effects and then stores the order. Everything is
// encoded first: an encoding failure fails the partition before anything
// is sent, so the input is retried whole.
func (g *saga) apply(ctx goka.Context, next orders.Order, eff orders.Effects, at fraud.Origin) error {
	type out struct {
		topic goka.Stream
		key   string
		value []byte
	}
	next, eff = g.quote(ctx, next, eff)
	var outs []out
	add := func(topic goka.Stream, key string, m proto.Message) error {
		b, err := proto.Marshal(m)
		if err != nil {
			return fmt.Errorf("orders: encode %T: %w", m, err)
		}
		outs = append(outs, out{topic, key, b})
		return nil
	}
	if f := eff.Fraud; f != nil {
		obs := observation(f, at)
		if err := add(g.peers.FraudObservations, obs.Key, fraud.ObservationToWire(obs)); err != nil {
			return err
		}
	}
	for _, c := range eff.Inventory {
		if err := add(g.peers.InventoryCommands, c.SKU, inventory.CommandToWire(c)); err != nil {
			return err
		}
	}
	if oc := eff.Outcome; oc != nil {
		if err := add(g.names.Outcomes, next.ID, orders.OutcomeToWire(next.ID, orders.OutcomeEventID(next.ID), *oc)); err != nil {
			return err
		}
	}
	for _, o := range outs {
		ctx.Emit(o.topic, o.key, o.value)
	}
	if next.ID != "" {
		ctx.SetValue(next)
	}
	return nil
}

// quote answers the price checks in eff from the pricing table and feeds
// each quote to the order, as its answer on the saga topic would have been;
// what the quotes set off (the reservations, or a rejection) joins eff.
func (g *saga) quote(ctx goka.Context, o orders.Order, eff orders.Effects) (orders.Order, orders.Effects) {
	for len(eff.PriceChecks) > 0 {
		checks := eff.PriceChecks
		eff.PriceChecks = nil
		for _, c := range checks {
			q := g.prices.Quote(ctx.Lookup(g.prices.Table, c.SKU), orders.PriceCheckToWire(c))
			if q == nil {
				continue
			}
			var more orders.Effects
			o, more = orders.OnQuote(o, orders.QuoteFromWire(q), g.policy)
			eff = eff.Join(more)
		}
	}
	return o, eff
}

func observation(f *orders.FraudRequest, at fraud.Origin) fraud.Observation {
	kind := fraud.KindOrder
	if f.Kind == orders.FraudKindPaymentFailed {
		kind = fraud.KindPaymentFailed
	}
	return fraud.NewObservation(kind, f.OrderID, f.UserID, f.DeviceID, f.PaymentID, f.Currency, f.Amount, f.Time, at)
}
