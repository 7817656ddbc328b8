// Package restore reads a table's changelog partition with franz-go for a
// storage that loads it in bulk (state.WithBulkLoad), instead of through
// goka's sarama consumer and its recovery loop, one record at a time.
//
// A load reads from the partition's first record to the end offset Kafka
// reported when it began. What is written after that, goka reads as usual
// from the offset of the last record loaded: a load that stops early, for
// whatever reason, costs time and never a record. So the load gives up
// rather than waits: on a fetch error, and when no record arrives for
// Idle, it returns with what it read.
package restore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/state"
)

// Idle is how long a load waits for its first record, and stall for each
// after it, before it leaves the rest to goka. A partition whose last
// record was a delete that compaction has since dropped ends short of the
// end offset, and its load ends after stall.
const (
	Idle  = 10 * time.Second
	stall = time.Second
)

// fetchBytes bounds one fetch: a restore wants few, large responses.
const fetchBytes = 64 << 20

// MinRecords is the size, in offsets, below which a partition is left to
// goka: a bulk load starts a client of its own, which on a cluster took
// 150-500 ms before its first record (the failover tests), while goka's
// consumer, already connected, recovers 50,000 records in about 100 ms.
// A successor inheriting small partitions must not wait for it.
const MinRecords = 50_000

// Loader returns a state.Loader. It asks admin for a partition's offsets
// and reads a partition of at least min offsets with a client of its own,
// made with opts (the seed brokers and whatever else the cluster needs);
// a smaller one it leaves to goka.
func Loader(admin *kgo.Client, min int64, opts ...kgo.Opt) state.Loader {
	return func(ctx context.Context, topic string, partition int32, add func(state.Record) error) error {
		start, end, err := bounds(ctx, admin, topic, partition)
		if err != nil || end-start < max(min, 1) {
			return err
		}
		return load(ctx, opts, topic, partition, start, end, add)
	}
}

func load(ctx context.Context, opts []kgo.Opt, topic string, partition int32, start, end int64,
	add func(state.Record) error) error {
	cl, err := kgo.NewClient(append(opts[:len(opts):len(opts)],
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(start)}}),
		kgo.FetchMaxBytes(fetchBytes),
		kgo.FetchMaxPartitionBytes(fetchBytes),
		kgo.FetchMaxWait(100*time.Millisecond),
		kgo.WithPools(recordPool),
	)...)
	if err != nil {
		return fmt.Errorf("restore: %s/%d: %w", topic, partition, err)
	}
	defer cl.Close()
	wait := Idle
	for {
		poll, cancel := context.WithTimeout(ctx, wait)
		fs := cl.PollFetches(poll)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		timedOut := false
		fs.EachError(func(_ string, _ int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) {
				timedOut = true
			} else {
				ferr = errors.Join(ferr, err)
			}
		})
		if ferr != nil {
			return fmt.Errorf("restore: %s/%d: %w", topic, partition, ferr)
		}
		if timedOut || fs.NumRecords() == 0 {
			return fmt.Errorf("restore: %s/%d: no record for %v, before offset %d", topic, partition, wait, end)
		}
		wait = stall
		done := false
		var aerr error
		fs.EachRecord(func(r *kgo.Record) {
			if done || aerr != nil {
				return
			}
			if aerr = add(state.Record{Key: r.Key, Value: r.Value, Offset: r.Offset}); aerr == nil {
				done = r.Offset >= end-1
			}
			// add copied what it keeps.
			r.Recycle()
		})
		if aerr != nil || done {
			return aerr
		}
	}
}

// recordPool reuses the slices franz-go decodes a fetched batch's records
// into: a restore reads millions of records, and each is copied away as
// soon as it is read.
var recordPool = &records{}

type records struct{ p sync.Pool }

func (r *records) GetRecords(n int) []kgo.Record {
	if s, ok := r.p.Get().(*[]kgo.Record); ok && cap(*s) >= n {
		return (*s)[:n]
	}
	return make([]kgo.Record, n)
}

func (r *records) PutRecords(s []kgo.Record) {
	clear(s)
	r.p.Put(&s)
}

// bounds are the partition's first offset and its end, as Kafka reports
// them now.
func bounds(ctx context.Context, cl *kgo.Client, topic string, partition int32) (start, end int64, err error) {
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(ctx, Idle)
	defer cancel()
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return 0, 0, fmt.Errorf("restore: %s/%d: start offset: %w", topic, partition, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, 0, fmt.Errorf("restore: %s/%d: end offset: %w", topic, partition, err)
	}
	s, ok := starts.Lookup(topic, partition)
	e, ok2 := ends.Lookup(topic, partition)
	if !ok || !ok2 {
		return 0, 0, fmt.Errorf("restore: %s/%d: no such partition", topic, partition)
	}
	if s.Err != nil || e.Err != nil {
		return 0, 0, fmt.Errorf("restore: %s/%d: %w", topic, partition, errors.Join(s.Err, e.Err))
	}
	return s.Offset, e.Offset, nil
}
