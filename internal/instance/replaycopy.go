package instance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/replay"
	"github.com/titan-commerce/titan/schemas"
)

// copyRange copies plan's spans of the live topics to the shadow topic of
// each (shadow), partition for partition, and returns how many records
// were copied. The reader has no group and commits nothing.
func copyRange(ctx context.Context, cfg ReplayConfig, plan map[string]map[int32]replay.Span, shadow map[string]string) (int64, error) {
	c := &copier{cfg: cfg, plan: plan, shadow: shadow, next: map[string]map[int32]int64{}, failed: make(chan struct{}),
		start: time.Now(), total: replay.Total(plan)}
	offsets := map[string]map[int32]kgo.Offset{}
	for topic, parts := range plan {
		for p, s := range parts {
			if s.Len() == 0 {
				continue
			}
			if offsets[topic] == nil {
				offsets[topic], c.next[topic] = map[int32]kgo.Offset{}, map[int32]int64{}
			}
			offsets[topic][p] = kgo.NewOffset().At(s.From)
			c.next[topic][p] = s.From
			c.remaining++
		}
	}
	var err error
	if c.reader, err = kgo.NewClient(readerOpts(cfg.Brokers, offsets)...); err != nil {
		return 0, fmt.Errorf("replay: reader: %w", err)
	}
	defer c.reader.Close()
	// Records go to the partition they were read from, whatever their key:
	// the shadow group must see each partition as the live one did.
	if c.writer, err = kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond)); err != nil {
		return 0, fmt.Errorf("replay: writer: %w", err)
	}
	defer c.writer.Close()
	err = c.run(ctx)
	return c.copied.Load(), err
}

// copier is one copyRange.
type copier struct {
	cfg            ReplayConfig
	plan           map[string]map[int32]replay.Span
	shadow         map[string]string
	reader, writer *kgo.Client
	start          time.Time
	total          int64

	// next is the next offset of each partition not read to its span's
	// end, remaining counts them, and skipped counts the offsets passed
	// without a copy; only run's goroutine touches them.
	next      map[string]map[int32]int64
	remaining int
	skipped   int64

	copied  atomic.Int64
	errOnce sync.Once
	sendErr error
	// failed is closed, after sendErr is set, when a write fails.
	failed chan struct{}
}

func (c *copier) report() {
	if c.cfg.Progress != nil {
		c.cfg.Progress(replay.Progress{Phase: "copy", Done: c.copied.Load() + c.skipped, Total: c.total,
			Elapsed: time.Since(c.start)})
	}
}

func (c *copier) run(ctx context.Context) error {
	tick := time.NewTicker(c.cfg.ProgressEvery)
	defer tick.Stop()
	for c.remaining > 0 {
		select {
		case <-tick.C:
			c.report()
		case <-c.failed:
			return c.sendErr
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, c.cfg.ProgressEvery)
		fetches := c.reader.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return fmt.Errorf("replay: copy: %w after %d of %d records; not read to the end: %s",
				ctx.Err(), c.copied.Load(), c.total, c.unfinished())
		}
		for _, e := range fetches.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) && !errors.Is(e.Err, context.Canceled) {
				return fmt.Errorf("replay: read %s/%d: %w", e.Topic, e.Partition, e.Err)
			}
		}
		done := map[string][]int32{}
		fetches.EachRecord(func(r *kgo.Record) {
			if c.copy(ctx, r) {
				done[r.Topic] = append(done[r.Topic], r.Partition)
			}
		})
		if len(done) > 0 {
			c.reader.PauseFetchPartitions(done)
		}
	}
	if err := c.writer.Flush(ctx); err != nil {
		return fmt.Errorf("replay: copy: %w", err)
	}
	select {
	case <-c.failed:
		return c.sendErr
	default:
	}
	c.report()
	return nil
}

// copy writes r to its shadow topic if it is a record of its span, and
// reports whether its partition is now read to the span's end.
func (c *copier) copy(ctx context.Context, r *kgo.Record) bool {
	next, left := c.next[r.Topic][r.Partition]
	if !left {
		return false
	}
	st := step(next, r.Offset, r.Attrs.IsControl(), c.plan[r.Topic][r.Partition].To)
	c.skipped += st.skipped
	if st.keep {
		rec := &kgo.Record{Topic: c.shadow[r.Topic], Partition: r.Partition, Key: r.Key, Value: r.Value,
			Headers: r.Headers, Timestamp: r.Timestamp}
		c.writer.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				c.errOnce.Do(func() {
					c.sendErr = fmt.Errorf("replay: write %s/%d: %w", rec.Topic, rec.Partition, err)
					close(c.failed)
				})
				return
			}
			c.copied.Add(1)
		})
	}
	if !st.last {
		c.next[r.Topic][r.Partition] = st.next
		return false
	}
	delete(c.next[r.Topic], r.Partition)
	c.remaining--
	return true
}

// readerOpts are the options of a reader of spans of live inputs, from
// offsets. A client may write them with a transactional producer (Kafka
// Streams' exactly-once does): a copy reads only committed records, and
// keeps the transactions' markers, which step passes over, so that a span
// ending on one ends.
func readerOpts(brokers []string, offsets map[string]map[int32]kgo.Offset) []kgo.Opt {
	return []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(offsets), kgo.FetchMaxWait(250 * time.Millisecond),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords()}
}

// spanStep is what a copy does with one record read from a partition.
type spanStep struct {
	// keep: the record is copied.
	keep bool
	// last: the partition is read to its span's end.
	last bool
	// next is the partition's next offset, and skipped how many offsets
	// this record passed without a copy.
	next, skipped int64
}

// step is the spanStep of the record at offset, a transaction's marker if
// control, in a partition read up to next, whose span ends before to.
// Offsets may be missing (an aborted transaction's records are not read),
// so the first record at or past the span's last offset ends it.
func step(next, offset int64, control bool, to int64) spanStep {
	s := spanStep{keep: offset < to && !control, last: offset+1 >= to, next: offset + 1}
	s.skipped = min(offset+1, to) - next
	if s.keep {
		s.skipped--
	}
	return s
}

func (c *copier) unfinished() string {
	var out []string
	for topic, parts := range c.next {
		for p := range parts {
			out = append(out, fmt.Sprintf("%s/%d", topic, p))
		}
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// waitProcessed waits until the stage's group has committed, for every
// partition of its shadow inputs, the end offset it has now, reporting
// progress of what its inputs hold: as the "process" phase for the first
// stage (whose inputs are copies, so it counts copied records), and as a
// phase named after the group for the others. done receives the shadow groups' end; it ending first is
// an error, and stopped says so.
func waitProcessed(ctx context.Context, adm *kadm.Client, cfg ReplayConfig, ns string, st replayStage, first bool,
	done <-chan error) (stopped bool, err error) {
	start := time.Now()
	group := st.group(ns)
	topics := make([]string, len(st.inputs))
	for i, in := range st.inputs {
		topics[i] = schemas.Namespaced(ns, in)
	}
	listed, err := adm.ListEndOffsets(ctx, topics...)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return false, fmt.Errorf("replay: end offsets of the shadow inputs: %w", err)
	}
	phase, total := "process", int64(0)
	if !first {
		phase = "process " + strings.TrimPrefix(group, ns+".")
	}
	listed.Each(func(o kadm.ListedOffset) { total += max(o.Offset, 0) })
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	last := time.Now()
	for {
		committed, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return false, fmt.Errorf("replay: committed offsets of %s: %w", group, err)
		}
		processed, behind := int64(0), ""
		listed.Each(func(end kadm.ListedOffset) {
			at := int64(0)
			if o, ok := committed.Lookup(end.Topic, end.Partition); ok && o.Err == nil {
				at = max(o.At, 0)
			}
			processed += min(at, end.Offset)
			if at < end.Offset && behind == "" {
				behind = fmt.Sprintf("%s %s/%d at %d of %d", group, end.Topic, end.Partition, at, end.Offset)
			}
		})
		progress := replay.Progress{Phase: phase, Done: processed, Total: total, Elapsed: time.Since(start)}
		if behind == "" {
			if cfg.Progress != nil {
				cfg.Progress(progress)
			}
			return false, nil
		}
		if cfg.Progress != nil && time.Since(last) >= cfg.ProgressEvery {
			cfg.Progress(progress)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("replay: processing: %w; still behind: %s", ctx.Err(), behind)
		case err := <-done:
			return true, fmt.Errorf("replay: the shadow groups stopped before they were done (%s): %w", behind, err)
		case <-poll.C:
		}
	}
}

// canonicalJSON is protojson's rendering of m (its field names and forms)
// with its deliberately unstable spacing taken out, so equal messages
// render equal.
func canonicalJSON(m proto.Message) (string, error) {
	j, err := protojson.Marshal(m)
	if err != nil {
		return "", err
	}
	var v any
	if err := json.Unmarshal(j, &v); err != nil {
		return "", err
	}
	out, err := json.Marshal(v)
	return string(out), err
}
