package instance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	start := time.Now()
	total := replay.Total(plan)
	offsets := map[string]map[int32]kgo.Offset{}
	left := map[string]map[int32]bool{}
	remaining := 0
	for topic, parts := range plan {
		for p, s := range parts {
			if s.Len() == 0 {
				continue
			}
			if offsets[topic] == nil {
				offsets[topic], left[topic] = map[int32]kgo.Offset{}, map[int32]bool{}
			}
			offsets[topic][p] = kgo.NewOffset().At(s.From)
			left[topic][p] = true
			remaining++
		}
	}
	reader, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.ConsumePartitions(offsets),
		kgo.FetchMaxWait(250*time.Millisecond))
	if err != nil {
		return 0, fmt.Errorf("replay: reader: %w", err)
	}
	defer reader.Close()
	// Records go to the partition they were read from, whatever their key:
	// the shadow group must see each partition as the live one did.
	writer, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return 0, fmt.Errorf("replay: writer: %w", err)
	}
	defer writer.Close()

	var (
		copied  atomic.Int64
		errOnce sync.Once
		sendErr error
	)
	failed := make(chan struct{})
	report := func() {
		if cfg.Progress != nil {
			cfg.Progress(replay.Progress{Phase: "copy", Done: copied.Load(), Total: total, Elapsed: time.Since(start)})
		}
	}
	tick := time.NewTicker(cfg.ProgressEvery)
	defer tick.Stop()
	for remaining > 0 {
		select {
		case <-tick.C:
			report()
		case <-failed:
			return copied.Load(), sendErr
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, cfg.ProgressEvery)
		fetches := reader.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return copied.Load(), fmt.Errorf("replay: copy: %w after %d of %d records", ctx.Err(), copied.Load(), total)
		}
		for _, e := range fetches.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) && !errors.Is(e.Err, context.Canceled) {
				return copied.Load(), fmt.Errorf("replay: read %s/%d: %w", e.Topic, e.Partition, e.Err)
			}
		}
		done := map[string][]int32{}
		fetches.EachRecord(func(r *kgo.Record) {
			to := plan[r.Topic][r.Partition].To
			if !left[r.Topic][r.Partition] || r.Offset >= to {
				return
			}
			rec := &kgo.Record{Topic: shadow[r.Topic], Partition: r.Partition, Key: r.Key, Value: r.Value,
				Headers: r.Headers, Timestamp: r.Timestamp}
			writer.Produce(ctx, rec, func(_ *kgo.Record, err error) {
				if err != nil {
					errOnce.Do(func() {
						sendErr = fmt.Errorf("replay: write %s/%d: %w", rec.Topic, rec.Partition, err)
						close(failed)
					})
					return
				}
				copied.Add(1)
			})
			// Offsets of aborted transactions and their markers are never
			// delivered; a partition whose span ends on one ends at the
			// last record before it, which the deadline bounds.
			if r.Offset+1 >= to {
				left[r.Topic][r.Partition] = false
				done[r.Topic] = append(done[r.Topic], r.Partition)
				remaining--
			}
		})
		if len(done) > 0 {
			reader.PauseFetchPartitions(done)
		}
	}
	if err := writer.Flush(ctx); err != nil {
		return copied.Load(), fmt.Errorf("replay: copy: %w", err)
	}
	select {
	case <-failed:
		return copied.Load(), sendErr
	default:
	}
	report()
	return copied.Load(), nil
}

// waitProcessed waits until the stage's group has committed, for every
// partition of its shadow inputs, the end offset it has now, reporting
// progress: as the "process" phase of the copied total for the first
// stage, and as a phase named after the group, of what its inputs hold,
// for the others. done receives the shadow groups' end; it ending first is
// an error, and stopped says so.
func waitProcessed(ctx context.Context, adm *kadm.Client, cfg ReplayConfig, ns string, st replayStage, first bool,
	copied int64, done <-chan error) (stopped bool, err error) {
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
	phase, total := "process", copied
	if !first {
		phase, total = "process "+strings.TrimPrefix(group, ns+"."), 0
		listed.Each(func(o kadm.ListedOffset) { total += max(o.Offset, 0) })
	}
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
