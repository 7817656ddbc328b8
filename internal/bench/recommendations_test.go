package bench

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/valyala/fasthttp"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/sessiongen"
	"github.com/titan-commerce/titan/processors/recommendations"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
	"github.com/titan-commerce/titan/topologies/recommendationstopo"
)

const (
	// recsEvents views are produced at once in BenchmarkRecommendationEvents:
	// the first of a generated day of recsSessions sessions (sessiongen's
	// shop of 1,000 items and 3,000 users), which hold a few more.
	recsEvents   = 50_000
	recsSessions = 10_000
	// recsWarmSessions make the warm-up round: every group has processed
	// records and every producer has connected before the clock runs.
	recsWarmSessions = 300
	recsSeed         = 20261126
	// recsSpan is how long before the send the generated sessions start:
	// a day's browsing, ending about now.
	recsSpan = 24 * time.Hour
	// recsCatchUp bounds waiting for the groups' commits after a round;
	// they commit once a second.
	recsCatchUp = 2 * time.Minute
)

// BenchmarkRecommendationEvents is view events/s through the
// recommendations on one instance (inventory and recommendations, no API,
// 8 partitions): recsEvents views of a generated day ending now are
// produced as fast as the producer takes them, keyed by user; the users
// group turns each into pairs with the other items of its session, keyed
// by item, and the items group counts each pair into its item's neighbors.
// The clock runs from the first send to the last item state the items
// group writes, read back from its changelog: every record of pairs with
// one counted writes one, and the in-memory replay of the same views
// (recsReplay) says how many pairs, records and writes there are. Its ceiling is BenchmarkRecommendationEventsCeiling.
//
// After each round, off the clock, the users group must have committed the
// end of the views topic and the items group the end of the pairs topic,
// and the pairs topic must have gained exactly the replay's records: a
// figure from a run that lost or doubled pairs is not reported.
//
// pairs/s is the same time over the pairs; records/s counts the views and
// the records of pairs, the records its ceiling moves; written/event is everything
// the namespace's topics gained per view, the two tables' changelogs
// included; state-KB/pair is what the items group writes to its changelog
// (and Pebble) per pair counted, keys and values: the item's head and the
// neighbors the pair changed.
func BenchmarkRecommendationEvents(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	rig := startRecs(b, brokers, false)
	run := runID()
	names := rig.names
	viewsTopic, pairsTopic := string(names.Views), string(names.Pairs)
	var topics []string
	for _, t := range recsTopics(rig.ns) {
		topics = append(topics, t.Name)
	}
	stages := [][2]string{{string(names.UsersGroup), viewsTopic}, {string(names.ItemsGroup), pairsTopic}}

	// prepare replays views to learn how many pairs they make and how
	// many the items count, off the clock.
	prepare := func(views []*recommendationsv1.ViewEvent) recsRound {
		model := newRecsReplay()
		model.all(views)
		return recsRound{recs: viewRecords(b, views, viewsTopic), pairs: model.pairs, counted: model.counted,
			records: model.records, writes: model.writes}
	}
	// round sends a prepared round's views and returns the times to the
	// last state write, read from states, and to the last
	// acknowledgement, and the bytes of the states written.
	round := func(r recsRound, states *tail) (done, acked time.Duration, stateBytes int64) {
		send := func(ctx context.Context, i int, fn func(error)) {
			rig.cl.Produce(ctx, r.recs[i], func(_ *kgo.Record, err error) { fn(err) })
		}
		done, acked = sendAndRead(b, len(r.recs), send, r.writes, states, func(rec *kgo.Record) bool {
			stateBytes += int64(len(rec.Key) + len(rec.Value))
			// A record with a pair counted writes its item's head once,
			// and its neighbors under keys after a NUL.
			return bytes.IndexByte(rec.Key, 0) < 0
		})
		return done, acked, stateBytes
	}
	// check fails the run unless both groups have committed everything
	// and the pairs topic gained want records.
	check := func(pairsBefore int64, want int) {
		ends := caughtUp(b, rig.adm, recsCatchUp, stages...)
		if got := sumOffsets(ends[1]) - pairsBefore; got != int64(want) {
			b.Fatalf("pairs topic gained %d records, the replay emits %d", got, want)
		}
	}
	pairsEnd := func() int64 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ends, err := kafkatest.EndOffsets(ctx, rig.adm, pairsTopic)
		if err != nil {
			b.Fatal(err)
		}
		return sumOffsets(ends)
	}

	before := pairsEnd()
	warm := prepare(recsViews(run+"-w", recsConfig(recsSeed+1, recsWarmSessions, recsSpan, time.Now()), 0))
	round(warm, newTail(b, brokers, string(names.ItemsTable())))
	check(before, warm.records)

	var (
		done, acked     time.Duration
		cpu             cpuClock
		pairs, counted  int
		records         int
		written, stored int64
	)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		views := recsViews(fmt.Sprintf("%s-%d", run, i), recsConfig(recsSeed, recsSessions, recsSpan, time.Now()), recsEvents)
		if len(views) < recsEvents {
			b.Fatalf("the generated day has %d views, want %d", len(views), recsEvents)
		}
		r := prepare(views)
		ends0 := settledOffsets(b, rig.adm, topics, time.Second)
		before := pairsEnd()
		states := newTail(b, brokers, string(names.ItemsTable()))
		b.StartTimer()
		cpu.start()
		d, a, sb := round(r, states)
		cpu.stop()
		b.StopTimer()
		check(before, r.records)
		ends1 := settledOffsets(b, rig.adm, topics, time.Second)
		for t, end := range ends1 {
			written += end - ends0[t]
		}
		b.StartTimer()
		done, acked, pairs, records, stored = done+d, acked+a, pairs+r.pairs, records+r.records, stored+sb
		counted += r.counted
	}
	b.StopTimer()
	total := float64(b.N * recsEvents)
	b.ReportMetric(total/done.Seconds(), "events/s")
	b.ReportMetric(float64(pairs)/done.Seconds(), "pairs/s")
	b.ReportMetric(total/acked.Seconds(), "ack-events/s")
	b.ReportMetric((total+float64(records))/done.Seconds(), "records/s")
	b.ReportMetric(float64(pairs)/total, "pairs/event")
	b.ReportMetric(float64(written)/total, "written/event")
	b.ReportMetric(float64(stored)/float64(counted)/1e3, "state-KB/pair")
	cpu.report(b, total, "event")
}

// BenchmarkRecommendationEventsCeiling bounds BenchmarkRecommendationEvents:
// the records the topology moves between topics for the same recsEvents
// views, each view and each record of pairs its replay emits (keyed by
// user and by item, encoded as the topology encodes them), produced with the sdk
// producer's settings to one fresh topic of 8 partitions and read back by
// one plain franz-go consumer, timed from the first send to the last
// record read.
//
// The topology moves them in two hops, the pairs only once their views
// are processed, and writes a state per view and per record besides; here
// every record is written at once by one producer and read by one
// consumer. records/s is the figure to set BenchmarkRecommendationEvents'
// records/s beside; events-equiv/s and pair-records-equiv/s are the same
// time over the views and over the records of pairs alone.
func BenchmarkRecommendationEventsCeiling(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	topic := kafkatest.Topics(b, brokers, partitions, "recs")["recs"]
	cl, err := kgo.NewClient(producerOpts(brokers)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	records := newTail(b, brokers, topic)
	run := runID()
	roundTrip := func(recs []*kgo.Record) time.Duration {
		send := func(ctx context.Context, i int, fn func(error)) {
			cl.Produce(ctx, recs[i], func(_ *kgo.Record, err error) { fn(err) })
		}
		// The idempotent producer writes each record once, and the topic
		// holds nothing else.
		done, _ := pipeline(b, len(recs), send, records, func(*kgo.Record) bool { return true })
		return done
	}
	roundTrip(recsCeilingRecords(b, recsViews(run+"-w", recsConfig(recsSeed+1, recsWarmSessions, recsSpan, time.Now()), 0), topic))

	var done time.Duration
	n := 0
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		views := recsViews(fmt.Sprintf("%s-%d", run, i), recsConfig(recsSeed, recsSessions, recsSpan, time.Now()), recsEvents)
		recs := recsCeilingRecords(b, views, topic)
		n += len(recs)
		b.StartTimer()
		done += roundTrip(recs)
	}
	b.StopTimer()
	total := float64(b.N * recsEvents)
	b.ReportMetric(float64(n)/done.Seconds(), "records/s")
	b.ReportMetric(total/done.Seconds(), "events-equiv/s")
	b.ReportMetric((float64(n)-total)/done.Seconds(), "pair-records-equiv/s")
	b.ReportMetric((float64(n)-total)/total, "pair-records/event")
}

// recsCeilingRecords are views' records followed by the records of pairs
// their replay emits, as the users group writes them.
func recsCeilingRecords(b *testing.B, views []*recommendationsv1.ViewEvent, topic string) []*kgo.Record {
	b.Helper()
	out := viewRecords(b, views, topic)
	model := newRecsReplay()
	for _, v := range views {
		for _, r := range recommendations.PairRecords(model.view(v)) {
			val, err := proto.Marshal(r)
			if err != nil {
				b.Fatal(err)
			}
			out = append(out, &kgo.Record{Topic: topic, Key: []byte(r.GetItem()), Value: val})
		}
	}
	return out
}

// recsRound is one round's views, ready to send, and what their replay
// says the topology makes of them.
type recsRound struct {
	recs []*kgo.Record
	// pairs the users group emits, counted those the items group counts;
	// records the pairs go out in, writes the item states written.
	pairs, counted, records, writes int
}

const (
	// stateItems is the catalogue BenchmarkRecommendationState spreads a
	// week of browsing over: sessiongen's shop scaled a hundredfold in
	// items, planted groups and head, with stateSessions sessions from
	// stateUsers users. The sessions are fewer than a hundredfold (which
	// would take minutes), so the tail is sparser than in the default
	// shop, as a large catalogue's is. One iteration takes some 40 s on
	// the 2-core machines, most of it Count copying whole neighbor lists
	// (it clones the state per pair) and the collector freeing the copies.
	stateItems    = 100_000
	stateUsers    = 100_000
	stateSessions = 160_000
)

// BenchmarkRecommendationState is what the items table holds for a week
// of views over stateItems items, with no broker: every view of a
// generated stream goes through View at its user and each pair through
// Count at its item, in time order, as the users and items groups do, with
// the default policy (at most 200 neighbors an item). One iteration
// replays the whole week into empty tables; the figures are per 100,000
// items that have a state (items that were seen in a session with another
// one).
//
// encoded-MB is what the items table keeps, keys and values
// (recommendationstopo.StoredBytes: each item's head and two keys per neighbor);
// heap-MB is the Go
// heap the states hold once the user histories are dropped, map included,
// as an in-memory store would. scores-MB is the floor: one 8-byte score
// per kept neighbor, which any representation of the lists must keep;
// the rest is the neighbors' SKUs, their second score and last time, the
// per-partition origins and the protobuf framing.
func BenchmarkRecommendationState(b *testing.B) {
	cfg := sessiongen.DefaultConfig()
	cfg.Seed = recsSeed
	cfg.Items, cfg.Users, cfg.Sessions = stateItems, stateUsers, stateSessions
	cfg.Groups, cfg.HeadItems = 100*cfg.Groups, 100*cfg.HeadItems
	views := recsViews("", cfg, 0)
	var (
		items map[string]recommendations.ItemState
		heap  uint64
		pairs int
	)
	b.ResetTimer()
	for range b.N {
		items = nil
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		// The user histories go with the replay, so the heap is the items'.
		items, pairs = func() (map[string]recommendations.ItemState, int) {
			r := newRecsReplay()
			r.all(views)
			return r.items, r.pairs
		}()
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = after.HeapAlloc - min(before.HeapAlloc, after.HeapAlloc)
	}
	b.StopTimer()
	runtime.KeepAlive(views)

	var encoded, neighbors int64
	full := 0
	for _, s := range items {
		v, err := recommendationstopo.StoredBytes(s, recommendations.DefaultPolicy())
		if err != nil {
			b.Fatal(err)
		}
		encoded += int64(v)
		neighbors += int64(len(s.Neighbors))
		if len(s.Neighbors) >= recommendations.DefaultPolicy().MaxNeighbors {
			full++
		}
	}
	if len(items) == 0 {
		b.Fatal("no item states")
	}
	n := float64(len(items))
	per := func(v int64) float64 { return float64(v) / n * 100_000 / 1e6 }
	b.ReportMetric(n, "items")
	b.ReportMetric(float64(len(views)), "views")
	b.ReportMetric(float64(pairs), "pairs")
	b.ReportMetric(per(encoded), "encoded-MB/100k-items")
	b.ReportMetric(per(int64(heap)), "heap-MB/100k-items")
	b.ReportMetric(per(8*neighbors), "scores-MB/100k-items")
	b.ReportMetric(float64(neighbors)/n, "neighbors/item")
	b.ReportMetric(float64(full), "full-items")
}

const (
	// getRecItems items get a state before BenchmarkGetRecommendations
	// asks for them: sessiongen's shop with three times the items, browsed
	// for a day in getRecSessions sessions.
	getRecItems    = 3_000
	getRecSessions = 8_000
	getRecK        = 10
)

// BenchmarkGetRecommendations is the rate and latency of GET
// /v1/recommendations/items/{sku}?k=10 on one instance with the API:
// getClients clients in a closed loop for getFor, each asking for a
// random one of the items a generated day of views gave a state. The
// answer comes from the instance's view of the items table (Pebble,
// decoded), ranked at the request's time, each candidate looked up in the
// view of the stock table (which holds none of them here, so none is left
// out) and turned into JSON; no Kafka round trip is in the path. Its
// ceiling is BenchmarkGetRecommendationsCeiling.
//
// value-bytes is the mean stored state of the items asked for; the
// ceiling serves the replay's states of the same day, of the same sizes.
func BenchmarkGetRecommendations(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	rig := startRecs(b, brokers, true)
	addr := rig.inst.HTTPAddr()
	hc := httpClient(addr, getClients)
	// The namespace is fresh, so the views need no run prefix, and their
	// replay tells which items must answer and with how many neighbors.
	views := recsViews("", getRecsConfig(), 0)
	model := newRecsReplay()
	model.all(views)
	recs := viewRecords(b, views, string(rig.names.Views))
	ctx, cancel := context.WithTimeout(context.Background(), roundTimeout)
	defer cancel()
	if err := rig.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		b.Fatalf("views: %v", err)
	}
	caughtUp(b, rig.adm, roundTimeout, [2]string{string(rig.names.UsersGroup), string(rig.names.Views)},
		[2]string{string(rig.names.ItemsGroup), string(rig.names.Pairs)})
	skus := recsWaitServed(b, ctx, hc, addr, model)
	uris := make([]string, len(skus))
	for i, sku := range skus {
		uris[i] = recsItemURI(addr, sku)
	}
	// closedGetLoad resets the timer, which drops metrics reported before.
	closedGetLoad(b, hc, uris)
	b.ReportMetric(meanValueBytes(b, model, skus), "value-bytes")
	b.ReportMetric(float64(len(skus)), "items")
}

// BenchmarkGetRecommendationsCeiling bounds BenchmarkGetRecommendations as
// BenchmarkGetStockCeiling bounds BenchmarkGetStock: a fasthttp server
// whose one handler reads the key named in the path from a Pebble database
// and writes the stored bytes back as the body. The database holds, for
// each item, the state the replay of the same day of views gives it, as
// the items table stores it; the load is the same clients asking for the
// same items.
func BenchmarkGetRecommendationsCeiling(b *testing.B) {
	kafkatest.Brokers(b)
	model := newRecsReplay()
	model.all(recsViews("", getRecsConfig(), 0))
	skus := servedItems(model)
	db := ceilingDB(b)
	for _, sku := range skus {
		v, err := itemValue(model.items[sku])
		if err != nil {
			b.Fatal(err)
		}
		if err := db.Set([]byte(sku), v, pebble.NoSync); err != nil {
			b.Fatal(err)
		}
	}
	const prefix = "/v1/recommendations/items/"
	addr := serveBytes(b, db, prefix)
	uris := make([]string, len(skus))
	for i, sku := range skus {
		uris[i] = recsItemURI(addr, sku)
	}
	closedGetLoad(b, httpClient(addr, getClients), uris)
	b.ReportMetric(meanValueBytes(b, model, skus), "value-bytes")
	b.ReportMetric(float64(len(skus)), "items")
}

// getRecsConfig is the day BenchmarkGetRecommendations loads, ending now.
func getRecsConfig() sessiongen.Config {
	cfg := recsConfig(recsSeed, getRecSessions, recsSpan, time.Now())
	cfg.Items = getRecItems
	return cfg
}

func recsItemURI(addr, sku string) string {
	return fmt.Sprintf("http://%s/v1/recommendations/items/%s?k=%d", addr, sku, getRecK)
}

// servedItems are the items the replay gave a neighbor, in name order.
func servedItems(model *recsReplay) []string {
	var out []string
	for sku, s := range model.items {
		if len(s.Neighbors) > 0 {
			out = append(out, sku)
		}
	}
	slices.Sort(out)
	return out
}

func meanValueBytes(b *testing.B, model *recsReplay, skus []string) float64 {
	b.Helper()
	var n int
	for _, sku := range skus {
		v, err := itemValue(model.items[sku])
		if err != nil {
			b.Fatal(err)
		}
		n += len(v)
	}
	return float64(n) / float64(len(skus))
}

// recsWaitServed asks the API for every item the replay gave neighbors
// until each answers with as many as its state holds, up to k: the items
// group has written them all, and this waits for the API's view to have
// read them. It returns the items.
func recsWaitServed(b *testing.B, ctx context.Context, hc *fasthttp.HostClient, addr string, model *recsReplay) []string {
	b.Helper()
	skus := servedItems(model)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for _, sku := range skus {
		want := min(getRecK, len(model.items[sku].Neighbors))
		req.SetRequestURI(recsItemURI(addr, sku))
		for {
			err := hc.DoTimeout(req, resp, requestTimeout)
			got := -1
			if err == nil && resp.StatusCode() == fasthttp.StatusOK {
				// Each recommendation carries one "reason".
				got = strings.Count(string(resp.Body()), `"reason"`)
				if got >= want {
					break
				}
			}
			if err == nil && resp.StatusCode() != fasthttp.StatusOK && resp.StatusCode() != fasthttp.StatusServiceUnavailable {
				err = fmt.Errorf("status %d: %s", resp.StatusCode(), resp.Body())
			}
			if err != nil {
				b.Fatalf("reading %s: %v", sku, err)
			}
			select {
			case <-ctx.Done():
				b.Fatalf("%s has %d recommendations, want %d: %v", sku, got, want, ctx.Err())
			case <-tick.C:
			}
		}
	}
	return skus
}

// ceilingDB is a Pebble database set up as Titan's storages are.
func ceilingDB(b *testing.B) *pebble.DB {
	b.Helper()
	cache := pebble.NewCache(64 << 20)
	b.Cleanup(cache.Unref)
	db, err := pebble.Open(b.TempDir(), &pebble.Options{Cache: cache, Logger: quietPebble{}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := db.Close(); err != nil {
			b.Errorf("close pebble: %v", err)
		}
	})
	return db
}

// serveBytes serves db's values under prefix (the key is the rest of the
// path) until the benchmark ends, and returns the address.
func serveBytes(b *testing.B, db *pebble.DB, prefix string) string {
	b.Helper()
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			key, ok := strings.CutPrefix(string(ctx.Path()), prefix)
			if !ok {
				ctx.SetStatusCode(fasthttp.StatusNotFound)
				return
			}
			v, closer, err := db.Get([]byte(key))
			if err != nil {
				ctx.SetStatusCode(fasthttp.StatusNotFound)
				return
			}
			ctx.SetBody(v) // copies, so the closer may go
			_ = closer.Close()
		},
		ReadTimeout:  10 * time.Second,
		WriteTimeout: 10 * time.Second,
		IdleTimeout:  60 * time.Second,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.ShutdownWithContext(ctx); err != nil {
			b.Errorf("shutdown: %v", err)
		}
		<-served
	})
	return ln.Addr().String()
}
