package sdk_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/schemas"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
	"github.com/titan-commerce/titan/sdk"
)

// TestProcessorsTakeEveryInput: the inputs the SDK fills are the ones the
// topologies apply, not set aside: a sale defined and bought from, a
// campaign started and ended, two views paired, and no dead letter on any
// topic.
func TestProcessorsTakeEveryInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	brokers, ns := runInstance(ctx, t, instance.TopologyInventory, instance.TopologyFlashSale,
		instance.TopologyOrders, instance.TopologyRecommendations)
	p, err := sdk.NewProducer(brokers, sdk.WithNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	adm := kafkatest.Admin(t, brokers)
	topic := func(name string) string { return schemas.Namespaced(ns, name) }
	// until waits for a record of topic that ok accepts.
	until := func(what, name string, ok func(*kgo.Record) bool) {
		t.Helper()
		if err := kafkatest.WaitFor(ctx, what, func() (bool, string) {
			recs, err := kafkatest.ReadAll(ctx, brokers, adm, topic(name))
			if err != nil {
				return false, err.Error()
			}
			for _, r := range recs {
				if ok(r) {
					return true, ""
				}
			}
			return false, fmt.Sprintf("%d records, none of them", len(recs))
		}); err != nil {
			t.Fatal(err)
		}
	}
	send := func(in sdk.Input) sdk.Ack {
		t.Helper()
		ack, err := p.Send(ctx, in)
		if err != nil {
			t.Fatalf("%T: %v", in, err)
		}
		return ack
	}

	// A sale's units are reserved from the SKU's stock when it is created.
	ack := send(sdk.Restock{IdempotencyKey: "tv-delivery", SKU: "sku-tv", Qty: 100})
	if _, err := p.WaitCommandResult(ctx, "sku-tv", ack.ID, ack.SentAt); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	send(sdk.DefineFlashSale{ID: "sale-tv", SKU: "sku-tv", Units: 10, StartsAt: now.Add(-time.Minute), EndsAt: now.Add(time.Hour),
		PerUserLimit: 2, PriceMinor: 500, Buckets: 3})
	// A purchase that reaches its bucket before the sale has opened is
	// rejected as not started; the buyer tries again with a new attempt.
	for n := 1; ; n++ {
		key := fmt.Sprintf("attempt-%d", n)
		send(sdk.Purchase{IdempotencyKey: key, SaleID: "sale-tv", UserID: "u-1", Qty: 1, Buckets: 3})
		var res flashsalev1.Result
		until("the purchase's result", schemas.FlashSaleEvents, func(r *kgo.Record) bool {
			return string(r.Key) == "sale-tv/"+key && proto.Unmarshal(r.Value, &res) == nil
		})
		if res.GetStatus() == flashsalev1.Status_STATUS_PURCHASED && res.GetQty() == 1 {
			break
		}
		if res.GetReason() != "not_started" {
			t.Fatalf("attempt %s: %v, want purchased", key, &res)
		}
	}

	send(sdk.SetPrice{IdempotencyKey: "base", SKU: "sku-tv", PriceMinor: 10_000, Currency: "EUR"})
	send(sdk.StartCampaign{IdempotencyKey: "camp", SKU: "sku-tv", CampaignID: "winter", PercentBps: 2500,
		StartsAt: now.Add(-time.Minute), EndsAt: now.Add(time.Hour)})
	send(sdk.EndCampaign{IdempotencyKey: "camp-end", SKU: "sku-tv", CampaignID: "winter"})
	until("the campaign's end", schemas.PricingEvents, func(r *kgo.Record) bool {
		var pc pricingv1.PriceChanged
		return proto.Unmarshal(r.Value, &pc) == nil && pc.GetCause() == "campaign_ended" && pc.GetPriceMinor() == 10_000
	})

	send(sdk.View{IdempotencyKey: "view-1", UserID: "u-2", SKU: "sku-tv", SessionID: "s-1"})
	send(sdk.View{IdempotencyKey: "view-2", UserID: "u-2", SKU: "sku-radio", SessionID: "s-1"})
	until("the views' pair", schemas.RecommendationPairs, func(*kgo.Record) bool { return true })

	send(sdk.PaymentFailed{IdempotencyKey: "pf-1", OrderID: "o-9", UserID: "u-2", DeviceID: "d-2", PaymentID: "card-2",
		AmountMinor: 500, Reason: "declined"})
	send(sdk.MarkPaid{IdempotencyKey: "paid-o-9", OrderID: "o-9", UserID: "u-2", PaymentID: "card-2",
		AmountMinor: 500, Currency: "EUR"})
	send(sdk.CancelOrder{IdempotencyKey: "cancel-o-9", OrderID: "o-9", Reason: "customer"})
	// The saga takes a partition's events in order: the outcome of an
	// order placed after them in their partition comes after both were
	// applied.
	next := "o-10"
	for n := 11; partition.Partition([]byte(next), instancePartitions) != partition.Partition([]byte("o-9"), instancePartitions); n++ {
		next = fmt.Sprintf("o-%d", n)
	}
	ack = send(sdk.PlaceOrder{IdempotencyKey: "place-" + next, OrderID: next, UserID: "u-2", DeviceID: "d-2",
		PaymentID: "card-2", Currency: "EUR", Lines: []sdk.OrderLine{{SKU: "sku-tv", Qty: 1, UnitPriceMinor: 10_000}}})
	if _, err := p.WaitOrderOutcome(ctx, next, ack.SentAt); err != nil {
		t.Fatal(err)
	}

	for _, dlq := range []string{schemas.InventoryDeadLetters, schemas.FlashSaleDeadLetters, schemas.PricingDeadLetters,
		schemas.RecommendationDeadLetters, schemas.OrderDeadLetters} {
		recs, err := kafkatest.ReadAll(ctx, brokers, adm, topic(dlq))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			t.Errorf("%s holds a dead letter: key %q headers %v", dlq, r.Key, r.Headers)
		}
	}
}
