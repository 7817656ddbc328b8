package recommendations

import (
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/titan-commerce/titan/internal/millis"
	"github.com/titan-commerce/titan/processors/origin"
)

// Count applies a pair to its item's state. It reports false, and changes
// nothing, for a pair whose origin is not after the last one counted from
// the same input partition (a replayed copy) and for a malformed pair (no
// other item, the item itself, no signal or no time). A counted pair adds
// one forward-decayed occurrence to the other item's neighbor and moves
// that neighbor up to its new rank; when the list is full a new neighbor
// takes the last place only if it ranks at least as high as the neighbor
// there (see the package documentation). It is CountPair over a state held
// whole.
func Count(s ItemState, pair Pair, p Policy) (ItemState, bool) {
	p = p.WithDefaults()
	h, ch, ok := CountPair(s.Head(), Ranked(s.Neighbors), pair, p)
	if !ok {
		return s, false
	}
	return h.With(ch.Apply(s.Neighbors, p)), true
}

// CountPair is Count for an item whose neighbors are kept apart from its
// head: it reads the neighbors it needs through ns and returns the new head
// and the neighbors that changed. A pair reads and changes one neighbor,
// and drops the lowest one, which the head names, when the list is full;
// when the lowest moves or leaves, it reads the one before it, which takes
// its place. Only a rebase, once per Policy.RebaseInterval of the item's
// time, or a list longer than Policy.MaxNeighbors reads and rewrites them
// all.
func CountPair(h ItemHead, ns Neighbors, pair Pair, p Policy) (ItemHead, ItemChanges, bool) {
	p = p.WithDefaults()
	if pair.Other == "" || pair.Other == pair.Item || pair.Time.UnixMilli() <= 0 ||
		(pair.Signal != SignalView && pair.Signal != SignalPurchase) ||
		(h.SKU != "" && pair.Item != h.SKU) {
		return h, ItemChanges{}, false
	}
	seen, fresh := origin.Seen(h.Seen).Apply(pair.Origin)
	if !fresh {
		return h, ItemChanges{}, false
	}
	h.Seen = seen
	h.SKU = pair.Item
	if pair.Time.After(h.Clock) {
		h.Clock = pair.Time
	}
	if h.Epoch.IsZero() {
		h.Epoch = atMillis(pair.Time)
	}
	var ch ItemChanges
	if h.Clock.Sub(h.Epoch) > rebaseInterval(p) || h.Size > p.MaxNeighbors {
		ns, ch = h.reorder(ns, p)
	}

	view, purchase := 0.0, 0.0
	switch pair.Signal {
	case SignalView:
		view = growth(pair.Time, h.Epoch, p.ViewHalfLife)
	case SignalPurchase:
		purchase = growth(pair.Time, h.Epoch, p.PurchaseHalfLife)
	}
	if n, ok := ns.Get(pair.Other); ok {
		next := n
		next.ViewScore += view
		next.PurchaseScore += purchase
		if pair.Time.After(next.Last) {
			next.Last = pair.Time
		}
		ch.move(&n, next)
		if n.SKU == h.Lowest.SKU {
			// It leaves the last place to the one before it, if that one
			// now ranks lower.
			h.Lowest = next
			if above, ok := ns.Before(n); ok && before(next, above, p) {
				h.Lowest = above
			}
		}
		return h, ch, true
	}
	n := Neighbor{SKU: pair.Other, ViewScore: view, PurchaseScore: purchase, Last: pair.Time}
	// A head without its lowest (which Titan never writes) lets the list
	// grow; the next pair trims it through reorder.
	if h.Size >= p.MaxNeighbors && h.Lowest.SKU != "" {
		h.Pruned++
		low := h.Lowest
		if rank(low, p) > rank(n, p) {
			return h, ch, true
		}
		ch.drop(low)
		h.Size--
		h.Lowest = Neighbor{}
		if above, ok := ns.Before(low); ok {
			h.Lowest = above
		}
	}
	ch.move(nil, n)
	if h.Size == 0 || before(h.Lowest, n, p) {
		h.Lowest = n
	}
	h.Size++
	return h, ch, true
}

// reorder rebases the epoch to the item's clock when it is due, rescaling
// and sorting every neighbor, and drops the lowest past p.MaxNeighbors (a
// list kept under a larger policy). It returns the neighbors as they now
// stand and the changes that make them so.
func (h *ItemHead) reorder(ns Neighbors, p Policy) (Neighbors, ItemChanges) {
	var stored []Neighbor
	for n := range ns.All {
		stored = append(stored, n)
	}
	s := ItemState{Epoch: h.Epoch, Neighbors: slices.Clone(stored), Pruned: h.Pruned}
	if h.Clock.Sub(h.Epoch) > rebaseInterval(p) {
		s.rebase(atMillis(h.Clock), p)
	}
	s.trim(p.MaxNeighbors)
	h.Epoch, h.Pruned, h.Size, h.Lowest = s.Epoch, s.Pruned, len(s.Neighbors), Neighbor{}
	if len(s.Neighbors) > 0 {
		h.Lowest = s.Neighbors[len(s.Neighbors)-1]
	}

	var ch ItemChanges
	now := make(map[string]Neighbor, len(s.Neighbors))
	for _, n := range s.Neighbors {
		now[n.SKU] = n
	}
	for _, old := range stored {
		switch n, ok := now[old.SKU]; {
		case !ok:
			ch.Dropped = append(ch.Dropped, old)
		case n != old:
			ch.Moves = append(ch.Moves, Move{From: &old, To: n})
		}
	}
	return Ranked(s.Neighbors), ch
}

// Rank is a neighbor's blend at its item's epoch: what the stored order
// sorts by, highest first.
func Rank(n Neighbor, p Policy) float64 { return rank(n, p.WithDefaults()) }

// rank is a neighbor's blend at the epoch: both sums are relative to the
// same instant, so it is the blend an observer at the epoch would see.
func rank(n Neighbor, p Policy) float64 {
	return p.ViewWeight*n.ViewScore + p.PurchaseWeight*n.PurchaseScore
}

// before is the stored order: higher rank first, then by SKU so equal
// ranks have one order on every replica.
func before(a, b Neighbor, p Policy) bool {
	ra, rb := rank(a, p), rank(b, p)
	if ra != rb {
		return ra > rb
	}
	return a.SKU < b.SKU
}

// rebase moves the epoch to e, rescaling every score so its decayed value
// at any time is unchanged, and sorts again: with two half-lives the
// blends' order at e can differ from their order at the old epoch.
func (s *ItemState) rebase(e time.Time, p Policy) {
	dv := growth(s.Epoch, e, p.ViewHalfLife)
	dp := growth(s.Epoch, e, p.PurchaseHalfLife)
	for i := range s.Neighbors {
		s.Neighbors[i].ViewScore *= dv
		s.Neighbors[i].PurchaseScore *= dp
	}
	s.Epoch = e
	s.sort(p)
}

func (s *ItemState) sort(p Policy) {
	slices.SortFunc(s.Neighbors, func(a, b Neighbor) int {
		switch {
		case before(a, b, p):
			return -1
		case before(b, a, p):
			return 1
		}
		return strings.Compare(a.SKU, b.SKU)
	})
}

// trim drops the lowest neighbors past max, for a state kept under a
// larger MaxNeighbors than the current policy's.
func (s *ItemState) trim(max int) {
	if over := len(s.Neighbors) - max; over > 0 {
		s.Neighbors = s.Neighbors[:max]
		s.Pruned += int64(over)
	}
}

// growth is 2^((t-epoch)/halfLife): the weight of an occurrence at t
// relative to one at the epoch.
func growth(t, epoch time.Time, halfLife time.Duration) float64 {
	return math.Exp2(float64(t.Sub(epoch)) / float64(halfLife))
}

// rebaseInterval keeps the largest weight within 2^maxGrowthExponent of
// the epoch's whatever the policy says.
func rebaseInterval(p Policy) time.Duration {
	return min(p.RebaseInterval, maxGrowthExponent*min(p.ViewHalfLife, p.PurchaseHalfLife))
}

// atMillis keeps epochs at the millisecond precision they travel in.
func atMillis(t time.Time) time.Time { return millis.Time(millis.Of(t)) }

func (s ItemState) clone() ItemState {
	s.Neighbors = slices.Clone(s.Neighbors)
	s.Seen = maps.Clone(s.Seen)
	return s
}
