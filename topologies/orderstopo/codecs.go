package orderstopo

import (
	"github.com/titan-commerce/titan/processors/orders"
	"github.com/titan-commerce/titan/schemas/codec"
)

// OrderCodec stores an orders.Order in the table as ordersv1.Order. Views
// that only render the order (the API) read the same bytes with
// codec.NewProto[*ordersv1.Order]().
var OrderCodec = codec.Wire(orders.OrderToWire, orders.OrderFromWire)
