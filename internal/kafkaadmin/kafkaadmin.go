// Package kafkaadmin creates the topics a topology declares and checks the
// ones that exist. goka creates none of the streams it writes to, and a
// stream with a partition count different from the table it feeds breaks
// co-partitioning silently, so Titan declares every topic and verifies them
// all before any processor starts.
package kafkaadmin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// ErrMismatch is wrapped by the error Ensure returns for an existing topic
// whose partition count differs from its declaration.
var ErrMismatch = errors.New("kafkaadmin: topic does not match its declaration")

// Topic declares one topic.
type Topic struct {
	Name       string
	Partitions int32
	// Compact marks a table changelog: only the latest value per key is
	// needed to rebuild state.
	Compact bool
	// AppendTime marks a topic clients write: the broker stamps each record
	// with the time it appended it (message.timestamp.type=LogAppendTime),
	// so the record's time is the broker's, not the client's, and
	// processors bound a message's own time against it
	// (schemas.TimeWindow).
	AppendTime bool
}

// appendTime is the topic config AppendTime sets.
const appendTime = "LogAppendTime"

// Ensure creates the missing topics with the given replication and checks
// that every existing one has its declared partition count.
func Ensure(ctx context.Context, adm *kadm.Client, replication int16, topics []Topic) error {
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.Name
	}
	existing, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("kafkaadmin: list topics: %w", err)
	}
	var stamp []string // existing topics that must be stamped by the broker
	// Missing topics are created in one request per shape (partitions and
	// configs) rather than one by one: a broker takes about as long for one
	// topic as for forty, and creating Titan's forty one at a time made a
	// first start on a real cluster take 15 s longer than the next.
	batches := map[string]*createBatch{}
	var order []string
	for _, t := range topics {
		if d, ok := existing[t.Name]; ok && d.Err == nil {
			if got := int32(len(d.Partitions)); got != t.Partitions {
				return fmt.Errorf("%w: %s has %d partitions, want %d", ErrMismatch, t.Name, got, t.Partitions)
			}
			if t.AppendTime {
				stamp = append(stamp, t.Name)
			}
			continue
		}
		shape := fmt.Sprintf("%d/%t/%t", t.Partitions, t.Compact, t.AppendTime)
		b, ok := batches[shape]
		if !ok {
			b = &createBatch{partitions: t.Partitions, configs: topicConfigs(t, replication)}
			batches[shape] = b
			order = append(order, shape)
		}
		// A topic two topologies share is declared twice; a broker
		// refuses a request that names it twice.
		if !slices.Contains(b.names, t.Name) {
			b.names = append(b.names, t.Name)
		}
	}
	for _, shape := range order {
		b := batches[shape]
		resps, err := adm.CreateTopics(ctx, b.partitions, replication, b.configs, b.names...)
		if err != nil {
			return fmt.Errorf("kafkaadmin: create %v: %w", b.names, err)
		}
		for _, name := range b.names {
			err := resps[name].Err
			// Another instance may have created it between list and create.
			if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
				return fmt.Errorf("kafkaadmin: create %s: %w", name, err)
			}
		}
	}
	if err := stampAppendTime(ctx, adm, stamp); err != nil {
		return err
	}
	return WaitServing(ctx, adm, topics)
}

// stampAppendTime sets LogAppendTime on existing topics that lack it, such
// as topics an earlier release or an operator created: Titan owns its
// topics, and a public topic stamped by its clients lets them choose the
// time their messages are judged against.
func stampAppendTime(ctx context.Context, adm *kadm.Client, topics []string) error {
	if len(topics) == 0 {
		return nil
	}
	described, err := adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return fmt.Errorf("kafkaadmin: describe topic configs: %w", err)
	}
	var alter []string
	for _, rc := range described {
		if rc.Err != nil {
			return fmt.Errorf("kafkaadmin: describe %s: %w", rc.Name, rc.Err)
		}
		set := false
		for _, c := range rc.Configs {
			if c.Key == "message.timestamp.type" && c.Value != nil && *c.Value == appendTime {
				set = true
			}
		}
		if !set {
			alter = append(alter, rc.Name)
		}
	}
	if len(alter) == 0 {
		return nil
	}
	resps, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "message.timestamp.type", Value: ptr(appendTime)}}, alter...)
	if err != nil {
		return fmt.Errorf("kafkaadmin: set LogAppendTime on %v: %w", alter, err)
	}
	for _, r := range resps {
		if r.Err != nil {
			return fmt.Errorf("kafkaadmin: set LogAppendTime on %s: %w (%s)", r.Name, r.Err, r.ErrMessage)
		}
	}
	return nil
}

// WaitServing waits until the leader of every partition of topics answers a
// ListOffsets request. CreateTopics returns once the controller has
// committed the topics; a broker learns of them a moment later, and lists a
// partition with a leader a moment before that leader serves it. A client
// that asks in between is told the topic does not exist (goka's topic
// manager checks before it starts) or that the broker is not the leader
// (kgo then leaves the partition out of the fetch in flight, and a record
// produced there is seen only when that fetch's wait runs out).
func WaitServing(ctx context.Context, adm *kadm.Client, topics []Topic) error {
	var last error
	for {
		if last = serving(ctx, adm, topics); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafkaadmin: topics not served in time: %w", last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func serving(ctx context.Context, adm *kadm.Client, topics []Topic) error {
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.Name
	}
	offsets, err := adm.ListEndOffsets(ctx, names...)
	if err != nil {
		return err
	}
	for _, t := range topics {
		ps := offsets[t.Name]
		for _, o := range ps {
			if o.Err != nil {
				return fmt.Errorf("%s/%d: %w", t.Name, o.Partition, o.Err)
			}
		}
		if int32(len(ps)) != t.Partitions {
			return fmt.Errorf("%s: %d of %d partitions listed", t.Name, len(ps), t.Partitions)
		}
	}
	return nil
}

func ptr(s string) *string { return &s }

// createBatch is the missing topics of one shape, created in one request.
type createBatch struct {
	partitions int32
	configs    map[string]*string
	names      []string
}

func topicConfigs(t Topic, replication int16) map[string]*string {
	configs := map[string]*string{}
	if t.Compact {
		configs["cleanup.policy"] = ptr("compact")
	}
	if t.AppendTime {
		configs["message.timestamp.type"] = ptr(appendTime)
	}
	if replication > 1 {
		configs["min.insync.replicas"] = ptr(strconv.Itoa(int(replication) - 1))
	}
	return configs
}

// ErrNotCopartitioned is wrapped by the error CheckCopartitioned returns.
var ErrNotCopartitioned = errors.New("kafkaadmin: topics are not co-partitioned")

// Copartitioned names topics whose partition i must hold the same keys: the
// inputs and table of one goka group, or a repartition topic and the group
// that reads it. Equal partition counts (with one partitioner everywhere,
// see internal/partition) are what makes that true.
type Copartitioned struct {
	// Group says which processor needs it, for the error message.
	Group  string
	Topics []string
}

// CheckCopartitioned verifies every set against the cluster: each topic
// exists and all topics of a set have the same number of partitions. A
// topology runs it before its processors start, because goka would only
// notice a mismatch for some layouts and a wrong count routes a key's
// messages to an instance that does not hold its state.
func CheckCopartitioned(ctx context.Context, adm *kadm.Client, sets ...Copartitioned) error {
	var names []string
	for _, s := range sets {
		names = append(names, s.Topics...)
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("kafkaadmin: list topics: %w", err)
	}
	var errs []error
	for _, s := range sets {
		counts := make([]string, 0, len(s.Topics))
		first, same := int32(-1), true
		for _, t := range s.Topics {
			d, ok := details[t]
			if !ok || d.Err != nil {
				errs = append(errs, fmt.Errorf("%w: %s reads %s, which does not exist", ErrNotCopartitioned, s.Group, t))
				same = true
				counts = nil
				break
			}
			n := int32(len(d.Partitions))
			if first < 0 {
				first = n
			}
			same = same && n == first
			counts = append(counts, fmt.Sprintf("%s=%d", t, n))
		}
		if !same {
			errs = append(errs, fmt.Errorf("%w: %s needs equal partition counts: %v", ErrNotCopartitioned, s.Group, counts))
		}
	}
	return errors.Join(errs...)
}
