package dlq

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/schemas"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	fraudv1 "github.com/titan-commerce/titan/schemas/fraud/v1"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
)

// messages gives, for each topic a dead letter can come from outside any
// namespace, the message its records carry (schemas/topics.go).
var messages = map[string]func() proto.Message{
	schemas.InventoryCommands:       func() proto.Message { return new(inventoryv1.Command) },
	schemas.InventoryInternal:       func() proto.Message { return new(inventoryv1.Command) },
	schemas.InventoryEvents:         func() proto.Message { return new(inventoryv1.Event) },
	schemas.InventoryOrderEvents:    func() proto.Message { return new(inventoryv1.Event) },
	schemas.OrderEvents:             func() proto.Message { return new(ordersv1.OrderEvent) },
	schemas.OrderOutcomes:           func() proto.Message { return new(ordersv1.OrderEvent) },
	schemas.OrderSaga:               func() proto.Message { return new(ordersv1.SagaMessage) },
	schemas.PricingCommands:         func() proto.Message { return new(pricingv1.Command) },
	schemas.PricingInternal:         func() proto.Message { return new(pricingv1.Command) },
	schemas.PricingEvents:           func() proto.Message { return new(pricingv1.PriceChanged) },
	schemas.FraudObservations:       func() proto.Message { return new(fraudv1.Observation) },
	schemas.RecommendationViews:     func() proto.Message { return new(recommendationsv1.ViewEvent) },
	schemas.RecommendationPairs:     func() proto.Message { return new(recommendationsv1.Pair) },
	schemas.RecommendationPurchases: func() proto.Message { return new(recommendationsv1.Seen) },
	schemas.FlashSaleCommands:       func() proto.Message { return new(flashsalev1.Message) },
	schemas.FlashSaleInternal:       func() proto.Message { return new(flashsalev1.Message) },
	schemas.FlashSaleAllocations:    func() proto.Message { return new(inventoryv1.Event) },
	schemas.FlashSaleEvents:         func() proto.Message { return new(flashsalev1.Result) },
}

// Value is a dead letter's original value as it prints: the message its
// source topic carries, as protojson, when it decodes as one; otherwise its
// bytes in base64. A value that decodes is not necessarily valid: it may
// be the very reason the record was set aside.
type Value struct {
	// JSON is the decoded message, or nil.
	JSON json.RawMessage
	// Base64 holds the bytes when JSON is nil.
	Base64 string
}

// DecodeValue decodes value as the message of topic in namespace.
func DecodeValue(namespace, topic string, value []byte) Value {
	name, ok := topic, namespace == ""
	if !ok {
		name, ok = strings.CutPrefix(topic, namespace+".")
	}
	if newMsg, known := messages[name]; ok && known {
		m := newMsg()
		// Bytes that parse only as fields the message does not have are
		// not that message: printed as {} they would hide what they hold.
		if proto.Unmarshal(value, m) == nil && len(m.ProtoReflect().GetUnknown()) == 0 {
			// protojson varies its spaces on purpose; Compact removes them.
			if b, err := protojson.Marshal(m); err == nil {
				var c bytes.Buffer
				if json.Compact(&c, b) == nil {
					return Value{JSON: json.RawMessage(c.Bytes())}
				}
			}
		}
	}
	return Value{Base64: base64.StdEncoding.EncodeToString(value)}
}

// String is the value as one line.
func (v Value) String() string {
	if v.JSON != nil {
		return string(v.JSON)
	}
	return "base64:" + v.Base64
}
