package fraudtopo

import (
	"fmt"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/processors/fraud"
	fraudv1 "github.com/titan-commerce/titan/schemas/fraud/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

// Origin streams of the group's two inputs: an entity keeps the highest
// origin per stream and partition, so the two offset spaces stay apart.
const (
	originObservations = fraud.StreamObservations
	originLoop         = fraud.StreamLoop
)

type group struct {
	names  Names
	saga   goka.Stream
	model  *ModelFile
	policy fraud.Policy
}

func (g *group) graph(obs observe.Decorator) *goka.GroupGraph {
	n := g.names
	obs.Topology, obs.DeadLetters = string(n.Group), n.DeadLetters
	wrap := func(stream int32) goka.ProcessCallback {
		return obs.Wrap(func(ctx goka.Context, msg any) error {
			return g.step(ctx, msg, stream)
		})
	}
	return goka.DefineGroup(n.Group,
		goka.Input(n.Observations, new(codec.Bytes), wrap(originObservations)),
		goka.Loop(new(codec.Bytes), wrap(originLoop)),
		goka.Persist(EntityCodec),
		goka.Output(g.saga, new(codec.Bytes)),
		goka.Output(n.DeadLetters, new(codec.Bytes)),
	)
}

// step counts an observation at its key, then sends it on to the next key
// or, at the user, sends the decision to the order.
func (g *group) step(ctx goka.Context, msg any, stream int32) error {
	var w fraudv1.Observation
	if err := proto.Unmarshal(msg.([]byte), &w); err != nil {
		return observe.Reject("decode", err)
	}
	o := fraud.ObservationFromWire(&w)
	if o.Key != ctx.Key() {
		return observe.Reject("key_mismatch", fmt.Errorf("key %q, observation for %q", ctx.Key(), o.Key))
	}
	e := fraud.NewEntity(ctx.Key())
	if v := ctx.Value(); v != nil {
		e = v.(fraud.Entity)
	}
	at := fraud.Origin{Stream: stream, Partition: ctx.Partition(), Offset: ctx.Offset()}
	next, res := fraud.Step(e, o, at, g.model.Model(), g.policy)
	if res.Err != nil {
		return observe.Reject("invalid_observation", res.Err)
	}
	// A duplicate is still passed on: it may be this very record again
	// after a crash that lost what it sent the first time.
	var forward, decision []byte
	var err error
	if res.Forward != nil {
		if forward, err = proto.Marshal(fraud.ObservationToWire(*res.Forward)); err != nil {
			return fmt.Errorf("fraud: encode observation: %w", err)
		}
	}
	if d := res.Decision; d != nil {
		m := &ordersv1.SagaMessage{OrderId: d.OrderID, TimestampMs: d.Time.UnixMilli(),
			Kind: &ordersv1.SagaMessage_Fraud{Fraud: fraud.DecisionToWire(*d)}}
		if decision, err = proto.Marshal(m); err != nil {
			return fmt.Errorf("fraud: encode decision: %w", err)
		}
	}
	if forward != nil {
		ctx.Loopback(res.Forward.Key, forward)
	}
	if decision != nil {
		ctx.Emit(g.saga, res.Decision.OrderID, decision)
	}
	if !res.Duplicate {
		ctx.SetValue(next)
	}
	return nil
}
