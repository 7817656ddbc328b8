package flashsale

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/processors/flashsale"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
)

// StateCodec stores a flashsale.State as flashsalev1.State.
type StateCodec struct{}

func (StateCodec) Encode(v any) ([]byte, error) {
	s, ok := v.(flashsale.State)
	if !ok {
		return nil, fmt.Errorf("flashsale: state codec cannot encode %T", v)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(flashsale.StateToWire(s))
}

func (StateCodec) Decode(b []byte) (any, error) {
	var w flashsalev1.State
	if err := proto.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("flashsale: decode state: %w", err)
	}
	return flashsale.StateFromWire(&w), nil
}

// ResultCodec stores a flashsale.Result as flashsalev1.Result.
type ResultCodec struct{}

func (ResultCodec) Encode(v any) ([]byte, error) {
	r, ok := v.(flashsale.Result)
	if !ok {
		return nil, fmt.Errorf("flashsale: result codec cannot encode %T", v)
	}
	return proto.Marshal(flashsale.ResultToWire(r))
}

func (ResultCodec) Decode(b []byte) (any, error) {
	var w flashsalev1.Result
	if err := proto.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("flashsale: decode result: %w", err)
	}
	return flashsale.ResultFromWire(&w), nil
}
