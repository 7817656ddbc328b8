package fraud

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/processors/fraud"
	fraudv1 "github.com/titan-commerce/titan/schemas/fraud/v1"
)

// EntityCodec stores a fraud.Entity as fraudv1.Entity. Views that only
// render it (the API) read the same bytes with
// codec.NewProto[*fraudv1.Entity]().
type EntityCodec struct{}

func (EntityCodec) Encode(v any) ([]byte, error) {
	e, ok := v.(fraud.Entity)
	if !ok {
		return nil, fmt.Errorf("fraud: entity codec cannot encode %T", v)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(fraud.EntityToWire(e))
}

func (EntityCodec) Decode(b []byte) (any, error) {
	var w fraudv1.Entity
	if err := proto.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("fraud: decode entity: %w", err)
	}
	return fraud.EntityFromWire(&w), nil
}
