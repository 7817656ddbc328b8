package pricingtopo

import (
	"fmt"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/processors/pricing"
	"github.com/titan-commerce/titan/schemas"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
)

// Peers are the streams of other topologies the group reads or writes.
type Peers struct {
	// InventoryEvents are the inventory's results, keyed by SKU: demand.
	InventoryEvents goka.Stream
	// Saga receives the quotes, keyed by order id.
	Saga goka.Stream
}

type group struct {
	names  Names
	peers  Peers
	policy pricing.Policy
	window schemas.TimeWindow
}

func (g *group) graph(obs observe.Decorator) *goka.GroupGraph {
	n := g.names
	obs.Topology, obs.DeadLetters = string(n.Group), n.DeadLetters
	wrap := obs.Wrap
	return goka.DefineGroup(n.Group,
		goka.Input(n.Commands, new(codec.Bytes), wrap(g.onCommand(false))),
		goka.Input(n.Internal, new(codec.Bytes), wrap(g.onCommand(true))),
		goka.Input(g.peers.InventoryEvents, new(codec.Bytes), wrap(g.onInventory)),
		goka.Persist(StateCodec),
		goka.Output(n.Events, new(codec.Bytes)),
		goka.Output(n.DeadLetters, new(codec.Bytes)),
		goka.Output(g.peers.Saga, new(codec.Bytes)),
	)
}

func current(ctx goka.Context) (pricing.State, bool) {
	if v := ctx.Value(); v != nil {
		return v.(pricing.State), true
	}
	return pricing.NewState(), false
}

// onCommand takes the commands of one topic: internal says which. A
// client's command must stay out of Titan's namespace and kinds and be
// stamped close to the time Kafka received it; Titan's own must be in its
// namespace.
func (g *group) onCommand(internal bool) observe.Callback {
	return func(ctx goka.Context, msg any) error {
		var w pricingv1.Command
		if err := proto.Unmarshal(msg.([]byte), &w); err != nil {
			return observe.Reject("decode", err)
		}
		if err := schemas.ValidatePricingCommand(&w); err != nil {
			return observe.Reject(string(schemas.ReasonOf(err)), err)
		}
		check := schemas.CheckClientPricingCommand
		if internal {
			check = schemas.CheckInternalPricingCommand
		}
		if err := check(&w); err != nil {
			return observe.Reject(string(schemas.ReasonOf(err)), err)
		}
		if w.GetSku() != ctx.Key() {
			return observe.Reject("key_mismatch", fmt.Errorf("key %q, sku %q", ctx.Key(), w.GetSku()))
		}
		if !internal {
			if err := g.window.Check("timestamp_ms", w.GetTimestampMs(), ctx.Timestamp()); err != nil {
				return observe.Reject(string(schemas.ReasonOf(err)), err)
			}
		}
		return g.apply(ctx, pricing.CommandFromWire(&w))
	}
}

func (g *group) apply(ctx goka.Context, cmd pricing.Command) error {
	s, known := current(ctx)
	if pricing.Conflicts(s, cmd, g.policy) {
		return observe.Reject(pricing.ReasonCommandIDConflict,
			fmt.Errorf("command id %q names another command", cmd.ID))
	}
	next, changes, quote := pricing.Apply(s, cmd, g.policy)
	var reply []byte
	if quote != nil {
		b, err := proto.Marshal(&ordersv1.SagaMessage{OrderId: quote.OrderID, TimestampMs: quote.Time.UnixMilli(),
			Kind: &ordersv1.SagaMessage_Quote{Quote: pricing.QuoteToWire(*quote)}})
		if err != nil {
			return fmt.Errorf("pricing: encode quote: %w", err)
		}
		reply = b
	}
	if err := g.publish(ctx, changes); err != nil {
		return err
	}
	if reply != nil {
		ctx.Emit(g.peers.Saga, quote.OrderID, reply)
	}
	// A check or a tick for a SKU never priced must not create a table
	// entry: neither says anything about the SKU.
	if known || len(changes) > 0 || (quote == nil && cmd.Kind != pricing.KindTick) {
		ctx.SetValue(next)
	}
	return nil
}

// onInventory feeds demand. Events of SKUs never priced are counted too, so
// a price set later starts from the real demand.
func (g *group) onInventory(ctx goka.Context, msg any) error {
	var w inventoryv1.Event
	if err := proto.Unmarshal(msg.([]byte), &w); err != nil {
		return observe.Reject("decode", err)
	}
	if w.GetSku() != ctx.Key() {
		return observe.Reject("key_mismatch", fmt.Errorf("key %q, sku %q", ctx.Key(), w.GetSku()))
	}
	sig, ok := pricing.SignalFromInventory(&w)
	if !ok {
		return nil
	}
	s, _ := current(ctx)
	next, changes := pricing.Observe(s, sig, g.policy)
	if err := g.publish(ctx, changes); err != nil {
		return err
	}
	ctx.SetValue(next)
	return nil
}

func (g *group) publish(ctx goka.Context, changes []pricing.PriceChanged) error {
	encoded := make([][]byte, len(changes))
	for i, c := range changes {
		b, err := proto.Marshal(pricing.PriceChangedToWire(c))
		if err != nil {
			return fmt.Errorf("pricing: encode price change: %w", err)
		}
		encoded[i] = b
	}
	for i, c := range changes {
		ctx.Emit(g.names.Events, c.SKU, encoded[i])
	}
	return nil
}
