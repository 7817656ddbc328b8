package fraud_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/ordergen"
	"github.com/titan-commerce/titan/processors/fraud"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

// deployModel parses the model titan runs by default.
func deployModel(t testing.TB) *fraud.Model {
	t.Helper()
	m, err := fraud.ParseModel(fraud.DefaultModelJSON)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// observe is what the saga sends for an order event.
func observe(ev *ordersv1.OrderEvent, origin fraud.Origin) (fraud.Observation, bool) {
	t := eventTime(ev)
	switch {
	case ev.GetPlaced() != nil:
		p := ev.GetPlaced()
		return fraud.NewObservation(fraud.KindOrder, ev.GetOrderId(), p.GetUserId(), p.GetDeviceId(), p.GetPaymentId(),
			p.GetCurrency(), ordergen.Total(ev), t, origin), true
	case ev.GetPaymentFailed() != nil:
		p := ev.GetPaymentFailed()
		return fraud.NewObservation(fraud.KindPaymentFailed, ev.GetOrderId(), p.GetUserId(), p.GetDeviceId(), p.GetPaymentId(),
			"", p.GetAmountMinor(), t, origin), true
	}
	return fraud.Observation{}, false
}

// chain runs observations through the stages in memory, as the topology
// does, with every stage reading its own stream in order.
type chain struct {
	model    *fraud.Model
	policy   fraud.Policy
	entities map[string]fraud.Entity
	offsets  map[int32]int64
}

func newChain(m *fraud.Model) *chain {
	return &chain{model: m, policy: fraud.DefaultPolicy(), entities: map[string]fraud.Entity{}, offsets: map[int32]int64{}}
}

func (c *chain) run(t testing.TB, o fraud.Observation) *fraud.Decision {
	t.Helper()
	for hops := 0; hops < 3; hops++ {
		stream := fraud.StreamLoop
		if o.Stage == fraud.StageDevice {
			stream = fraud.StreamObservations
		}
		at := fraud.Origin{Stream: stream, Offset: c.offsets[stream]}
		c.offsets[stream]++
		e, ok := c.entities[o.Key]
		if !ok {
			e = fraud.NewEntity(o.Key)
		}
		e, res := fraud.Step(e, o, at, c.model, c.policy)
		if res.Err != nil {
			t.Fatalf("step %s: %v", o.Key, res.Err)
		}
		c.entities[o.Key] = e
		if res.Forward == nil {
			return res.Decision
		}
		o = *res.Forward
	}
	t.Fatalf("observation for %s still forwarded after three stages", o.OrderID)
	return nil
}

// TestQualityOnGeneratedDay replays generated days through the stages in
// event-time order and holds the deployed model to at least 80% detection
// per planted pattern and at most 2% of legitimate orders flagged. Several
// seeds, so the model is judged on traffic it was not tuned on.
func TestQualityOnGeneratedDay(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			cfg := ordergen.DefaultConfig()
			cfg.Seed = seed
			day := ordergen.Generate(cfg)
			flagged, byReason := replayDay(t, day, deployModel(t))
			rep := ordergen.Rates(day, flagged, true)
			t.Logf("%d legit orders, first order of each incident excluded:\n%s", cfg.LegitOrders, rep)
			t.Logf("first orders included:\n%s", ordergen.Rates(day, flagged, false))
			t.Logf("false positives by first reason: %v", byReason)
			for _, r := range rep.Detection {
				if r.Orders == 0 || r.Share() < 0.8 {
					t.Errorf("detection %s", r)
				}
			}
			if fp := rep.FalsePositives; fp.Orders == 0 || fp.Share() > 0.02 {
				t.Errorf("false positives %s", fp)
			}
		})
	}
}

func replayDay(t *testing.T, day ordergen.Day, m *fraud.Model) (flagged map[string]bool, byReason map[string]int) {
	c := newChain(m)
	flagged, byReason = map[string]bool{}, map[string]int{}
	for i, ev := range day.Events {
		o, ok := observe(ev.Order, fraud.Origin{Stream: fraud.StreamSaga, Offset: int64(i)})
		if !ok {
			t.Fatalf("event %s has no kind", ev.Order.GetEventId())
		}
		d := c.run(t, o)
		if o.Kind != fraud.KindOrder {
			if d != nil {
				t.Fatalf("failed payment %s got a decision", ev.Order.GetEventId())
			}
			continue
		}
		if d == nil {
			t.Fatalf("order %s got no decision", ev.Order.GetOrderId())
		}
		flagged[d.OrderID] = d.Outcome.Flagged()
		if ev.Pattern == ordergen.PatternLegit && d.Outcome.Flagged() && len(d.Reasons) > 0 {
			byReason[d.Reasons[0].Code]++
		}
	}
	return flagged, byReason
}

func eventTime(ev *ordersv1.OrderEvent) time.Time {
	return time.UnixMilli(ev.GetTimestampMs()).UTC()
}
