// Package state keeps goka's processor and view state in Pebble.
//
// goka keeps a table's state twice: in a compacted Kafka changelog topic,
// which is the source of truth, and in a local store per topic-partition,
// which lets a processor answer from disk instead of replaying the
// changelog on every start. This package is that local store.
//
// A Builder owns a root directory and opens one Pebble database per
// topic-partition under root/<topic>/<partition>, all sharing one block
// cache. Its Build method is a goka storage.Builder:
//
//	b, err := state.NewBuilder("/var/lib/titan/orders", state.WithSync(state.SyncNone))
//	p, err := goka.NewProcessor(brokers, graph, goka.WithStorageBuilder(b.Build))
//
// goka builds and opens a Storage when it is assigned a partition and closes
// it when the partition is revoked. Builder.Open lists the storages open at
// the moment, so other code in the process (an expiry sweeper, say) can read
// them through their iterators while goka writes.
//
// # Offsets
//
// Each storage records the changelog offset its state has caught up to, under
// the key "__offset" as goka's LevelDB storage does. The key is hidden from
// iterators and refused by Set and Delete. goka writes a value, then the
// offset once the changelog write is acknowledged; both go through the same
// write-ahead log in that order, and what survives a crash is a prefix of
// that log, so the stored offset never covers a value that is missing. On
// start goka reads the offset and replays only the changelog records after
// it; with no stored offset it replays the whole changelog.
//
// Two things are cheaper than that plain rule, without changing what a
// crash can show. While goka recovers a partition, its writes and offsets
// are held back and applied to Pebble together, a megabyte at a time (and
// before any read, so a read sees every write made before it): a commit
// per changelog record was most of a restore's cost. And once it has
// recovered, a storage that does not trust unclean state (see below) keeps
// the offset in memory and writes it at Close: after a crash it discards the
// state and the offset together, so the offset on disk only has to be right
// when the clean-shutdown marker vouches for it. That saves a Pebble write
// for every state write a processor makes.
//
// # Bulk loads
//
// With WithBulkLoad, a storage that opens with no keys and no offset reads
// its changelog itself before Open returns, through a Loader
// (internal/restore reads it with franz-go), and ingests it as sorted
// sstables; goka then replays only what came after the last record loaded.
// A fresh instance restored a table of 1,000,000 SKUs three times as fast
// so (BENCHMARKS.md, "Restores in bulk"). See bulk.go for what it bypasses.
//
// The converse does not hold, with any goka storage: a value is written
// locally before Kafka acknowledges its changelog record, so after a crash
// the store can hold a value the changelog never got. Worse, the messages
// the same callback emitted may never have reached Kafka either, and the
// input message, whose consumer offset was not committed, comes again: the
// processor sees its own effect already applied and does not emit them
// again. Those outputs are lost for good.
//
// # Unclean shutdown
//
// So, as Kafka Streams does with its checkpoint file, a storage trusts its
// local state only after a clean shutdown. Close leaves a marker file in the
// partition's directory once Pebble has closed; Open consumes it. A
// directory that holds a database but no marker belongs to an owner that
// was killed, lost power or failed to close: Open logs a warning and deletes
// the database, and goka, finding no offset, rebuilds the partition from
// the changelog, which holds only what Kafka acknowledged. The cost is one
// full changelog recovery per partition after each crash; a clean restart
// replays nothing. WithTrustUncleanState(true) keeps the old state instead,
// which is right where it is never ahead of the changelog (a goka view
// writes only what it read from it) and for tests of the storage's own
// crash behaviour.
//
// Open takes Pebble's directory lock before it looks for the marker, and
// Close writes the marker before it releases the lock, so a database that
// another process has open is refused, never deleted.
//
// A processor that fails without the process dying has the same problem:
// goka stops it cleanly, its storages close with the marker, and yet a send
// that failed may have left a local value whose changelog record and outputs
// never reached Kafka. Builder.Distrust(topic) treats every partition of
// the topic as left by an unclean shutdown: it removes the markers on disk,
// and a storage still open closes without one. Whoever rebuilds a failed
// processor in the same process (internal/supervise, through
// internal/instance) calls it for the processor's table first, so the new
// processor recovers from the changelog and decides the unacknowledged
// input again, emitting what was lost.
//
// # Sync policy
//
// SyncNone (the default) never waits for the disk. Pebble keeps the tail of
// its write-ahead log in memory until a 32 KiB block fills, so a crashed
// process, like a crashed machine, loses the last writes. SyncAlways fsyncs
// every write once the partition has recovered, for one fsync per Set,
// Delete and SetOffset; that only saves a replay when unclean state is
// trusted, since otherwise a crash discards the state whatever survived.
// Either way, writes made while recovering from the changelog are not
// synced one by one (the changelog already holds them): MarkRecovered syncs
// them all at once, and a clean Close syncs whatever is left.
//
// # goka's contract
//
// The package follows goka's storage.Storage and, where goka's own storages
// disagree with the interface's comments, the LevelDB storage goka uses by
// default: IteratorWithRange with an empty limit iterates the keys that
// start with start, and Get of "__offset" returns the stored offset in
// decimal. Package storagetest checks the contract against this package and
// against goka's own storages, and lists where those differ.
package state
