package flashsaletopo

import (
	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/schemas/codec"
)

var (
	// StateCodec stores a flashsale.State as flashsalev1.State.
	StateCodec = codec.Wire(flashsale.StateToWire, flashsale.StateFromWire)
	// ResultCodec stores a flashsale.Result as flashsalev1.Result.
	ResultCodec = codec.Wire(flashsale.ResultToWire, flashsale.ResultFromWire)
)
