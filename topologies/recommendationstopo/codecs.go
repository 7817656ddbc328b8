package recommendationstopo

import (
	"github.com/titan-commerce/titan/processors/recommendations"
	"github.com/titan-commerce/titan/schemas/codec"
)

// The table codecs store the domain values in their wire form; the API's
// views read the same bytes with codec.NewProto of the wire message.
var (
	// UserCodec stores a recommendations.UserHistory.
	UserCodec = codec.Wire(recommendations.UserHistoryToWire, recommendations.UserHistoryFromWire)
	// BasketCodec stores a recommendations.Basket.
	BasketCodec = codec.Wire(recommendations.BasketToWire, recommendations.BasketFromWire)
	// ItemCodec stores an item's head (store.go): a value of layout 2, or
	// of layout 1 with the neighbors in it.
	ItemCodec = codec.Of(encodeStored, decodeStored)
)
