package recommendationstopo

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/lovoo/goka/storage"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/millis"
	"github.com/titan-commerce/titan/processors/recommendations"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
)

// An item lives in the items table under several keys. Its own key holds
// its head (recommendations.ItemHead, layout 2) and what the last pair
// wrote under the others; each neighbor has two keys of its own after a
// NUL byte, which the partitioner ignores (internal/partition), so they
// share the item's partition, local storage and changelog:
//
//	item                     head (recommendationsv1.ItemState, layout 2)
//	item \0 n other          the neighbor: rank, view, purchase, last
//	item \0 k rank other     the neighbor in stored order: view, purchase, last
//
// rank is the bits of the neighbor's blend at the epoch, inverted, so that
// the rank keys sort as the list does: highest blend first, then by SKU.
// A pair reads the neighbor it counts (and the lowest, from the end of the
// rank keys, when the list is full) and writes the head and those: a few
// small records whatever the item's size, where layout 1 rewrote every
// neighbor. The rank kept beside a neighbor finds its rank key again
// even if the policy's weights have changed since it was written. The
// trade-off: a read of the top K is a scan of K keys instead of one value,
// and a rebase, once an hour of the item's time, rewrites every neighbor
// under both keys.
//
// The head goes to the changelog first and names the other writes (its
// redo), which follow it; a successor that finds a head written by another
// incarnation writes its redo again before its own pairs (gokaopts.Keys).
// Locally, a record's writes are made as its pairs are counted, before its
// head (countPairs): a failure in between fails the processor, and the
// local state is then rebuilt from the changelog. A value of layout 1 is
// moved to these keys by the item's next pair.
const (
	tagNeighbor = 'n'
	tagRank     = 'k'
)

func sideKey(item string, tag byte, rest string) string {
	var b strings.Builder
	b.Grow(len(item) + 2 + len(rest))
	b.WriteString(item)
	b.WriteByte(0)
	b.WriteByte(tag)
	b.WriteString(rest)
	return b.String()
}

func neighborKey(item, other string) string { return sideKey(item, tagNeighbor, other) }

func rankKey(item string, rank uint64, other string) string {
	var r [8]byte
	binary.BigEndian.PutUint64(r[:], rank)
	return sideKey(item, tagRank, string(r[:])+other)
}

// rankOf is the sort key of a blend: its bits inverted, so higher blends
// sort first. Blends are not negative; a NaN, which a zero weight times an
// overflowed score makes, ranks as zero.
func rankOf(n recommendations.Neighbor, p recommendations.Policy) uint64 {
	r := recommendations.Rank(n, p)
	if math.IsNaN(r) || r < 0 {
		r = 0
	}
	return ^math.Float64bits(r)
}

const neighborSize = 24

// maxPrealloc bounds what a stored size makes a reader allocate ahead.
const maxPrealloc = 256

func appendNeighbor(b []byte, n recommendations.Neighbor) []byte {
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(n.ViewScore))
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(n.PurchaseScore))
	return binary.BigEndian.AppendUint64(b, uint64(millis.Of(n.Last)))
}

func decodeNeighbor(sku string, b []byte) (recommendations.Neighbor, error) {
	if len(b) != neighborSize {
		return recommendations.Neighbor{}, fmt.Errorf("recommendations: neighbor %q: %d bytes, want %d", sku, len(b), neighborSize)
	}
	return recommendations.Neighbor{
		SKU:           sku,
		ViewScore:     score(math.Float64frombits(binary.BigEndian.Uint64(b))),
		PurchaseScore: score(math.Float64frombits(binary.BigEndian.Uint64(b[8:]))),
		Last:          millis.Time(int64(binary.BigEndian.Uint64(b[16:]))),
	}, nil
}

// score keeps what the wire mapping keeps of a stored score: a finite,
// non-negative one, or zero.
func score(v float64) float64 {
	if math.IsNaN(v) || v < 0 {
		return 0
	}
	return v
}

// write is one write under a key; a nil value deletes it.
type write struct {
	key   string
	value []byte
}

// stored is the table's value under an item's own key.
type stored struct {
	head recommendations.ItemHead
	// redo are the writes under the item's other keys that the pair which
	// wrote the value made.
	redo []write
	// writer names the processor incarnation that wrote the value
	// (gokaopts.Keys.Writer).
	writer uint64
	// legacy is a value of layout 1, which kept the neighbors in it.
	legacy []recommendations.Neighbor
}

// marshal keeps equal heads byte-equal.
var marshal = proto.MarshalOptions{Deterministic: true}

func encodeStored(v stored) ([]byte, error) {
	w := recommendations.ItemStateToWire(v.head.With(nil))
	w.Layout, w.Size, w.Writer = 2, int64(v.head.Size), v.writer
	if v.head.Size > 0 {
		n := v.head.Lowest
		w.Lowest = &recommendationsv1.Neighbor{Sku: n.SKU, ViewScore: n.ViewScore, PurchaseScore: n.PurchaseScore, LastMs: millis.Of(n.Last)}
	}
	if len(v.redo) > 0 {
		w.Redo = make([]*recommendationsv1.KeyWrite, len(v.redo))
		for i, r := range v.redo {
			w.Redo[i] = &recommendationsv1.KeyWrite{Key: []byte(r.key), Value: r.value, Delete: r.value == nil}
		}
	}
	return marshal.Marshal(w)
}

func decodeStored(b []byte) (stored, error) {
	var w recommendationsv1.ItemState
	if err := proto.Unmarshal(b, &w); err != nil {
		return stored{}, fmt.Errorf("recommendations: decode item: %w", err)
	}
	s := recommendations.ItemStateFromWire(&w)
	if w.GetLayout() < 2 {
		return stored{head: s.Head(), legacy: s.Neighbors}, nil
	}
	v := stored{head: s.Head(), writer: w.GetWriter()}
	if n := w.GetSize(); n < 0 || n > math.MaxInt32 {
		return stored{}, fmt.Errorf("recommendations: decode item: size %d", n)
	}
	v.head.Size = int(w.GetSize())
	if n := w.GetLowest(); n != nil {
		v.head.Lowest = recommendations.Neighbor{
			SKU: n.GetSku(), ViewScore: score(n.GetViewScore()), PurchaseScore: score(n.GetPurchaseScore()), Last: millis.Time(n.GetLastMs()),
		}
	}
	if n := len(w.GetRedo()); n > 0 {
		v.redo = make([]write, 0, n)
		gokaopts.EachWrite(w.GetRedo(), func(key string, value []byte) {
			v.redo = append(v.redo, write{key: key, value: value})
		})
	}
	return v, nil
}

// Reader reads keys and ranges of the items table: a partition's storage,
// or what the API reads through a view of every partition.
type Reader interface {
	Get(key string) ([]byte, error)
	IteratorWithRange(start, limit []byte) (storage.Iterator, error)
}

// itemNeighbors is a recommendations.Neighbors over a table partition's
// storage. It remembers the rank key of every neighbor it read, which a
// change of that neighbor deletes. A read that fails is kept in err and
// reads as absent: the caller checks err after the step and fails the
// partition, so nothing decided on a failed read is written.
type itemNeighbors struct {
	st    Reader
	item  string
	ranks map[string]uint64
	err   error
}

func newItemNeighbors(st Reader, item string) *itemNeighbors {
	return &itemNeighbors{st: st, item: item, ranks: map[string]uint64{}}
}

func (s *itemNeighbors) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

func (s *itemNeighbors) Get(sku string) (recommendations.Neighbor, bool) {
	b, err := s.st.Get(neighborKey(s.item, sku))
	if err != nil {
		s.fail(err)
		return recommendations.Neighbor{}, false
	}
	if b == nil {
		return recommendations.Neighbor{}, false
	}
	if len(b) != 8+neighborSize {
		s.fail(fmt.Errorf("recommendations: neighbor %q of %q: %d bytes", sku, s.item, len(b)))
		return recommendations.Neighbor{}, false
	}
	n, err := decodeNeighbor(sku, b[8:])
	if err != nil {
		s.fail(err)
		return recommendations.Neighbor{}, false
	}
	s.ranks[sku] = binary.BigEndian.Uint64(b)
	return n, true
}

// fromRankKey reads a neighbor from its rank key and value.
func (s *itemNeighbors) fromRankKey(key, value []byte) (recommendations.Neighbor, bool) {
	rest := key[len(s.item)+2:]
	if len(rest) < 8 {
		s.fail(fmt.Errorf("recommendations: rank key %q of %q is short", key, s.item))
		return recommendations.Neighbor{}, false
	}
	sku := string(rest[8:])
	n, err := decodeNeighbor(sku, value)
	if err != nil {
		s.fail(err)
		return recommendations.Neighbor{}, false
	}
	s.ranks[sku] = binary.BigEndian.Uint64(rest)
	return n, true
}

// lastReader is what state.Storage offers beyond goka's storage: the end of
// a range without walking it.
type lastReader interface {
	Last(start, limit []byte) (key, value []byte, ok bool, err error)
}

// Before reads backwards from n's rank key. The deletes of neighbors that
// left the list lie after the lowest's key, where a queue of one-off
// neighbors leaves a long run of them until Pebble compacts, so reading
// up to n's key, and not back from the end of the range, never meets them.
func (s *itemNeighbors) Before(n recommendations.Neighbor) (recommendations.Neighbor, bool) {
	r, err := s.storedRank(n.SKU)
	if err != nil {
		s.fail(err)
		return recommendations.Neighbor{}, false
	}
	start, limit := []byte(sideKey(s.item, tagRank, "")), []byte(rankKey(s.item, r, n.SKU))
	if l, ok := s.st.(lastReader); ok {
		k, v, ok, err := l.Last(start, limit)
		if err != nil {
			s.fail(err)
			return recommendations.Neighbor{}, false
		}
		if !ok {
			return recommendations.Neighbor{}, false
		}
		return s.fromRankKey(k, v)
	}
	// Another storage: walk the range for its greatest key. goka's
	// in-memory storage neither orders a range nor excludes its limit.
	var key, value []byte
	s.scan(start, limit, func(k, v []byte) bool {
		if bytes.Compare(k, limit) < 0 && (key == nil || bytes.Compare(k, key) > 0) {
			key, value = k, v
		}
		return true
	})
	if key == nil || s.err != nil {
		return recommendations.Neighbor{}, false
	}
	return s.fromRankKey(key, value)
}

// storedRank is the rank under which sku is kept: as read, or from its
// neighbor key.
func (s *itemNeighbors) storedRank(sku string) (uint64, error) {
	if r, ok := s.ranks[sku]; ok {
		return r, nil
	}
	if _, ok := s.Get(sku); !ok {
		if s.err != nil {
			return 0, s.err
		}
		return 0, fmt.Errorf("recommendations: %q has no neighbor %q", s.item, sku)
	}
	return s.ranks[sku], nil
}

// All needs a storage that iterates a range in key order, as Titan's
// state does; only a rebase and whole-item reads use it.
func (s *itemNeighbors) All(yield func(recommendations.Neighbor) bool) {
	start, limit := []byte(sideKey(s.item, tagRank, "")), []byte(sideKey(s.item, tagRank+1, ""))
	s.scan(start, limit, func(k, v []byte) bool {
		n, ok := s.fromRankKey(k, v)
		return ok && yield(n)
	})
}

// scan calls fn with each key and value in [start, limit) until it returns
// false.
func (s *itemNeighbors) scan(start, limit []byte, fn func(key, value []byte) bool) {
	it, err := s.st.IteratorWithRange(start, limit)
	if err != nil {
		s.fail(err)
		return
	}
	defer it.Release()
	for it.Next() {
		v, err := it.Value()
		if err != nil {
			s.fail(err)
			return
		}
		if !fn(bytes.Clone(it.Key()), v) {
			return
		}
	}
	if err := it.Err(); err != nil {
		s.fail(err)
	}
}

// changeWrites are the writes that make a pair's changes: every delete
// first, so a neighbor dropped and taken back in one step, or moved to the
// rank it had, ends up written.
func (s *itemNeighbors) changeWrites(ch recommendations.ItemChanges, p recommendations.Policy) ([]write, error) {
	out := make([]write, 0, 2*len(ch.Dropped)+3*len(ch.Moves))
	kept := s.storedRank
	for _, d := range ch.Dropped {
		r, err := kept(d.SKU)
		if err != nil {
			return nil, err
		}
		out = append(out, write{key: neighborKey(s.item, d.SKU)}, write{key: rankKey(s.item, r, d.SKU)})
	}
	for _, m := range ch.Moves {
		if m.From == nil {
			continue
		}
		r, err := kept(m.From.SKU)
		if err != nil {
			return nil, err
		}
		out = append(out, write{key: rankKey(s.item, r, m.From.SKU)})
	}
	for _, m := range ch.Moves {
		out = append(out, neighborWrites(s.item, m.To, rankOf(m.To, p))...)
	}
	return out, nil
}

// neighborWrites are the two keys of a neighbor at rank r.
func neighborWrites(item string, n recommendations.Neighbor, r uint64) []write {
	v := appendNeighbor(make([]byte, 0, neighborSize), n)
	nv := binary.BigEndian.AppendUint64(make([]byte, 0, 8+neighborSize), r)
	return []write{{key: neighborKey(item, n.SKU), value: append(nv, v...)}, {key: rankKey(item, r, n.SKU), value: v}}
}

// explode writes a layout-1 item's neighbors under their keys.
func explode(item string, ns []recommendations.Neighbor, p recommendations.Policy) []write {
	out := make([]write, 0, 2*len(ns))
	for _, n := range ns {
		out = append(out, neighborWrites(item, n, rankOf(n, p))...)
	}
	return out
}

// first are the writes to make again before an item's next pair: the
// redo of a value another incarnation wrote, which may have died before
// they all landed, or a layout-1 value's neighbors under their keys.
func (v stored) first(item string, writer uint64, p recommendations.Policy) []write {
	switch {
	case v.legacy != nil:
		return explode(item, v.legacy, p)
	case v.writer != writer:
		return v.redo
	}
	return nil
}

// countPair counts a pair at the item whose value is v, reading its
// neighbors from st once v's first writes are in it. It returns the new
// value, whose redo is the writes to make after it, and false for a pair
// that changes nothing. An error is the storage's.
func countPair(v stored, st Reader, pair recommendations.Pair, p recommendations.Policy, writer uint64) (stored, bool, error) {
	ns := newItemNeighbors(st, pair.Item)
	head, changes, counted := recommendations.CountPair(v.head, ns, pair, p)
	if ns.err != nil {
		return stored{}, false, fmt.Errorf("recommendations: read %s: %w", pair.Item, ns.err)
	}
	if !counted {
		return stored{}, false, nil
	}
	writes, err := ns.changeWrites(changes, p)
	if err != nil {
		return stored{}, false, err
	}
	return stored{head: head, redo: writes, writer: writer}, true, nil
}

// Writer is the storage countPairs reads and writes: a table partition's.
type Writer interface {
	Reader
	Set(key string, value []byte) error
	Delete(key string) error
}

// countPairs counts the pairs of one record at the item whose value is v,
// in order, each reading what the one before it wrote: those writes are
// made to st as they are decided, and the value returned names them all,
// in order, as its redo. The caller stores the value and then sends the
// redo to the changelog, so the changelog never holds a write the value
// before it does not name; the writes made here, before the value, are
// only local, and a failure before the value is stored makes the local
// state distrusted (it is rebuilt from the changelog). false when no pair
// counted. An error is the storage's.
func countPairs(v stored, st Writer, pairs []recommendations.Pair, p recommendations.Policy, writer uint64) (stored, bool, error) {
	var (
		redo    []write
		counted bool
	)
	for _, pair := range pairs {
		next, ok, err := countPair(v, st, pair, p, writer)
		if err != nil {
			return stored{}, false, err
		}
		if !ok {
			continue
		}
		for _, w := range next.redo {
			if w.value == nil {
				err = st.Delete(w.key)
			} else {
				err = st.Set(w.key, w.value)
			}
			if err != nil {
				return stored{}, false, fmt.Errorf("recommendations: write %q: %w", w.key, err)
			}
		}
		redo = append(redo, next.redo...)
		v, counted = next, true
	}
	v.redo = redo
	return v, counted, nil
}

// StoredBytes is what the table keeps for an item, keys and values: its
// head and two keys per neighbor.
func StoredBytes(s recommendations.ItemState, p recommendations.Policy) (int, error) {
	head, err := encodeStored(stored{head: s.Head()})
	if err != nil {
		return 0, err
	}
	n := len(s.SKU) + len(head)
	for _, w := range explode(s.SKU, s.Neighbors, p.WithDefaults()) {
		n += len(w.key) + len(w.value)
	}
	return n, nil
}

// LoadItem reads an item's whole state, its neighbors in stored order:
// for the API's reads, tests and tools. found is false for an item the
// table does not hold.
func LoadItem(st Reader, sku string) (s recommendations.ItemState, found bool, err error) {
	b, err := st.Get(sku)
	if err != nil || b == nil {
		return recommendations.ItemState{}, false, err
	}
	v, err := decodeStored(b)
	if err != nil {
		return recommendations.ItemState{}, false, err
	}
	if v.legacy != nil {
		return v.head.With(v.legacy), true, nil
	}
	ns := newItemNeighbors(st, sku)
	// The size only bounds the read: a list is as long as its keys.
	list := make([]recommendations.Neighbor, 0, min(v.head.Size, maxPrealloc))
	seen := make(map[string]bool, min(v.head.Size, maxPrealloc))
	for n := range ns.All {
		// A rank key whose delete has not landed yet (a redo being written
		// again) leaves a neighbor's old place behind its new one.
		if !seen[n.SKU] {
			seen[n.SKU] = true
			list = append(list, n)
		}
		// Past the lowest lie only the deletes of those that left.
		if len(list) == v.head.Size {
			break
		}
	}
	if ns.err != nil {
		return recommendations.ItemState{}, false, ns.err
	}
	return v.head.With(list), true, nil
}
