package state

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// A storage that opens empty has its whole changelog to read before goka
// calls it recovered, and goka hands the records over one at a time, each
// a write through Pebble's write-ahead log and memtable: the memtable's
// skiplist inserts alone were a quarter of a restore's CPU. A Loader lets
// the storage read the changelog itself first and write it in bulk:
// records gathered in memory, sorted, written as sstables and ingested
// (Pebble's Ingest, RocksDB's IngestExternalFile), skipping the log and
// the memtable. goka then finds the offset of the last record loaded and
// reads only what came after it.
//
// Only a storage with no keys and no offset loads in bulk. An ingested
// record bypasses whatever wraps the storage and goka's update callback,
// so a wrapper that derives keys of its own (internal/localindex) hands
// its rule to the load (DeriveOnLoad), or builds its keys after the load
// when it opens; a view whose update callback must see every record does
// not load in bulk. A load that fails or stops early leaves what it
// ingested, under the offset of its last record, and goka reads the rest
// as usual. Nothing it writes is synced: a crash during the load leaves a
// storage without its clean-shutdown marker, which the next Open
// discards.

// Record is one changelog record, for a Loader's add: a nil Value is a
// delete, as in goka.
type Record struct {
	Key, Value []byte
	Offset     int64
}

// A Loader reads a changelog partition from its first record up to the
// last one it held when the load began, in offset order, and calls add
// with each. It returns when it has read them, when add fails, or when ctx
// ends; it may also stop early with an error, and the storage keeps what
// it added before. add copies what it keeps: the slices of the record it
// is given are the caller's again once it returns.
type Loader func(ctx context.Context, topic string, partition int32, add func(Record) error) error

// WithBulkLoad has a storage that opens empty read its changelog through
// load before it returns from Open (see Loader). The default reads nothing:
// goka recovers the partition record by record.
func WithBulkLoad(load Loader) Option {
	return option(func(c *config) { c.loader = load })
}

// Derived describes keys that a wrapper of the storage derives from each
// key it writes (internal/localindex): a bulk load writes around the
// wrapper, so it writes them itself, and then Name under NameKey, which
// tells the wrapper that its keys are all there.
type Derived struct {
	// Derive returns the key derived from key, or nil, and whether value
	// keeps it (value is nil for a delete). The derived key may depend on
	// the value only through present: a load that sees a key change in a
	// later chunk could not find the key derived from its earlier value.
	Derive func(key, value []byte) (derived []byte, present bool)
	// Value is what a present derived key holds.
	Value         []byte
	NameKey, Name []byte
}

// DeriveOnLoad has a bulk load at Open write d's keys. Call it before
// Open.
func (s *Storage) DeriveOnLoad(d Derived) { s.derived = &d }

// bulkChunk is how many bytes of records a load holds before it sorts and
// ingests them: a bound on its memory per partition, and large enough that
// a million-key table makes a few sstables, not hundreds.
var bulkChunk = 32 << 20

// bulkLoad runs the builder's loader into db if it is empty, and returns
// the offset of the last record ingested, or -1 if none was.
func (s *Storage) bulkLoad(db *pebble.DB, opts *pebble.Options) (int64, error) {
	if s.b.cfg.loader == nil {
		return -1, nil
	}
	if empty, err := isEmpty(db); err != nil || !empty {
		return -1, err
	}
	start := time.Now()
	l := &loading{s: s, db: db, opts: opts, last: -1, derived: s.derived}
	err := s.b.cfg.loader(s.b.stop, s.topic, s.partition, l.add)
	err = errors.Join(err, l.flush())
	if l.last < 0 {
		if err != nil {
			s.log.Warn("bulk load failed; goka recovers the partition", "error", err)
		}
		return -1, nil
	}
	b := db.NewBatch()
	defer b.Close()
	if d := s.derived; d != nil {
		if err := b.Set(d.NameKey, d.Name, nil); err != nil {
			return -1, fmt.Errorf("bulk load: %w", err)
		}
	}
	if err := b.Set(offsetKeyBytes, strconv.AppendInt(nil, l.last, 10), nil); err != nil {
		return -1, fmt.Errorf("bulk load: %w", err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return -1, fmt.Errorf("bulk load: %w", err)
	}
	log := s.log.Info
	if err != nil {
		log = s.log.Warn // goka reads the rest
	}
	log("bulk load of the changelog", "records", l.records, "tables", l.tables, "offset", l.last,
		"took", time.Since(start).Round(time.Millisecond), "error", err)
	return l.last, nil
}

// isEmpty reports whether db holds no key at all.
func isEmpty(db *pebble.DB) (bool, error) {
	it, err := db.NewIter(nil)
	if err != nil {
		return false, err
	}
	empty := !it.First()
	return empty, errors.Join(it.Error(), it.Close())
}

// loading is one bulk load in progress. It copies each record's key and
// value into blocks of its own, which never move: a chunk's memory is its
// records' bytes rather than the fetched batches they came in, and what
// it holds and sorts has no pointers for the garbage collector to scan.
type loading struct {
	s     *Storage
	db    *pebble.DB
	opts  *pebble.Options
	arena [][]byte
	spare [][]byte // blocks a flush emptied, for the next chunk
	held  []heldRecord
	size  int
	// derived are the keys derived from those of the chunk, when the
	// storage has Derived.
	derived    *Derived
	derivedOut []Record
	// last is the offset of the last record ingested, -1 while none.
	last    int64
	records int
	tables  int
}

// heldRecord is a record in the arena: its key at [at, at+klen) of block
// blk, its value after it; a vlen of -1 is a delete. prefix holds the key's
// first 16 bytes, so that most comparisons of a sort end without reading
// the arena: a sort of keys in no order spent four fifths of its time
// waiting for the keys' memory.
type heldRecord struct {
	prefix  [2]uint64
	offset  int64
	blk, at uint32
	klen    uint32
	vlen    int32
}

// keyPrefix is key's first 16 bytes as two big-endian words, padded with
// zeros. Two keys whose prefixes differ compare as their prefixes do; two
// whose prefixes are equal may still differ after them, or in length.
func keyPrefix(key []byte) [2]uint64 {
	var b [16]byte
	copy(b[:], key)
	return [2]uint64{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// compare orders held records by key.
func (l *loading) compare(a, b heldRecord) int {
	if c := cmp.Compare(a.prefix[0], b.prefix[0]); c != 0 {
		return c
	}
	if c := cmp.Compare(a.prefix[1], b.prefix[1]); c != 0 {
		return c
	}
	return bytes.Compare(l.key(a), l.key(b))
}

// arenaBlock is the size of an arena block; a larger record gets a block
// of its own.
const arenaBlock = 1 << 20

const heldSize = int(unsafe.Sizeof(heldRecord{}))

func (l *loading) key(h heldRecord) []byte {
	return l.arena[h.blk][h.at : h.at+h.klen]
}

// value returns the record's value, nil for a delete.
func (l *loading) value(h heldRecord) []byte {
	if h.vlen < 0 {
		return nil
	}
	at := h.at + h.klen
	return l.arena[h.blk][at : at+uint32(h.vlen) : at+uint32(h.vlen)]
}

func (l *loading) add(r Record) error {
	if string(r.Key) == offsetKey {
		return l.s.opError("bulk load", offsetKey, ErrReservedKey)
	}
	n := len(r.Key) + len(r.Value)
	if k := len(l.arena); k == 0 || cap(l.arena[k-1])-len(l.arena[k-1]) < n {
		var b []byte
		if k := len(l.spare); k > 0 && n <= arenaBlock {
			b, l.spare = l.spare[k-1], l.spare[:k-1]
		} else {
			b = make([]byte, 0, max(arenaBlock, n))
		}
		l.arena = append(l.arena, b)
	}
	k := len(l.arena) - 1
	h := heldRecord{prefix: keyPrefix(r.Key), offset: r.Offset, blk: uint32(k), at: uint32(len(l.arena[k])),
		klen: uint32(len(r.Key)), vlen: int32(len(r.Value))}
	if r.Value == nil {
		h.vlen = -1
	}
	l.arena[k] = append(append(l.arena[k], r.Key...), r.Value...)
	if len(l.held) == cap(l.held) {
		// Doubled: append grows a slice this large by a quarter at a
		// time, which copied a chunk's records four times over on the way
		// to its size (a tenth of a restore's CPU).
		l.held = slices.Grow(l.held, max(cap(l.held), 1<<14))
	}
	l.held = append(l.held, h)
	l.size += n + heldSize
	if l.size >= bulkChunk {
		return l.flush()
	}
	return nil
}

// flush sorts the held records, writes the last of each key to an sstable
// and ingests it.
func (l *loading) flush() error {
	if len(l.held) == 0 {
		return nil
	}
	held := l.held
	l.sort(held)
	fs := l.opts.FS
	path := fs.PathJoin(l.s.dir, fmt.Sprintf("bulk-%06d.sst", l.tables))
	err := l.write(fs, path, held)
	if err != nil {
		err = errors.Join(fmt.Errorf("bulk load: write %s: %w", path, err), fs.Remove(path))
	} else if err = l.db.Ingest(context.Background(), []string{path}); err != nil {
		err = errors.Join(fmt.Errorf("bulk load: ingest: %w", err), fs.Remove(path))
	} else {
		for _, h := range held {
			l.last = max(l.last, h.offset)
		}
		l.records += len(held)
		l.tables++
	}
	for _, b := range l.arena {
		if cap(b) == arenaBlock {
			l.spare = append(l.spare, b[:0])
		}
	}
	clear(l.arena)
	clear(l.derivedOut)
	l.arena, l.held, l.size = l.arena[:0], l.held[:0], 0
	return err
}

// sort sorts held records by key, a key's records in the order they came,
// which is the order of their offsets: the last one wins. A changelog
// whose keys were written in order comes sorted (left as it is) or nearly
// so, where a stable sort takes a fifth of the time pdqsort does (and
// twice as long on keys in no order).
func (l *loading) sort(held []heldRecord) {
	descents := 0
	for i := 1; i < len(held); i++ {
		if l.compare(held[i-1], held[i]) > 0 {
			descents++
		}
	}
	if descents == 0 {
		return
	}
	if descents <= len(held)/64 {
		slices.SortStableFunc(held, l.compare)
		return
	}
	slices.SortFunc(held, func(a, b heldRecord) int {
		if c := l.compare(a, b); c != 0 {
			return c
		}
		return cmp.Compare(a.offset, b.offset)
	})
}

func (l *loading) write(fs vfs.FS, path string, sorted []heldRecord) error {
	// The last record of each key, in place.
	last := sorted[:0]
	for i, h := range sorted {
		if i+1 < len(sorted) && l.compare(h, sorted[i+1]) == 0 {
			continue
		}
		last = append(last, h)
	}
	derived := l.derive(last)
	f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f),
		l.opts.MakeWriterOptions(len(l.opts.Levels)-1, l.db.TableFormat()))
	for len(last) > 0 || len(derived) > 0 {
		var k, v []byte
		switch {
		case len(derived) == 0 || len(last) > 0 && bytes.Compare(l.key(last[0]), derived[0].Key) < 0:
			k, v, last = l.key(last[0]), l.value(last[0]), last[1:]
		case len(last) == 0 || bytes.Compare(derived[0].Key, l.key(last[0])) < 0:
			k, v, derived = derived[0].Key, derived[0].Value, derived[1:]
		default:
			return errors.Join(fmt.Errorf("key %q is both loaded and derived", derived[0].Key), w.Close())
		}
		if v == nil {
			// The key may be in an sstable ingested before: this one,
			// ingested after, must hide it.
			err = w.Delete(k)
		} else {
			err = w.Set(k, v)
		}
		if err != nil {
			return errors.Join(err, w.Close())
		}
	}
	return w.Close()
}

// derive returns the keys derived from held, which are sorted and hold
// one record per key, sorted in turn.
func (l *loading) derive(held []heldRecord) []Record {
	d := l.derived
	if d == nil {
		return nil
	}
	out := l.derivedOut[:0]
	for _, h := range held {
		k, ok := d.Derive(l.key(h), l.value(h))
		if k == nil {
			continue
		}
		v := d.Value
		if !ok {
			v = nil
		}
		out = append(out, Record{Key: k, Value: v})
	}
	slices.SortStableFunc(out, func(a, b Record) int { return bytes.Compare(a.Key, b.Key) })
	last := out[:0]
	for i, r := range out {
		if i+1 < len(out) && bytes.Equal(r.Key, out[i+1].Key) {
			continue
		}
		last = append(last, r)
	}
	l.derivedOut = out
	return last
}
