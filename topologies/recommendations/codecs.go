package recommendations

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/processors/recommendations"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
)

// The table codecs store the domain values in their wire form; the API's
// views read the same bytes with codec.NewProto of the wire message.
var marshal = proto.MarshalOptions{Deterministic: true}

// UserCodec stores a recommendations.UserHistory.
type UserCodec struct{}

func (UserCodec) Encode(v any) ([]byte, error) {
	h, ok := v.(recommendations.UserHistory)
	if !ok {
		return nil, fmt.Errorf("recommendations: user codec cannot encode %T", v)
	}
	return marshal.Marshal(recommendations.UserHistoryToWire(h))
}

func (UserCodec) Decode(b []byte) (any, error) {
	var w recommendationsv1.UserHistory
	if err := proto.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("recommendations: decode user: %w", err)
	}
	return recommendations.UserHistoryFromWire(&w), nil
}

// BasketCodec stores a recommendations.Basket.
type BasketCodec struct{}

func (BasketCodec) Encode(v any) ([]byte, error) {
	b, ok := v.(recommendations.Basket)
	if !ok {
		return nil, fmt.Errorf("recommendations: basket codec cannot encode %T", v)
	}
	return marshal.Marshal(recommendations.BasketToWire(b))
}

func (BasketCodec) Decode(b []byte) (any, error) {
	var w recommendationsv1.Basket
	if err := proto.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("recommendations: decode basket: %w", err)
	}
	return recommendations.BasketFromWire(&w), nil
}

// ItemCodec stores an item's head (store.go): a value of layout 2, or of
// layout 1 with the neighbors in it.
type ItemCodec struct{}

func (ItemCodec) Encode(v any) ([]byte, error) {
	s, ok := v.(stored)
	if !ok {
		return nil, fmt.Errorf("recommendations: item codec cannot encode %T", v)
	}
	return encodeStored(s)
}

func (ItemCodec) Decode(b []byte) (any, error) { return decodeStored(b) }
