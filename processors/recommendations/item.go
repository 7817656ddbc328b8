package recommendations

import (
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/titan-commerce/titan/internal/millis"
)

// Count applies a pair to its item's state. It reports false, and changes
// nothing, for a pair whose origin is not after the last one counted from
// the same input partition (a replayed copy) and for a malformed pair (no
// other item, the item itself, no signal or no time). A counted pair adds
// one forward-decayed occurrence to the other item's neighbor and moves
// that neighbor up to its new rank; when the list is full a new neighbor
// takes the last place only if it ranks at least as high as the neighbor
// there (see the package documentation).
func Count(s ItemState, pair Pair, p Policy) (ItemState, bool) {
	p = p.WithDefaults()
	if pair.Other == "" || pair.Other == pair.Item || pair.Time.UnixMilli() <= 0 ||
		(pair.Signal != SignalView && pair.Signal != SignalPurchase) ||
		(s.SKU != "" && pair.Item != s.SKU) {
		return s, false
	}
	src := pair.Origin.source()
	if last, ok := s.Seen[src]; ok && !pair.Origin.after(last) {
		return s, false
	}
	s = s.clone()
	if s.Seen == nil {
		s.Seen = map[int64]Origin{}
	}
	s.Seen[src] = pair.Origin
	s.SKU = pair.Item
	if pair.Time.After(s.Clock) {
		s.Clock = pair.Time
	}
	if s.Epoch.IsZero() {
		s.Epoch = atMillis(pair.Time)
	}
	if s.Clock.Sub(s.Epoch) > rebaseInterval(p) {
		s.rebase(atMillis(s.Clock), p)
	}
	s.trim(p.MaxNeighbors)

	view, purchase := 0.0, 0.0
	switch pair.Signal {
	case SignalView:
		view = growth(pair.Time, s.Epoch, p.ViewHalfLife)
	case SignalPurchase:
		purchase = growth(pair.Time, s.Epoch, p.PurchaseHalfLife)
	}
	if i := slices.IndexFunc(s.Neighbors, func(n Neighbor) bool { return n.SKU == pair.Other }); i >= 0 {
		n := s.Neighbors[i]
		n.ViewScore += view
		n.PurchaseScore += purchase
		if pair.Time.After(n.Last) {
			n.Last = pair.Time
		}
		s.moveUp(i, n, p)
		return s, true
	}
	n := Neighbor{SKU: pair.Other, ViewScore: view, PurchaseScore: purchase, Last: pair.Time}
	if len(s.Neighbors) >= p.MaxNeighbors {
		s.Pruned++
		if rank(s.Neighbors[len(s.Neighbors)-1], p) > rank(n, p) {
			return s, true
		}
		s.Neighbors = s.Neighbors[:len(s.Neighbors)-1]
	}
	s.Neighbors = append(s.Neighbors, n)
	s.moveUp(len(s.Neighbors)-1, n, p)
	return s, true
}

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

// moveUp stores n, whose rank has not decreased, at index i and moves it
// forward past every neighbor it now ranks before. Only the neighbors it
// passes are touched.
func (s *ItemState) moveUp(i int, n Neighbor, p Policy) {
	j := sort.Search(i, func(j int) bool { return before(n, s.Neighbors[j], p) })
	copy(s.Neighbors[j+1:i+1], s.Neighbors[j:i])
	s.Neighbors[j] = n
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
