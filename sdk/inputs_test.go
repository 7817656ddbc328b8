package sdk_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/schemas"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
	"github.com/titan-commerce/titan/sdk"
)

// inputPartitions differs from every default, so a key placed by a count
// the SDK assumed rather than read would show.
const inputPartitions = 5

// inputTopics are the topics the producer writes and waits on.
var inputTopics = []string{
	schemas.InventoryCommands, schemas.OrderEvents, schemas.PricingCommands, schemas.FlashSaleCommands,
	schemas.FlashSaleInternal, schemas.RecommendationViews, schemas.InventoryEvents, schemas.OrderOutcomes,
}

// brokerTopics creates the producer's topics in a namespace of the test's
// own on the test broker and returns the brokers, the namespace and an
// admin client.
func brokerTopics(t *testing.T) ([]string, string, *kadm.Client) {
	t.Helper()
	brokers := kafkatest.Brokers(t)
	full := kafkatest.Topics(t, brokers, inputPartitions, inputTopics...)
	ns := strings.TrimSuffix(full[schemas.InventoryCommands], "."+schemas.InventoryCommands)
	return brokers, ns, kafkatest.Admin(t, brokers)
}

// readAt reads the record at offset of topic's partition.
func readAt(t *testing.T, brokers []string, topic string, part int32, offset int64) *kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {part: kgo.NewOffset().At(offset)}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := testContext(t)
	for {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("read %s/%d@%d: %v", topic, part, offset, err)
		}
		for _, r := range fs.Records() {
			if r.Offset == offset {
				return r
			}
		}
	}
}

// placed is what one input must look like on the wire.
type placed struct {
	in    sdk.Input
	topic string
	key   string
	// id is the id the record carries; stamp its own time, 0 when the
	// message has none to fill.
	decode func(t *testing.T, value []byte) (id string, stamp int64)
}

func decodeInto[M proto.Message](m M, get func(M) (string, int64)) func(*testing.T, []byte) (string, int64) {
	return func(t *testing.T, value []byte) (string, int64) {
		t.Helper()
		if err := proto.Unmarshal(value, m); err != nil {
			t.Fatal(err)
		}
		return get(m)
	}
}

func inventoryID(m *inventoryv1.Command) (string, int64) { return m.GetCommandId(), m.GetTimestampMs() }
func orderID(m *ordersv1.OrderEvent) (string, int64)     { return m.GetEventId(), m.GetTimestampMs() }
func pricingID(m *pricingv1.Command) (string, int64)     { return m.GetCommandId(), m.GetTimestampMs() }
func flashID(m *flashsalev1.Message) (string, int64) {
	return m.GetIdempotencyKey() + m.GetSaleId(), m.GetTimestampMs()
}

// TestInputsLandWhereProcessorsRead: every typed input is written to the
// topic its processor reads, under the key it reads it by, in the
// partition internal/partition assigns that key; a send retried with the
// same idempotency key carries the same id, derived from the key, and the
// producer's time.
func TestInputsLandWhereProcessorsRead(t *testing.T) {
	brokers, ns, _ := brokerTopics(t)
	now := time.Now().Truncate(time.Millisecond)
	p, err := sdk.NewProducer(brokers, sdk.WithNamespace(ns), sdk.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	ctx := testContext(t)
	keys := flashsale.NewKeys(inputPartitions)
	derived := func(key string) string { return schemas.DeriveID(key) }
	for _, tc := range []struct {
		placed
		wantID string
	}{
		{placed{sdk.Restock{IdempotencyKey: "r-1", SKU: "sku-a", Qty: 5}, schemas.InventoryCommands, "sku-a",
			decodeInto(&inventoryv1.Command{}, inventoryID)}, derived("r-1")},
		{placed{sdk.Reserve{IdempotencyKey: "res-1", SKU: "sku-b", OrderID: "o-1", Qty: 2, TTL: time.Minute},
			schemas.InventoryCommands, "sku-b", decodeInto(&inventoryv1.Command{}, inventoryID)}, derived("res-1")},
		{placed{sdk.Commit{IdempotencyKey: "c-1", SKU: "sku-b", OrderID: "o-1"}, schemas.InventoryCommands, "sku-b",
			decodeInto(&inventoryv1.Command{}, inventoryID)}, derived("c-1")},
		{placed{sdk.Release{IdempotencyKey: "rel-1", SKU: "sku-c", OrderID: "o-2"}, schemas.InventoryCommands, "sku-c",
			decodeInto(&inventoryv1.Command{}, inventoryID)}, derived("rel-1")},
		{placed{sdk.PlaceOrder{IdempotencyKey: "place-o-3", OrderID: "o-3", UserID: "u-1", DeviceID: "d-1", PaymentID: "card-1",
			Currency: "EUR", Lines: []sdk.OrderLine{{SKU: "sku-a", Qty: 1, UnitPriceMinor: 999}}},
			schemas.OrderEvents, "o-3", decodeInto(&ordersv1.OrderEvent{}, orderID)}, derived("place-o-3")},
		{placed{sdk.PaymentFailed{IdempotencyKey: "pf-1", OrderID: "o-4", UserID: "u-1", DeviceID: "d-1", PaymentID: "card-1",
			AmountMinor: 999, Reason: "declined"}, schemas.OrderEvents, "o-4", decodeInto(&ordersv1.OrderEvent{}, orderID)}, derived("pf-1")},
		{placed{sdk.MarkPaid{IdempotencyKey: "paid-1", OrderID: "o-4", UserID: "u-1", PaymentID: "card-1",
			AmountMinor: 999, Currency: "EUR"}, schemas.OrderEvents, "o-4", decodeInto(&ordersv1.OrderEvent{}, orderID)}, derived("paid-1")},
		{placed{sdk.CancelOrder{IdempotencyKey: "cancel-o-5", OrderID: "o-5", Reason: "customer"}, schemas.OrderEvents, "o-5",
			decodeInto(&ordersv1.OrderEvent{}, orderID)}, derived("cancel-o-5")},
		{placed{sdk.SetPrice{IdempotencyKey: "price-1", SKU: "sku-d", PriceMinor: 1999, Currency: "EUR"}, schemas.PricingCommands, "sku-d",
			decodeInto(&pricingv1.Command{}, pricingID)}, derived("price-1")},
		{placed{sdk.StartCampaign{IdempotencyKey: "camp-1", SKU: "sku-d", CampaignID: "spring", PercentBps: 1500,
			EndsAt: now.Add(time.Hour)}, schemas.PricingCommands, "sku-d", decodeInto(&pricingv1.Command{}, pricingID)}, derived("camp-1")},
		{placed{sdk.EndCampaign{IdempotencyKey: "camp-end-1", SKU: "sku-d", CampaignID: "spring"}, schemas.PricingCommands, "sku-d",
			decodeInto(&pricingv1.Command{}, pricingID)}, derived("camp-end-1")},
		{placed{sdk.View{IdempotencyKey: "view-1", UserID: "u-2", SKU: "sku-e", SessionID: "s-1"}, schemas.RecommendationViews, "u-2",
			decodeInto(&recommendationsv1.ViewEvent{}, func(m *recommendationsv1.ViewEvent) (string, int64) {
				return m.GetEventId(), m.GetTimestampMs()
			})}, derived("view-1")},
		// A purchase's idempotency key travels as it is, on the buyer's
		// key, which the topology's router names.
		{placed{sdk.Purchase{IdempotencyKey: "buy-1", SaleID: "sale-1", UserID: "u-3", Qty: 1, Buckets: 4},
			schemas.FlashSaleCommands, keys.User("sale-1", "u-3"), decodeInto(&flashsalev1.Message{}, flashID)}, "buy-1sale-1"},
		{placed{sdk.DefineFlashSale{ID: "sale-1", SKU: "sku-f", Units: 10, StartsAt: now, EndsAt: now.Add(time.Hour),
			PerUserLimit: 2, PriceMinor: 500, Buckets: 4}, schemas.FlashSaleInternal, keys.Sale("sale-1"),
			decodeInto(&flashsalev1.Message{}, flashID)}, "sale-1"},
	} {
		topic := schemas.Namespaced(ns, tc.topic)
		var first sdk.Ack
		for attempt := range 2 {
			ack, err := p.Send(ctx, tc.in)
			if err != nil {
				t.Fatalf("%T: %v", tc.in, err)
			}
			want := partition.Partition([]byte(tc.key), inputPartitions)
			if ack.Topic != topic || ack.Partition != want {
				t.Errorf("%T: acked on %s/%d, want %s/%d", tc.in, ack.Topic, ack.Partition, topic, want)
			}
			if attempt == 0 {
				first = ack
			} else if ack.ID != first.ID || ack.Offset == first.Offset {
				t.Errorf("%T: the retry acked id %q at %d after %q at %d, want the same id at a new offset",
					tc.in, ack.ID, ack.Offset, first.ID, first.Offset)
			}
			rec := readAt(t, brokers, topic, ack.Partition, ack.Offset)
			id, stamp := tc.decode(t, rec.Value)
			if string(rec.Key) != tc.key || id != tc.wantID || stamp != now.UnixMilli() {
				t.Errorf("%T: record key %q id %q at %d, want key %q id %q at %d",
					tc.in, rec.Key, id, stamp, tc.key, tc.wantID, now.UnixMilli())
			}
		}
	}
}

// TestPurchaseBucketFollowsTheSale: a purchase names the buyer's bucket
// of the sale's bucket count, as the API does (flashsale.BucketOf).
func TestPurchaseBucketFollowsTheSale(t *testing.T) {
	brokers, ns, _ := brokerTopics(t)
	p, err := sdk.NewProducer(brokers, sdk.WithNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	ctx := testContext(t)
	for _, buckets := range []int{0, 1, 7, schemas.MaxSaleBuckets} {
		for _, user := range []string{"u-1", "u-2", "buyer-ü"} {
			ack, err := p.Send(ctx, sdk.Purchase{IdempotencyKey: "k", SaleID: "s", UserID: user, Qty: 1, Buckets: buckets})
			if err != nil {
				t.Fatal(err)
			}
			var m flashsalev1.Message
			if err := proto.Unmarshal(readAt(t, brokers, ack.Topic, ack.Partition, ack.Offset).Value, &m); err != nil {
				t.Fatal(err)
			}
			if want := flashsale.BucketOf(user, max(buckets, 1)); int(m.GetBucket()) != want || m.GetKind() != flashsalev1.Kind_KIND_PURCHASE {
				t.Errorf("%d buckets, user %q: %s in bucket %d, want a purchase in %d", buckets, user, m.GetKind(), m.GetBucket(), want)
			}
		}
	}
}

// TestInvalidInputsSendNothing: an input that breaks a rule of its
// processor's is refused with the field named, and no topic receives
// anything.
func TestInvalidInputsSendNothing(t *testing.T) {
	brokers, ns, adm := brokerTopics(t)
	now := time.Now()
	p, err := sdk.NewProducer(brokers, sdk.WithNamespace(ns), sdk.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	ctx := testContext(t)
	long := strings.Repeat("x", schemas.MaxIDBytes+1)
	for _, tc := range []struct {
		in     sdk.Input
		field  string
		reason schemas.Reason
	}{
		{sdk.Restock{SKU: "a", Qty: 1}, "idempotency_key", schemas.ReasonMissingIdempotencyKey},
		{sdk.Restock{IdempotencyKey: "titan:x", SKU: "a", Qty: 1}, "idempotency_key", schemas.ReasonReservedID},
		{sdk.Restock{IdempotencyKey: long, SKU: "a", Qty: 1}, "idempotency_key", schemas.ReasonTooLong},
		{sdk.Restock{IdempotencyKey: "k", Qty: 1}, "sku", schemas.ReasonMissingSKU},
		{sdk.Restock{IdempotencyKey: "k", SKU: "a"}, "qty", schemas.ReasonInvalidQty},
		{sdk.Reserve{IdempotencyKey: "k", SKU: "a", OrderID: "o", Qty: 1}, "reserve.ttl_ms", schemas.ReasonInvalidTTL},
		{sdk.Reserve{IdempotencyKey: "k", SKU: "a", Qty: 1, TTL: time.Minute}, "order_id", schemas.ReasonMissingOrderID},
		{sdk.Reserve{IdempotencyKey: "k", SKU: "a", OrderID: "titan:o", Qty: 1, TTL: time.Minute}, "order_id", schemas.ReasonReservedID},
		{sdk.Commit{IdempotencyKey: "k", SKU: "a", OrderID: "o", Qty: -1}, "qty", schemas.ReasonInvalidQty},
		{sdk.Release{IdempotencyKey: "k", SKU: "a\nb", OrderID: "o"}, "sku", schemas.ReasonInvalidSKU},
		{sdk.PlaceOrder{IdempotencyKey: "k", OrderID: "o", UserID: "u", DeviceID: "d", PaymentID: "p", Currency: "EUR"},
			"placed.lines", schemas.ReasonMissingLines},
		{sdk.PlaceOrder{IdempotencyKey: "k", OrderID: "o", UserID: "u", PaymentID: "p", Currency: "EUR",
			Lines: []sdk.OrderLine{{SKU: "a", Qty: 1}}}, "placed.device_id", schemas.ReasonMissingDeviceID},
		{sdk.PlaceOrder{IdempotencyKey: "k", OrderID: "o", UserID: "u", DeviceID: "d", PaymentID: "p", Currency: "eur",
			Lines: []sdk.OrderLine{{SKU: "a", Qty: 1}}}, "placed.currency", schemas.ReasonInvalidCurrency},
		{sdk.PlaceOrder{IdempotencyKey: "k", OrderID: "o", UserID: "u", DeviceID: "d", PaymentID: "p", Currency: "EUR",
			Lines: []sdk.OrderLine{{SKU: "a", Qty: 1}, {SKU: "a", Qty: 2}}}, "placed.lines[1].sku", schemas.ReasonDuplicateSKU},
		{sdk.PaymentFailed{IdempotencyKey: "k", OrderID: "o", UserID: "u", DeviceID: "d"}, "payment_failed.payment_id", schemas.ReasonMissingPaymentID},
		{sdk.MarkPaid{IdempotencyKey: "k", OrderID: "o", UserID: "u", PaymentID: "p", AmountMinor: 1}, "paid.currency", schemas.ReasonMissingCurrency},
		{sdk.MarkPaid{IdempotencyKey: "k", OrderID: "o", UserID: "u", PaymentID: "p", AmountMinor: -1, Currency: "EUR"}, "paid.amount_minor", schemas.ReasonInvalidPrice},
		{sdk.MarkPaid{IdempotencyKey: "k", OrderID: "o", UserID: "titan:u", PaymentID: "p", Currency: "EUR"}, "paid.user_id", schemas.ReasonReservedID},
		{sdk.CancelOrder{IdempotencyKey: "k"}, "order_id", schemas.ReasonMissingOrderID},
		{sdk.SetPrice{IdempotencyKey: "k", SKU: "a", PriceMinor: 100}, "set_base.currency", schemas.ReasonMissingCurrency},
		{sdk.SetPrice{IdempotencyKey: "k", SKU: "a", PriceMinor: -1, Currency: "EUR"}, "set_base.price_minor", schemas.ReasonInvalidPrice},
		{sdk.StartCampaign{IdempotencyKey: "k", SKU: "a", CampaignID: "c", PercentBps: 10, AmountMinor: 10, EndsAt: now.Add(time.Hour)},
			"upsert_campaign.campaign.kind", schemas.ReasonInvalidCampaign},
		{sdk.StartCampaign{IdempotencyKey: "k", SKU: "a", CampaignID: "c", PercentBps: 10}, "upsert_campaign.campaign.ends_at_ms", schemas.ReasonInvalidPeriod},
		{sdk.StartCampaign{IdempotencyKey: "k", SKU: "a", CampaignID: "titan:c", PercentBps: 10, EndsAt: now.Add(time.Hour)},
			"upsert_campaign.campaign.id", schemas.ReasonReservedID},
		{sdk.EndCampaign{IdempotencyKey: "k", SKU: "a"}, "end_campaign.campaign_id", schemas.ReasonMissingCampaignID},
		{sdk.View{IdempotencyKey: "k", SKU: "a"}, "user_id", schemas.ReasonMissingUserID},
		{sdk.View{IdempotencyKey: "k", UserID: "u", SKU: "a", SessionID: "titan:s"}, "session_id", schemas.ReasonReservedID},
		{sdk.Purchase{IdempotencyKey: "k", SaleID: "s", UserID: "u", Qty: schemas.MaxPurchaseQty + 1}, "qty", schemas.ReasonInvalidQty},
		{sdk.Purchase{SaleID: "s", UserID: "u", Qty: 1}, "idempotency_key", schemas.ReasonMissingIdempotencyKey},
		{sdk.Purchase{IdempotencyKey: "k", SaleID: "s", UserID: "u", Qty: 1, Buckets: schemas.MaxSaleBuckets + 1}, "buckets", schemas.ReasonInvalidBucket},
		{sdk.DefineFlashSale{ID: "a:b", SKU: "a", Units: 1, EndsAt: now.Add(time.Hour), PerUserLimit: 1}, "sale.id", schemas.ReasonInvalidID},
		{sdk.DefineFlashSale{ID: "s", SKU: "a", EndsAt: now.Add(time.Hour), PerUserLimit: 1}, "sale.units", schemas.ReasonInvalidQty},
		{sdk.DefineFlashSale{ID: "s", SKU: "a", Units: 1, StartsAt: now.Add(-2 * time.Hour), EndsAt: now.Add(-time.Hour), PerUserLimit: 1},
			"sale.ends_at_ms", schemas.ReasonInvalidPeriod},
		{sdk.DefineFlashSale{ID: "s", SKU: "a", Units: 1, EndsAt: now.Add(time.Hour)}, "sale.per_user_limit", schemas.ReasonInvalidQty},
	} {
		ack, err := p.Send(ctx, tc.in)
		var inv *schemas.InvalidError
		if !errors.As(err, &inv) || inv.Field != tc.field || inv.Reason != tc.reason || !errors.Is(err, schemas.ErrInvalid) {
			t.Errorf("%T %+v: got %v, want field %s: %s", tc.in, tc.in, err, tc.field, tc.reason)
		}
		if ack != (sdk.Ack{}) {
			t.Errorf("%T: an invalid input was acknowledged: %+v", tc.in, ack)
		}
		async := make(chan error, 1)
		p.SendAsync(ctx, tc.in, func(_ sdk.Ack, err error) { async <- err })
		if err := <-async; !errors.As(err, &inv) || inv.Field != tc.field {
			t.Errorf("%T async: got %v, want field %s", tc.in, err, tc.field)
		}
	}
	// A caller's own id may not take the form of a derived one, which
	// another record's key may derive.
	cmd := command(1)
	cmd.CommandId = schemas.DeriveID("k")
	if _, err := p.SendCommand(ctx, cmd); schemas.ReasonOf(err) != schemas.ReasonDerivedID {
		t.Errorf("SendCommand with a derived id: %v, want derived_id", err)
	}
	ev := orderEvent(1)
	ev.EventId = schemas.DeriveID("k")
	if _, err := p.PublishOrderEvent(ctx, ev); schemas.ReasonOf(err) != schemas.ReasonDerivedID {
		t.Errorf("PublishOrderEvent with a derived id: %v, want derived_id", err)
	}
	if _, err := p.Send(ctx, nil); err == nil {
		t.Error("a nil input was accepted")
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range inputTopics {
		ends, err := kafkatest.EndOffsets(ctx, adm, schemas.Namespaced(ns, name))
		if err != nil {
			t.Fatal(err)
		}
		for part, end := range ends {
			if end != 0 {
				t.Errorf("%s/%d holds %d records after invalid sends only", name, part, end)
			}
		}
	}
}

// TestBufferFullFailsFastOrBlocks: with the buffer full of lingering
// records, a FailFast producer refuses the next send at once with
// ErrBufferFull, and a Block producer holds it until its context ends,
// or until room comes back.
func TestBufferFullFailsFastOrBlocks(t *testing.T) {
	brokers, ns, _ := brokerTopics(t)
	ctx := testContext(t)
	fill := func(p *sdk.Producer) {
		for i := range 2 {
			p.SendAsync(ctx, sdk.Restock{IdempotencyKey: "fill-" + string(rune('a'+i)), SKU: "sku", Qty: 1}, nil)
		}
	}
	in := sdk.Restock{IdempotencyKey: "one-more", SKU: "sku", Qty: 1}

	fast, err := sdk.NewProducer(brokers, sdk.WithNamespace(ns), sdk.WithLinger(time.Minute), sdk.WithBuffer(2, sdk.FailFast))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fast.Close)
	fill(fast)
	if _, err := fast.Send(ctx, in); !errors.Is(err, sdk.ErrBufferFull) {
		t.Errorf("FailFast: %v, want ErrBufferFull", err)
	}
	refused := make(chan error, 1)
	fast.SendAsync(ctx, in, func(_ sdk.Ack, err error) { refused <- err })
	if err := <-refused; !errors.Is(err, sdk.ErrBufferFull) {
		t.Errorf("FailFast async: %v, want ErrBufferFull", err)
	}

	blocking, err := sdk.NewProducer(brokers, sdk.WithNamespace(ns), sdk.WithLinger(time.Minute), sdk.WithBuffer(2, sdk.Block))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(blocking.Close)
	fill(blocking)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := blocking.Send(short, in); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, sdk.ErrBufferFull) {
		t.Errorf("Block: %v, want the context's deadline", err)
	}
	// The flush lets the lingering records go, and with them the room.
	done := make(chan error, 1)
	go func() {
		_, err := blocking.Send(ctx, in)
		done <- err
	}()
	if err := blocking.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Block after a flush: %v", err)
	}
}
