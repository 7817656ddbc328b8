package inventory

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/processors/inventory"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// StateCodec is the processor's codec for a SKU's own key: its head and
// the writes of its last command (see store.go).
type StateCodec struct{}

func (StateCodec) Encode(v any) ([]byte, error) {
	s, ok := v.(stored)
	if !ok {
		return nil, fmt.Errorf("inventory: state codec cannot encode %T", v)
	}
	return encodeStored(s)
}

func (StateCodec) Decode(b []byte) (any, error) {
	v, err := decodeStored(b)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// HeadCodec reads the table as views do: an inventory.Head per SKU. A view
// holds the SKU's other keys too (it copies the changelog) and reads only
// the SKUs' own.
type HeadCodec struct{}

func (HeadCodec) Encode(v any) ([]byte, error) {
	h, ok := v.(inventory.Head)
	if !ok {
		return nil, fmt.Errorf("inventory: head codec cannot encode %T", v)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(inventory.HeadToWire(h))
}

func (HeadCodec) Decode(b []byte) (any, error) {
	h, err := decodeHead(b)
	if err != nil {
		return nil, err
	}
	return h, nil
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
