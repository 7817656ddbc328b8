package fraudtopo

import (
	"github.com/titan-commerce/titan/processors/fraud"
	"github.com/titan-commerce/titan/schemas/codec"
)

// EntityCodec stores a fraud.Entity as fraudv1.Entity. Views that only
// render it (the API) read the same bytes with
// codec.NewProto[*fraudv1.Entity]().
var EntityCodec = codec.Wire(fraud.EntityToWire, fraud.EntityFromWire)
