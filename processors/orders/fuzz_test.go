package orders

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/millis"
	fraudv1 "github.com/titan-commerce/titan/schemas/fraud/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
)

// FuzzAnswers feeds arbitrary bytes, read as the saga topic's messages and
// as checkout events, to an order in every state before its outcome: no
// input may panic or leave an order that breaks CheckOrder.
func FuzzAnswers(f *testing.F) {
	pol := DefaultPolicy()
	placed, _, _ := Place(Order{}, two, pol)
	pricing, _ := OnFraud(placed, FraudVerdict{Outcome: FraudApprove, Time: at(1)}, pol)
	for _, m := range []proto.Message{
		&ordersv1.SagaMessage{OrderId: two.OrderID, Kind: &ordersv1.SagaMessage_Fraud{Fraud: &fraudv1.Decision{
			OrderId: two.OrderID, Outcome: fraudv1.Outcome_OUTCOME_REVIEW, Reasons: []*fraudv1.Reason{{Code: "velocity"}}}}},
		&ordersv1.SagaMessage{OrderId: two.OrderID, Kind: &ordersv1.SagaMessage_Quote{Quote: &pricingv1.Quote{
			OrderId: two.OrderID, Sku: two.Lines[0].SKU, Found: true, PriceMinor: two.Lines[0].UnitPrice, Currency: two.Currency}}},
		PlacedToWire(two),
		&ordersv1.SagaMessage{OrderId: two.OrderID, TimestampMs: 9_223_372_036_854_775_807, Kind: &ordersv1.SagaMessage_Timeout{Timeout: &ordersv1.Timeout{Steps: 1}}},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m ordersv1.SagaMessage
		if proto.Unmarshal(b, &m) == nil {
			for _, o := range []Order{placed, pricing} {
				var next Order
				if d := m.GetFraud(); d != nil {
					next, _ = OnFraud(o, VerdictFromWire(d), pol)
				} else if q := m.GetQuote(); q != nil {
					next, _ = OnQuote(o, QuoteFromWire(q), pol)
				} else if to := m.GetTimeout(); to != nil {
					next, _ = Timeout(o, to.GetSteps(), millis.Time(m.GetTimestampMs()), pol)
				} else {
					continue
				}
				if err := CheckOrder(next); err != nil {
					t.Fatalf("after %v: %v", &m, err)
				}
			}
		}
		var ev ordersv1.OrderEvent
		if proto.Unmarshal(b, &ev) != nil {
			return
		}
		if p, ok := PlacedFromWire(&ev); ok {
			next, _, err := Place(Order{}, p, pol)
			if err == nil {
				if err := CheckOrder(next); err != nil {
					t.Fatalf("after placing %v: %v", &ev, err)
				}
			}
		}
	})
}
