package orderstopo_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/kafkaadmin"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/topology"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/processors/orders"
	"github.com/titan-commerce/titan/processors/pricing"
	"github.com/titan-commerce/titan/schemas"
	fraudv1 "github.com/titan-commerce/titan/schemas/fraud/v1"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
	"github.com/titan-commerce/titan/sdk"
	"github.com/titan-commerce/titan/state"
	"github.com/titan-commerce/titan/topologies/fraudtopo"
	"github.com/titan-commerce/titan/topologies/orderstopo"
	"github.com/titan-commerce/titan/topologies/pricingtopo"
)

// TestStalledOrdersTimeOut runs the saga alone on the broker: its fraud
// and inventory peers are topics nobody answers from, and its pricing table
// holds the prices the test wrote, so every order stalls at the step the
// test leaves unanswered. Each one is rejected as timed_out once its step
// timeout has passed, and an order stalled while reserving releases every
// line it asked for, answered or not.
func TestStalledOrdersTimeOut(t *testing.T) {
	d := newDeployment(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	const stepTimeout = 3 * time.Second
	fr := fraudtopo.NamesFor(d.ns)
	peers := orderstopo.Peers{
		InventoryCommands:    d.inv.Internal,
		InventoryOrderEvents: d.inv.OrderEvents,
		FraudObservations:    fr.Observations,
	}
	topics := d.ord.Topics(partitions)
	for _, name := range []string{string(peers.InventoryCommands), string(peers.InventoryOrderEvents),
		string(peers.FraudObservations), string(d.pr.Table())} {
		topics = append(topics, kafkaadmin.Topic{Name: name, Partitions: partitions})
	}
	if err := kafkaadmin.Ensure(ctx, d.adm, 1, topics); err != nil {
		t.Fatal(err)
	}
	// The pricing table as the pricing group would have written it.
	for sku, price := range map[string]int64{"a": 100, "b": 50} {
		s, _, _ := pricing.Apply(pricing.NewState(), pricing.CommandFromWire(&pricingv1.Command{CommandId: "set-" + sku, Sku: sku,
			TimestampMs: time.Now().Add(-time.Minute).UnixMilli(),
			Kind:        &pricingv1.Command_SetBase{SetBase: &pricingv1.SetBasePrice{PriceMinor: price, Currency: "EUR"}}}), pricing.DefaultPolicy())
		b, err := pricingtopo.StateCodec.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		d.client.Produce(ctx, &kgo.Record{Topic: string(d.pr.Table()), Key: []byte(sku), Value: b}, nil)
	}
	d.flush(ctx)
	sb, err := state.NewBuilder(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	saga, err := orderstopo.New(orderstopo.Options{
		Base: topology.Base{
			Goka:       gokaopts.Config{Brokers: d.brokers, Replication: 1, Storage: sb.Build, ClientID: "deadline-test", Logger: d.log},
			Partitions: partitions,
			Logger:     d.log,
		},
		Names:       d.ord,
		Peers:       peers,
		Prices:      orderstopo.Prices{Table: d.pr.Table(), Codec: pricingtopo.StateCodec, Quote: pricingtopo.Quoter(pricing.DefaultPolicy())},
		StepTimeout: stepTimeout,
		Local: func(topic string) (out []storage.Storage) {
			for _, p := range sb.Open(topic) {
				if p.Storage.Recovered() {
					out = append(out, p.Storage)
				}
			}
			return out
		},
		SendSaga:     sdk.NewKeyed(d.client, string(d.ord.Saga), (*ordersv1.SagaMessage).GetOrderId).SendAll,
		ScanInterval: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- saga.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("saga: %v", err)
		}
	})
	if err := kafkatest.WaitFor(ctx, "saga recovered", func() (bool, string) { return saga.Recovered(), "" }); err != nil {
		t.Fatal(err)
	}

	now := time.Now()
	place := func(id string) {
		d.produce(ctx, string(d.ord.Events), id, &ordersv1.OrderEvent{EventId: "ev-" + id, OrderId: id, TimestampMs: now.UnixMilli(),
			Kind: &ordersv1.OrderEvent_Placed{Placed: &ordersv1.OrderPlaced{UserId: "u", DeviceId: "d", PaymentId: "p", Currency: "EUR",
				Lines: []*ordersv1.OrderLine{{Sku: "a", Qty: 1, UnitPriceMinor: 100}, {Sku: "b", Qty: 2, UnitPriceMinor: 50}}}}})
	}
	answer := func(id string, m *ordersv1.SagaMessage) {
		m.OrderId, m.TimestampMs = id, time.Now().UnixMilli()
		d.produce(ctx, string(d.ord.Saga), id, m)
	}
	approve := &ordersv1.SagaMessage{Kind: &ordersv1.SagaMessage_Fraud{Fraud: &fraudv1.Decision{Outcome: fraudv1.Outcome_OUTCOME_APPROVE}}}

	// asked waits until the saga has sent n requests about order id to
	// topic: an answer must not overtake its question, which travels on
	// another topic.
	asked := func(topic goka.Stream, id string, n int) {
		t.Helper()
		d.flush(ctx)
		err := kafkatest.WaitFor(ctx, fmt.Sprintf("%d requests of %s on %s", n, id, topic), func() (bool, string) {
			recs, err := kafkatest.ReadAll(ctx, d.brokers, d.adm, string(topic))
			if err != nil {
				return false, err.Error()
			}
			got := 0
			for _, r := range recs {
				if strings.Contains(string(r.Value), id) {
					got++
				}
			}
			return got >= n, fmt.Sprint(got)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Stalled while scoring: no fraud verdict ever comes.
	place("scoring")
	// Stalled while reserving: approved, and so quoted from the table at
	// once; the inventory answers line a only.
	place("reserving")
	asked(peers.FraudObservations, "reserving", 1)
	answer("reserving", proto.Clone(approve).(*ordersv1.SagaMessage))
	d.flush(ctx)
	if err := kafkatest.WaitFor(ctx, "reservations asked for", func() (bool, string) {
		cmds := readCommands(ctx, t, d, string(peers.InventoryCommands))
		return len(cmds["reserving"]) == 2, fmt.Sprint(len(cmds["reserving"]))
	}); err != nil {
		t.Fatal(err)
	}
	// The inventory's answer for line a, as it would publish it.
	d.produce(ctx, string(peers.InventoryOrderEvents), "reserving", inventory.EventToWire(inventory.Event{
		Type: inventory.EventReserved, CommandID: orders.CommandID("reserving", "a", inventory.KindReserve),
		OrderID: "reserving", SKU: "a", Qty: 1, Time: time.Now(), Seq: 1, Internal: true}))
	d.flush(ctx)

	var outs map[string]*ordersv1.OrderEvent
	err = kafkatest.WaitFor(ctx, "stalled orders rejected", func() (bool, string) {
		var err error
		if outs, _, err = d.outcomes(ctx); err != nil {
			return false, err.Error()
		}
		return len(outs) == 2, ""
	})
	if err != nil {
		t.Fatal(err)
	}
	for id, out := range outs {
		rej := out.GetRejected()
		if rej.GetReason() != orders.ReasonTimedOut {
			t.Errorf("order %s: outcome %v, want rejected %s", id, out, orders.ReasonTimedOut)
		}
		if at := time.UnixMilli(out.GetTimestampMs()); at.Sub(now) < stepTimeout {
			t.Errorf("order %s timed out %v after it was placed, before its step timeout", id, at.Sub(now))
		}
		if !strings.Contains(rej.GetDetail(), strings.TrimPrefix(id, "")) {
			t.Errorf("order %s: detail %q does not say what it waited for", id, rej.GetDetail())
		}
	}
	// The order stalled while reserving released both lines: the one the
	// inventory answered and the one it never did.
	cmds := readCommands(ctx, t, d, string(peers.InventoryCommands))
	var released []string
	for _, c := range cmds["reserving"] {
		if c.GetRelease() != nil {
			released = append(released, c.GetSku())
			if !schemas.Reserved(c.GetCommandId()) {
				t.Errorf("release %s outside Titan's namespace", c.GetCommandId())
			}
		}
	}
	if len(released) != 2 {
		t.Errorf("the order stalled while reserving released %v, want both lines", released)
	}
	for _, id := range []string{"scoring"} {
		if len(cmds[id]) != 0 {
			t.Errorf("order %s, stalled before reserving, sent %d inventory commands", id, len(cmds[id]))
		}
	}
}

// readCommands reads the inventory commands the saga sent, by order id.
func readCommands(ctx context.Context, t *testing.T, d *deployment, topic string) map[string][]*inventoryv1.Command {
	t.Helper()
	recs, err := kafkatest.ReadAll(ctx, d.brokers, d.adm, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]*inventoryv1.Command{}
	for _, r := range recs {
		var c inventoryv1.Command
		if err := proto.Unmarshal(r.Value, &c); err != nil {
			t.Fatal(err)
		}
		out[c.GetOrderId()] = append(out[c.GetOrderId()], &c)
	}
	return out
}
