package inventorytopo

import (
	"fmt"
	"math"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/processors/inventory"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// wireHead is what a view read before decodeHead: the whole value
// through proto.Unmarshal.
func wireHead(b []byte) (inventory.Head, error) {
	var w inventoryv1.SkuState
	if err := proto.Unmarshal(b, &w); err != nil {
		return inventory.Head{}, err
	}
	return inventory.HeadFromWire(&w), nil
}

// checkHead holds decodeHead to wireHead: the same head wherever
// proto.Unmarshal reads the value, and no head where it cannot read the
// fields a head is made of. (The other way round is allowed: decodeHead
// does not look inside the fields it skips.)
func checkHead(t *testing.T, b []byte) {
	t.Helper()
	got, gotErr := decodeHead(b)
	want, wantErr := wireHead(b)
	switch {
	case wantErr == nil && gotErr != nil:
		t.Fatalf("decodeHead(%x): %v; proto.Unmarshal reads it", b, gotErr)
	case wantErr == nil && !got.Clock.Equal(want.Clock), wantErr == nil && !got.NextExpiry.Equal(want.NextExpiry):
		t.Fatalf("decodeHead(%x) = %+v, want %+v", b, got, want)
	case wantErr == nil:
		got.Clock, got.NextExpiry = want.Clock, want.NextExpiry
		if got != want {
			t.Fatalf("decodeHead(%x) = %+v, want %+v", b, got, want)
		}
	}
}

// storedValues are values a SKU's own key holds: both layouts, with and
// without redo writes and open reservations.
func storedValues(t testing.TB) [][]byte {
	t.Helper()
	now := time.UnixMilli(1_700_000_000_000)
	s := inventory.NewState()
	var out [][]byte
	for i, c := range []inventory.Command{
		{ID: "c1", Kind: inventory.KindRestock, SKU: "a", Qty: 10, Time: now, Offset: 7},
		{ID: "c2", Kind: inventory.KindReserve, SKU: "a", OrderID: "o", Qty: 1, TTL: time.Second, Time: now, Offset: 8},
		{ID: "c3", Kind: inventory.KindReserve, SKU: "a", OrderID: "o€<2>", Qty: 2, TTL: time.Minute, Time: now, Offset: 9},
		{ID: "c4", Kind: inventory.KindCommit, SKU: "a", OrderID: "o", Time: now.Add(time.Millisecond), Offset: 10},
	} {
		s, _ = inventory.Decide(s, c, inventory.DefaultPolicy())
		layout1, err := proto.Marshal(inventory.StateToWire(s))
		if err != nil {
			t.Fatal(err)
		}
		writes, _ := explode("a", s)
		layout2, err := encodeStored(stored{head: s.Head(), redo: writes, writer: uint64(i)})
		if err != nil {
			t.Fatal(err)
		}
		bare, err := HeadCodec.Encode(s.Head())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, layout1, layout2, bare)
	}
	return out
}

func TestDecodeHead(t *testing.T) {
	for _, b := range storedValues(t) {
		checkHead(t, b)
	}
	big := inventory.Head{Stock: inventory.Stock{OnHand: math.MaxInt64, Reserved: -1, Sold: math.MinInt64},
		Offset: math.MaxInt64, InternalOffset: -1, Seq: 1 << 40, Oldest: 1, Clock: time.UnixMilli(1), NextOrder: "z\x00"}
	b, err := HeadCodec.Encode(big)
	if err != nil {
		t.Fatal(err)
	}
	checkHead(t, b)
	// What proto.Unmarshal does with fields given twice, out of order, of
	// the wrong wire type or unknown.
	var odd []byte
	odd = protowire.AppendTag(odd, fieldLayout, protowire.VarintType)
	odd = protowire.AppendVarint(odd, 2)
	for _, v := range []uint64{5, 9} {
		odd = protowire.AppendTag(odd, fieldSeq, protowire.VarintType)
		odd = protowire.AppendVarint(odd, v)
	}
	odd = protowire.AppendTag(odd, fieldStock, protowire.BytesType)
	odd = protowire.AppendBytes(odd, protowire.AppendVarint(protowire.AppendTag(nil, fieldOnHand, protowire.VarintType), 3))
	odd = protowire.AppendTag(odd, fieldStock, protowire.BytesType)
	odd = protowire.AppendBytes(odd, protowire.AppendVarint(protowire.AppendTag(nil, fieldSold, protowire.VarintType), 4))
	odd = protowire.AppendTag(odd, fieldOffset, protowire.Fixed64Type)
	odd = protowire.AppendFixed64(odd, 77)
	odd = protowire.AppendTag(odd, 99, protowire.BytesType)
	odd = protowire.AppendBytes(odd, []byte("unknown"))
	odd = protowire.AppendTag(odd, fieldNextOrder, protowire.BytesType)
	odd = protowire.AppendBytes(odd, []byte("order"))
	checkHead(t, odd)
	if h, _ := decodeHead(odd); h.Seq != 9 || h.Stock != (inventory.Stock{OnHand: 3, Sold: 4}) || h.NextOrder != "order" {
		t.Fatalf("decodeHead of repeated fields = %+v", h)
	}
	for _, bad := range [][]byte{{0xff}, {0x0a, 0x05, 0x08}, {0x6a, 0x01, 0xff, 0x60, 0x02}, {0x00}} {
		if _, err := decodeHead(bad); err == nil {
			t.Errorf("decodeHead(%x) read a head", bad)
		}
		checkHead(t, bad)
	}
}

func FuzzDecodeHead(f *testing.F) {
	for _, b := range storedValues(f) {
		f.Add(b)
	}
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, b []byte) { checkHead(t, b) })
}

func BenchmarkDecodeHead(b *testing.B) {
	values := storedValues(b)
	v := values[len(values)-2] // layout 2 with redo writes
	for _, c := range []struct {
		name   string
		decode func([]byte) (inventory.Head, error)
	}{{"proto", wireHead}, {"head", decodeHead}} {
		b.Run(fmt.Sprintf("%s/%dB", c.name, len(v)), func(b *testing.B) {
			for b.Loop() {
				if _, err := c.decode(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
