package recommendations

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
)

// roundTrip marshals w and unmarshals it into a fresh message of its type.
func roundTrip[M proto.Message](t *testing.T, w M) M {
	t.Helper()
	b, err := proto.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	out := w.ProtoReflect().New().Interface().(M)
	if err := proto.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func busyItem(t testing.TB) ItemState {
	var s ItemState
	for i := range 60 {
		sig := SignalView
		if i%7 == 0 {
			sig = SignalPurchase
		}
		pr := pair(fmt.Sprintf("n%d", i%13), sig, time.Duration(i)*17*time.Minute, int64(i))
		pr.Origin.Partition = int32(i % 3)
		s, _ = Count(s, pr, Policy{})
	}
	return s
}

func busyUser() UserHistory {
	var h UserHistory
	for i := range 12 {
		h, _ = View(h, view(fmt.Sprint(i), fmt.Sprint("sku", i%5), []string{"", "s1"}[i%2], time.Duration(i)*7*time.Minute), Policy{})
	}
	return UserBought(h, "sku9", t0.Add(time.Hour), Policy{})
}

func TestWireRoundTrips(t *testing.T) {
	v := ViewEvent{EventID: "e", UserID: "u", SKU: "a", SessionID: "s", Time: t0}
	if got := ViewFromWire(roundTrip(t, ViewToWire(v))); got != v {
		t.Errorf("view %+v -> %+v", v, got)
	}
	for _, p := range []Pair{
		{Item: "a", Other: "b", Signal: SignalPurchase, Time: t0, Origin: Origin{Stream: 2, Partition: 7, Offset: 1 << 40, Seq: 3}},
		{Item: "a", Other: "b", Signal: SignalView, Time: t0},
	} {
		if got := PairFromWire(roundTrip(t, PairToWire(p))); got != p {
			t.Errorf("pair %+v -> %+v", p, got)
		}
	}
	s := busyItem(t)
	if got := ItemStateFromWire(roundTrip(t, ItemStateToWire(s))); !reflect.DeepEqual(got, s) {
		t.Errorf("item\n%+v\n->\n%+v", s, got)
	}
	if !proto.Equal(ItemStateToWire(s), ItemStateToWire(s.clone())) {
		t.Error("equal items encode differently")
	}
	h := busyUser()
	if got := UserHistoryFromWire(roundTrip(t, UserHistoryToWire(h))); !reflect.DeepEqual(got, h) {
		t.Errorf("user\n%+v\n->\n%+v", h, got)
	}
	b := Basket{OrderID: "o", SKUs: []string{"a", "b"}, UserID: "u"}
	if got := BasketFromWire(roundTrip(t, BasketToWire(b))); !reflect.DeepEqual(got, b) {
		t.Errorf("basket %+v -> %+v", b, got)
	}
	for _, zero := range []any{ItemStateFromWire(nil), UserHistoryFromWire(nil), BasketFromWire(nil), PairFromWire(nil), ViewFromWire(nil)} {
		if !reflect.ValueOf(zero).IsZero() {
			t.Errorf("nil decodes to %+v", zero)
		}
	}
}

func TestItemStateFromWireSanitisesScores(t *testing.T) {
	w := &recommendationsv1.ItemState{Sku: "i", Neighbors: []*recommendationsv1.Neighbor{
		{Sku: "a", ViewScore: -1, PurchaseScore: 2}, {Sku: "b", ViewScore: math.NaN(), PurchaseScore: math.Inf(1)},
	}}
	s := ItemStateFromWire(w)
	if s.Neighbors[0].ViewScore != 0 || s.Neighbors[0].PurchaseScore != 2 || s.Neighbors[1].ViewScore != 0 || s.Neighbors[1].PurchaseScore != 0 {
		t.Fatalf("neighbors %+v", s.Neighbors)
	}
}

// TestPairRecordsGroupByItem: the pairs one input makes go out as one
// record per item, in the order of each item's first pair, and read back
// as that item's pairs in the order they were made.
func TestPairRecordsGroupByItem(t *testing.T) {
	at := time.UnixMilli(1_780_000_000_000).UTC()
	mk := func(item, other string, seq int32) Pair {
		return Pair{Item: item, Other: other, Signal: SignalView, Time: at,
			Origin: Origin{Stream: StreamViews, Partition: 2, Offset: 7, Seq: seq}}
	}
	pairs := []Pair{mk("a", "b", 0), mk("b", "a", 1), mk("a", "c", 2), mk("c", "a", 3), mk("a", "d", 4)}
	records := PairRecords(pairs)
	var items []string
	got := map[string][]Pair{}
	for _, r := range records {
		r = roundTrip(t, r)
		ps, err := PairsFromRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, r.GetItem())
		got[r.GetItem()] = ps
	}
	if want := []string{"a", "b", "c"}; !reflect.DeepEqual(items, want) {
		t.Fatalf("records for %v, want %v", items, want)
	}
	want := map[string][]Pair{"a": {pairs[0], pairs[2], pairs[4]}, "b": {pairs[1]}, "c": {pairs[3]}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read back %+v, want %+v", got, want)
	}
}

func TestPairsFromRecordRefusesMixedRecords(t *testing.T) {
	base := func() *recommendationsv1.Pair {
		return &recommendationsv1.Pair{Item: "a", Other: "b", More: []*recommendationsv1.Pair{{Item: "a", Other: "c"}}}
	}
	other := base()
	other.More[0].Item = "x"
	nested := base()
	nested.More[0].More = []*recommendationsv1.Pair{{Item: "a", Other: "d"}}
	for name, w := range map[string]*recommendationsv1.Pair{"more[0].item": other, "more[0].more": nested} {
		if _, err := PairsFromRecord(w); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err %v, want one naming the field", name, err)
		}
	}
	if ps, err := PairsFromRecord(base()); err != nil || len(ps) != 2 {
		t.Fatalf("a record of two pairs: %v, %v", ps, err)
	}
}

func FuzzPairsFromRecord(f *testing.F) {
	for _, w := range []*recommendationsv1.Pair{
		{Item: "a", Other: "b"},
		{Item: "a", Other: "b", More: []*recommendationsv1.Pair{{Item: "a", Other: "c"}, {Item: "x"}}},
	} {
		b, err := proto.Marshal(w)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var w recommendationsv1.Pair
		if proto.Unmarshal(b, &w) != nil {
			return
		}
		ps, err := PairsFromRecord(&w)
		if err != nil {
			return
		}
		if len(ps) != 1+len(w.GetMore()) {
			t.Fatalf("%d pairs from a record of %d", len(ps), 1+len(w.GetMore()))
		}
		for _, p := range ps {
			if p.Item != w.GetItem() {
				t.Fatalf("pair of item %q in a record of %q", p.Item, w.GetItem())
			}
		}
	})
}
