// Package codec holds the goka codecs for Titan's protobuf messages. Every
// topic and table value in a topology goes through one of these, so a value
// is always the plain protobuf encoding described in package schemas.
//
// Decoding never validates: a processor decodes, then calls
// schemas.ValidateCommand, so a command that parses but breaks a rule can be
// dead-lettered with its reason instead of failing as unreadable bytes.
package codec

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

var (
	// ErrDecode is wrapped by every Decode error: the bytes are not an
	// encoding of the codec's message.
	ErrDecode = errors.New("codec: malformed message")
	// ErrEncode is wrapped by every Encode error: the value is not a
	// non-nil message of the codec's type, or cannot be encoded.
	ErrEncode = errors.New("codec: cannot encode value")
)

// Proto is a goka.Codec for one protobuf message type M, given as a pointer
// (*inventoryv1.Command). It holds no mutable state and is safe for
// concurrent use, as goka requires.
type Proto[M proto.Message] struct {
	typ protoreflect.MessageType
}

// NewProto returns the codec for M, which must be a pointer to a generated
// message. For an interface type such as proto.Message there is no message
// to decode into, and every Encode and Decode fails.
func NewProto[M proto.Message]() *Proto[M] {
	var zero M
	if any(zero) == nil {
		return &Proto[M]{}
	}
	// Generated messages answer ProtoReflect on a nil pointer, which is how
	// the type is found without allocating a message.
	return &Proto[M]{typ: zero.ProtoReflect().Type()}
}

// Command is the codec for titan.inventory.commands values.
func Command() *Proto[*inventoryv1.Command] { return NewProto[*inventoryv1.Command]() }

// Event is the codec for titan.inventory.events and
// titan.inventory.order-events values.
func Event() *Proto[*inventoryv1.Event] { return NewProto[*inventoryv1.Event]() }

// SkuState is the codec for the inventory table, keyed by SKU.
func SkuState() *Proto[*inventoryv1.SkuState] { return NewProto[*inventoryv1.SkuState]() }

// OrderReservations is the codec for the order index table, keyed by order id.
func OrderReservations() *Proto[*inventoryv1.OrderReservations] {
	return NewProto[*inventoryv1.OrderReservations]()
}

// OrderEvent is the codec for titan.orders.events values.
func OrderEvent() *Proto[*ordersv1.OrderEvent] { return NewProto[*ordersv1.OrderEvent]() }

// Deterministic output keeps equal messages byte-equal even if a map field
// is added later, so comparing encoded values stays meaningful.
var marshal = proto.MarshalOptions{Deterministic: true}

// Encode encodes value, which must be a non-nil M. A nil message is refused
// rather than encoded as empty bytes, because an empty value reads back as a
// zero message that looks valid.
func (c *Proto[M]) Encode(value any) ([]byte, error) {
	m, ok := value.(M)
	if !ok || c.typ == nil {
		return nil, fmt.Errorf("%w: want %T, got %T", ErrEncode, *new(M), value)
	}
	if !m.ProtoReflect().IsValid() {
		return nil, fmt.Errorf("%w: nil %T", ErrEncode, m)
	}
	data, err := marshal.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrEncode, c.typ.Descriptor().FullName(), err)
	}
	return data, nil
}

// Decode decodes data into a new M, returned as any for goka.
func (c *Proto[M]) Decode(data []byte) (any, error) {
	m, err := c.DecodeMessage(data)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// DecodeMessage is Decode with a typed result. Fields unknown to this build
// are kept, so state written by a newer release survives being rewritten by
// an older one.
func (c *Proto[M]) DecodeMessage(data []byte) (M, error) {
	var zero M
	if c.typ == nil {
		return zero, fmt.Errorf("%w: %T is not a concrete message type", ErrDecode, zero)
	}
	m := c.typ.New().Interface().(M)
	if err := proto.Unmarshal(data, m); err != nil {
		return zero, fmt.Errorf("%w %s: %w", ErrDecode, c.typ.Descriptor().FullName(), err)
	}
	return m, nil
}
