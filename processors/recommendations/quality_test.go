package recommendations_test

import (
	"hash/fnv"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/sessiongen"
	"github.com/titan-commerce/titan/processors/recommendations"
	"github.com/titan-commerce/titan/schemas"
)

// sim runs events through the three keys in memory as the topology does:
// views by user, bought lines by order (and by user), pairs by item, each
// record with an origin from its input partition.
type sim struct {
	t          testing.TB
	p          recommendations.Policy
	partitions int
	users      map[string]recommendations.UserHistory
	baskets    map[string]recommendations.Basket
	items      map[string]recommendations.ItemState
	offsets    map[[2]int32]int64
	clock      time.Time
	// replays, when set, is the share of records whose pairs are
	// delivered a second time, as after a crash before the offset commit.
	replays float64
	rng     *rand.Rand
	pairs   int
	counted int
}

func newSim(t testing.TB, p recommendations.Policy) *sim {
	return &sim{
		t: t, p: p, partitions: 4,
		users: map[string]recommendations.UserHistory{}, baskets: map[string]recommendations.Basket{},
		items: map[string]recommendations.ItemState{}, offsets: map[[2]int32]int64{},
		rng: rand.New(rand.NewPCG(7, 7)),
	}
}

func (s *sim) origin(stream int32, key string) recommendations.Origin {
	h := fnv.New32a()
	h.Write([]byte(key))
	part := int32(h.Sum32() % uint32(s.partitions))
	k := [2]int32{stream, part}
	off := s.offsets[k]
	s.offsets[k]++
	return recommendations.Origin{Stream: stream, Partition: part, Offset: off}
}

func (s *sim) apply(ev sessiongen.Event) {
	var pairs []recommendations.Pair
	switch ev.Kind {
	case sessiongen.KindView:
		if err := schemas.ValidateViewEvent(ev.View); err != nil {
			s.t.Fatalf("generated view %v: %v", ev.View, err)
		}
		v := recommendations.ViewFromWire(ev.View)
		s.users[v.UserID], pairs = recommendations.View(s.users[v.UserID], v, s.p)
		pairs = recommendations.Stamp(pairs, s.origin(recommendations.StreamViews, v.UserID))
		s.clock = maxTime(s.clock, v.Time)
	case sessiongen.KindPurchase:
		b := ev.Purchase
		s.baskets[b.OrderID], pairs = recommendations.Bought(s.baskets[b.OrderID], b.SKU, b.UserID, b.Time, s.p)
		pairs = recommendations.Stamp(pairs, s.origin(recommendations.StreamOrders, b.OrderID))
		s.users[b.UserID] = recommendations.UserBought(s.users[b.UserID], b.SKU, b.Time, s.p)
		s.clock = maxTime(s.clock, b.Time)
	}
	s.route(pairs)
	if s.replays > 0 && len(pairs) > 0 && s.rng.Float64() < s.replays {
		s.route(pairs[s.rng.IntN(len(pairs)):])
	}
}

func (s *sim) route(pairs []recommendations.Pair) {
	for _, pr := range pairs {
		s.pairs++
		var ok bool
		s.items[pr.Item], ok = recommendations.Count(s.items[pr.Item], pr, s.p)
		if ok {
			s.counted++
		}
	}
}

func (s *sim) top(sku string) []string {
	var out []string
	for _, r := range s.items[sku].Top(10, s.clock, s.p, nil) {
		out = append(out, r.SKU)
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// TestQuality runs a generated week through the steps and measures how
// well the item top-10s recover the planted groups, and how many events a
// trend planted part way through takes to reach its item's top 10.
func TestQuality(t *testing.T) {
	cfg := sessiongen.DefaultConfig()
	cfg.Shift = sessiongen.Shift{AtEvent: 100_000}
	if testing.Short() {
		cfg.Sessions = 8000
		cfg.Shift.AtEvent = 40_000
	}
	stream := sessiongen.Generate(cfg)
	s := newSim(t, recommendations.DefaultPolicy())
	watch := stream.WatchTrend()
	if watch == nil {
		t.Fatal("the stream has no trend")
	}
	for i, ev := range stream.Events {
		s.apply(ev)
		watch.Observe(i, s.top)
	}
	q := stream.RecallPrecisionAt10(s.top)
	pruned, full := int64(0), 0
	for _, st := range s.items {
		pruned += st.Pruned
		if len(st.Neighbors) == s.p.MaxNeighbors {
			full++
		}
	}
	t.Logf("%d events, %d items, %d groups; %d pairs, %d counted; %d item lists full, %d neighbors pruned",
		len(stream.Events), len(s.items), len(stream.Groups), s.pairs, s.counted, full, pruned)
	t.Logf("recall@10 %.3f (%d of %d planted partners), precision@10 %.3f (ceiling %.3f, %.0f%% of it)",
		q.Recall, q.Hits, q.Relevant, q.Precision, q.PrecisionCeiling, 100*q.Precision/q.PrecisionCeiling)
	if watch.Latency >= 0 {
		took := stream.Events[watch.Start+watch.Latency].Time().Sub(stream.Events[watch.Start].Time())
		t.Logf("trend %s+%s from event %d: in %s's top 10 after %d events, %v of stream time (%d of them the trend's own)",
			watch.Item, watch.Partner, watch.Start, watch.Item, watch.Latency, took.Round(time.Minute), watch.TrendEvents)
	}

	if q.Recall < 0.8 {
		t.Errorf("recall@10 %.3f, want at least 0.8", q.Recall)
	}
	if q.Precision < 0.8*q.PrecisionCeiling {
		t.Errorf("precision@10 %.3f, want at least 80%% of its ceiling %.3f", q.Precision, q.PrecisionCeiling)
	}
	// The trend's item is a popular one, so its partner has to overtake
	// neighbors built up over days; a few percent of the sessions after
	// the shift must be enough.
	if watch.Latency < 0 || watch.Latency > 10_000 {
		t.Errorf("the trend took %d events to reach its item's top 10 (-1: never)", watch.Latency)
	}
}

// TestReplayedPairsCountOnce delivers part of the pairs of some records a
// second time, as a crash before the offset commit does, and expects every
// item to end exactly as without the copies.
func TestReplayedPairsCountOnce(t *testing.T) {
	cfg := sessiongen.DefaultConfig()
	cfg.Sessions = 3000
	stream := sessiongen.Generate(cfg)
	clean := newSim(t, recommendations.DefaultPolicy())
	noisy := newSim(t, recommendations.DefaultPolicy())
	noisy.replays = 0.2
	for _, ev := range stream.Events {
		clean.apply(ev)
		noisy.apply(ev)
	}
	if noisy.pairs == clean.pairs {
		t.Fatal("nothing was replayed")
	}
	if noisy.counted != clean.counted || !reflect.DeepEqual(noisy.items, clean.items) {
		t.Fatalf("replays changed the items: counted %d vs %d", noisy.counted, clean.counted)
	}
}
