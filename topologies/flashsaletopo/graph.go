package flashsaletopo

import (
	"fmt"
	"log/slog"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// Origin streams: each input of the group counts its own offsets, so the
// origins of messages sent while processing them are kept apart (see
// flashsale.Origin).
const (
	streamCommands int32 = iota
	streamLoop
	streamInternal
	streamAllocations
)

// group holds what the flash-sale group's callbacks need.
type group struct {
	names Names
	// inventory is the inventory topology's internal commands topic: a
	// sale's allocation, its release and its settlement are Titan's
	// commands, in Titan's namespace.
	inventory goka.Stream
	router    *flashsale.Keys
	policy    flashsale.Policy
	window    schemas.TimeWindow
	log       *slog.Logger
}

// graphs builds the two groups. Every input is read as raw bytes and
// decoded inside the callback: a codec error would stop goka's partition,
// while a callback error is one dead letter.
func (g *group) graphs(obs observe.Decorator) (sale, purchases *goka.GroupGraph) {
	n := g.names
	saleObs, purchasesObs := obs, obs
	saleObs.Topology, saleObs.DeadLetters = string(n.Group), n.DeadLetters
	purchasesObs.Topology, purchasesObs.DeadLetters = string(n.PurchasesGroup), n.DeadLetters
	sale = goka.DefineGroup(n.Group,
		goka.Input(n.Commands, new(codec.Bytes), saleObs.Wrap(g.onPurchase)),
		goka.Input(n.Internal, new(codec.Bytes), saleObs.Wrap(g.onInternal)),
		goka.Input(n.Allocations, new(codec.Bytes), saleObs.Wrap(g.onAllocation)),
		goka.Loop(new(codec.Bytes), saleObs.Wrap(g.onLoop)),
		goka.Persist(StateCodec),
		goka.Output(n.Events, new(codec.Bytes)),
		goka.Output(g.inventory, new(codec.Bytes)),
		goka.Output(n.DeadLetters, new(codec.Bytes)),
	)
	purchases = goka.DefineGroup(n.PurchasesGroup,
		goka.Input(n.Events, new(codec.Bytes), purchasesObs.Wrap(indexer)),
		goka.Persist(ResultCodec),
		goka.Output(n.DeadLetters, new(codec.Bytes)),
	)
	return sale, purchases
}

// onLoop takes the keys' messages to each other.
func (g *group) onLoop(ctx goka.Context, msg any) error {
	m, err := decodeMessage(ctx, msg)
	if err != nil {
		return err
	}
	m.Internal = true
	return g.decide(ctx, m, streamLoop)
}

// onAllocation takes the inventory's events about a sale's allocation,
// which the inventory's group routes here by order id (AllocationKey).
func (g *group) onAllocation(ctx goka.Context, msg any) error {
	var w inventoryv1.Event
	if err := proto.Unmarshal(msg.([]byte), &w); err != nil {
		return observe.Reject("decode", err)
	}
	e := inventory.EventFromWire(&w)
	if saleID, ok := flashsale.SaleOfAllocation(e.OrderID); !ok || flashsale.SaleKey(saleID) != ctx.Key() {
		return observe.Reject("key_mismatch", fmt.Errorf("key %q, allocation event of order %q", ctx.Key(), e.OrderID))
	}
	st, _ := current(ctx)
	if st.Sale == nil {
		// A reservation under the namespace of a sale never created
		// here: nothing of this group's, and nothing to keep.
		return nil
	}
	prev := *st.Sale
	next, out := flashsale.OnInventory(prev, e, g.router)
	if err := g.emit(ctx, out, streamAllocations); err != nil {
		return err
	}
	ctx.SetValue(flashsale.State{Sale: &next})
	g.logPhase(ctx, prev, next)
	return nil
}

// decide applies m to its key and publishes what the decision sends.
func (g *group) decide(ctx goka.Context, m flashsale.Message, stream int32) error {
	st, found := current(ctx)
	var (
		out     flashsale.Output
		logSale func()
	)
	switch flashsale.KeyKind(m.Key) {
	case 's':
		prev := deref(st.Sale)
		next, o := flashsale.DecideSale(prev, m, g.router, g.policy)
		if o.Refused != "" {
			return observe.Reject(o.Refused, fmt.Errorf("flashsale: sale %s: %s of another definition under a used id", m.SaleID, m.Kind))
		}
		if !found && next.Phase == flashsale.PhaseNone {
			// Nothing was created: no state for a key that names nothing.
			return nil
		}
		out, st = o, flashsale.State{Sale: &next}
		logSale = func() { g.logPhase(ctx, prev, next) }
	case 'b':
		s, o := flashsale.DecideBucket(deref(st.Bucket), m, g.router)
		st, out = flashsale.State{Bucket: &s}, o
	case 'u':
		s, o := flashsale.DecideUser(deref(st.User), m, g.router)
		st, out = flashsale.State{User: &s}, o
	default:
		return observe.Reject("invalid", fmt.Errorf("key %q names no sale, bucket or user", m.Key))
	}
	if err := g.emit(ctx, out, stream); err != nil {
		return err
	}
	ctx.SetValue(st)
	if logSale != nil {
		logSale()
	}
	return nil
}

// emit hands what a decision sends to the producer: messages to other keys
// through the loop, stamped with their origin; results; and commands for
// the inventory's internal topic, keyed by SKU. It runs before the state
// write (see the package comment), and encodes everything before it emits
// anything, so an encoding failure fails the record before any of it is
// out.
func (g *group) emit(ctx goka.Context, out flashsale.Output, stream int32) error {
	type record struct {
		loop  bool
		topic goka.Stream
		key   string
		value []byte
	}
	var recs []record
	add := func(loop bool, topic goka.Stream, key string, m proto.Message) error {
		b, err := proto.Marshal(m)
		if err != nil {
			return fmt.Errorf("flashsale: encode %T: %w", m, err)
		}
		recs = append(recs, record{loop: loop, topic: topic, key: key, value: b})
		return nil
	}
	for seq, o := range out.Messages {
		o.Internal = true
		o.Origin = flashsale.Origin{Stream: stream, Partition: ctx.Partition(), Offset: ctx.Offset(), Seq: int32(seq)}
		if err := add(true, "", o.Key, flashsale.MessageToWire(o)); err != nil {
			return err
		}
	}
	for _, res := range out.Results {
		if err := add(false, g.names.Events, flashsale.PurchaseKey(res.SaleID, res.IdempotencyKey), flashsale.ResultToWire(res)); err != nil {
			return err
		}
	}
	for _, c := range out.Inventory {
		if err := add(false, g.inventory, c.SKU, inventory.CommandToWire(c)); err != nil {
			return err
		}
	}
	for _, r := range recs {
		if r.loop {
			ctx.Loopback(r.key, r.value)
		} else {
			ctx.Emit(r.topic, r.key, r.value)
		}
	}
	return nil
}

// logPhase says when a sale moves. A settlement that failed is an error an
// operator must act on: the units the sale sold did not leave the SKU's
// stock, so the shop may sell them again.
func (g *group) logPhase(ctx goka.Context, prev, next flashsale.SaleState) {
	if prev.Phase == next.Phase {
		return
	}
	s := next.Sale
	attrs := []any{"sale", s.ID, "sku", s.SKU, "units", s.Units, "phase", next.Phase.String(),
		"partition", ctx.Partition(), "offset", ctx.Offset()}
	switch next.Phase {
	case flashsale.PhaseFailed:
		g.log.Warn("flash-sale creation failed", append(attrs, "reason", next.Reason)...)
	case flashsale.PhaseSettlementFailed:
		g.log.Error("flash-sale settlement failed: the sale's allocation is gone, so what it sold did not leave the SKU's stock",
			append(attrs, "reason", next.Reason, "sold", next.Sold(), "buckets_reported", len(next.Reports))...)
	case flashsale.PhaseSettled:
		g.log.Info("flash-sale settled", append(attrs, "sold", next.Sold())...)
	default:
		g.log.Debug("flash-sale phase", attrs...)
	}
}

// current is the key's state, and whether it has one.
func current(ctx goka.Context) (flashsale.State, bool) {
	if v := ctx.Value(); v != nil {
		return v.(flashsale.State), true
	}
	return flashsale.State{}, false
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// decodeMessage decodes a flash-sale message and checks that it travels
// under the key it names.
func decodeMessage(ctx goka.Context, msg any) (flashsale.Message, error) {
	var w flashsalev1.Message
	if err := proto.Unmarshal(msg.([]byte), &w); err != nil {
		return flashsale.Message{}, observe.Reject("decode", err)
	}
	m := flashsale.MessageFromWire(&w)
	if m.Key != ctx.Key() {
		return flashsale.Message{}, observe.Reject("key_mismatch", fmt.Errorf("key %q, message for %q", ctx.Key(), m.Key))
	}
	return m, nil
}

// indexer keeps the first result of each attempt; later copies are the
// same result republished. An answer to another attempt under a used key
// (idempotency_key_conflict) is that attempt's, not the key's: it is not
// kept.
func indexer(ctx goka.Context, msg any) error {
	var w flashsalev1.Result
	if err := proto.Unmarshal(msg.([]byte), &w); err != nil {
		return observe.Reject("decode", err)
	}
	if flashsale.PurchaseKey(w.GetSaleId(), w.GetIdempotencyKey()) != ctx.Key() {
		return observe.Reject("key_mismatch", fmt.Errorf("key %q, result for %s/%s", ctx.Key(), w.GetSaleId(), w.GetIdempotencyKey()))
	}
	if w.GetReason() == flashsale.ReasonIdempotencyConflict {
		return nil
	}
	if ctx.Value() == nil {
		ctx.SetValue(flashsale.ResultFromWire(&w))
	}
	return nil
}
