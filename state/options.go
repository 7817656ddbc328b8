package state

import (
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// SyncPolicy says whether a write is on disk when it returns.
type SyncPolicy uint8

const (
	// SyncNone never waits for the disk (pebble.NoSync). Pebble buffers the
	// write-ahead log in 32 KiB blocks and hands a block to the OS when it
	// fills or something syncs, so a crash of the process or the machine loses
	// the most recent writes, up to a block or whatever the page cache had not
	// written back. What survives is always a prefix of the log, and goka
	// writes each value before the offset that covers it, so the stored
	// offset never runs ahead of the values: where unclean state is trusted,
	// goka replays the lost tail from the Kafka changelog on the next start.
	// This is the default: durability is what the changelog is for, and it
	// costs no fsync per message.
	SyncNone SyncPolicy = iota + 1
	// SyncAlways fsyncs the write-ahead log before every Set, Delete and
	// SetOffset returns (pebble.Sync), at the price of one fsync per write
	// (two per message: the value and, on the producer's ack, the offset).
	// It only pays off together with WithTrustUncleanState(true): then local
	// state survives a machine crash without a replay. By default a storage
	// that was not closed cleanly is discarded whatever survived, and a clean
	// Close syncs everything under either policy.
	SyncAlways
)

func (p SyncPolicy) String() string {
	switch p {
	case SyncNone:
		return "none"
	case SyncAlways:
		return "always"
	default:
		return fmt.Sprintf("SyncPolicy(%d)", uint8(p))
	}
}

const (
	// Pebble counts every memtable against the block cache it is given
	// (Cache.Reserve): a builder's partitions at their full memtable size,
	// plus one flushing each, reserve 32 MiB apiece from the shared cache.
	// At 64 MiB, eight busy partitions reserved all of it and no block was
	// cached at all: every lookup read its index, filter and data blocks
	// from the file, and a long run of inventory commands slowed by a
	// third as its table grew (BENCHMARKS.md, "The block cache the
	// memtables took"). The cache takes memory only as it fills.
	defaultCacheSize = 512 << 20
	// A restore writes a partition's whole changelog through its memtable.
	// At 4 MiB, Pebble flushed and compacted it level by level as it came,
	// and compaction took two thirds of a restore's CPU; at 16 MiB a
	// restore of 500,000 SKUs took 3.5–4.2 s instead of 5.4–5.7 s
	// (BenchmarkRestore). Pebble grows a partition's memtables from 256 KiB
	// as it writes, so a quiet partition holds little of it.
	defaultMemTableSize = 16 << 20
	// Pebble sizes its first memtable at min(256 KiB, MemTableSize); below
	// 64 KiB flushes would dominate.
	minMemTableSize = 64 << 10
	// Pebble's own ceiling is 4 GiB.
	maxMemTableSize = 4<<30 - 1
)

// config holds everything an Option can set; NewBuilder fills the defaults,
// applies the options in order and validates the result once.
type config struct {
	sync         SyncPolicy
	cacheSize    int64
	memTableSize uint64
	logger       *slog.Logger
	// trustUnclean keeps a partition's local state after an unclean stop
	// instead of discarding it; see WithTrustUncleanState.
	trustUnclean bool
	// fs replaces the real filesystem in crash tests.
	fs vfs.FS
	// loader fills a storage that opens empty (WithBulkLoad).
	loader Loader
}

func defaultConfig() config {
	return config{
		sync:         SyncNone,
		cacheSize:    defaultCacheSize,
		memTableSize: defaultMemTableSize,
		logger:       slog.New(slog.DiscardHandler),
		fs:           vfs.Default,
	}
}

func (c *config) validate() error {
	if c.sync != SyncNone && c.sync != SyncAlways {
		return fmt.Errorf("%w: unknown sync policy %v", ErrInvalidOption, c.sync)
	}
	if c.cacheSize <= 0 {
		return fmt.Errorf("%w: cache size %d must be positive", ErrInvalidOption, c.cacheSize)
	}
	if c.memTableSize < minMemTableSize || c.memTableSize > maxMemTableSize {
		return fmt.Errorf("%w: memtable size %d must be in [%d, %d]",
			ErrInvalidOption, c.memTableSize, minMemTableSize, maxMemTableSize)
	}
	if c.logger == nil {
		return fmt.Errorf("%w: nil logger", ErrInvalidOption)
	}
	if c.fs == nil {
		return fmt.Errorf("%w: nil filesystem", ErrInvalidOption)
	}
	return nil
}

// LogValue lets the builder log its configuration as one structured group.
func (c config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("sync", c.sync.String()),
		slog.Int64("cache_bytes", c.cacheSize),
		slog.Uint64("memtable_bytes", c.memTableSize),
		slog.Bool("trust_unclean_state", c.trustUnclean),
		slog.Bool("bulk_load", c.loader != nil),
	)
}

// Option configures a Builder. The interface is sealed so that every option
// goes through NewBuilder's validation.
type Option interface {
	apply(*config)
}

type option func(*config)

func (o option) apply(c *config) { o(c) }

// WithSync sets the sync policy for writes made after MarkRecovered. Writes
// during recovery are never synced whatever the policy: MarkRecovered syncs
// them all at once. The default is SyncNone.
func WithSync(p SyncPolicy) Option {
	return option(func(c *config) { c.sync = p })
}

// WithCacheSize sets the size in bytes of the Pebble block cache shared by
// every storage the builder opens. Pebble reserves each partition's
// memtables (WithMemTableSize) from it, so it bounds the memory of blocks
// and memtables together: give it room for two memtables per busy
// partition besides the blocks. The default is 512 MiB.
func WithCacheSize(bytes int64) Option {
	return option(func(c *config) { c.cacheSize = bytes })
}

// WithMemTableSize sets the size in bytes of each partition's memtable, which
// bounds the write-ahead log replayed when a partition is opened after an
// unclean stop. The default is 16 MiB; the minimum 64 KiB.
func WithMemTableSize(bytes uint64) Option {
	return option(func(c *config) { c.memTableSize = bytes })
}

// WithLogger sets the logger for the storages' lifecycle events and Pebble's
// own messages. The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return option(func(c *config) { c.logger = l })
}

// WithTrustUncleanState says whether a storage keeps its local state when
// the previous owner of the partition's directory did not close it cleanly
// (the process was killed, the machine lost power, Close failed). The
// default, false, discards that state on Open, so goka recovers the
// partition from its changelog: goka writes a value locally before the
// changelog record and the messages emitted with it reach Kafka, so after a
// crash local state can hold effects whose outputs were lost, and a
// processor replaying its input on top of it would not emit them again.
//
// Trusting unclean state is safe where the store is only ever a copy of the
// changelog, as with a goka view, and in tests and benchmarks that want the
// storage's own crash behaviour.
func WithTrustUncleanState(trust bool) Option {
	return option(func(c *config) { c.trustUnclean = trust })
}

// withFS replaces the filesystem; only crash tests need it.
func withFS(fs vfs.FS) Option {
	return option(func(c *config) { c.fs = fs })
}
