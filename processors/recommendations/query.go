package recommendations

import (
	"cmp"
	"slices"
	"time"
)

// Top returns the item's k best neighbors (p.K when k <= 0) at time at
// (the item's clock when at is zero), skipping the SKUs skip names. While
// at is within p.RebaseInterval of the epoch the stored order is close to
// the order at at, so Top reads only the first 2k candidates and orders
// them by their exact blend at at; further away it scores every neighbor,
// at most p.MaxNeighbors.
//
// skip is asked lazily, best candidate first, and only until k are kept:
// it may cost a read per SKU (the API's stock filter), and a page of k
// then asks about little more than k. Each SKU it refuses leaves the
// candidates, and the next neighbor in stored order takes its place.
func (s ItemState) Top(k int, at time.Time, p Policy, skip func(sku string) bool) []Rec {
	p = p.WithDefaults()
	if k <= 0 {
		k = p.K
	}
	if at.IsZero() {
		at = s.Clock
	}
	window := len(s.Neighbors)
	if d := at.Sub(s.Epoch); d <= rebaseInterval(p) && d >= -rebaseInterval(p) {
		window = 2 * k
	}
	dv := growth(s.Epoch, at, p.ViewHalfLife)
	dp := growth(s.Epoch, at, p.PurchaseHalfLife)
	var (
		cands  []Rec
		next   int
		passed map[string]bool
	)
	for {
		for next < len(s.Neighbors) && len(cands) < window {
			n := s.Neighbors[next]
			next++
			if n.SKU == s.SKU {
				continue
			}
			if r := newRec(n.SKU, n.ViewScore*dv, n.PurchaseScore*dp, p); r.Score > 0 {
				cands = append(cands, r)
			}
		}
		sortRecs(cands)
		if skip == nil {
			break
		}
		if passed == nil {
			passed = map[string]bool{}
		}
		refused, kept := false, 0
		for i := 0; i < len(cands) && kept < k; {
			sku := cands[i].SKU
			if _, asked := passed[sku]; !asked {
				passed[sku] = !skip(sku)
			}
			if !passed[sku] {
				cands = slices.Delete(cands, i, i+1)
				refused = true
				continue
			}
			kept++
			i++
		}
		if !refused || next >= len(s.Neighbors) {
			break
		}
	}
	if len(cands) > k {
		cands = cands[:k]
	}
	return cands
}

// ForUser blends the top k of the user's latest distinct items (views and
// purchases, at most p.UserSeeds) into k recommendations: the latest item
// weighs 1, the one before 1/2, then 1/3 and so on, and a neighbor's
// scores add up over the items it appears with. Items the user bought and
// the seed items themselves are never recommended, nor the SKUs skip
// names. items looks up an item's state; a missing one adds nothing.
func ForUser(h UserHistory, items func(sku string) (ItemState, bool), k int, at time.Time, p Policy, skip func(string) bool) []Rec {
	p = p.WithDefaults()
	if k <= 0 {
		k = p.K
	}
	if at.IsZero() {
		at = h.Clock
	}
	seeds := seedsOf(h, p.UserSeeds)
	exclude := make(map[string]bool, len(seeds)+len(h.Bought))
	for _, sku := range seeds {
		exclude[sku] = true
	}
	for _, b := range h.Bought {
		exclude[b.SKU] = true
	}
	drop := func(sku string) bool { return exclude[sku] || (skip != nil && skip(sku)) }

	sums := map[string]*Rec{}
	var order []string
	for i, sku := range seeds {
		s, ok := items(sku)
		if !ok {
			continue
		}
		w := 1 / float64(i+1)
		for _, r := range s.Top(k, at, p, drop) {
			sum, ok := sums[r.SKU]
			if !ok {
				sum = &Rec{SKU: r.SKU}
				sums[r.SKU] = sum
				order = append(order, r.SKU)
			}
			sum.ViewScore += w * r.ViewScore
			sum.PurchaseScore += w * r.PurchaseScore
		}
	}
	out := make([]Rec, 0, len(order))
	for _, sku := range order {
		sum := sums[sku]
		out = append(out, newRec(sku, sum.ViewScore, sum.PurchaseScore, p))
	}
	sortRecs(out)
	if len(out) > k {
		out = out[:k]
	}
	return out
}

// seedsOf is the user's latest distinct items, views and purchases merged
// by time, the latest first.
func seedsOf(h UserHistory, n int) []string {
	all := make([]Seen, 0, len(h.Recent)+len(h.Bought))
	all = append(all, h.Recent...)
	all = append(all, h.Bought...)
	// Stable, so among equal times the later entry of each list wins.
	slices.SortStableFunc(all, func(a, b Seen) int { return a.At.Compare(b.At) })
	var out []string
	for i := len(all) - 1; i >= 0 && len(out) < n; i-- {
		if !slices.Contains(out, all[i].SKU) {
			out = append(out, all[i].SKU)
		}
	}
	return out
}

func newRec(sku string, view, purchase float64, p Policy) Rec {
	v, b := p.ViewWeight*view, p.PurchaseWeight*purchase
	r := Rec{SKU: sku, Score: v + b, ViewScore: view, PurchaseScore: purchase, Reason: ReasonCoViewed}
	if b >= v {
		r.Reason = ReasonCoBought
	}
	return r
}

func sortRecs(rs []Rec) {
	slices.SortFunc(rs, func(a, b Rec) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.SKU, b.SKU)
	})
}
