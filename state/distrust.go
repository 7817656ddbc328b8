package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/cockroachdb/pebble/v2"
)

// Distrust makes the local state of every partition of topic count as left
// by an unclean shutdown: the next Open of each discards its database, and
// goka recovers the partition from the changelog.
//
// A processor that failed needs it before it is built again in the same
// process. goka writes a value locally before Kafka has acknowledged its
// changelog record or the messages emitted with it, and a processor whose
// send failed still stops cleanly and closes its storages with the marker.
// Trusted, that state would show the processor its own effect applied when
// the input comes again, and the outputs lost with the failed send would
// never be emitted; recovered from the changelog, it holds only what Kafka
// acknowledged, and the input is decided again.
//
// Every partition under the topic's directory is distrusted, including any
// the failed owner did not hold at the time: each costs one full recovery
// from the changelog, as after a crash. A partition that is closed loses
// its marker on disk, so a crash before the next Open does not bring the
// trust back. A partition open in this process keeps serving, and closes
// without the marker. A partition another process holds is left as it is
// and reported in the error. Distrust returns only once every partition is
// in one of those states, so a storage opened after it never trusts what
// came before.
func (b *Builder) Distrust(topic string) error {
	if err := validTopic(topic); err != nil {
		return err
	}
	parts, err := b.partitions(topic)
	if err != nil {
		return fmt.Errorf("state: distrust %s: %w", topic, err)
	}
	var errs []error
	for _, p := range parts {
		if err := b.distrust(topic, p); err != nil {
			errs = append(errs, &OpError{Op: "distrust", Topic: topic, Partition: p, Err: err})
			continue
		}
		b.cfg.logger.Warn("local state distrusted: its owner failed, so the next open recovers it from the changelog",
			"topic", topic, "partition", p)
	}
	return errors.Join(errs...)
}

// partitions lists the partitions of topic that have a directory under the
// root or a storage in this process.
func (b *Builder) partitions(topic string) ([]int32, error) {
	seen := map[int32]bool{}
	names, err := b.cfg.fs.List(filepath.Join(b.root, topic))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, n := range names {
		// Builder.dir names a partition's directory by its number; any
		// other name is not a partition's.
		p, err := strconv.ParseInt(n, 10, 32)
		if err == nil && p >= 0 && strconv.Itoa(int(p)) == n {
			seen[int32(p)] = true
		}
	}
	b.mu.Lock()
	for k := range b.mu.open {
		if k.topic == topic {
			seen[k.partition] = true
		}
	}
	b.mu.Unlock()
	out := make([]int32, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	return out, nil
}

// distrust handles one partition: an open storage is told to close without
// the marker; otherwise the partition is held in the registry, so that no
// Open in this process can start, while its marker is removed.
func (b *Builder) distrust(topic string, partition int32) error {
	k := partitionKey{topic, partition}
	for {
		b.mu.Lock()
		if b.mu.closed {
			b.mu.Unlock()
			return ErrClosed
		}
		holder := b.mu.open[k]
		if holder == nil {
			probe := newStorage(b, topic, partition)
			b.mu.open[k] = probe
			b.mu.Unlock()
			err := probe.dropMarker()
			b.unclaim(probe)
			return err
		}
		b.mu.Unlock()
		if holder.distrustOpen() {
			return nil
		}
		// The holder was closing, or failed to open, and has released the
		// partition since (both happen under its lock): look again.
	}
}

// distrustOpen makes an open storage close without the clean-shutdown
// marker and reports whether it was open. It waits for an Open or Close in
// progress: a Close that has begun may already have written the marker.
func (s *Storage) distrustOpen() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.state != opened {
		return false
	}
	s.mu.distrusted = true
	return true
}

// dropMarker removes the partition's clean-shutdown marker, durably, under
// the directory lock: another process opening the database meanwhile could
// otherwise consume the marker and trust the state.
func (s *Storage) dropMarker() (err error) {
	fs := s.b.cfg.fs
	if _, err := fs.Stat(s.dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	lock, err := pebble.LockDirectory(s.dir, fs)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, lock.Close()) }()
	clean, err := hasMarker(fs, s.dir)
	if err != nil || !clean {
		return err
	}
	return removeMarker(fs, s.dir)
}
