package dlq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ClientID names titan dlq's clients to Kafka.
const ClientID = "titan-dlq"

// Read reads the dead-letter topics from their start, or from the first
// record written at or after since, up to the end offsets they had when it
// began, and hands each record to fn in partition order. It joins no
// consumer group and commits nothing: reading changes nothing on the
// broker. It returns the topics that do not exist, which hold no dead
// letters, and ends with ctx's error if ctx ends first.
func Read(ctx context.Context, brokers []string, topics []string, since time.Time, fn func(Entry)) (missing []string, err error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ClientID(ClientID))
	if err != nil {
		return nil, fmt.Errorf("dlq: kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, missing, err := listed(adm.ListEndOffsets(ctx, topics...))
	if err != nil {
		return nil, fmt.Errorf("dlq: end offsets: %w", err)
	}
	var starts map[string]map[int32]int64
	if since.IsZero() {
		starts, _, err = listed(adm.ListStartOffsets(ctx, topics...))
	} else {
		starts, _, err = listed(adm.ListOffsetsAfterMilli(ctx, since.UnixMilli(), topics...))
	}
	if err != nil {
		return nil, fmt.Errorf("dlq: start offsets: %w", err)
	}
	from := map[string]map[int32]kgo.Offset{}
	next := map[string]map[int32]int64{}
	for t, ps := range ends {
		for p, end := range ps {
			start, ok := starts[t][p]
			if !ok || start >= end {
				continue
			}
			if from[t] == nil {
				from[t], next[t] = map[int32]kgo.Offset{}, map[int32]int64{}
			}
			from[t][p], next[t][p] = kgo.NewOffset().At(start), start
		}
	}
	if len(from) == 0 {
		return missing, nil
	}
	cl.AddConsumePartitions(from)
	for left := len(next); left > 0; {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return missing, fmt.Errorf("dlq: reading %v: %w", topics, ctx.Err())
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) { ferr = errors.Join(ferr, fmt.Errorf("%s/%d: %w", t, p, err)) })
		if ferr != nil {
			return missing, fmt.Errorf("dlq: reading: %w", ferr)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			end := ends[r.Topic][r.Partition]
			if r.Offset >= end {
				return
			}
			fn(NewEntry(r.Topic, r.Partition, r.Offset, r.Timestamp, r.Value))
			next[r.Topic][r.Partition] = r.Offset + 1
		})
		left = 0
		for t, ps := range next {
			for p, n := range ps {
				if n < ends[t][p] {
					left++
				}
			}
		}
	}
	return missing, nil
}

// listed flattens an offsets listing; topics the broker does not know are
// returned apart, any other error fails it.
func listed(lo kadm.ListedOffsets, err error) (map[string]map[int32]int64, []string, error) {
	if err != nil {
		return nil, nil, err
	}
	out := map[string]map[int32]int64{}
	var missing []string
	var errs error
	lo.Each(func(o kadm.ListedOffset) {
		switch {
		case errors.Is(o.Err, kerr.UnknownTopicOrPartition):
			if !slices.Contains(missing, o.Topic) {
				missing = append(missing, o.Topic)
			}
		case o.Err != nil:
			errs = errors.Join(errs, fmt.Errorf("%s/%d: %w", o.Topic, o.Partition, o.Err))
		default:
			if out[o.Topic] == nil {
				out[o.Topic] = map[int32]int64{}
			}
			out[o.Topic][o.Partition] = o.Offset
		}
	})
	slices.Sort(missing)
	return out, missing, errs
}
