package inventorytopo

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/millis"
	"github.com/titan-commerce/titan/processors/inventory"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// The fields of inventoryv1.SkuState and inventoryv1.Stock a head is made
// of.
const (
	fieldStock          = 1
	fieldOffset         = 2
	fieldClockMs        = 5
	fieldNextExpiryMs   = 6
	fieldInternalOffset = 7
	fieldSeq            = 8
	fieldOldestSeq      = 9
	fieldLayout         = 12
	fieldNextOrder      = 13
	fieldOldestAtMs     = 14

	fieldOnHand   = 1
	fieldReserved = 2
	fieldSold     = 3
)

var errMalformedHead = errors.New("inventory: decode state: malformed value")

// decodeHead reads the head out of a SKU's own value without decoding the
// rest. A view is read on every GET and the value also holds the last
// command's redo writes, which proto.Unmarshal would copy out one message
// each. It reads what proto.Unmarshal and HeadFromWire read: the last of a
// repeated scalar wins, a repeated stock merges, a field of the wrong wire
// type is skipped as unknown. A value of layout 1 keeps its head in its
// reservations and goes the whole way. The skipped fields are only walked
// over, so their contents are not checked as proto.Unmarshal checks them.
func decodeHead(value []byte) (inventory.Head, error) {
	var w headFields
	var stock inventory.Stock
	var nextOrder []byte
	for b := value; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return inventory.Head{}, errMalformedHead
		}
		b = b[n:]
		switch {
		case typ == protowire.VarintType && isHeadVarint(num):
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return inventory.Head{}, errMalformedHead
			}
			b = b[n:]
			setHeadVarint(&w, num, v)
			continue
		case typ == protowire.BytesType && (num == fieldStock || num == fieldNextOrder):
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return inventory.Head{}, errMalformedHead
			}
			b = b[n:]
			if num == fieldNextOrder {
				nextOrder = v
			} else if err := mergeStock(&stock, v); err != nil {
				return inventory.Head{}, err
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return inventory.Head{}, errMalformedHead
		}
		b = b[n:]
	}
	if w.layout < 2 {
		var all inventoryv1.SkuState
		if err := proto.Unmarshal(value, &all); err != nil {
			return inventory.Head{}, fmt.Errorf("inventory: decode state: %w", err)
		}
		return inventory.HeadFromWire(&all), nil
	}
	if !utf8.Valid(nextOrder) {
		return inventory.Head{}, errors.New("inventory: decode state: next_order is not UTF-8")
	}
	return inventory.Head{
		Stock:          stock,
		Offset:         w.offset,
		InternalOffset: w.internalOffset,
		Seq:            w.seq,
		Clock:          millis.Time(w.clockMs),
		NextExpiry:     millis.Time(w.nextExpiryMs),
		NextOrder:      string(nextOrder),
		Oldest:         w.oldestSeq,
		OldestAt:       millis.Time(w.oldestAtMs),
	}, nil
}

// headFields are the varint fields of a head as they are on the wire.
type headFields struct {
	offset, clockMs, nextExpiryMs, internalOffset, seq, oldestSeq, oldestAtMs int64
	layout                                                                    int32
}

func isHeadVarint(num protowire.Number) bool {
	switch num {
	case fieldOffset, fieldClockMs, fieldNextExpiryMs, fieldInternalOffset, fieldSeq, fieldOldestSeq, fieldOldestAtMs, fieldLayout:
		return true
	}
	return false
}

func setHeadVarint(w *headFields, num protowire.Number, v uint64) {
	switch num {
	case fieldOffset:
		w.offset = int64(v)
	case fieldClockMs:
		w.clockMs = int64(v)
	case fieldNextExpiryMs:
		w.nextExpiryMs = int64(v)
	case fieldInternalOffset:
		w.internalOffset = int64(v)
	case fieldSeq:
		w.seq = int64(v)
	case fieldOldestSeq:
		w.oldestSeq = int64(v)
	case fieldOldestAtMs:
		w.oldestAtMs = int64(v)
	case fieldLayout:
		w.layout = int32(v)
	}
}

// mergeStock reads an encoded inventoryv1.Stock over s, as proto merges a
// message field given more than once.
func mergeStock(s *inventory.Stock, b []byte) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errMalformedHead
		}
		b = b[n:]
		if typ == protowire.VarintType && num >= fieldOnHand && num <= fieldSold {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return errMalformedHead
			}
			b = b[n:]
			switch num {
			case fieldOnHand:
				s.OnHand = int64(v)
			case fieldReserved:
				s.Reserved = int64(v)
			case fieldSold:
				s.Sold = int64(v)
			}
			continue
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return errMalformedHead
		}
		b = b[n:]
	}
	return nil
}
