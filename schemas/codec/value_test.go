package codec_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/lovoo/goka"

	"github.com/titan-commerce/titan/schemas/codec"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// stock stands for a domain value kept in its wire form.
type stock struct {
	sku string
	qty int64
}

func stockToWire(s stock) *inventoryv1.Command {
	return &inventoryv1.Command{Sku: s.sku, Qty: s.qty}
}

func stockFromWire(w *inventoryv1.Command) stock { return stock{sku: w.GetSku(), qty: w.GetQty()} }

var stockCodec = codec.Wire(stockToWire, stockFromWire)

var _ goka.Codec = stockCodec

func TestWireRoundTripsTheDomainValue(t *testing.T) {
	for _, v := range []stock{{}, {sku: "sku-1", qty: 3}, {sku: "ü", qty: -1 << 62}} {
		b, err := stockCodec.Encode(v)
		if err != nil {
			t.Fatalf("Encode(%v): %v", v, err)
		}
		// The bytes are the wire message's plain encoding, which views and
		// other languages read without the domain type.
		want, err := codec.Command().Encode(stockToWire(v))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("Encode(%v) = %x, want the wire message's %x", v, b, want)
		}
		got, err := stockCodec.Decode(b)
		if err != nil || got != v {
			t.Errorf("Decode(Encode(%v)) = %#v, %v", v, got, err)
		}
		typed, err := stockCodec.DecodeValue(b)
		if err != nil || typed != v {
			t.Errorf("DecodeValue(Encode(%v)) = %#v, %v", v, typed, err)
		}
	}
}

func TestValueRefusesAnotherType(t *testing.T) {
	for _, v := range []any{nil, &stock{sku: "a"}, stockToWire(stock{sku: "a"}), "a"} {
		b, err := stockCodec.Encode(v)
		if !errors.Is(err, codec.ErrEncode) || !strings.Contains(err.Error(), "codec_test.stock") {
			t.Errorf("Encode(%T) = %x, %v; want ErrEncode naming the wanted type", v, b, err)
		}
	}
}

func TestValueDecodeErrorsReturnNoValue(t *testing.T) {
	v, err := stockCodec.Decode([]byte{0x1a, 0x05, 'S'})
	if !errors.Is(err, codec.ErrDecode) || v != nil {
		t.Errorf("Decode(malformed) = %#v, %v; want nil and ErrDecode", v, err)
	}
	custom := codec.Of(func(string) ([]byte, error) { return nil, nil },
		func([]byte) (string, error) { return "", errors.New("layout 9 unknown") })
	if v, err := custom.Decode(nil); v != nil || err == nil {
		t.Errorf("Decode = %#v, %v; want nil and the decoder's error", v, err)
	}
}
