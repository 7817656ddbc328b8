package state

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/lovoo/goka/storage"

	"github.com/titan-commerce/titan/schemas"
)

// Builder creates the Pebble storages of one goka processor or view, one per
// topic-partition under root/<topic>/<partition>, and keeps track of which of
// them are open. Pass its Build method to goka.WithStorageBuilder or
// goka.WithViewStorageBuilder.
//
// A processor and a view of the same table must not share a Builder root:
// both would want the same directories.
type Builder struct {
	root string
	cfg  config
	// cache is shared by every storage of the builder so that the memory
	// budget does not grow with the number of assigned partitions.
	cache *pebble.Cache
	// stop ends the bulk loads in progress (WithBulkLoad) when the
	// builder closes.
	stop   context.Context
	cancel context.CancelFunc

	mu struct {
		sync.Mutex
		closed bool
		// open holds each topic-partition's storage from the start of its
		// Open to the end of its Close; Storage.listed says which of them
		// Builder.Open shows.
		open map[partitionKey]*Storage
	}
}

type partitionKey struct {
	topic     string
	partition int32
}

// Partition is one open storage as listed by Builder.Open.
type Partition struct {
	Partition int32
	Storage   *Storage
}

// Check at compile time that Build has the shape goka expects.
var _ storage.Builder = (*Builder)(nil).Build

// NewBuilder validates the options and returns a Builder rooted at root,
// creating the directory if needed.
func NewBuilder(root string, opts ...Option) (*Builder, error) {
	if root == "" {
		return nil, fmt.Errorf("%w: empty root directory", ErrInvalidOption)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := mkdirAllDurable(cfg.fs, root); err != nil {
		return nil, fmt.Errorf("state: create root %s: %w", root, err)
	}
	b := &Builder{root: root, cfg: cfg, cache: pebble.NewCache(cfg.cacheSize)}
	b.stop, b.cancel = context.WithCancel(context.Background())
	b.mu.open = make(map[partitionKey]*Storage)
	cfg.logger.Debug("state builder ready", "root", root, "config", cfg)
	return b, nil
}

// Build returns the storage of one topic-partition, not yet opened: goka
// calls Open on it next. Its signature is goka's storage.Builder.
func (b *Builder) Build(topic string, partition int32) (storage.Storage, error) {
	if err := validTopic(topic); err != nil {
		return nil, err
	}
	if partition < 0 {
		return nil, fmt.Errorf("%w: partition %d of topic %q", ErrInvalidTopic, partition, topic)
	}
	b.mu.Lock()
	closed := b.mu.closed
	b.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("state: build %s/%d: %w", topic, partition, ErrClosed)
	}
	return newStorage(b, topic, partition), nil
}

// Open lists the storages of topic that are open right now, by partition.
// goka opens one per assigned partition and closes it when the partition is
// revoked, so the list is a snapshot: a listed storage may close at any
// moment, after which its methods return ErrClosed and its iterators stop.
func (b *Builder) Open(topic string) []Partition {
	b.mu.Lock()
	defer b.mu.Unlock()
	var ps []Partition
	for k, s := range b.mu.open {
		if k.topic == topic && s.listed.Load() {
			ps = append(ps, Partition{Partition: k.partition, Storage: s})
		}
	}
	slices.SortFunc(ps, func(a, b Partition) int { return cmp.Compare(a.Partition, b.Partition) })
	return ps
}

// Lookup returns the storage of topic's partition if it is open right now,
// with the same caveat as Open: it may close at any moment.
func (b *Builder) Lookup(topic string, partition int32) (*Storage, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.mu.open[partitionKey{topic: topic, partition: partition}]
	if !ok || !s.listed.Load() {
		return nil, false
	}
	return s, true
}

// CacheStats is what a builder's block cache holds and has served.
type CacheStats struct {
	// Capacity is the cache's size (WithCacheSize), memtables included.
	Capacity int64
	// Bytes and Blocks are what it holds now.
	Bytes, Blocks int64
	// Hits and Misses count block reads served from it and from the files.
	Hits, Misses int64
}

// CacheStats reads the block cache shared by the builder's storages. A
// cache that misses nearly every read while its capacity is far above what
// it holds has been reserved by the memtables (see WithCacheSize).
func (b *Builder) CacheStats() CacheStats {
	m := b.cache.Metrics()
	return CacheStats{Capacity: b.cfg.cacheSize, Bytes: m.Size, Blocks: m.Count, Hits: m.Hits, Misses: m.Misses}
}

// Close releases the builder's reference to the shared block cache and makes
// Build fail. Storages that are still open keep working; the cache's memory
// is released when the last of them closes. A bulk load in progress stops,
// keeping what it ingested. Close is idempotent.
func (b *Builder) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.closed {
		return nil
	}
	b.mu.closed = true
	b.cancel()
	b.cache.Unref()
	return nil
}

func (b *Builder) dir(topic string, partition int32) string {
	return filepath.Join(b.root, topic, strconv.Itoa(int(partition)))
}

// claim registers s as the holder of its topic-partition. It also takes a
// cache reference, which keeps the cache alive through the Pebble open that
// follows even if the builder closes meanwhile; the caller drops it once
// Pebble holds its own.
func (b *Builder) claim(s *Storage) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.closed {
		return ErrClosed
	}
	k := partitionKey{s.topic, s.partition}
	if _, ok := b.mu.open[k]; ok {
		return ErrInUse
	}
	b.mu.open[k] = s
	b.cache.Ref()
	return nil
}

// unclaim removes s from the registry if it is the registered holder.
func (b *Builder) unclaim(s *Storage) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := partitionKey{s.topic, s.partition}
	if b.mu.open[k] == s {
		delete(b.mu.open, k)
	}
}

// validTopic applies Kafka's own rules for topic names, which also rule out
// every name that could escape the root directory.
func validTopic(topic string) error {
	if err := schemas.CheckTopic(topic); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidTopic, err)
	}
	return nil
}
