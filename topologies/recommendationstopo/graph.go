package recommendationstopo

import (
	"fmt"
	"strings"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/millis"
	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/processors/recommendations"
	"github.com/titan-commerce/titan/schemas"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
)

type groups struct {
	names Names
	// keys reaches the item table's keys beside the record's own.
	keys     *gokaopts.Keys
	outcomes goka.Stream
	policy   recommendations.Policy
	window   schemas.TimeWindow
}

func (g *groups) graphs(obs observe.Decorator) (users, orders, items *goka.GroupGraph) {
	n := g.names
	wrap := func(group goka.Group, fn observe.Callback) goka.ProcessCallback {
		d := obs
		d.Topology, d.DeadLetters = string(group), n.DeadLetters
		return d.Wrap(fn)
	}
	users = goka.DefineGroup(n.UsersGroup,
		goka.Input(n.Views, new(codec.Bytes), wrap(n.UsersGroup, g.onView)),
		goka.Input(n.Purchases, new(codec.Bytes), wrap(n.UsersGroup, g.onPurchase)),
		goka.Persist(UserCodec),
		goka.Output(n.Pairs, new(codec.Bytes)),
		goka.Output(n.DeadLetters, new(codec.Bytes)),
	)
	orders = goka.DefineGroup(n.OrdersGroup,
		goka.Input(g.outcomes, new(codec.Bytes), wrap(n.OrdersGroup, g.onOutcome)),
		goka.Persist(BasketCodec),
		goka.Output(n.Pairs, new(codec.Bytes)),
		goka.Output(n.Purchases, new(codec.Bytes)),
		goka.Output(n.DeadLetters, new(codec.Bytes)),
	)
	items = goka.DefineGroup(n.ItemsGroup,
		goka.Input(n.Pairs, new(codec.Bytes), wrap(n.ItemsGroup, g.onPair)),
		goka.Persist(ItemCodec),
		goka.Output(n.DeadLetters, new(codec.Bytes)),
	)
	return users, orders, items
}

// onView records a view in the user's history and sends the pairs it
// makes with the session's other items to the items.
func (g *groups) onView(ctx goka.Context, msg any) error {
	var w recommendationsv1.ViewEvent
	if err := proto.Unmarshal(msg.([]byte), &w); err != nil {
		return observe.Reject("decode", err)
	}
	if err := schemas.ValidateViewEvent(&w); err != nil {
		return observe.Reject(string(schemas.ReasonOf(err)), err)
	}
	if w.GetUserId() != ctx.Key() {
		return observe.Reject("key_mismatch", fmt.Errorf("key %q, user %q", ctx.Key(), w.GetUserId()))
	}
	if err := g.window.Check("timestamp_ms", w.GetTimestampMs(), ctx.Timestamp()); err != nil {
		return observe.Reject(string(schemas.ReasonOf(err)), err)
	}
	h := recommendations.UserHistory{UserID: ctx.Key()}
	if v := ctx.Value(); v != nil {
		h = v.(recommendations.UserHistory)
	}
	view := recommendations.ViewFromWire(&w)
	if recommendations.ViewConflicts(h, view) {
		return observe.Reject("command_id_conflict", fmt.Errorf("event id %q names another view", view.EventID))
	}
	next, pairs := recommendations.View(h, view, g.policy)
	if err := g.emitPairs(ctx, pairs, recommendations.StreamViews); err != nil {
		return err
	}
	ctx.SetValue(next)
	return nil
}

// onPurchase records an item the user bought, so it is not recommended
// back to them.
func (g *groups) onPurchase(ctx goka.Context, msg any) error {
	var w recommendationsv1.Seen
	if err := proto.Unmarshal(msg.([]byte), &w); err != nil {
		return observe.Reject("decode", err)
	}
	if w.GetSku() == "" {
		return observe.Reject("missing_sku", fmt.Errorf("purchase without a sku"))
	}
	h := recommendations.UserHistory{UserID: ctx.Key()}
	if v := ctx.Value(); v != nil {
		h = v.(recommendations.UserHistory)
	}
	ctx.SetValue(recommendations.UserBought(h, w.GetSku(), millis.Time(w.GetAtMs()), g.policy))
	return nil
}

// onOutcome turns a confirmed order into co-purchase pairs and tells the
// buyer's history what was bought. Rejected orders bought nothing.
func (g *groups) onOutcome(ctx goka.Context, msg any) error {
	var w ordersv1.OrderEvent
	if err := proto.Unmarshal(msg.([]byte), &w); err != nil {
		return observe.Reject("decode", err)
	}
	c := w.GetConfirmed()
	if c == nil {
		return nil
	}
	if w.GetOrderId() != ctx.Key() {
		return observe.Reject("key_mismatch", fmt.Errorf("key %q, order %q", ctx.Key(), w.GetOrderId()))
	}
	b := recommendations.Basket{OrderID: ctx.Key(), UserID: c.GetUserId()}
	if v := ctx.Value(); v != nil {
		b = v.(recommendations.Basket)
	}
	at := millis.Time(w.GetTimestampMs())
	var (
		pairs  []recommendations.Pair
		bought []string
	)
	for _, l := range c.GetLines() {
		before := len(b.SKUs)
		var ps []recommendations.Pair
		b, ps = recommendations.Bought(b, l.GetSku(), c.GetUserId(), at, g.policy)
		pairs = append(pairs, ps...)
		if len(b.SKUs) > before {
			bought = append(bought, l.GetSku())
		}
	}
	if err := g.emitPairs(ctx, pairs, recommendations.StreamOrders); err != nil {
		return err
	}
	if user := c.GetUserId(); user != "" {
		for _, sku := range bought {
			m, err := proto.Marshal(&recommendationsv1.Seen{Sku: sku, AtMs: millis.Of(at), Signal: recommendationsv1.Signal_SIGNAL_PURCHASE})
			if err != nil {
				return fmt.Errorf("recommendations: encode purchase: %w", err)
			}
			ctx.Emit(g.names.Purchases, user, m)
		}
	}
	ctx.SetValue(b)
	return nil
}

// emitPairs sends pairs keyed by item, each marked with where it came
// from, so an item counts a pair sent again after a crash once. An item's
// pairs go in one record (recommendations.PairRecords), which it counts in
// one step.
func (g *groups) emitPairs(ctx goka.Context, pairs []recommendations.Pair, stream int32) error {
	pairs = recommendations.Stamp(pairs, recommendations.Origin{Stream: stream, Partition: ctx.Partition(), Offset: ctx.Offset()})
	records := recommendations.PairRecords(pairs)
	encoded := make([][]byte, len(records))
	for i, r := range records {
		b, err := proto.Marshal(r)
		if err != nil {
			return fmt.Errorf("recommendations: encode pair: %w", err)
		}
		encoded[i] = b
	}
	for i, r := range records {
		ctx.Emit(g.names.Pairs, r.GetItem(), encoded[i])
	}
	return nil
}

// onPair counts a record's pairs at their item, in order (countPairs):
// it writes the item's head, naming the writes under the neighbors' keys,
// and then sends those to the changelog (store.go).
func (g *groups) onPair(ctx goka.Context, msg any) error {
	var w recommendationsv1.Pair
	if err := proto.Unmarshal(msg.([]byte), &w); err != nil {
		return observe.Reject("decode", err)
	}
	pairs, err := recommendations.PairsFromRecord(&w)
	if err != nil {
		return observe.Reject("invalid_pair", err)
	}
	if w.GetItem() != ctx.Key() || strings.IndexByte(ctx.Key(), 0) >= 0 {
		return observe.Reject("invalid_pair", fmt.Errorf("key %q, item %q", ctx.Key(), w.GetItem()))
	}
	for _, p := range pairs {
		if p.Other == "" || p.Other == p.Item {
			return observe.Reject("invalid_pair", fmt.Errorf("key %q, pair %q-%q", ctx.Key(), p.Item, p.Other))
		}
	}
	part, err := g.keys.Partition(ctx.Partition())
	if err != nil {
		return err
	}
	v := stored{head: recommendations.ItemHead{SKU: ctx.Key()}}
	if x := ctx.Value(); x != nil {
		v = x.(stored)
	}
	for _, r := range v.first(ctx.Key(), g.keys.Writer(), g.policy) {
		if err := part.Set(r.key, r.value); err != nil {
			return err
		}
	}
	next, ok, err := countPairs(v, part.Storage, pairs, g.policy, g.keys.Writer())
	if err != nil || !ok {
		// An error is the storage's, not the pairs': failing the
		// partition reads them again, from a state rebuilt from the
		// changelog.
		return err
	}
	ctx.SetValue(next)
	for _, r := range next.redo {
		part.Log(r.key, r.value)
	}
	return nil
}
