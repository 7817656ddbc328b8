package inventorytopo

import (
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas/codec"
)

var (
	// StateCodec is the processor's codec for a SKU's own key: its head
	// and the writes of its last command (see store.go).
	StateCodec = codec.Of(encodeStored, decodeStored)
	// HeadCodec reads the table as views do: an inventory.Head per SKU. A
	// view holds the SKU's other keys too (it copies the changelog) and
	// reads only the SKUs' own.
	HeadCodec = codec.Of(codec.EncodeWire(inventory.HeadToWire), decodeHead)
	// IndexCodec stores an inventory.OrderIndex as
	// inventoryv1.OrderReservations.
	IndexCodec = codec.Wire(inventory.IndexToWire, inventory.IndexFromWire)
)
