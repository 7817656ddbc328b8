package recommendations

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
)

func view(id, sku, session string, at time.Duration) ViewEvent {
	return ViewEvent{EventID: id, UserID: "u", SKU: sku, SessionID: session, Time: t0.Add(at)}
}

// partners lists, in order, the items paired with sku by pairs whose
// first half has sku as the item, after checking every pair has its mirror
// right after it.
func partners(t *testing.T, sku string, pairs []Pair, sig Signal) []string {
	t.Helper()
	if len(pairs)%2 != 0 {
		t.Fatalf("%d pairs: not both ways", len(pairs))
	}
	var out []string
	for i := 0; i < len(pairs); i += 2 {
		a, b := pairs[i], pairs[i+1]
		if a.Item != sku || b.Other != sku || a.Other != b.Item || a.Signal != sig || b.Signal != sig || !a.Time.Equal(b.Time) {
			t.Fatalf("pairs %+v and %+v", a, b)
		}
		out = append(out, a.Other)
	}
	return out
}

func TestViewBounds(t *testing.T) {
	p := Policy{MaxRecent: 30, MaxEventIDs: 40, MaxPairsPerEvent: 20}
	var h UserHistory
	var pairs []Pair
	for i := range 100 {
		h, pairs = View(h, view(fmt.Sprint(i), fmt.Sprintf("sku%02d", i), "s", time.Duration(i)*time.Second), p)
	}
	if len(h.Recent) != 30 || h.Recent[29].SKU != "sku99" || h.Recent[0].SKU != "sku70" {
		t.Fatalf("recent %d, from %s to %s", len(h.Recent), h.Recent[0].SKU, h.Recent[len(h.Recent)-1].SKU)
	}
	if len(h.EventIDs) != 40 || h.EventIDs[0] != "60" {
		t.Fatalf("event ids %d from %s", len(h.EventIDs), h.EventIDs[0])
	}
	got := partners(t, "sku99", pairs, SignalView)
	if len(got) != 20 || got[0] != "sku98" || got[19] != "sku79" {
		t.Fatalf("partners %v", got)
	}
}

func TestViewDoesNotTouchItsInput(t *testing.T) {
	var h UserHistory
	for i := range 5 {
		h, _ = View(h, view(fmt.Sprint(i), fmt.Sprint("sku", i), "", time.Duration(i)*time.Minute), Policy{})
	}
	keep := h.clone()
	View(h, view("x", "sku1", "", 10*time.Minute), Policy{})
	View(h, view("y", "new", "", 10*time.Minute), Policy{MaxRecent: 2})
	if !reflect.DeepEqual(keep, h) {
		t.Fatal("View changed the history it was given")
	}
}

func TestBought(t *testing.T) {
	var b Basket
	steps := []struct {
		sku  string
		want []string
	}{
		{"a", nil},
		{"b", []string{"a"}},
		{"a", nil},
		{"c", []string{"b", "a"}},
	}
	for i, st := range steps {
		var pairs []Pair
		b, pairs = Bought(b, st.sku, "u1", t0, Policy{})
		if got := partners(t, st.sku, pairs, SignalPurchase); !slices.Equal(got, st.want) {
			t.Fatalf("step %d: partners %v, want %v", i, got, st.want)
		}
	}
	if b.UserID != "u1" || !slices.Equal(b.SKUs, []string{"a", "b", "c"}) {
		t.Fatalf("basket %+v", b)
	}
	big := Basket{}
	for i := range 30 {
		big, _ = Bought(big, fmt.Sprint("s", i), "u", t0, Policy{})
	}
	if _, pairs := Bought(big, "last", "u", t0, Policy{}); len(pairs) != 40 {
		t.Fatalf("a line of a big order gave %d pairs, want 40", len(pairs))
	}
}

func TestUserBought(t *testing.T) {
	p := Policy{MaxBought: 3}
	var h UserHistory
	for i, sku := range []string{"a", "b", "c", "a", "d"} {
		h = UserBought(h, sku, t0.Add(time.Duration(i)*time.Minute), p)
	}
	var got []string
	for _, s := range h.Bought {
		got = append(got, s.SKU)
	}
	if !slices.Equal(got, []string{"c", "a", "d"}) || !h.Clock.Equal(t0.Add(4*time.Minute)) {
		t.Fatalf("bought %v, clock %v", got, h.Clock)
	}
}

func TestForUser(t *testing.T) {
	p := DefaultPolicy()
	items := map[string]ItemState{}
	add := func(item, other string, sig Signal, n int) {
		for range n {
			s := items[item]
			s, _ = Count(s, Pair{Item: item, Other: other, Signal: sig, Time: t0}, p)
			s.Seen = nil // every pair here has the zero origin
			items[item] = s
		}
	}
	add("x", "p", SignalView, 3)
	add("x", "q", SignalView, 1)
	add("x", "y", SignalView, 5) // a seed: never recommended
	add("y", "q", SignalView, 2)
	add("y", "r", SignalPurchase, 1) // bought already
	add("y", "s", SignalPurchase, 1)
	add("y", "gone", SignalView, 9) // unavailable

	var h UserHistory
	h, _ = View(h, view("1", "y", "", 0), p)
	h, _ = View(h, view("2", "x", "", time.Minute), p) // the latest seed weighs 1, y 1/2
	h = UserBought(h, "r", t0.Add(-time.Hour), p)      // a seed too, the oldest
	lookup := func(sku string) (ItemState, bool) { s, ok := items[sku]; return s, ok }
	got := ForUser(h, lookup, 10, t0, p, func(sku string) bool { return sku == "gone" })

	// p: 3 from x; q: 1 from x + 2/2 from y; s: 5/2 from y.
	want := []Rec{
		{SKU: "p", Score: 3, ViewScore: 3, Reason: ReasonCoViewed},
		{SKU: "s", Score: 2.5, PurchaseScore: 0.5, Reason: ReasonCoBought},
		{SKU: "q", Score: 2, ViewScore: 2, Reason: ReasonCoViewed},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if got := ForUser(UserHistory{}, lookup, 10, t0, p, nil); len(got) != 0 {
		t.Fatalf("a user without history got %+v", got)
	}
}

// An event id names one view: the same view again changes nothing; another
// view under the id is reported, and changes nothing either.
func TestViewIdentity(t *testing.T) {
	p := DefaultPolicy()
	h, _ := View(UserHistory{}, view("e1", "a", "s", 0), p)
	h, _ = View(h, view("e2", "b", "s", time.Second), p)
	for _, tc := range []struct {
		v        ViewEvent
		conflict bool
	}{
		{view("e1", "a", "s", 0), false},
		{view("e1", "c", "s", 0), true},
		{view("e1", "a", "s2", 0), true},
		{view("e1", "a", "s", time.Minute), true},
		{view("e3", "c", "s", 0), false},
	} {
		if got := ViewConflicts(h, tc.v); got != tc.conflict {
			t.Errorf("%+v: conflict %v, want %v", tc.v, got, tc.conflict)
		}
	}
	if next, pairs := View(h, view("e1", "c", "s", 0), p); len(pairs) != 0 || !reflect.DeepEqual(next, h) {
		t.Errorf("a view under a used id changed the history: %+v", next)
	}
	back := UserHistoryFromWire(UserHistoryToWire(h))
	if !ViewConflicts(back, view("e2", "a", "s", time.Second)) {
		t.Error("the prints did not survive the wire")
	}
	// A history stored before prints were kept remembers ids only.
	old := h
	old.EventPrints = nil
	if ViewConflicts(old, view("e1", "c", "s", 0)) {
		t.Error("an id without a print conflicts")
	}
	next, _ := View(old, view("e3", "c", "s", 2*time.Second), p)
	if len(next.EventPrints) != len(next.EventIDs) || next.EventPrints[0] != 0 || !ViewConflicts(next, view("e3", "d", "s", 0)) {
		t.Errorf("prints out of step with ids: %v %v", next.EventIDs, next.EventPrints)
	}
}
