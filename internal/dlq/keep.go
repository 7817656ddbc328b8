package dlq

import (
	"cmp"
	"container/heap"
	"slices"
)

// ByTime orders entries by the time they were written, then by place.
func ByTime(a, b Entry) int {
	return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Topic, b.Topic),
		cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
}

// BySource orders entries by their source record, the order they first
// arrived in within a partition, so that a replay keeps each key's records
// in their order. Records that are not dead letters come first, by place.
func BySource(a, b Entry) int {
	if (a.Err == nil) != (b.Err == nil) {
		if a.Err != nil {
			return -1
		}
		return 1
	}
	ia, ib := a.Letter.ID(), b.Letter.ID()
	return cmp.Or(cmp.Compare(ia.Topic, ib.Topic), cmp.Compare(ia.Partition, ib.Partition),
		cmp.Compare(ia.Offset, ib.Offset), ByTime(a, b))
}

// Keep holds the first Limit entries in an order, whatever order they are
// added in, so a listing of a large topic holds no more than it prints.
type Keep struct {
	limit int
	h     entryHeap
	// Dropped counts the entries added beyond the limit.
	Dropped int
}

// NewKeep keeps the first limit entries by order; limit is at least 1.
func NewKeep(limit int, order func(a, b Entry) int) *Keep {
	return &Keep{limit: max(limit, 1), h: entryHeap{order: order}}
}

// Add offers e.
func (k *Keep) Add(e Entry) {
	if k.h.Len() < k.limit {
		heap.Push(&k.h, e)
		return
	}
	k.Dropped++
	if k.h.order(e, k.h.es[0]) < 0 {
		k.h.es[0] = e
		heap.Fix(&k.h, 0)
	}
}

// Sorted returns what is kept, in order.
func (k *Keep) Sorted() []Entry {
	out := slices.Clone(k.h.es)
	slices.SortFunc(out, k.h.order)
	return out
}

// entryHeap is a max-heap by order: its top is the entry to drop first.
type entryHeap struct {
	es    []Entry
	order func(a, b Entry) int
}

func (h entryHeap) Len() int           { return len(h.es) }
func (h entryHeap) Less(i, j int) bool { return h.order(h.es[i], h.es[j]) > 0 }
func (h entryHeap) Swap(i, j int)      { h.es[i], h.es[j] = h.es[j], h.es[i] }
func (h *entryHeap) Push(x any)        { h.es = append(h.es, x.(Entry)) }
func (h *entryHeap) Pop() any {
	e := h.es[len(h.es)-1]
	h.es = h.es[:len(h.es)-1]
	return e
}
