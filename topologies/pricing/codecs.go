package pricing

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/processors/pricing"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
)

// StateCodec stores a pricing.State as pricingv1.SkuPrice. Views that only
// render prices (the API) read the same bytes with
// codec.NewProto[*pricingv1.SkuPrice]().
type StateCodec struct{}

func (StateCodec) Encode(v any) ([]byte, error) {
	s, ok := v.(pricing.State)
	if !ok {
		return nil, fmt.Errorf("pricing: state codec cannot encode %T", v)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(pricing.StateToWire(s))
}

func (StateCodec) Decode(b []byte) (any, error) {
	var w pricingv1.SkuPrice
	if err := proto.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("pricing: decode state: %w", err)
	}
	return pricing.StateFromWire(&w), nil
}
