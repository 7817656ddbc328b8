package replay

import "time"

// Source is one partition of one input of an ordered replay. Input is the
// input's rank: among records of the same millisecond, those of a lower
// rank go first.
type Source struct {
	Input     int
	Partition int32
}

// Merge interleaves the records of several sources by time, the order in
// which a replay that keeps causes before their effects releases them. Its
// order is the records' times, then their inputs' ranks, partitions and
// offsets: each source keeps its own order (a Kafka partition's times need
// not rise), and a record waits until every source still being read holds
// one to compare it with.
//
// Pushing and taking are not safe for concurrent use.
type Merge[T any] struct {
	queues map[Source]*queue[T]
	// open are the sources not yet read to their end.
	open map[Source]bool
}

type queued[T any] struct {
	at     time.Time
	offset int64
	value  T
}

type queue[T any] struct {
	items []queued[T]
	head  int
}

func (q *queue[T]) len() int { return len(q.items) - q.head }

func (q *queue[T]) pop() queued[T] {
	it := q.items[q.head]
	q.items[q.head] = queued[T]{}
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	return it
}

// NewMerge returns a Merge of sources, every one of them open.
func NewMerge[T any](sources []Source) *Merge[T] {
	m := &Merge[T]{queues: map[Source]*queue[T]{}, open: map[Source]bool{}}
	for _, s := range sources {
		m.queues[s] = &queue[T]{}
		m.open[s] = true
	}
	return m
}

// Push adds the record at offset of s, stamped at, after those pushed
// before it.
func (m *Merge[T]) Push(s Source, at time.Time, offset int64, v T) {
	q := m.queues[s]
	if q == nil {
		q = &queue[T]{}
		m.queues[s] = q
	}
	q.items = append(q.items, queued[T]{at: at, offset: offset, value: v})
}

// End says s has no records left to push.
func (m *Merge[T]) End(s Source) { delete(m.open, s) }

// Len is the number of records of s waiting.
func (m *Merge[T]) Len(s Source) int {
	if q := m.queues[s]; q != nil {
		return q.len()
	}
	return 0
}

// Starved lists the open sources with no record waiting: Next can release
// nothing until each has one or has ended.
func (m *Merge[T]) Starved() []Source {
	var out []Source
	for s := range m.open {
		if m.queues[s].len() == 0 {
			out = append(out, s)
		}
	}
	return out
}

// Next takes the first record in the merge's order. It reports ok false
// when it cannot tell yet (a source is starved) and done when every source
// has ended and been taken whole.
func (m *Merge[T]) Next() (v T, ok, done bool) {
	var (
		best  Source
		first *queued[T]
	)
	for s, q := range m.queues {
		if q.len() == 0 {
			if m.open[s] {
				return v, false, false
			}
			continue
		}
		it := &q.items[q.head]
		if first == nil || before(it, s, first, best) {
			first, best = it, s
		}
	}
	if first == nil {
		return v, false, true
	}
	return m.queues[best].pop().value, true, false
}

func before[T any](a *queued[T], as Source, b *queued[T], bs Source) bool {
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	if as.Input != bs.Input {
		return as.Input < bs.Input
	}
	if as.Partition != bs.Partition {
		return as.Partition < bs.Partition
	}
	return a.offset < b.offset
}
