package recommendations

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/schemas"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
)

// FuzzViewStep feeds arbitrary bytes through the path of a record from the
// views topic: decode, validate, View against a fresh and a busy history,
// and every pair it emits through Count. Nothing may panic, and what is
// kept must stay within the policy's bounds.
func FuzzViewStep(f *testing.F) {
	for _, v := range []ViewEvent{
		view("e1", "a", "", 0),
		view("e2", "sku3", "s1", 5*time.Minute),
		{EventID: "x", UserID: "u", SKU: "b", Time: time.UnixMilli(1)},
	} {
		b, err := proto.Marshal(ViewToWire(v))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})

	p := Policy{MaxRecent: 8, MaxEventIDs: 8, MaxPairsPerEvent: 4, MaxNeighbors: 6}
	busy := busyUser()
	item := busyItem(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var w recommendationsv1.ViewEvent
		if proto.Unmarshal(b, &w) != nil || schemas.ValidateViewEvent(&w) != nil {
			return
		}
		v := ViewFromWire(&w)
		for _, h := range []UserHistory{{}, busy} {
			got, pairs := View(h, v, p)
			if len(got.Recent) > p.MaxRecent || len(got.EventIDs) > p.MaxEventIDs || len(pairs) > 2*p.MaxPairsPerEvent {
				t.Fatalf("history %d recent, %d ids, %d pairs", len(got.Recent), len(got.EventIDs), len(pairs))
			}
			for _, pr := range Stamp(pairs, Origin{Stream: StreamViews, Offset: 1 << 50}) {
				s := item
				s.SKU = pr.Item
				s, _ = Count(s, pr, p)
				checkItem(t, s, p)
				s.Top(3, v.Time, p, nil)
			}
		}
	})
}

// FuzzPairCount feeds arbitrary bytes through the path of a record from the
// pairs topic and of a stored item state: decode both, Count, Top. Nothing
// may panic, and a state that was in order stays in order and bounded.
func FuzzPairCount(f *testing.F) {
	item := busyItem(f)
	stored, err := proto.Marshal(ItemStateToWire(item))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []Pair{
		pair("n3", SignalView, time.Hour, 1000),
		pair("new", SignalPurchase, 400*24*time.Hour, 1001),
		pair("old", SignalView, -400*24*time.Hour, 1002),
	} {
		b, err := proto.Marshal(PairToWire(p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, stored)
		f.Add(b, []byte{})
	}
	f.Add([]byte{0x20, 0x01}, []byte{0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})

	p := Policy{MaxNeighbors: 10}
	f.Fuzz(func(t *testing.T, pb, sb []byte) {
		var wp recommendationsv1.Pair
		var ws recommendationsv1.ItemState
		if proto.Unmarshal(pb, &wp) != nil || proto.Unmarshal(sb, &ws) != nil {
			return
		}
		pr := PairFromWire(&wp)
		s := ItemStateFromWire(&ws)
		got, counted := Count(s, pr, p)
		if counted && len(got.Neighbors) > p.MaxNeighbors {
			t.Fatalf("%d neighbors", len(got.Neighbors))
		}
		for _, at := range []time.Time{{}, pr.Time, got.Clock.Add(30 * 24 * time.Hour)} {
			got.Top(5, at, p, nil)
		}
		// From an empty or well-kept state a counted pair keeps the
		// invariants, trimming the list to the policy's bound.
		if fresh, ok := Count(ItemState{}, pr, p); ok {
			checkItem(t, fresh, p)
		}
		if kept, ok := Count(item, pr, p); ok {
			checkItem(t, kept, p)
		}
	})
}
