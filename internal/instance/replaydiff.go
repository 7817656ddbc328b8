package instance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/internal/replay"
)

// DiffConfig configures DiffTables.
type DiffConfig struct {
	Brokers []string
	// Namespace is the live deployment's, Shadow the shadow's name
	// (ShadowNamespace), Topology the replayed one.
	Namespace, Shadow, Topology string
	// Timeout bounds the reading of both tables; 0 means 10 minutes.
	Timeout time.Duration
}

// TableDiff is how the shadow table differs from the live one: each
// table's latest value per key, rendered as canonical JSON, and the
// summary of replay.Diff.
type TableDiff struct {
	LiveTable, ShadowTable string
	Live, Shadow           map[string]string
	Summary                replay.Summary
}

// DiffTables reads each group table of a topology, live and shadow, from
// their changelogs, up to the end offsets seen when it starts, and
// compares them key by key, one TableDiff per table. It only reads, with
// no group.
func DiffTables(ctx context.Context, cfg DiffConfig) ([]TableDiff, error) {
	var errs []error
	if len(cfg.Brokers) == 0 {
		errs = append(errs, fmt.Errorf("%w: --brokers: none given", ErrReplay))
	}
	rt, err := replayTopologyOf(cfg.Topology)
	errs = append(errs, err)
	ns, err := ShadowNamespace(cfg.Namespace, cfg.Shadow)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
	if err != nil {
		return nil, fmt.Errorf("replay: client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var out []TableDiff
	for _, t := range rt.tables {
		d := TableDiff{LiveTable: string(t.table(cfg.Namespace)), ShadowTable: string(t.table(ns))}
		if d.Live, err = readTable(ctx, cfg.Brokers, adm, d.LiveTable, t.render); err != nil {
			return nil, err
		}
		if d.Shadow, err = readTable(ctx, cfg.Brokers, adm, d.ShadowTable, t.render); err != nil {
			return nil, err
		}
		d.Summary = replay.Diff(d.Live, d.Shadow)
		out = append(out, d)
	}
	return out, nil
}

// readTable reads a table's changelog from its start to the end offsets
// seen first and returns the latest value of every key, rendered; a
// tombstone removes its key.
func readTable(ctx context.Context, brokers []string, adm *kadm.Client, topic string, render func(string, []byte) (string, error)) (map[string]string, error) {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: table %s: %w", ErrReplay, topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("replay: end offsets of %s: %w", topic, err)
	}
	offsets := map[int32]kgo.Offset{}
	end := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if s, ok := starts.Lookup(topic, o.Partition); ok && s.Offset < o.Offset {
			offsets[o.Partition] = kgo.NewOffset().At(s.Offset)
			end[o.Partition] = o.Offset
		}
	})
	raw := map[string][]byte{}
	if len(offsets) > 0 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
			kgo.FetchMaxWait(250*time.Millisecond))
		if err != nil {
			return nil, fmt.Errorf("replay: reader: %w", err)
		}
		defer cl.Close()
		for len(end) > 0 {
			fetches := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				return nil, fmt.Errorf("replay: read %s: %w", topic, ctx.Err())
			}
			for _, e := range fetches.Errors() {
				return nil, fmt.Errorf("replay: read %s/%d: %w", e.Topic, e.Partition, e.Err)
			}
			fetches.EachRecord(func(r *kgo.Record) {
				last, ok := end[r.Partition]
				if !ok || r.Offset >= last {
					return
				}
				if r.Value == nil {
					delete(raw, string(r.Key))
				} else {
					raw[string(r.Key)] = r.Value
				}
				if r.Offset+1 >= last {
					delete(end, r.Partition)
				}
			})
		}
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		s, err := render(k, v)
		if err != nil {
			return nil, fmt.Errorf("replay: %s key %q does not decode: %w", topic, k, err)
		}
		out[k] = s
	}
	return out, nil
}

// DropShadowNamespace deletes the shadow namespace of shadow beside the live
// deployment in namespace: its topics and the groups of every topology
// Replay supports. Live topics and groups are never named. It gives up
// after two minutes.
func DropShadowNamespace(ctx context.Context, brokers []string, namespace, shadow string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	ns, err := ShadowNamespace(namespace, shadow)
	if err != nil {
		return "", err
	}
	if len(brokers) == 0 {
		return ns, fmt.Errorf("%w: --brokers: none given", ErrReplay)
	}
	var groups []string
	for _, name := range replayables {
		rt, _ := replayTopologyOf(name)
		groups = append(groups, rt.groups(ns)...)
	}
	// The order saga's replay runs the pricing group too.
	slices.Sort(groups)
	groups = slices.Compact(groups)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return ns, fmt.Errorf("replay: client: %w", err)
	}
	defer cl.Close()
	return ns, DropShadow(ctx, kadm.NewClient(cl), ns, groups)
}
