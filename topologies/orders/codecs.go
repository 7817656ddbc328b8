package orders

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/processors/orders"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

// OrderCodec stores an orders.Order in the table as ordersv1.Order. Views
// that only render the order (the API) read the same bytes with
// codec.NewProto[*ordersv1.Order]().
type OrderCodec struct{}

func (OrderCodec) Encode(v any) ([]byte, error) {
	o, ok := v.(orders.Order)
	if !ok {
		return nil, fmt.Errorf("orders: order codec cannot encode %T", v)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(orders.OrderToWire(o))
}

func (OrderCodec) Decode(b []byte) (any, error) {
	var w ordersv1.Order
	if err := proto.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("orders: decode order: %w", err)
	}
	return orders.OrderFromWire(&w), nil
}
