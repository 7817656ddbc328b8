package state

import (
	"bytes"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/lovoo/goka/storage"
)

type position uint8

const (
	unstarted position = iota
	atEntry
	exhausted
)

// iterator walks a point-in-time view of one storage: a Pebble iterator sees
// the database as of its creation, whatever is written afterwards. It hides
// the offset key. Its mutex lets Storage.Close end it while its owner is
// between calls, and makes concurrent use safe, though goka does not ask for
// that.
//
// Key and Value hand out copies in buffers the iterator owns, not Pebble's
// slices: those point into block-cache memory that Pebble frees by hand once
// the iterator is closed, and Close may close it while the owner is still
// reading what Key and Value returned.
type iterator struct {
	s  *Storage
	mu struct {
		sync.Mutex
		it  *pebble.Iterator // nil once released or ended by Close
		pos position
		err error // why it ended early, if Close ended it
		// key and value are reused from entry to entry; never nil, so that
		// an empty key or value does not read as "none".
		key, value []byte
	}
}

var _ storage.Iterator = (*iterator)(nil)

// Iterator returns an iterator over all keys in order, offset key excluded.
func (s *Storage) Iterator() (storage.Iterator, error) {
	return s.newIterator("iterator", nil, nil)
}

// IteratorWithRange returns an iterator over the keys in [start, limit),
// offset key excluded. A nil start is unbounded. A nil or empty limit means
// "every key that starts with start" (and so everything when start is nil
// too): goka's interface comment says unbounded, but both of goka's own
// storages iterate the prefix, and code written against them may rely on it.
func (s *Storage) IteratorWithRange(start, limit []byte) (storage.Iterator, error) {
	if len(start) == 0 {
		// No lower bound is the same range, and Pebble v2.1.7 built with
		// invariants (as under -race) indexes an empty non-nil seek key.
		start = nil
	}
	switch {
	case len(limit) == 0:
		limit = prefixEnd(start)
	case bytes.Compare(start, limit) > 0:
		// Pebble wants lower <= upper; an inverted range is just empty.
		limit = start
	}
	return s.newIterator("iterator with range", start, limit)
}

// Last returns the last key in [start, limit) and its value, copied, and
// false when the range holds none; the offset key is never returned. goka's
// iterators only go forward, and a reader that wants the end of a range,
// such as the lowest of a ranked list, would walk all of it.
func (s *Storage) Last(start, limit []byte) (key, value []byte, ok bool, err error) {
	if len(start) == 0 {
		start = nil
	}
	if len(limit) == 0 {
		limit = nil
	}
	if limit != nil && bytes.Compare(start, limit) >= 0 {
		return nil, nil, false, nil
	}
	db, release, err := s.acquire()
	if err != nil {
		return nil, nil, false, s.opError("last", "", err)
	}
	defer release()
	if err := s.applyPending(); err != nil {
		return nil, nil, false, s.opError("last", "", err)
	}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: limit})
	if err != nil {
		return nil, nil, false, s.opError("last", "", err)
	}
	for valid := it.Last(); valid; valid = it.Prev() {
		if bytes.Equal(it.Key(), offsetKeyBytes) {
			continue
		}
		v, verr := it.ValueAndErr()
		if verr != nil {
			err = verr
			break
		}
		key, value, ok = bytes.Clone(it.Key()), bytes.Clone(v), true
		break
	}
	if err == nil {
		err = it.Error()
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, nil, false, s.opError("last", "", err)
	}
	return key, value, ok, nil
}

func (s *Storage) newIterator(op string, lower, upper []byte) (storage.Iterator, error) {
	db, release, err := s.acquire()
	if err != nil {
		return nil, s.opError(op, "", err)
	}
	defer release()
	if err := s.applyPending(); err != nil {
		return nil, s.opError(op, "", err)
	}
	pit, err := db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, s.opError(op, "", err)
	}
	it := &iterator{s: s}
	it.mu.it = pit
	it.mu.key, it.mu.value = []byte{}, []byte{}
	s.iters.Lock()
	s.iters.live[it] = struct{}{}
	s.iters.Unlock()
	return it, nil
}

// endIterators closes every iterator still held and reports how many there
// were. It runs under the storage's exclusive lock, so no new ones appear.
func (s *Storage) endIterators() int {
	s.iters.Lock()
	live := s.iters.live
	s.iters.live = make(map[*iterator]struct{})
	s.iters.Unlock()
	for it := range live {
		it.end(ErrClosed)
	}
	return len(live)
}

// prefixEnd returns the smallest key above every key that starts with
// prefix, or nil if there is none (prefix empty or all 0xff).
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Next moves to the next entry; the first call moves to the first one.
func (i *iterator) Next() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.mu.it == nil {
		return false
	}
	var ok bool
	switch i.mu.pos {
	case unstarted:
		ok = i.mu.it.First()
	case atEntry:
		ok = i.mu.it.Next()
	case exhausted:
		return false
	}
	return i.settleLocked(ok)
}

// Seek moves to the first entry whose key is >= key (within the iterator's
// range) and reports whether there is one. Key and Value then return that
// entry; Next moves past it. Seek can move backwards and works after the
// iterator was exhausted, as LevelDB's does.
func (i *iterator) Seek(key []byte) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.mu.it == nil {
		return false
	}
	if len(key) == 0 {
		// Every key is >= the empty key; see IteratorWithRange on why
		// Pebble should not be handed an empty seek key.
		return i.settleLocked(i.mu.it.First())
	}
	return i.settleLocked(i.mu.it.SeekGE(key))
}

// settleLocked steps over the offset key and records where the iterator is.
func (i *iterator) settleLocked(ok bool) bool {
	for ok && bytes.Equal(i.mu.it.Key(), offsetKeyBytes) {
		ok = i.mu.it.Next()
	}
	if ok {
		i.mu.pos = atEntry
	} else {
		i.mu.pos = exhausted
	}
	return ok
}

// Key returns the current key, or nil when not at an entry. The slice is
// valid until the next call that moves the iterator, even if Storage.Close
// ends the iterator meanwhile.
func (i *iterator) Key() []byte {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.mu.it == nil || i.mu.pos != atEntry {
		return nil
	}
	i.mu.key = append(i.mu.key[:0], i.mu.it.Key()...)
	return i.mu.key
}

// Value returns the current value, or nil when not at an entry; an empty
// stored value is a non-nil empty slice. The slice is valid until the next
// call that moves the iterator, even if Storage.Close ends the iterator
// meanwhile. Once Close has ended the iterator, Value returns ErrClosed.
func (i *iterator) Value() ([]byte, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.mu.it == nil && i.mu.err != nil {
		// Close ended the iterator, perhaps between Next and here: say so
		// rather than hand out a nil value as if the entry had none.
		return nil, i.mu.err
	}
	if i.mu.it == nil || i.mu.pos != atEntry {
		return nil, nil
	}
	v, err := i.mu.it.ValueAndErr()
	if err != nil {
		return nil, i.s.opError("iterator value", "", err)
	}
	i.mu.value = append(i.mu.value[:0], v...)
	return i.mu.value, nil
}

// Err returns the error that stopped the iteration, ErrClosed if the storage
// was closed under it, or nil.
func (i *iterator) Err() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.mu.it == nil {
		return i.mu.err
	}
	if err := i.mu.it.Error(); err != nil {
		return i.s.opError("iterate", "", err)
	}
	return nil
}

// Release frees the iterator; afterwards it is exhausted. Calling it again
// does nothing.
func (i *iterator) Release() {
	i.end(nil)
	i.s.iters.Lock()
	delete(i.s.iters.live, i)
	i.s.iters.Unlock()
}

func (i *iterator) end(cause error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.mu.it == nil {
		return
	}
	if err := i.mu.it.Close(); err != nil {
		i.s.log.Debug("iterator closed with error", "err", err)
	}
	i.mu.it = nil
	i.mu.pos = exhausted
	if cause != nil {
		i.mu.err = i.s.opError("iterate", "", cause)
	}
}
