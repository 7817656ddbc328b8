package recommendations

import (
	"slices"
	"sort"
	"time"
)

// ItemHead is an item's state without its neighbors: what every pair
// reads and writes whatever the item's size. A store that keeps each
// neighbor apart (topologies/recommendationstopo) rewrites the head and the
// neighbors a pair changes, not the list.
type ItemHead struct {
	SKU    string
	Epoch  time.Time
	Clock  time.Time
	Pruned int64
	Seen   map[int64]Origin
	// Size is how many neighbors the item keeps.
	Size int
	// Lowest is the neighbor last in the stored order, when Size > 0: the
	// one a new neighbor of a full list is measured against.
	Lowest Neighbor
}

// Head returns the state's head.
func (s ItemState) Head() ItemHead {
	h := ItemHead{SKU: s.SKU, Epoch: s.Epoch, Clock: s.Clock, Pruned: s.Pruned, Seen: s.Seen, Size: len(s.Neighbors)}
	if len(s.Neighbors) > 0 {
		h.Lowest = s.Neighbors[len(s.Neighbors)-1]
	}
	return h
}

// With returns the item whose head is h and whose neighbors, in stored
// order, are ns.
func (h ItemHead) With(ns []Neighbor) ItemState {
	return ItemState{SKU: h.SKU, Epoch: h.Epoch, Clock: h.Clock, Pruned: h.Pruned, Seen: h.Seen, Neighbors: ns}
}

// Neighbors reads an item's neighbors where they are kept.
type Neighbors interface {
	// Get returns the neighbor whose SKU is sku.
	Get(sku string) (Neighbor, bool)
	// Before returns the neighbor right before n, a kept neighbor as read,
	// in the stored order.
	Before(n Neighbor) (Neighbor, bool)
	// All yields every neighbor in the stored order.
	All(yield func(Neighbor) bool)
}

// Ranked reads neighbors held in a slice in the stored order.
type Ranked []Neighbor

func (r Ranked) Get(sku string) (Neighbor, bool) {
	if i := slices.IndexFunc(r, func(n Neighbor) bool { return n.SKU == sku }); i >= 0 {
		return r[i], true
	}
	return Neighbor{}, false
}

func (r Ranked) Before(n Neighbor) (Neighbor, bool) {
	if i := slices.IndexFunc(r, func(m Neighbor) bool { return m.SKU == n.SKU }); i > 0 {
		return r[i-1], true
	}
	return Neighbor{}, false
}

func (r Ranked) All(yield func(Neighbor) bool) {
	for _, n := range r {
		if !yield(n) {
			return
		}
	}
}

// Move replaces one kept neighbor: From is the value kept before (nil for
// a neighbor new to the list), To the value to keep. A store that orders
// neighbors by rank finds the old place from From.
type Move struct {
	From *Neighbor
	To   Neighbor
}

// ItemChanges are the neighbors one pair changed: at most one move and one
// drop, except at a rebase.
type ItemChanges struct {
	Moves []Move
	// Dropped are kept neighbors to forget, as they were kept.
	Dropped []Neighbor
}

// move records that the neighbor read as from (nil: none) is now to. A
// neighbor moved twice in one step keeps the value first read as its From.
func (c *ItemChanges) move(from *Neighbor, to Neighbor) {
	for i := range c.Moves {
		if c.Moves[i].To.SKU == to.SKU {
			c.Moves[i].To = to
			return
		}
	}
	c.Moves = append(c.Moves, Move{From: from, To: to})
}

// drop records that n, as read, leaves the list. If this step moved it,
// what is kept is the move's From.
func (c *ItemChanges) drop(n Neighbor) {
	for i, m := range c.Moves {
		if m.To.SKU == n.SKU {
			c.Moves = slices.Delete(c.Moves, i, i+1)
			if m.From != nil {
				c.Dropped = append(c.Dropped, *m.From)
			}
			return
		}
	}
	c.Dropped = append(c.Dropped, n)
}

// Apply returns ns, a list in stored order, with the changes made, in
// stored order.
func (c ItemChanges) Apply(ns []Neighbor, p Policy) []Neighbor {
	gone := make(map[string]bool, len(c.Moves)+len(c.Dropped))
	for _, m := range c.Moves {
		gone[m.To.SKU] = true
	}
	for _, n := range c.Dropped {
		gone[n.SKU] = true
	}
	p = p.WithDefaults()
	out := make([]Neighbor, 0, len(ns)+len(c.Moves))
	for _, n := range ns {
		if !gone[n.SKU] {
			out = append(out, n)
		}
	}
	// ns is in stored order, so each moved neighbor goes in at its place.
	for _, m := range c.Moves {
		i := sort.Search(len(out), func(i int) bool { return before(m.To, out[i], p) })
		out = slices.Insert(out, i, m.To)
	}
	return out
}
