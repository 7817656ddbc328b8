package recommendations

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// pair is a pair for item "i" from one source, numbered by the caller.
func pair(other string, sig Signal, at time.Duration, offset int64) Pair {
	return Pair{Item: "i", Other: other, Signal: sig, Time: t0.Add(at), Origin: Origin{Stream: StreamViews, Offset: offset}}
}

func skus(s ItemState) []string {
	var out []string
	for _, n := range s.Neighbors {
		out = append(out, n.SKU)
	}
	return out
}

// checkItem asserts what must hold of every item state: neighbors sorted
// by rank, distinct, within the bound, with finite scores.
func checkItem(t testing.TB, s ItemState, p Policy) {
	t.Helper()
	p = p.WithDefaults()
	if len(s.Neighbors) > p.MaxNeighbors {
		t.Fatalf("%d neighbors, bound %d", len(s.Neighbors), p.MaxNeighbors)
	}
	seen := map[string]bool{}
	for i, n := range s.Neighbors {
		if seen[n.SKU] {
			t.Fatalf("neighbor %s twice", n.SKU)
		}
		seen[n.SKU] = true
		if !finite(n.ViewScore) || !finite(n.PurchaseScore) || n.ViewScore < 0 || n.PurchaseScore < 0 {
			t.Fatalf("neighbor %+v has a bad score", n)
		}
		if i > 0 && before(n, s.Neighbors[i-1], p) {
			t.Fatalf("neighbors out of order at %d: %v", i, skus(s))
		}
	}
}

func TestTopKMaintenance(t *testing.T) {
	v, b := SignalView, SignalPurchase
	tests := []struct {
		name   string
		policy Policy
		pairs  []Pair
		want   []string
		pruned int64
	}{
		{
			name:  "inserts at equal rank in SKU order",
			pairs: []Pair{pair("c", v, 0, 0), pair("a", v, 0, 1), pair("b", v, 0, 2)},
			want:  []string{"a", "b", "c"},
		},
		{
			name:  "a later occurrence weighs more",
			pairs: []Pair{pair("a", v, 0, 0), pair("b", v, time.Minute, 1), pair("c", v, 2*time.Minute, 2)},
			want:  []string{"c", "b", "a"},
		},
		{
			name: "an increment moves a neighbor up past several",
			pairs: []Pair{pair("a", v, 0, 0), pair("a", v, 0, 1), pair("b", v, 0, 2), pair("c", v, 0, 3),
				pair("d", v, 0, 4), pair("d", v, 0, 5), pair("d", v, 0, 6)},
			want: []string{"d", "a", "b", "c"},
		},
		{
			name:  "a purchase weighs five views",
			pairs: []Pair{pair("a", v, 0, 0), pair("a", v, 0, 1), pair("a", v, 0, 2), pair("a", v, 0, 3), pair("b", b, 0, 4)},
			want:  []string{"b", "a"},
		},
		{
			name:   "when full, a newcomer ranking as high as the last evicts it",
			policy: Policy{MaxNeighbors: 3},
			pairs:  []Pair{pair("a", v, 0, 0), pair("a", v, 0, 1), pair("b", v, 0, 2), pair("c", v, 0, 3), pair("d", v, time.Minute, 4)},
			want:   []string{"a", "d", "b"},
			pruned: 1,
		},
		{
			name:   "when full, a newcomer ranking lower is dropped",
			policy: Policy{MaxNeighbors: 3},
			pairs:  []Pair{pair("a", v, 0, 0), pair("b", v, 0, 1), pair("c", v, 0, 2), pair("d", v, -time.Hour, 3)},
			want:   []string{"a", "b", "c"},
			pruned: 1,
		},
		{
			name:   "a dropped newcomer gets in once the tail has decayed",
			policy: Policy{MaxNeighbors: 2},
			pairs: []Pair{pair("a", v, 0, 0), pair("a", v, 0, 1), pair("b", v, 0, 2), pair("b", v, 0, 3),
				pair("c", v, time.Hour, 4), pair("c", v, 30*time.Hour, 5)},
			want:   []string{"c", "a"},
			pruned: 2,
		},
		{
			name:   "the one-off tail is a queue: the oldest leaves first",
			policy: Policy{MaxNeighbors: 3},
			pairs: []Pair{pair("a", v, 0, 0), pair("a", v, 0, 1), pair("a", v, 0, 2),
				pair("x", v, time.Minute, 3), pair("y", v, 2*time.Minute, 4), pair("z", v, 3*time.Minute, 5),
				pair("y", v, 4*time.Minute, 6)},
			want:   []string{"a", "y", "z"},
			pruned: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s ItemState
			for _, pr := range tc.pairs {
				var ok bool
				if s, ok = Count(s, pr, tc.policy); !ok {
					t.Fatalf("pair %+v not counted", pr)
				}
				checkItem(t, s, tc.policy)
			}
			if got := skus(s); !slices.Equal(got, tc.want) {
				t.Fatalf("neighbors %v, want %v", got, tc.want)
			}
			if s.Pruned != tc.pruned {
				t.Fatalf("pruned %d, want %d", s.Pruned, tc.pruned)
			}
		})
	}
}

// TestDecayWithTwoHalfLives: six co-views outrank one co-purchase today,
// but views halve in a day and purchases in a week, so a day later the
// purchase leads, with no pair in between.
func TestDecayWithTwoHalfLives(t *testing.T) {
	p := DefaultPolicy()
	var s ItemState
	for i := range 6 {
		s, _ = Count(s, pair("viewed", SignalView, 0, int64(i)), p)
	}
	s, _ = Count(s, pair("bought", SignalPurchase, 0, 6), p)

	now := s.Top(2, t0, p, nil)
	if len(now) != 2 || now[0].SKU != "viewed" || now[0].Reason != ReasonCoViewed || now[1].Reason != ReasonCoBought {
		t.Fatalf("at t0: %+v", now)
	}
	close := func(got, want float64) bool { return math.Abs(got-want) <= 1e-9*want }
	if !close(now[0].Score, 6) || !close(now[1].Score, 5) {
		t.Fatalf("at t0 scores %v and %v, want 6 and 5", now[0].Score, now[1].Score)
	}

	later := s.Top(2, t0.Add(24*time.Hour), p, nil)
	if later[0].SKU != "bought" {
		t.Fatalf("a day later: %+v", later)
	}
	if want := 5 * math.Exp2(-1.0/7); !close(later[0].Score, want) || !close(later[1].Score, 3) {
		t.Fatalf("a day later scores %v and %v, want %v and 3", later[0].Score, later[1].Score, want)
	}
}

// TestRebaseKeepsValuesAndOrder moves the epoch and expects every score
// read at any time to be unchanged.
func TestRebaseKeepsValuesAndOrder(t *testing.T) {
	p := DefaultPolicy()
	rng := rand.New(rand.NewPCG(1, 2))
	var s ItemState
	for i := range 300 {
		sig := SignalView
		if rng.IntN(5) == 0 {
			sig = SignalPurchase
		}
		at := time.Duration(rng.IntN(50)) * time.Minute
		s, _ = Count(s, pair(fmt.Sprintf("n%02d", rng.IntN(40)), sig, at, int64(i)), p)
	}
	moved := s.clone()
	moved.rebase(s.Epoch.Add(20*time.Hour), p)
	checkItem(t, moved, p)
	for _, at := range []time.Time{s.Clock, s.Clock.Add(20 * time.Hour), s.Clock.Add(9 * 24 * time.Hour)} {
		a, b := s.Top(40, at, p, nil), moved.Top(40, at, p, nil)
		if len(a) != len(b) {
			t.Fatalf("at %v: %d recs vs %d", at, len(a), len(b))
		}
		for i := range a {
			if a[i].SKU != b[i].SKU || math.Abs(a[i].Score-b[i].Score) > 1e-9*a[i].Score {
				t.Fatalf("at %v rec %d: %+v vs %+v", at, i, a[i], b[i])
			}
		}
	}
}

// TestTopMatchesRecount feeds random pairs, late ones included, over two
// months (so the epoch is rebased many times) and compares Top with the
// decayed scores recounted from every pair.
func TestTopMatchesRecount(t *testing.T) {
	p := DefaultPolicy()
	rng := rand.New(rand.NewPCG(3, 4))
	var s ItemState
	type occ struct {
		sig Signal
		at  time.Time
	}
	all := map[string][]occ{}
	at := time.Duration(0)
	for i := range 5000 {
		at += time.Duration(rng.IntN(30)) * time.Minute
		when := at - time.Duration(rng.IntN(3))*time.Hour
		sig := SignalView
		if rng.IntN(6) == 0 {
			sig = SignalPurchase
		}
		other := fmt.Sprintf("n%03d", int(math.Sqrt(float64(rng.IntN(150*150)))))
		var ok bool
		s, ok = Count(s, pair(other, sig, when, int64(i)), p)
		if !ok {
			t.Fatalf("pair %d not counted", i)
		}
		all[other] = append(all[other], occ{sig, t0.Add(when)})
		if i%500 == 0 {
			checkItem(t, s, p)
		}
	}
	if s.Pruned != 0 {
		t.Fatalf("pruned %d with %d distinct neighbors", s.Pruned, len(all))
	}
	if d := s.Clock.Sub(s.Epoch); d < 0 || d > p.RebaseInterval {
		t.Fatalf("epoch %v is %v behind the clock", s.Epoch, d)
	}
	recount := func(at time.Time) []Rec {
		var out []Rec
		for sku, os := range all {
			var view, purchase float64
			for _, o := range os {
				if o.sig == SignalView {
					view += math.Exp2(-float64(at.Sub(o.at)) / float64(p.ViewHalfLife))
				} else {
					purchase += math.Exp2(-float64(at.Sub(o.at)) / float64(p.PurchaseHalfLife))
				}
			}
			out = append(out, newRec(sku, view, purchase, p))
		}
		sortRecs(out)
		return out
	}
	for _, at := range []time.Time{s.Clock, s.Clock.Add(3 * 24 * time.Hour)} {
		want := recount(at)
		got := s.Top(10, at, p, nil)
		for i, r := range got {
			w := want[slices.IndexFunc(want, func(w Rec) bool { return w.SKU == r.SKU })]
			if math.Abs(r.Score-w.Score) > 1e-6*w.Score || math.Abs(r.PurchaseScore-w.PurchaseScore) > 1e-6*w.Score {
				t.Fatalf("at %v %s scores %+v, recount %+v", at, r.SKU, r, w)
			}
			// The stored order may lag by RebaseInterval: within 3% of the
			// true rank is as good as exact.
			if r.Score < want[i].Score/1.03 {
				t.Fatalf("at %v rec %d is %s (%v), the recount's is %s (%v)", at, i, r.SKU, r.Score, want[i].SKU, want[i].Score)
			}
		}
	}
}

func TestCountDedupesByOrigin(t *testing.T) {
	p := DefaultPolicy()
	o := func(stream, part int32, off int64, seq int32) Pair {
		pr := pair("a", SignalView, 0, 0)
		pr.Origin = Origin{Stream: stream, Partition: part, Offset: off, Seq: seq}
		return pr
	}
	steps := []struct {
		pair    Pair
		counted bool
	}{
		{o(1, 0, 10, 0), true},
		{o(1, 0, 10, 0), false}, // the same pair again
		{o(1, 0, 9, 5), false},  // an earlier record of the partition
		{o(1, 0, 10, 1), true},  // the next pair of the same record
		{o(1, 1, 3, 0), true},   // another partition
		{o(2, 0, 3, 0), true},   // another stream
		{o(1, 0, 11, 0), true},
		{o(1, 0, 10, 2), false},
	}
	var s ItemState
	for i, st := range steps {
		before := s.clone()
		var ok bool
		s, ok = Count(s, st.pair, p)
		if ok != st.counted {
			t.Fatalf("step %d: counted %v, want %v", i, ok, st.counted)
		}
		if !ok && (len(before.Neighbors) != len(s.Neighbors) || s.Neighbors[0] != before.Neighbors[0]) {
			t.Fatalf("step %d: a duplicate changed the state", i)
		}
	}
	if got := s.Neighbors[0].ViewScore; got != 5 {
		t.Fatalf("view score %v, want 5", got)
	}
}

func TestCountRefusesMalformedPairs(t *testing.T) {
	good := pair("a", SignalView, 0, 0)
	for name, mod := range map[string]func(*Pair){
		"no other":       func(p *Pair) { p.Other = "" },
		"itself":         func(p *Pair) { p.Other = p.Item },
		"no signal":      func(p *Pair) { p.Signal = SignalUnknown },
		"no time":        func(p *Pair) { p.Time = time.Time{} },
		"before 1970":    func(p *Pair) { p.Time = time.UnixMilli(-1) },
		"another item's": func(p *Pair) { p.Item = "j" },
	} {
		pr := good
		mod(&pr)
		s, _ := Count(ItemState{}, good, Policy{})
		s.Seen = nil
		if _, ok := Count(s, pr, Policy{}); ok {
			t.Errorf("%s: counted", name)
		}
	}
}

// TestCountStaysFiniteOverYears counts a pair a month for ten years.
func TestCountStaysFiniteOverYears(t *testing.T) {
	p := DefaultPolicy()
	var s ItemState
	for i := range 120 {
		s, _ = Count(s, pair("a", SignalPurchase, time.Duration(i)*30*24*time.Hour, int64(2*i)), p)
		s, _ = Count(s, pair("b", SignalView, time.Duration(i)*30*24*time.Hour+time.Second, int64(2*i+1)), p)
	}
	checkItem(t, s, p)
	if d := s.Clock.Sub(s.Epoch); d > p.RebaseInterval {
		t.Fatalf("epoch %v behind the clock", d)
	}
	top := s.Top(2, s.Clock, p, nil)
	// A monthly purchase with a week's half-life sums to about 1/(1-2^-30/7).
	if len(top) != 2 || top[0].SKU != "a" || math.Abs(top[0].PurchaseScore-1/(1-math.Exp2(-30.0/7))) > 1e-5 {
		t.Fatalf("top %+v", top)
	}
}

func TestTopSkipsAndBounds(t *testing.T) {
	p := DefaultPolicy()
	var s ItemState
	for i := range 30 {
		for j := 0; j <= i; j++ {
			s, _ = Count(s, pair(fmt.Sprintf("n%02d", i), SignalView, 0, int64(i*100+j)), p)
		}
	}
	got := s.Top(3, time.Time{}, p, func(sku string) bool { return sku == "n29" || sku == "n27" })
	if want := []string{"n28", "n26", "n25"}; len(got) != 3 || got[0].SKU != want[0] || got[1].SKU != want[1] || got[2].SKU != want[2] {
		t.Fatalf("top %+v, want %v", got, want)
	}
	if got := s.Top(0, time.Time{}, p, nil); len(got) != p.K {
		t.Fatalf("k 0 gave %d recs, want the policy's %d", len(got), p.K)
	}
	if got := (ItemState{}).Top(5, t0, p, nil); len(got) != 0 {
		t.Fatalf("an empty item recommends %+v", got)
	}
}
