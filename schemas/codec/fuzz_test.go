package codec_test

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/schemas/codec"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

// fuzzDecode checks what a consumer of untrusted record values relies on:
// Decode never panics, fails only with ErrDecode, and whatever it accepts
// re-encodes to bytes that decode to an equal message, so state written back
// is state read.
func fuzzDecode[M proto.Message](f *testing.F, c *codec.Proto[M], seeds ...M) {
	f.Add([]byte{})
	for _, s := range seeds {
		f.Add(mustEncode(f, c, s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := c.Decode(data)
		if err != nil {
			if !errors.Is(err, codec.ErrDecode) {
				t.Fatalf("Decode error does not wrap ErrDecode: %v", err)
			}
			if v != nil {
				t.Fatalf("Decode returned %#v with error %v", v, err)
			}
			return
		}
		first, ok := v.(M)
		if !ok {
			t.Fatalf("Decode returned %T", v)
		}
		again, err := c.Encode(first)
		if err != nil {
			t.Fatalf("re-encoding a decoded message: %v", err)
		}
		second, err := c.DecodeMessage(again)
		if err != nil {
			t.Fatalf("decoding a re-encoded message: %v", err)
		}
		if !proto.Equal(first, second) {
			t.Fatalf("re-encode changed the message:\nfirst  %v\nsecond %v", first, second)
		}
	})
}

func FuzzDecodeCommand(f *testing.F) {
	restock := sampleCommand()
	restock.Kind = &inventoryv1.Command_Restock{Restock: &inventoryv1.Restock{}}
	expire := sampleCommand()
	expire.Kind = &inventoryv1.Command_Expire{Expire: &inventoryv1.Expire{}}
	fuzzDecode(f, codec.Command(), sampleCommand(), restock, expire)
}

func FuzzDecodeEvent(f *testing.F) {
	expired := sampleEvent()
	expired.Type = inventoryv1.EventType_EVENT_TYPE_EXPIRED
	expired.ReserveCommandId = "cmd-0"
	fuzzDecode(f, codec.Event(), sampleEvent(), expired)
}

func FuzzDecodeSkuState(f *testing.F) {
	fuzzDecode(f, codec.SkuState(), sampleSkuState(), &inventoryv1.SkuState{Stock: &inventoryv1.Stock{}})
}

func FuzzDecodeOrderReservations(f *testing.F) {
	fuzzDecode(f, codec.OrderReservations(), sampleOrderReservations())
}

func FuzzDecodeOrderEvent(f *testing.F) {
	cancelled := sampleOrderEvent()
	cancelled.Kind = &ordersv1.OrderEvent_Cancelled{Cancelled: &ordersv1.OrderCancelled{Reason: "customer"}}
	fuzzDecode(f, codec.OrderEvent(), sampleOrderEvent(), cancelled)
}
