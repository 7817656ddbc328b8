package codec

import (
	"fmt"

	"google.golang.org/protobuf/proto"
)

// Value is a goka.Codec for a Go type T: goka hands a table's or a
// stream's values around as any, and Value checks the type once, at the
// edge, so the functions it is built from are typed. It holds no mutable
// state and is safe for concurrent use if they are.
type Value[T any] struct {
	encode func(T) ([]byte, error)
	decode func([]byte) (T, error)
}

// Of returns the codec that encodes with encode and decodes with decode.
func Of[T any](encode func(T) ([]byte, error), decode func([]byte) (T, error)) Value[T] {
	return Value[T]{encode: encode, decode: decode}
}

// Wire returns the codec for a domain value T kept in its wire form M: the
// plain protobuf encoding of toWire's message, decoded by fromWire, as
// every table of Titan's that is not laid out by hand.
func Wire[T any, M proto.Message](toWire func(T) M, fromWire func(M) T) Value[T] {
	p := NewProto[M]()
	return Of(
		EncodeWire(toWire),
		func(b []byte) (T, error) {
			m, err := p.DecodeMessage(b)
			if err != nil {
				var zero T
				return zero, err
			}
			return fromWire(m), nil
		})
}

// EncodeWire returns Wire's encoder alone, for a value whose decoding
// reads more than one layout.
func EncodeWire[T any, M proto.Message](toWire func(T) M) func(T) ([]byte, error) {
	p := NewProto[M]()
	return func(v T) ([]byte, error) { return p.Encode(toWire(v)) }
}

// Encode encodes value, which must be a T.
func (c Value[T]) Encode(value any) ([]byte, error) {
	v, ok := value.(T)
	if !ok {
		return nil, fmt.Errorf("%w: want %T, got %T", ErrEncode, *new(T), value)
	}
	return c.encode(v)
}

// Decode decodes data into a T, returned as any for goka.
func (c Value[T]) Decode(data []byte) (any, error) {
	v, err := c.decode(data)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// DecodeValue is Decode with a typed result.
func (c Value[T]) DecodeValue(data []byte) (T, error) { return c.decode(data) }
