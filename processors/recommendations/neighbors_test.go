package recommendations

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// counted reads neighbors from a slice and counts what it is asked.
type counted struct {
	Ranked
	gets, befores, alls int
}

func (c *counted) Get(sku string) (Neighbor, bool)    { c.gets++; return c.Ranked.Get(sku) }
func (c *counted) Before(n Neighbor) (Neighbor, bool) { c.befores++; return c.Ranked.Before(n) }
func (c *counted) All(yield func(Neighbor) bool)      { c.alls++; c.Ranked.All(yield) }

// TestPairReadsAndWritesWhatItChanges: between rebases a pair reads its
// neighbor and, when the lowest moves or leaves, the one before it, and
// changes at most two neighbors, whatever the item's size; only a rebase reads them all. What the
// changes make of the list is what Count keeps (Count is built on them).
func TestPairReadsAndWritesWhatItChanges(t *testing.T) {
	p := Policy{MaxNeighbors: 50, RebaseInterval: time.Hour}.WithDefaults()
	rng := rand.New(rand.NewPCG(3, 4))
	var s ItemState
	rebases := 0
	for i := range 5000 {
		// Minutes apart: a rebase about every 60 pairs.
		at := time.Duration(i) * time.Minute
		sig := SignalView
		if rng.IntN(4) == 0 {
			sig = SignalPurchase
		}
		pr := pair(fmt.Sprintf("n%03d", rng.IntN(120)), sig, at, int64(i))
		ns := &counted{Ranked: Ranked(s.Neighbors)}
		h, ch, ok := CountPair(s.Head(), ns, pr, p)
		if !ok {
			t.Fatalf("pair %d not counted", i)
		}
		if ns.alls > 0 {
			rebases++
			if !h.Epoch.After(s.Epoch) {
				t.Fatalf("pair %d read every neighbor without a rebase", i)
			}
		} else {
			if ns.gets != 1 || ns.befores > 1 {
				t.Fatalf("pair %d: %d gets, %d befores", i, ns.gets, ns.befores)
			}
			if len(ch.Moves) > 1 || len(ch.Dropped) > 1 {
				t.Fatalf("pair %d changed %d and dropped %d", i, len(ch.Moves), len(ch.Dropped))
			}
		}
		next := h.With(ch.Apply(s.Neighbors, p))
		if h.Size != len(next.Neighbors) || h.Lowest != next.Neighbors[len(next.Neighbors)-1] {
			t.Fatalf("pair %d: head says %d neighbors, the last %+v; list has %d, the last %+v",
				i, h.Size, h.Lowest, len(next.Neighbors), next.Neighbors[len(next.Neighbors)-1])
		}
		checkItem(t, next, p)
		// Every From is the value the list kept; every drop was kept.
		kept := map[string]Neighbor{}
		for _, n := range s.Neighbors {
			kept[n.SKU] = n
		}
		for _, m := range ch.Moves {
			if old, ok := kept[m.To.SKU]; ok != (m.From != nil) || (ok && old != *m.From) {
				t.Fatalf("pair %d: move of %s from %+v, list kept %+v", i, m.To.SKU, m.From, old)
			}
		}
		for _, d := range ch.Dropped {
			if kept[d.SKU] != d {
				t.Fatalf("pair %d: dropped %+v, list kept %+v", i, d, kept[d.SKU])
			}
		}
		s = next
	}
	if rebases < 50 {
		t.Fatalf("%d rebases in 5000 pairs an hour apart every 60", rebases)
	}
}

// TestShrunkPolicyTrimsThroughChanges: a list kept under a larger bound is
// cut to the policy's at its next pair, through drops.
func TestShrunkPolicyTrimsThroughChanges(t *testing.T) {
	var s ItemState
	for i := range 30 {
		s, _ = Count(s, pair(fmt.Sprintf("n%02d", i), SignalView, time.Duration(i)*time.Second, int64(i)), Policy{})
	}
	small := Policy{MaxNeighbors: 10}
	h, ch, ok := CountPair(s.Head(), Ranked(s.Neighbors), pair("n00", SignalView, time.Minute, 100), small)
	// n00, the lowest, is cut with 19 others and comes back in the last
	// place, whose holder leaves: 21 drops.
	if !ok || len(ch.Dropped) != 21 || h.Size != 10 || h.Pruned != 21 {
		t.Fatalf("counted %v, %d dropped, size %d, pruned %d", ok, len(ch.Dropped), h.Size, h.Pruned)
	}
	checkItem(t, h.With(ch.Apply(s.Neighbors, small)), small)
}

// TestTopAsksSkipLazily: at the epoch, where the stored order is exact,
// Top with a skip returns the first k neighbors skip lets through, and
// asks about no SKU beyond them and those it refused.
func TestTopAsksSkipLazily(t *testing.T) {
	p := DefaultPolicy()
	rng := rand.New(rand.NewPCG(7, 8))
	var s ItemState
	for i := range 2000 {
		s, _ = Count(s, pair(fmt.Sprintf("n%03d", rng.IntN(150)), SignalView, time.Duration(i)*time.Second, int64(i)), p)
	}
	for trial := range 50 {
		out := map[string]bool{}
		for _, n := range s.Neighbors {
			if rng.IntN(3) == 0 {
				out[n.SKU] = true
			}
		}
		asked := map[string]int{}
		k := 1 + trial%12
		got := s.Top(k, s.Epoch, p, func(sku string) bool { asked[sku]++; return out[sku] })
		var want []string
		for _, n := range s.Neighbors {
			if len(want) < k && !out[n.SKU] {
				want = append(want, n.SKU)
			}
		}
		var gotSKUs []string
		for _, r := range got {
			gotSKUs = append(gotSKUs, r.SKU)
		}
		if !slices.Equal(gotSKUs, want) {
			t.Fatalf("k %d: Top %v, want %v", k, gotSKUs, want)
		}
		refused := 0
		for sku, n := range asked {
			if n > 1 {
				t.Fatalf("asked about %s %d times", sku, n)
			}
			if out[sku] {
				refused++
			}
		}
		if len(asked) > k+refused {
			t.Fatalf("k %d: asked about %d SKUs, %d of them refused", k, len(asked), refused)
		}
	}
}
