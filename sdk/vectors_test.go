package sdk

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/processors/flashsale"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
)

// The golden records (schemas/testdata/vectors/records.json) that a typed send makes name the
// idempotency key it is given. The Go SDK's typed sends, given each record's fields and key at the
// record's time, must make its topic, key and bytes exactly, as the Node SDK's must
// (sdk/node/test/vectors.test.ts): the SDKs cannot drift apart.
func TestTypedSendsMakeTheVectors(t *testing.T) {
	raw, err := os.ReadFile("../schemas/testdata/vectors/records.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Records []struct {
			Name           string          `json:"name"`
			IdempotencyKey string          `json:"idempotency_key"`
			Topic          string          `json:"topic"`
			Type           string          `json:"type"`
			Key            string          `json:"key"`
			Message        json.RawMessage `json:"message"`
			Value          string          `json:"value_hex"`
		} `json:"records"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	tp := (&config{}).topics()
	made := 0
	for _, r := range file.Records {
		if r.IdempotencyKey == "" {
			continue
		}
		t.Run(r.Name, func(t *testing.T) {
			in, at := typedInput(t, r.Type, r.Message, r.IdempotencyKey)
			b, err := in.build(&tp, at)
			if err != nil {
				t.Fatalf("%T refused: %v", in, err)
			}
			if b.rec.Topic != r.Topic || string(b.rec.Key) != r.Key || hex.EncodeToString(b.rec.Value) != r.Value {
				t.Fatalf("%T made %s %q %x; the vector is %s %q %s", in, b.rec.Topic, b.rec.Key, b.rec.Value, r.Topic, r.Key, r.Value)
			}
		})
		made++
	}
	if made < 13 {
		t.Fatalf("%d typed sends checked, want one for each of the 13 inputs", made)
	}
}

// typedInput is the typed send of a vector's message, given key, and the message's time.
func typedInput(t *testing.T, typ string, js json.RawMessage, key string) (Input, time.Time) {
	t.Helper()
	decode := func(m proto.Message) {
		if err := protojson.Unmarshal(js, m); err != nil {
			t.Fatal(err)
		}
	}
	switch typ {
	case "titan.inventory.v1.Command":
		var c inventoryv1.Command
		decode(&c)
		at := time.UnixMilli(c.GetTimestampMs())
		switch {
		case c.GetRestock() != nil:
			return Restock{IdempotencyKey: key, SKU: c.GetSku(), Qty: c.GetQty()}, at
		case c.GetReserve() != nil:
			return Reserve{IdempotencyKey: key, SKU: c.GetSku(), OrderID: c.GetOrderId(), Qty: c.GetQty(),
				TTL: time.Duration(c.GetReserve().GetTtlMs()) * time.Millisecond}, at
		case c.GetCommit() != nil:
			return Commit{IdempotencyKey: key, SKU: c.GetSku(), OrderID: c.GetOrderId(), Qty: c.GetQty()}, at
		case c.GetRelease() != nil:
			return Release{IdempotencyKey: key, SKU: c.GetSku(), OrderID: c.GetOrderId()}, at
		}
	case "titan.orders.v1.OrderEvent":
		var e ordersv1.OrderEvent
		decode(&e)
		at := time.UnixMilli(e.GetTimestampMs())
		switch {
		case e.GetPlaced() != nil:
			p := e.GetPlaced()
			in := PlaceOrder{IdempotencyKey: key, OrderID: e.GetOrderId(), UserID: p.GetUserId(), DeviceID: p.GetDeviceId(),
				PaymentID: p.GetPaymentId(), Currency: p.GetCurrency()}
			for _, l := range p.GetLines() {
				in.Lines = append(in.Lines, OrderLine{SKU: l.GetSku(), Qty: l.GetQty(), UnitPriceMinor: l.GetUnitPriceMinor()})
			}
			return in, at
		case e.GetPaymentFailed() != nil:
			p := e.GetPaymentFailed()
			return PaymentFailed{IdempotencyKey: key, OrderID: e.GetOrderId(), UserID: p.GetUserId(), DeviceID: p.GetDeviceId(),
				PaymentID: p.GetPaymentId(), AmountMinor: p.GetAmountMinor(), Reason: p.GetReason()}, at
		case e.GetPaid() != nil:
			p := e.GetPaid()
			return MarkPaid{IdempotencyKey: key, OrderID: e.GetOrderId(), UserID: p.GetUserId(), PaymentID: p.GetPaymentId(),
				AmountMinor: p.GetAmountMinor(), Currency: p.GetCurrency()}, at
		case e.GetCancelled() != nil:
			return CancelOrder{IdempotencyKey: key, OrderID: e.GetOrderId(), Reason: e.GetCancelled().GetReason()}, at
		}
	case "titan.pricing.v1.Command":
		var c pricingv1.Command
		decode(&c)
		at := time.UnixMilli(c.GetTimestampMs())
		switch {
		case c.GetSetBase() != nil:
			return SetPrice{IdempotencyKey: key, SKU: c.GetSku(), PriceMinor: c.GetSetBase().GetPriceMinor(),
				Currency: c.GetSetBase().GetCurrency()}, at
		case c.GetUpsertCampaign() != nil:
			cp := c.GetUpsertCampaign().GetCampaign()
			return StartCampaign{IdempotencyKey: key, SKU: c.GetSku(), CampaignID: cp.GetId(), PercentBps: cp.GetPercentBps(),
				AmountMinor: cp.GetAmountMinor(), StartsAt: time.UnixMilli(cp.GetStartsAtMs()), EndsAt: time.UnixMilli(cp.GetEndsAtMs())}, at
		case c.GetEndCampaign() != nil:
			return EndCampaign{IdempotencyKey: key, SKU: c.GetSku(), CampaignID: c.GetEndCampaign().GetCampaignId()}, at
		}
	case "titan.flashsale.v1.Message":
		var m flashsalev1.Message
		decode(&m)
		if m.GetKind() == flashsalev1.Kind_KIND_PURCHASE {
			// The bucket is the buyer's in a sale of some bucket count: find one that gives the
			// vector's, so the SDK computes it rather than copying it.
			for n := 1; n <= 256; n++ {
				if flashsale.BucketOf(m.GetUserId(), n) == int(m.GetBucket()) {
					return Purchase{IdempotencyKey: key, SaleID: m.GetSaleId(), UserID: m.GetUserId(), Qty: m.GetQty(), Buckets: n},
						time.UnixMilli(m.GetTimestampMs())
				}
			}
		}
	case "titan.recommendations.v1.ViewEvent":
		var v recommendationsv1.ViewEvent
		decode(&v)
		return View{IdempotencyKey: key, UserID: v.GetUserId(), SKU: v.GetSku(), SessionID: v.GetSessionId()}, time.UnixMilli(v.GetTimestampMs())
	}
	t.Fatalf("no typed send makes this %s: %s", typ, js)
	return nil, time.Time{}
}
