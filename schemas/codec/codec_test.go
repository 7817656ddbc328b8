package codec_test

import (
	"errors"
	"testing"

	"github.com/lovoo/goka"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/schemas"
	"github.com/titan-commerce/titan/schemas/codec"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

// The codecs are handed to goka as goka.Codec; the assertion lives here so
// the codec package itself does not pull goka into SDK users.
var (
	_ goka.Codec = codec.Command()
	_ goka.Codec = codec.Event()
	_ goka.Codec = codec.SkuState()
	_ goka.Codec = codec.OrderReservations()
	_ goka.Codec = codec.OrderEvent()
)

func sampleCommand() *inventoryv1.Command {
	return &inventoryv1.Command{
		CommandId:   "cmd-1",
		OrderId:     "order-1",
		Sku:         "SKU-1",
		Qty:         2,
		TimestampMs: 1_700_000_000_000,
		Kind:        &inventoryv1.Command_Reserve{Reserve: &inventoryv1.Reserve{TtlMs: 900_000}},
	}
}

func sampleEvent() *inventoryv1.Event {
	return &inventoryv1.Event{
		Type:        inventoryv1.EventType_EVENT_TYPE_RESERVED,
		CommandId:   "cmd-1",
		OrderId:     "order-1",
		Sku:         "SKU-1",
		Qty:         2,
		TimestampMs: 1_700_000_000_000,
		ExpiresAtMs: 1_700_000_900_000,
		Offset:      41,
		Partition:   3,
		Stock:       &inventoryv1.Stock{OnHand: 10, Reserved: 2, Sold: 5},
	}
}

func sampleSkuState() *inventoryv1.SkuState {
	return &inventoryv1.SkuState{
		Stock:  &inventoryv1.Stock{OnHand: 10, Reserved: 2, Sold: 5},
		Offset: 41,
		Reservations: []*inventoryv1.Reservation{
			{OrderId: "order-1", Qty: 2, ExpiresAtMs: 1_700_000_900_000, CommandId: "cmd-1",
				Status: inventoryv1.ReservationStatus_RESERVATION_STATUS_OPEN},
			{OrderId: "order-0", Qty: 1, CommandId: "cmd-0",
				Status: inventoryv1.ReservationStatus_RESERVATION_STATUS_COMMITTED, ClosedAtMs: 1_699_999_000_000},
		},
		Applied: []*inventoryv1.AppliedCommand{
			{CommandId: "cmd-1", Result: sampleEvent(), AppliedAtMs: 1_700_000_000_000},
		},
		ClockMs: 1_700_000_000_000,
	}
}

func sampleOrderReservations() *inventoryv1.OrderReservations {
	second := sampleEvent()
	second.Sku = "SKU-2"
	second.Type = inventoryv1.EventType_EVENT_TYPE_REJECTED
	second.Reason = "insufficient_stock"
	return &inventoryv1.OrderReservations{OrderId: "order-1", Latest: []*inventoryv1.Event{sampleEvent(), second}}
}

func sampleOrderEvent() *ordersv1.OrderEvent {
	return &ordersv1.OrderEvent{
		EventId:     "evt-1",
		OrderId:     "order-1",
		TimestampMs: 1_700_000_000_000,
		Kind: &ordersv1.OrderEvent_Placed{Placed: &ordersv1.OrderPlaced{
			UserId:   "user-1",
			Currency: "EUR",
			Lines: []*ordersv1.OrderLine{
				{Sku: "SKU-1", Qty: 2, UnitPriceMinor: 1999},
				{Sku: "Größe-42", Qty: 1, UnitPriceMinor: 500},
			},
		}},
	}
}

func mustEncode(t testing.TB, c goka.Codec, v any) []byte {
	t.Helper()
	data, err := c.Encode(v)
	if err != nil {
		t.Fatalf("Encode(%T): %v", v, err)
	}
	return data
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    goka.Codec
		msg  proto.Message
	}{
		{"command", codec.Command(), sampleCommand()},
		{"event", codec.Event(), sampleEvent()},
		{"sku state", codec.SkuState(), sampleSkuState()},
		{"order reservations", codec.OrderReservations(), sampleOrderReservations()},
		{"order event", codec.OrderEvent(), sampleOrderEvent()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.c.Decode(mustEncode(t, tc.c, tc.msg))
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got.(proto.Message), tc.msg) {
				t.Fatalf("round trip changed the message:\n got %v\nwant %v", got, tc.msg)
			}
		})
	}
}

func TestEncodeRefusesOtherValues(t *testing.T) {
	c := codec.Command()
	var nilCmd *inventoryv1.Command
	for _, tc := range []struct {
		name  string
		value any
	}{
		{"other message", sampleEvent()},
		{"nil interface", nil},
		{"typed nil", nilCmd},
		{"bytes", []byte("x")},
		{"invalid utf-8", &inventoryv1.Command{Sku: "\xff"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := c.Encode(tc.value)
			if !errors.Is(err, codec.ErrEncode) {
				t.Fatalf("Encode(%T) = %x, %v; want ErrEncode", tc.value, data, err)
			}
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	for _, data := range [][]byte{
		{0xff},                         // truncated varint tag
		{0x1a, 0x05, 'S'},              // sku longer than the input
		{0x1a, 0x02, 0xff, 0xfe},       // sku not UTF-8
		{0x00},                         // field number 0
		{0x0b},                         // unterminated group
		{0x52, 0x02, 0x08},             // restock payload cut short
		{0x5a, 0x03, 0x08, 0x80, 0x80}, // reserve ttl varint cut short
	} {
		v, err := codec.Command().Decode(data)
		if !errors.Is(err, codec.ErrDecode) {
			t.Errorf("Decode(%x) = %v, %v; want ErrDecode", data, v, err)
		}
		if v != nil {
			t.Errorf("Decode(%x) returned %#v with its error; want nil", data, v)
		}
	}
}

// Decoding must not validate: the processor needs the decoded command to
// dead-letter it with the validation reason.
func TestDecodeDoesNotValidate(t *testing.T) {
	cmd := sampleCommand()
	cmd.Qty = -7
	cmd.GetReserve().TtlMs = 0

	got, err := codec.Command().DecodeMessage(mustEncode(t, codec.Command(), cmd))
	if err != nil {
		t.Fatalf("decoding an invalid command: %v", err)
	}
	var ie *schemas.InvalidError
	if err := schemas.ValidateCommand(got); !errors.As(err, &ie) || ie.Reason != schemas.ReasonInvalidQty {
		t.Fatalf("ValidateCommand(decoded) = %v, want invalid_qty", err)
	}
}

func TestEmptyBytesDecodeToZeroMessage(t *testing.T) {
	got, err := codec.SkuState().DecodeMessage(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, &inventoryv1.SkuState{}) {
		t.Fatalf("got %v, want empty state", got)
	}
}

// A field added by a newer release must survive a decode and re-encode by
// this one, or rewriting state would silently drop it.
func TestUnknownFieldsSurvive(t *testing.T) {
	data := mustEncode(t, codec.SkuState(), sampleSkuState())
	data = protowire.AppendTag(data, 99, protowire.BytesType)
	data = protowire.AppendString(data, "from the future")

	st, err := codec.SkuState().DecodeMessage(data)
	if err != nil {
		t.Fatal(err)
	}
	st.ClockMs++
	again, err := codec.SkuState().DecodeMessage(mustEncode(t, codec.SkuState(), st))
	if err != nil {
		t.Fatal(err)
	}
	if len(again.ProtoReflect().GetUnknown()) == 0 {
		t.Fatal("unknown field 99 was dropped")
	}
}

func TestInterfaceTypeParameterFailsCleanly(t *testing.T) {
	c := codec.NewProto[proto.Message]()
	if _, err := c.Encode(sampleCommand()); !errors.Is(err, codec.ErrEncode) {
		t.Fatalf("Encode: %v, want ErrEncode", err)
	}
	if _, err := c.Decode(nil); !errors.Is(err, codec.ErrDecode) {
		t.Fatalf("Decode: %v, want ErrDecode", err)
	}
}

func TestPeekVarint(t *testing.T) {
	b, err := proto.Marshal(&inventoryv1.SkuState{Offset: 7, ClockMs: 99, NextExpiryMs: 1_700_000_000_123,
		Reservations: []*inventoryv1.Reservation{{OrderId: "o", Qty: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		field protowire.Number
		want  uint64
	}{{6, 1_700_000_000_123}, {5, 99}, {2, 7}, {8, 0}} {
		if got, ok := codec.PeekVarint(b, tc.field); !ok || got != tc.want {
			t.Errorf("field %d: %d %v, want %d", tc.field, got, ok, tc.want)
		}
	}
	if _, ok := codec.PeekVarint([]byte{0xff}, 6); ok {
		t.Error("unreadable bytes read")
	}
	if _, ok := codec.PeekVarint(b[:len(b)-1], 99); ok {
		t.Error("truncated bytes read to the end")
	}
}
