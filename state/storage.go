package state

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/lovoo/goka/storage"
)

// offsetKey is where the changelog offset is stored: the key goka's LevelDB
// storage uses, with the same decimal encoding.
const offsetKey = "__offset"

var offsetKeyBytes = []byte(offsetKey)

type lifecycle uint8

const (
	built lifecycle = iota
	opened
	closed
)

// Storage is goka's storage.Storage for one topic-partition, kept in its own
// Pebble database. Any number of goroutines may read while one writes, and
// SetOffset may come from any goroutine (goka calls it from producer acks).
//
// A Storage is opened once and closed once; a new one from Builder.Build
// reopens the same directory.
type Storage struct {
	b         *Builder
	topic     string
	partition int32
	dir       string
	log       *slog.Logger

	// derived, when set before Open, has a bulk load write a wrapper's
	// derived keys (DeriveOnLoad).
	derived *Derived

	recovered atomic.Bool
	// listed is what Builder.Open shows; it goes false at the start of Close
	// so that the sweeper stops picking up a storage on its way out.
	listed atomic.Bool

	// mu is held shared by every operation that uses db and exclusively by
	// Open and Close, so Close waits for operations in flight and none start
	// after it: Pebble panics on use after close.
	mu struct {
		sync.RWMutex
		state lifecycle
		db    *pebble.DB
		// lock is the directory lock, taken before Open looks at the
		// directory and released after Close has written the clean-shutdown
		// marker, so that no other process can open the database in between
		// and have its writes covered by the marker.
		lock *pebble.Lock
		// distrusted is set by Builder.Distrust while the storage is open:
		// its owner failed, so Close must not vouch for the state.
		distrusted bool
	}

	// offset is the last offset set, or read at Open. Its mutex spans the
	// write to Pebble so that memory and disk change in the same order when
	// several goroutines call SetOffset at once.
	offset struct {
		sync.Mutex
		value int64
		ok    bool
		// unstored is set while value is not the offset in Pebble: see
		// SetOffset.
		unstored bool
	}

	// pending holds the writes goka makes while it recovers the partition
	// from its changelog, until they are applied to Pebble together (see
	// stage). Reads apply it first, so they see every write made before
	// them.
	pending struct {
		sync.Mutex
		batch *pebble.Batch
	}

	// iters lets Close end iterators that their owners still hold (a sweeper
	// mid-scan when goka revokes the partition).
	iters struct {
		sync.Mutex
		live map[*iterator]struct{}
	}
}

var _ storage.Storage = (*Storage)(nil)

func newStorage(b *Builder, topic string, partition int32) *Storage {
	s := &Storage{
		b:         b,
		topic:     topic,
		partition: partition,
		dir:       b.dir(topic, partition),
		log:       b.cfg.logger.With("topic", topic, "partition", partition),
	}
	s.iters.live = make(map[*iterator]struct{})
	return s
}

func (s *Storage) opError(op, key string, err error) error {
	return &OpError{Op: op, Topic: s.topic, Partition: s.partition, Key: key, Err: err}
}

// Open opens the Pebble database, creating it if needed, and loads the
// stored offset.
//
// A database that the previous owner did not close cleanly (no
// clean-shutdown marker) is deleted first, unless WithTrustUncleanState says
// to keep it; goka then finds no offset and recovers the partition from the
// changelog. Open consumes the marker once Pebble has opened and before any
// write, so that a crash from then on is seen as unclean; a failed Open
// leaves it, since it changed nothing a marker vouches for.
func (s *Storage) Open() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.mu.state {
	case opened:
		return s.opError("open", "", ErrInUse)
	case closed:
		return s.opError("open", "", ErrClosed)
	}
	if err := s.b.claim(s); err != nil {
		return s.opError("open", "", err)
	}
	db, lock, off, ok, err := s.open()
	// Pebble took its own cache reference if it opened; the claim's is done.
	s.b.cache.Unref()
	if err != nil {
		s.b.unclaim(s)
		return s.opError("open", "", err)
	}
	s.mu.db, s.mu.lock = db, lock
	s.mu.state = opened
	s.offset.value, s.offset.ok = off, ok
	s.listed.Store(true)
	s.log.Debug("storage opened", "dir", s.dir, "offset", off, "has_offset", ok)
	return nil
}

// open locks the directory, discards an untrusted database, opens Pebble,
// reads the offset and consumes the marker. On error it leaves nothing open.
func (s *Storage) open() (db *pebble.DB, lock *pebble.Lock, off int64, ok bool, err error) {
	fs := s.b.cfg.fs
	if err := mkdirAllDurable(fs, s.dir); err != nil {
		return nil, nil, 0, false, err
	}
	// Another process holding the database open has no marker either; the
	// lock keeps the check below from wiping a database in use.
	if lock, err = pebble.LockDirectory(s.dir, fs); err != nil {
		return nil, nil, 0, false, err
	}
	defer func() {
		if err != nil {
			if db != nil {
				err = errors.Join(err, db.Close())
			}
			err = errors.Join(err, lock.Close())
		}
	}()
	clean, err := hasMarker(fs, s.dir)
	if err != nil {
		return nil, lock, 0, false, err
	}
	if !clean {
		if err := s.discardUnclean(); err != nil {
			return nil, lock, 0, false, err
		}
	}
	var opts *pebble.Options
	if db, opts, err = s.openDB(lock); err != nil {
		return nil, lock, 0, false, err
	}
	if off, ok, err = readOffset(db); err != nil {
		return db, lock, 0, false, err
	}
	if !ok {
		l, err := s.bulkLoad(db, opts)
		if err != nil {
			return db, lock, 0, false, err
		}
		off, ok = l, l >= 0
	}
	if clean {
		if err := removeMarker(fs, s.dir); err != nil {
			return db, lock, 0, false, fmt.Errorf("remove clean-shutdown marker: %w", err)
		}
	}
	return db, lock, off, ok, nil
}

// discardUnclean deletes a database left without a clean-shutdown marker,
// unless configured to trust it. An empty directory is a first open.
func (s *Storage) discardUnclean() error {
	fs := s.b.cfg.fs
	files, err := dbFiles(fs, s.dir)
	if err != nil || len(files) == 0 {
		return err
	}
	if s.b.cfg.trustUnclean {
		s.log.Info("keeping local state of a partition that was not closed cleanly", "dir", s.dir)
		return nil
	}
	s.log.Warn("partition was not closed cleanly: deleting its local state to recover it from the changelog",
		"dir", s.dir, "files", len(files))
	if err := wipe(fs, s.dir, files); err != nil {
		return fmt.Errorf("delete unclean state: %w", err)
	}
	return nil
}

func (s *Storage) openDB(lock *pebble.Lock) (*pebble.DB, *pebble.Options, error) {
	cfg := &s.b.cfg
	// The format version is left at Pebble's default: the one it is most
	// widely run with, and one older releases still open. The newest
	// (columnar blocks) also trips Pebble v2.1.7's own invariant checks, on
	// under -race, when a table starts with the empty key, a key goka allows.
	opts := &pebble.Options{
		Cache:        s.b.cache,
		MemTableSize: cfg.memTableSize,
		Logger:       pebbleLogger{l: s.log},
		FS:           cfg.fs,
		Lock:         lock,
	}
	// A processor looks up many keys that are not there (a new command
	// id, a new order's reservation); without a filter each such read
	// searches every level's blocks.
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	// Defaults filled in here, as Open would, are what a bulk load's
	// sstables are written with.
	opts.EnsureDefaults()
	db, err := pebble.Open(s.dir, opts)
	return db, opts, err
}

func readOffset(db *pebble.DB) (int64, bool, error) {
	v, closer, err := db.Get(offsetKeyBytes)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer closer.Close()
	off, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%w: %q", ErrCorruptOffset, v)
	}
	return off, true, nil
}

// Close ends any iterators still held, then closes the database, which syncs
// its write-ahead log whatever the sync policy: after a clean Close nothing
// is lost. Only if that succeeds, and Builder.Distrust has not been called
// for the partition meanwhile, does it leave the clean-shutdown marker that
// lets the next Open trust the local state. Close is idempotent, and releases
// the directory lock so the same topic-partition can be built and opened
// again.
//
// An iterator ended by Close, possibly between its owner's calls to Next and
// Key, reports no more entries: Next returns false, Key nil, and Value and
// Err return ErrClosed.
func (s *Storage) Close() error {
	s.listed.Store(false)
	s.mu.Lock()
	defer s.mu.Unlock()
	state := s.mu.state
	s.mu.state = closed
	if state != opened {
		return nil
	}
	if n := s.endIterators(); n > 0 {
		s.log.Warn("closed storage ended iterators that were still in use", "iterators", n)
	}
	db, lock := s.mu.db, s.mu.lock
	s.mu.db, s.mu.lock = nil, nil
	// What is still held back reaches Pebble before it closes, which
	// syncs it.
	s.pending.Lock()
	err := s.dropPendingLocked()
	s.pending.Unlock()
	err = errors.Join(err, s.storeOffset(db))
	// The marker is written under the directory lock and before the
	// partition is released in this process: whoever opens next must find
	// it, and must not be writing when it appears.
	err = errors.Join(err, db.Close())
	if err == nil && s.mu.distrusted {
		s.log.Info("closed without the clean-shutdown marker: the partition's owner failed")
	} else if err == nil {
		if err = writeMarker(s.b.cfg.fs, s.dir); err != nil {
			err = fmt.Errorf("write clean-shutdown marker: %w", err)
		}
	}
	err = errors.Join(err, lock.Close())
	s.b.unclaim(s)
	if err != nil {
		return s.opError("close", "", err)
	}
	s.log.Debug("storage closed")
	return nil
}

// acquire returns the open database and holds it open until release is
// called.
func (s *Storage) acquire() (db *pebble.DB, release func(), err error) {
	s.mu.RLock()
	if s.mu.state != opened {
		s.mu.RUnlock()
		return nil, nil, ErrClosed
	}
	return s.mu.db, s.mu.RUnlock, nil
}

// Recovered reports whether goka has called MarkRecovered, that is whether
// the storage has caught up with its changelog.
func (s *Storage) Recovered() bool { return s.recovered.Load() }

// writeOptions picks the sync policy: recovery replays the changelog, which
// is durable already, so nothing is synced until MarkRecovered.
func (s *Storage) writeOptions() *pebble.WriteOptions {
	if s.recovered.Load() && s.b.cfg.sync == SyncAlways {
		return pebble.Sync
	}
	return pebble.NoSync
}

// recoveryBatch is how many bytes of recovery writes a storage holds before
// it applies them to Pebble at once: a commit per changelog record was most
// of the cost of a restore, and a batch of this size commits in well under
// a millisecond.
const recoveryBatch = 1 << 20

// stage adds op's writes to the recovery batch and reports true, or, once
// the partition has recovered, does nothing and reports false for the
// caller to write to Pebble directly. Recovery writes are not synced one by
// one anyway (writeOptions), and an unclean stop during recovery leaves a
// partition that is rebuilt or, where unclean state is trusted, one whose
// offset was written after its values in the same batch, so holding them
// back changes nothing a crash could show.
func (s *Storage) stage(db *pebble.DB, op func(*pebble.Batch) error) (bool, error) {
	s.pending.Lock()
	defer s.pending.Unlock()
	if s.recovered.Load() {
		return false, nil
	}
	if s.pending.batch == nil {
		s.pending.batch = db.NewBatch()
	}
	if err := op(s.pending.batch); err != nil {
		return true, err
	}
	if s.pending.batch.Len() >= recoveryBatch {
		return true, s.applyPendingLocked()
	}
	return true, nil
}

// applyPending applies the recovery batch, for a read to see it.
func (s *Storage) applyPending() error {
	if s.recovered.Load() {
		// MarkRecovered applied the batch before it set recovered.
		return nil
	}
	s.pending.Lock()
	defer s.pending.Unlock()
	return s.applyPendingLocked()
}

func (s *Storage) applyPendingLocked() error {
	b := s.pending.batch
	if b == nil || b.Empty() {
		return nil
	}
	err := b.Commit(pebble.NoSync)
	b.Reset()
	return err
}

// dropPendingLocked applies the recovery batch and lets it go, for
// MarkRecovered and Close.
func (s *Storage) dropPendingLocked() error {
	err := s.applyPendingLocked()
	if s.pending.batch != nil {
		err = errors.Join(err, s.pending.batch.Close())
		s.pending.batch = nil
	}
	return err
}

// Has reports whether key is stored. Like goka's LevelDB storage, it reports
// the offset key once an offset has been set.
func (s *Storage) Has(key string) (bool, error) {
	db, release, err := s.acquire()
	if err != nil {
		return false, s.opError("has", key, err)
	}
	defer release()
	if key == offsetKey {
		_, ok := s.currentOffset()
		return ok, nil
	}
	if err := s.applyPending(); err != nil {
		return false, s.opError("has", key, err)
	}
	_, closer, err := db.Get([]byte(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, s.opError("has", key, err)
	}
	return true, closer.Close()
}

// Get returns a copy of the value of key, which the caller may keep and
// modify, or nil if key is not stored. A stored empty value comes back as a
// non-nil empty slice. Like goka's LevelDB storage, Get of the offset key
// returns the stored offset in decimal.
func (s *Storage) Get(key string) ([]byte, error) {
	db, release, err := s.acquire()
	if err != nil {
		return nil, s.opError("get", key, err)
	}
	defer release()
	if key == offsetKey {
		// The offset in memory: Pebble's may be behind (SetOffset).
		off, ok := s.currentOffset()
		if !ok {
			return nil, nil
		}
		return strconv.AppendInt(nil, off, 10), nil
	}
	if err := s.applyPending(); err != nil {
		return nil, s.opError("get", key, err)
	}
	v, closer, err := db.Get([]byte(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, s.opError("get", key, err)
	}
	// Pebble's slice is only valid until closer.Close.
	out := make([]byte, len(v))
	copy(out, v)
	return out, closer.Close()
}

// Set stores value under key. Pebble copies both, so the caller may reuse
// value afterwards.
func (s *Storage) Set(key string, value []byte) error {
	if key == offsetKey {
		return s.opError("set", key, ErrReservedKey)
	}
	if value == nil {
		return s.opError("set", key, ErrNilValue)
	}
	db, release, err := s.acquire()
	if err != nil {
		return s.opError("set", key, err)
	}
	defer release()
	if !s.recovered.Load() {
		staged, err := s.stage(db, func(b *pebble.Batch) error { return b.Set([]byte(key), value, nil) })
		if err != nil {
			return s.opError("set", key, err)
		}
		if staged {
			return nil
		}
	}
	if err := db.Set([]byte(key), value, s.writeOptions()); err != nil {
		return s.opError("set", key, err)
	}
	return nil
}

// Delete removes key; deleting a key that is not stored is not an error.
func (s *Storage) Delete(key string) error {
	if key == offsetKey {
		return s.opError("delete", key, ErrReservedKey)
	}
	db, release, err := s.acquire()
	if err != nil {
		return s.opError("delete", key, err)
	}
	defer release()
	if !s.recovered.Load() {
		staged, err := s.stage(db, func(b *pebble.Batch) error { return b.Delete([]byte(key), nil) })
		if err != nil {
			return s.opError("delete", key, err)
		}
		if staged {
			return nil
		}
	}
	if err := db.Delete([]byte(key), s.writeOptions()); err != nil {
		return s.opError("delete", key, err)
	}
	return nil
}

// GetOffset returns the last offset set, or the one stored when the storage
// was opened, or def if there is none. Offset 0 is an offset like any other.
func (s *Storage) GetOffset(def int64) (int64, error) {
	_, release, err := s.acquire()
	if err != nil {
		return 0, s.opError("get offset", "", err)
	}
	defer release()
	if off, ok := s.currentOffset(); ok {
		return off, nil
	}
	return def, nil
}

// SetOffset records the changelog offset the state has caught up to.
//
// During recovery it joins the recovery batch, after the value it covers.
// Afterwards, where unclean state is trusted or every write is synced, it
// is written to Pebble on every call: goka calls it after the value it
// covers, both land in the same write-ahead log in that order, so whatever
// survives a crash, the stored offset never claims a value that is
// missing. Otherwise (the default), a crash discards the state and its
// offset together, so the offset only has to reach Pebble before the
// clean-shutdown marker does: it is kept in memory, and Close writes it.
// That is one Pebble write less for every state write a processor makes.
func (s *Storage) SetOffset(offset int64) error {
	db, release, err := s.acquire()
	if err != nil {
		return s.opError("set offset", "", err)
	}
	defer release()
	s.offset.Lock()
	defer s.offset.Unlock()
	if !s.recovered.Load() {
		staged, err := s.stage(db, func(b *pebble.Batch) error {
			return b.Set(offsetKeyBytes, strconv.AppendInt(nil, offset, 10), nil)
		})
		if err != nil {
			return s.opError("set offset", "", err)
		}
		if staged {
			s.offset.value, s.offset.ok = offset, true
			return nil
		}
	}
	if !s.b.cfg.trustUnclean && s.b.cfg.sync != SyncAlways {
		s.offset.value, s.offset.ok, s.offset.unstored = offset, true, true
		return nil
	}
	if err := db.Set(offsetKeyBytes, strconv.AppendInt(nil, offset, 10), s.writeOptions()); err != nil {
		return s.opError("set offset", "", err)
	}
	s.offset.value, s.offset.ok = offset, true
	return nil
}

// storeOffset writes an offset SetOffset kept in memory to Pebble; Close
// calls it before the database closes.
func (s *Storage) storeOffset(db *pebble.DB) error {
	s.offset.Lock()
	defer s.offset.Unlock()
	if !s.offset.unstored {
		return nil
	}
	if err := db.Set(offsetKeyBytes, strconv.AppendInt(nil, s.offset.value, 10), pebble.NoSync); err != nil {
		return err
	}
	s.offset.unstored = false
	return nil
}

// MarkRecovered syncs everything written during recovery with one fsync of
// the write-ahead log, then switches later writes to the configured sync
// policy. Calling it again does nothing.
func (s *Storage) MarkRecovered() error {
	db, release, err := s.acquire()
	if err != nil {
		return s.opError("mark recovered", "", err)
	}
	defer release()
	if done, err := s.markRecovered(db); done || err != nil {
		return err
	}
	off, ok := s.currentOffset()
	s.log.Info("storage recovered", "offset", off, "has_offset", ok)
	return nil
}

// markRecovered applies the recovery batch, syncs, and sets recovered, all
// under the batch's lock, so that no write can join the batch after it was
// applied. done reports that the storage had recovered already.
func (s *Storage) markRecovered(db *pebble.DB) (done bool, err error) {
	s.pending.Lock()
	defer s.pending.Unlock()
	if s.recovered.Load() {
		return true, nil
	}
	if err := s.dropPendingLocked(); err != nil {
		return false, s.opError("mark recovered", "", err)
	}
	if err := db.LogData(nil, pebble.Sync); err != nil {
		return false, s.opError("mark recovered", "", err)
	}
	s.recovered.Store(true)
	return false, nil
}

func (s *Storage) currentOffset() (int64, bool) {
	s.offset.Lock()
	defer s.offset.Unlock()
	return s.offset.value, s.offset.ok
}
