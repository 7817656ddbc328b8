package inventory

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/processors/inventory"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// StateCodec stores an inventory.State in the table as inventoryv1.SkuState,
// so goka hands the processor and every view plain values.
type StateCodec struct{}

func (StateCodec) Encode(v any) ([]byte, error) {
	s, ok := v.(inventory.State)
	if !ok {
		return nil, fmt.Errorf("inventory: state codec cannot encode %T", v)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(inventory.StateToWire(s))
}

func (StateCodec) Decode(b []byte) (any, error) {
	var w inventoryv1.SkuState
	if err := proto.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("inventory: decode state: %w", err)
	}
	return inventory.StateFromWire(&w), nil
}

// IndexCodec stores an inventory.OrderIndex as inventoryv1.OrderReservations.
type IndexCodec struct{}

func (IndexCodec) Encode(v any) ([]byte, error) {
	x, ok := v.(inventory.OrderIndex)
	if !ok {
		return nil, fmt.Errorf("inventory: index codec cannot encode %T", v)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(inventory.IndexToWire(x))
}

func (IndexCodec) Decode(b []byte) (any, error) {
	var w inventoryv1.OrderReservations
	if err := proto.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("inventory: decode order index: %w", err)
	}
	return inventory.IndexFromWire(&w), nil
}
