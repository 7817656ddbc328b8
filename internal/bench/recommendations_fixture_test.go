package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkaadmin"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/internal/sessiongen"
	"github.com/titan-commerce/titan/processors/recommendations"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
	"github.com/titan-commerce/titan/topologies/inventorytopo"
	"github.com/titan-commerce/titan/topologies/orderstopo"
	"github.com/titan-commerce/titan/topologies/recommendationstopo"
)

// recsRig is one instance running the inventory and the recommendations,
// in a namespace of its own, and a producer with the sdk's settings for
// its views topic.
type recsRig struct {
	inst  *instance.Instance
	ns    string
	names recommendationstopo.Names
	cl    *kgo.Client
	adm   *kadm.Client
}

// recsTopics are the topics of an instance running the inventory and the
// recommendations in ns; the recommendations' orders group reads the
// order saga's outcomes topic, which it declares.
func recsTopics(ns string) []kafkaadmin.Topic {
	out := inventorytopo.NamesFor(ns).Topics(partitions)
	return append(out, recommendationstopo.NamesFor(ns).Topics(partitions, orderstopo.NamesFor(ns).Outcomes)...)
}

func recsGroups(ns string) []string {
	inv, recs := inventorytopo.NamesFor(ns), recommendationstopo.NamesFor(ns)
	return []string{string(inv.Group), string(inv.OrdersGroup),
		string(recs.UsersGroup), string(recs.OrdersGroup), string(recs.ItemsGroup)}
}

// startRecs runs the recommendations' instance. The inventory comes along
// because the instance always runs it and the API filters by its stock;
// nothing here writes to it.
func startRecs(b *testing.B, brokers []string, withAPI bool) *recsRig {
	b.Helper()
	ns := kafkatest.Prefix(b)
	cfg := instance.Config{
		Topologies: []string{instance.TopologyInventory, instance.TopologyRecommendations},
		Brokers:    brokers,
		Namespace:  ns,
		StateDir:   b.TempDir(),
		Partitions: partitions,
		InstanceID: "bench-" + ns,
		TimeWindow: historyWindow,
		Logger:     quietLogger(),
	}
	if withAPI {
		cfg.HTTPAddr = "127.0.0.1:0"
	}
	inst := runTitan(b, cfg, recsTopics(ns), recsGroups(ns))
	cl, err := kgo.NewClient(producerOpts(brokers)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	return &recsRig{inst: inst, ns: ns, names: recommendationstopo.NamesFor(ns), cl: cl, adm: kafkatest.Admin(b, brokers)}
}

// recsViews are the views of a generated stream, at most max of them (all
// when max is 0). Users, sessions and event ids carry run, so runs on one
// instance never share a history; SKUs do not, so items gather pairs
// across runs as a shop's do.
func recsViews(run string, cfg sessiongen.Config, max int) []*recommendationsv1.ViewEvent {
	stream := sessiongen.Generate(cfg)
	var out []*recommendationsv1.ViewEvent
	for _, ev := range stream.Events {
		if ev.Kind != sessiongen.KindView {
			continue
		}
		if max > 0 && len(out) == max {
			break
		}
		v := ev.View
		if run != "" {
			// A view sent twice is one message in the stream twice:
			// prefixed in place, it would be prefixed twice.
			v = proto.Clone(v).(*recommendationsv1.ViewEvent)
			v.UserId = run + "-" + v.GetUserId()
			v.EventId = run + "-" + v.GetEventId()
			if v.GetSessionId() != "" {
				v.SessionId = run + "-" + v.GetSessionId()
			}
		}
		out = append(out, v)
	}
	return out
}

// recsConfig is sessiongen's default shop (1,000 items, 3,000 users, its
// planted groups) with the given sessions spread over the span before
// end, so the stream ends about when it is sent.
func recsConfig(seed int64, sessions int, span time.Duration, end time.Time) sessiongen.Config {
	cfg := sessiongen.DefaultConfig()
	cfg.Seed, cfg.Sessions, cfg.Span, cfg.Start = seed, sessions, span, end.Add(-span)
	return cfg
}

// viewRecords are views keyed by user, as the storefront writes them.
func viewRecords(b *testing.B, views []*recommendationsv1.ViewEvent, topic string) []*kgo.Record {
	b.Helper()
	out := make([]*kgo.Record, len(views))
	for i, v := range views {
		val, err := proto.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = &kgo.Record{Topic: topic, Key: []byte(v.GetUserId()), Value: val}
	}
	return out
}

// recsReplay runs views through the users' and the items' steps in memory
// as the users and items groups do: each view with an origin at the next
// offset of its user's partition, each pair counted at its item. It is the
// model the broker benchmarks check the topology's pair count against, and
// the source of the states the ceilings and BenchmarkRecommendationState
// measure.
type recsReplay struct {
	policy  recommendations.Policy
	users   map[string]recommendations.UserHistory
	items   map[string]recommendations.ItemState
	offsets [partitions]int64
	// pairs and counted are the pairs emitted and those the items counted;
	// records are the records the pairs go out in (one per view and item,
	// recommendations.PairRecords), and writes the items' state writes
	// (one per record with a pair counted).
	pairs, counted, records, writes int
}

func newRecsReplay() *recsReplay {
	return &recsReplay{
		policy: recommendations.DefaultPolicy(),
		users:  map[string]recommendations.UserHistory{},
		items:  map[string]recommendations.ItemState{},
	}
}

// view applies one view at its user and returns the pairs it emits,
// stamped; count applies them.
func (r *recsReplay) view(w *recommendationsv1.ViewEvent) []recommendations.Pair {
	v := recommendations.ViewFromWire(w)
	p := partition.Partition([]byte(v.UserID), partitions)
	h, ok := r.users[v.UserID]
	if !ok {
		h = recommendations.UserHistory{UserID: v.UserID}
	}
	var pairs []recommendations.Pair
	r.users[v.UserID], pairs = recommendations.View(h, v, r.policy)
	pairs = recommendations.Stamp(pairs, recommendations.Origin{Stream: recommendations.StreamViews, Partition: p, Offset: r.offsets[p]})
	r.offsets[p]++
	r.pairs += len(pairs)
	return pairs
}

// count counts the pairs of one view at their items, a record at a time
// as the items group does.
func (r *recsReplay) count(pairs []recommendations.Pair) {
	for _, rec := range recommendations.PairRecords(pairs) {
		r.records++
		ps, err := recommendations.PairsFromRecord(rec)
		if err != nil {
			panic(err) // PairRecords makes none that it refuses
		}
		written := false
		for _, pr := range ps {
			s, ok := r.items[pr.Item]
			if !ok {
				s = recommendations.ItemState{SKU: pr.Item}
			}
			if s, ok = recommendations.Count(s, pr, r.policy); ok {
				r.items[pr.Item] = s
				r.counted++
				written = true
			}
		}
		if written {
			r.writes++
		}
	}
}

// all runs every view through both steps.
func (r *recsReplay) all(views []*recommendationsv1.ViewEvent) {
	for _, v := range views {
		r.count(r.view(v))
	}
}

// itemValue is an item's state as the items table stores it.
func itemValue(s recommendations.ItemState) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(recommendations.ItemStateToWire(s))
}

// committedOffsets returns, by partition, what group has committed on
// topic.
func committedOffsets(ctx context.Context, adm *kadm.Client, group, topic string) (map[int32]int64, error) {
	resp, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for p, o := range resp[topic] {
		out[p] = o.At
	}
	return out, nil
}

// caughtUp waits until every group has committed the end offset of its
// topic on every partition, in the order given: a group's input is final
// only once the group before it is done. It returns the end offsets.
func caughtUp(b *testing.B, adm *kadm.Client, timeout time.Duration, stages ...[2]string) []map[int32]int64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var out []map[int32]int64
	for _, st := range stages {
		group, topic := st[0], st[1]
		for {
			ends, err := kafkatest.EndOffsets(ctx, adm, topic)
			var done map[int32]int64
			if err == nil {
				done, err = committedOffsets(ctx, adm, group, topic)
			}
			if err == nil {
				if behind := lagging(ends, done); behind == "" {
					out = append(out, ends)
					break
				} else {
					err = fmt.Errorf("behind on %s", behind)
				}
			}
			select {
			case <-ctx.Done():
				b.Fatalf("%s not caught up on %s within %v: %v", group, topic, timeout, err)
			case <-tick.C:
			}
		}
	}
	return out
}

// lagging names the partitions whose committed offset is short of the
// end, "" when none is.
func lagging(ends, done map[int32]int64) string {
	var s strings.Builder
	for p, end := range ends {
		if end > 0 && done[p] < end {
			fmt.Fprintf(&s, " %d:%d/%d", p, done[p], end)
		}
	}
	return s.String()
}

func sumOffsets(m map[int32]int64) int64 {
	var n int64
	for _, o := range m {
		n += o
	}
	return n
}
