package orderstopo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/internal/ordergen"
	fraudv1 "github.com/titan-commerce/titan/schemas/fraud/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
	"github.com/titan-commerce/titan/topologies/fraudtopo"
)

// TestDeadLetters sends each group of the order pipeline records it cannot
// apply, between good ones: each bad record lands in its group's dead-letter
// topic with a reason, and the good orders still end.
func TestDeadLetters(t *testing.T) {
	d := newDeployment(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	n := d.start(ctx, "a", t.TempDir())
	if err := waitReady(ctx, n); err != nil {
		t.Fatal(err)
	}
	cfg := ordergen.DefaultConfig()
	cfg.Users, cfg.SKUs, cfg.LegitOrders = 20, 10, 20
	cfg.CardTesting, cfg.AccountTakeovers, cfg.VelocityAbusers, cfg.FailRate = 0, 0, 0, 0
	// The day is now, within the instances' time window.
	cfg.Start = time.Now().UTC().Add(-12 * time.Hour)
	day := ordergen.Generate(cfg)
	d.stockUp(ctx, day, cfg.Start.Add(-time.Hour))

	raw := func(topic, key string, value []byte) {
		d.client.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(key), Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	good := day.Events[0].Order
	placedWith := func(id string, edit func(*ordersv1.OrderPlaced)) *ordersv1.OrderEvent {
		ev := &ordersv1.OrderEvent{EventId: "ev-" + id, OrderId: id, TimestampMs: good.GetTimestampMs(),
			Kind: &ordersv1.OrderEvent_Placed{Placed: proto.Clone(good.GetPlaced()).(*ordersv1.OrderPlaced)}}
		edit(ev.GetPlaced())
		return ev
	}
	ordersTopic := string(d.ord.Events)
	raw(ordersTopic, "bad-bytes", []byte{0xff, 0x01, 0x02})
	d.produce(ctx, ordersTopic, "no-lines", placedWith("no-lines", func(p *ordersv1.OrderPlaced) { p.Lines = nil }))
	d.produce(ctx, ordersTopic, "other-key", placedWith("not-this-key", func(*ordersv1.OrderPlaced) {}))
	d.produce(ctx, ordersTopic, "no-device", placedWith("no-device", func(p *ordersv1.OrderPlaced) { p.DeviceId = "" }))
	d.produce(ctx, ordersTopic, "forged", &ordersv1.OrderEvent{EventId: "ev-forged", OrderId: "forged", TimestampMs: good.GetTimestampMs(),
		Kind: &ordersv1.OrderEvent_Confirmed{Confirmed: &ordersv1.OrderConfirmed{}}})
	d.produce(ctx, string(d.pr.Commands), "sku-x", &pricingv1.Command{CommandId: "neg", Sku: "sku-x", TimestampMs: 1,
		Kind: &pricingv1.Command_SetBase{SetBase: &pricingv1.SetBasePrice{PriceMinor: -5, Currency: "EUR"}}})
	fr := fraudtopo.NamesFor(d.ns)
	raw(string(fr.Observations), "d:x", []byte("not a protobuf"))
	d.produce(ctx, string(fr.Observations), "d:y", &fraudv1.Observation{Key: "d:z", Stage: fraudv1.Stage_STAGE_DEVICE})

	placed := 0
	for _, e := range day.Events {
		if e.Placed() {
			d.produce(ctx, ordersTopic, e.Order.GetOrderId(), e.Order)
			placed++
		}
	}
	d.waitOutcomes(ctx, placed)

	want := map[string]map[string]string{
		ordersTopic: {"bad-bytes": "decode", "no-lines": "missing_lines", "other-key": "key_mismatch",
			"no-device": "missing_device_id", "forged": "not_a_checkout_event"},
		string(d.pr.Commands):   {"sku-x": "invalid_price"},
		string(fr.Observations): {"d:x": "decode", "d:y": "key_mismatch"},
	}
	dlqs := []string{string(d.ord.DeadLetters), string(d.pr.DeadLetters), string(fr.DeadLetters)}
	err := kafkatest.WaitFor(ctx, "dead letters", func() (bool, string) {
		got := map[string]map[string]string{}
		for _, topic := range dlqs {
			recs, err := kafkatest.ReadAll(ctx, d.brokers, d.adm, topic)
			if err != nil {
				return false, err.Error()
			}
			for _, r := range recs {
				var dl observe.DeadLetter
				if err := json.Unmarshal(r.Value, &dl); err != nil {
					return false, err.Error()
				}
				if got[dl.Topic] == nil {
					got[dl.Topic] = map[string]string{}
				}
				got[dl.Topic][dl.Key] = dl.Reason
			}
		}
		for topic, keys := range want {
			for key, reason := range keys {
				if got[topic][key] != reason {
					return false, fmt.Sprintf("%s %s: reason %q, want %q (all: %v)", topic, key, got[topic][key], reason, got)
				}
			}
		}
		return true, ""
	})
	if err != nil {
		t.Fatal(err)
	}
}
