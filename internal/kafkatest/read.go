package kafkatest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DeleteNamespace deletes, when the test ends, every topic and consumer group whose name starts
// with ns+".": what an instance created under a namespace from Prefix. Call it before starting
// instances, so it runs after they have stopped. A failure is only logged.
func DeleteNamespace(t testing.TB, adm *kadm.Client, ns string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		listed, err := adm.ListTopics(ctx)
		if err != nil {
			t.Logf("kafkatest: listing topics to delete: %v", err)
			return
		}
		var mine []string
		for _, name := range listed.Names() {
			if strings.HasPrefix(name, ns+".") {
				mine = append(mine, name)
			}
		}
		if resp, err := adm.DeleteTopics(ctx, mine...); err != nil || resp.Error() != nil {
			t.Logf("kafkatest: deleting topics %v: %v %v", mine, err, resp.Error())
		}
		groups, err := adm.ListGroups(ctx)
		if err != nil {
			t.Logf("kafkatest: listing groups to delete: %v", err)
			return
		}
		var ours []string
		for _, g := range groups.Groups() {
			if strings.HasPrefix(g, ns+".") {
				ours = append(ours, g)
			}
		}
		if len(ours) > 0 {
			if _, err := adm.DeleteGroups(ctx, ours...); err != nil {
				t.Logf("kafkatest: deleting groups %v: %v", ours, err)
			}
		}
	})
}

// EndOffsets are the next offsets to be written to topic, by partition.
func EndOffsets(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int64, error) {
	listed, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("kafkatest: end offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}

// ReadAll reads topic from the start up to its current end offsets and returns the records in
// (partition, offset) order.
func ReadAll(ctx context.Context, brokers []string, adm *kadm.Client, topic string) ([]*kgo.Record, error) {
	ends, err := EndOffsets(ctx, adm, topic)
	if err != nil {
		return nil, err
	}
	return ReadTo(ctx, brokers, topic, ends)
}

// ReadTo reads topic from the start up to ends (the next offset per partition, as EndOffsets gives)
// and returns the records in (partition, offset) order.
func ReadTo(ctx context.Context, brokers []string, topic string, ends map[int32]int64) ([]*kgo.Record, error) {
	start := map[int32]kgo.Offset{}
	for p, end := range ends {
		if end > 0 {
			start[p] = kgo.NewOffset().AtStart()
		}
	}
	if len(start) == 0 {
		return nil, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	next := map[int32]int64{}
	var out []*kgo.Record
	for {
		done := true
		for p, end := range ends {
			if next[p] < end {
				done = false
			}
		}
		if done {
			break
		}
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("kafkatest: reading %s: %w", topic, ctx.Err())
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Offset < ends[r.Partition] {
				out = append(out, r)
			}
			next[r.Partition] = r.Offset + 1
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out, nil
}

// WaitFor checks cond every 100 ms until it holds or ctx ends; the error carries the last detail
// cond gave.
func WaitFor(ctx context.Context, what string, cond func() (bool, string)) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, detail := cond()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last: %s)", what, ctx.Err(), detail)
		case <-tick.C:
		}
	}
}

// WaitCommitted waits until group has committed the end offset, as seen when it is called, of
// every partition of topic: all of it processed, and with goka its table writes too.
func WaitCommitted(ctx context.Context, adm *kadm.Client, group, topic string) error {
	ends, err := EndOffsets(ctx, adm, topic)
	if err != nil {
		return err
	}
	return WaitFor(ctx, group+" caught up with "+topic, func() (bool, string) {
		committed, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return false, err.Error()
		}
		for p, end := range ends {
			// An empty partition has nothing to commit.
			if o, ok := committed.Lookup(topic, p); end > 0 && (!ok || o.At < end) {
				return false, fmt.Sprintf("partition %d at %d of %d", p, o.At, end)
			}
		}
		return true, ""
	})
}
