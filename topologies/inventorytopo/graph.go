package inventorytopo

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// graph holds what the callbacks need.
type graph struct {
	names   Names
	policy  inventory.Policy
	window  schemas.TimeWindow
	replies []Reply
	// keys reaches the keys of a SKU's memory in the table (store.go).
	keys *gokaopts.Keys
}

// graphs builds the two groups. Commands are read as raw bytes and decoded
// inside the callback: a codec error would stop goka's partition, while a
// callback error is one dead letter.
func (g *graph) graphs(obs observe.Decorator) (stock, orders *goka.GroupGraph) {
	n := g.names
	stockObs, ordersObs := obs, obs
	stockObs.Topology, stockObs.DeadLetters = string(n.Group), n.DeadLetters
	ordersObs.Topology, ordersObs.DeadLetters = string(n.OrdersGroup), n.DeadLetters
	edges := []goka.Edge{
		goka.Input(n.Commands, new(codec.Bytes), stockObs.Wrap(g.decider(false))),
		goka.Input(n.Internal, new(codec.Bytes), stockObs.Wrap(g.decider(true))),
		goka.Persist(StateCodec),
		// Events are encoded once in the callback and written as bytes
		// to every stream.
		goka.Output(n.Events, new(codec.Bytes)),
		goka.Output(n.OrderEvents, new(codec.Bytes)),
		goka.Output(n.DeadLetters, new(codec.Bytes)),
	}
	for _, r := range g.replies {
		edges = append(edges, goka.Output(r.Stream, new(codec.Bytes)))
	}
	stock = goka.DefineGroup(n.Group, edges...)
	orders = goka.DefineGroup(n.OrdersGroup,
		goka.Input(n.OrderEvents, new(codec.Bytes), ordersObs.Wrap(indexer)),
		goka.Persist(IndexCodec),
		goka.Output(n.DeadLetters, new(codec.Bytes)),
	)
	return stock, orders
}

// decider adapts inventory.Decide to goka: decode, validate, decide, write
// the state, publish the events. internal says which topic it reads: a
// client's command must stay out of Titan's namespace and be stamped close
// to the time Kafka received it; Titan's own must be in its namespace.
func (g *graph) decider(internal bool) observe.Callback {
	n := g.names
	return func(ctx goka.Context, msg any) error {
		var w inventoryv1.Command
		if err := proto.Unmarshal(msg.([]byte), &w); err != nil {
			return observe.Reject("decode", err)
		}
		if err := schemas.ValidateCommand(&w); err != nil {
			return observe.Reject(string(schemas.ReasonOf(err)), err)
		}
		check := schemas.CheckClientCommand
		if internal {
			check = schemas.CheckInternalCommand
		}
		if err := check(&w); err != nil {
			return observe.Reject(string(schemas.ReasonOf(err)), err)
		}
		if w.GetSku() != ctx.Key() {
			// A record keyed otherwise may sit in another SKU's partition:
			// applying it here could split one SKU's stock over two owners.
			return observe.Reject("key_mismatch", fmt.Errorf("key %q, sku %q", ctx.Key(), w.GetSku()))
		}
		if !internal {
			if err := g.window.Check("timestamp_ms", w.GetTimestampMs(), ctx.Timestamp()); err != nil {
				return observe.Reject(string(schemas.ReasonOf(err)), err)
			}
		}
		part, err := g.keys.Partition(ctx.Partition())
		if err != nil {
			return err
		}
		v := newStored()
		if x := ctx.Value(); x != nil {
			v = x.(stored)
		}
		cmd := inventory.CommandFromWire(&w, ctx.Partition(), ctx.Offset())
		cmd.Internal = internal
		o, err := step(v, part.Storage, ctx.Key(), cmd, g.policy, g.keys.Writer())
		if errors.Is(err, errInvariant) {
			return observe.Reject("invariant", err)
		}
		if err != nil {
			// Not the command's fault: failing the partition reads it again.
			return err
		}
		events := o.events
		encoded := make([][]byte, len(events))
		for i, e := range events {
			b, err := proto.Marshal(inventory.EventToWire(e))
			if err != nil {
				// Nothing is written yet: failing the partition retries the
				// command rather than applying it without its events.
				return fmt.Errorf("inventory: encode event: %w", err)
			}
			encoded[i] = b
		}
		for _, r := range o.redo {
			if err := part.Set(r.key, r.value); err != nil {
				return err
			}
		}
		// The head first, naming the writes that follow it (store.go).
		ctx.SetValue(o.next)
		for _, r := range o.next.redo {
			if err := part.Set(r.key, r.value); err != nil {
				return err
			}
		}
		for i, e := range events {
			ctx.Emit(n.Events, e.SKU, encoded[i])
			if e.OrderID == "" {
				continue
			}
			ctx.Emit(n.OrderEvents, e.OrderID, encoded[i])
			for _, r := range g.replies {
				if strings.HasPrefix(e.OrderID, r.Prefix) {
					ctx.Emit(r.Stream, r.Key(e.OrderID), encoded[i])
				}
			}
		}
		return nil
	}
}

// indexer folds reservation events into the order index.
func indexer(ctx goka.Context, msg any) error {
	var w inventoryv1.Event
	if err := proto.Unmarshal(msg.([]byte), &w); err != nil {
		return observe.Reject("decode", err)
	}
	if w.GetOrderId() != ctx.Key() {
		return observe.Reject("key_mismatch", fmt.Errorf("key %q, order %q", ctx.Key(), w.GetOrderId()))
	}
	var x inventory.OrderIndex
	if v := ctx.Value(); v != nil {
		x = v.(inventory.OrderIndex)
	}
	if next, changed := inventory.IndexEvent(x, inventory.EventFromWire(&w)); changed {
		ctx.SetValue(next)
	}
	return nil
}
