package pricingtopo

import (
	"github.com/titan-commerce/titan/processors/pricing"
	"github.com/titan-commerce/titan/schemas/codec"
)

// StateCodec stores a pricing.State as pricingv1.SkuPrice. Views that only
// render prices (the API) read the same bytes with
// codec.NewProto[*pricingv1.SkuPrice]().
var StateCodec = codec.Wire(pricing.StateToWire, pricing.StateFromWire)
