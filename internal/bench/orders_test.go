package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/ordergen"
	"github.com/titan-commerce/titan/processors/fraud"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

const (
	// orderCount orders are placed at once in BenchmarkOrders, by
	// orderUsers users over orderSKUs SKUs: about 1.75 lines an order, so
	// some 8,750 reservations, and enough orders that the start and the
	// drain of the burst are a small part of it.
	orderCount  = 5_000
	orderUsers  = 5_000
	orderSKUs   = 500
	orderWarmup = 250
	// orderSeed fixes the day, so the pipeline and its ceiling count the
	// same lines.
	orderSeed = 20261127

	// Records the pipeline writes for a confirmed order, over every topic
	// of the namespace (streams and changelogs), as topicDelta breaks
	// them down: a part per order and a part per line. BenchmarkOrders
	// measures records/order from the topics' end offsets in the same
	// run, and a figure apart from this model means the pipeline changed.
	//
	// Per order: the checkout event, the observation, its two loop hops,
	// three fraud entities, the decision, the outcome, and the saga's
	// table written on placement and on the decision (which quotes every
	// line from the pricing table, with no record of its own).
	// Per line: the reserve and the commit, each with its result on the
	// events and the order-events topics, the stock's changelog and the
	// order index's; the saga state on the reservation and on the commit;
	// and the pricing's demand state on the two inventory events.
	recordsPerOrder = 11
	recordsPerLine  = 14
)

// BenchmarkOrders is orders/s through the whole saga on one instance
// (inventory and order pipeline, no API, 8 partitions): orderCount
// OrderPlaced events of a generated day (ordergen, no planted fraud, every
// SKU priced and stocked far beyond the day) are produced as fast as the
// producer takes them, and the clock runs from the first send to the last
// of their outcomes read from the outcomes topic. Each order visits the
// fraud group three times (device, card, user) and the inventory twice per
// line (reserve, commit) besides the saga's three or more steps; the saga
// quotes the lines from its lookup of the pricing table. Its ceiling is BenchmarkOrdersCeiling.
//
// records/s is every record the namespace's topics gained (streams and
// changelogs, counted from their end offsets once they stop moving) over
// the same time; records/order is that count per order. The outcome-*
// metrics count the outcomes by reason: the day is honest and the stock
// plenty, so nearly all should be confirmed; a fraud rejection is the
// model's opinion of a day replayed in seconds, a price_mismatch a price
// that demand moved.
func BenchmarkOrders(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	rig := startOrders(b, brokers)
	run := runID()
	// The day ends now: fraud windows run on event time, the sweeper on
	// the wall clock.
	start := time.Now().Add(-24 * time.Hour)
	warm := orderDay(run+"-w", orderSeed, orderUsers, orderSKUs, orderWarmup, start)
	rig.stockUp(b, run, warm.Catalog, start.Add(-time.Hour))
	outcomes := newTail(b, brokers, string(rig.ord.Outcomes))
	roundTrip := func(recs []*kgo.Record) (done, acked time.Duration, reasons map[string]int) {
		reasons = map[string]int{}
		send := func(ctx context.Context, i int, fn func(error)) {
			rig.cl.Produce(ctx, recs[i], func(_ *kgo.Record, err error) { fn(err) })
		}
		done, acked = pipeline(b, len(recs), send, outcomes, outcomeMatcher(recs, reasons))
		return done, acked, reasons
	}
	roundTrip(placedRecords(b, warm, string(rig.ord.Events)))

	adm := kafkatest.Admin(b, brokers)
	var topics []string
	for _, t := range orderTopics(rig.ns) {
		topics = append(topics, t.Name)
	}
	var (
		done, acked time.Duration
		cpu         cpuClock
		written     int64
		reasons     = map[string]int{}
	)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		day := orderDay(fmt.Sprintf("%s-%d", run, i), orderSeed, orderUsers, orderSKUs, orderCount, start)
		recs := placedRecords(b, day, string(rig.ord.Events))
		before := settledOffsets(b, adm, topics, time.Second)
		b.StartTimer()
		cpu.start()
		d, a, rs := roundTrip(recs)
		cpu.stop()
		b.StopTimer()
		after := settledOffsets(b, adm, topics, time.Second)
		written += topicDelta(b, rig.ns, before, after, len(recs))
		b.StartTimer()
		done, acked = done+d, acked+a
		for r, n := range rs {
			reasons[r] += n
		}
	}
	b.StopTimer()
	total := float64(b.N * orderCount)
	b.ReportMetric(total/done.Seconds(), "orders/s")
	b.ReportMetric(total/acked.Seconds(), "ack-orders/s")
	b.ReportMetric(float64(written)/done.Seconds(), "records/s")
	b.ReportMetric(float64(written)/total, "records/order")
	b.ReportMetric(float64(modelRecords(orderDay(run, orderSeed, orderUsers, orderSKUs, orderCount, start)))/float64(orderCount), "model-records/order")
	cpu.report(b, total, "order")
	reportReasons(b, reasons)
}

// modelRecords is what the pipeline writes for day's orders when every one
// is confirmed, by the recordsPerOrder and recordsPerLine model.
func modelRecords(day ordergen.Day) int {
	n := 0
	for _, e := range day.Events {
		n += recordsPerOrder + recordsPerLine*len(e.Order.GetPlaced().GetLines())
	}
	return n
}

// reportReasons reports the outcomes by reason, confirmed always, the
// rejection reasons that occurred in name order.
func reportReasons(b *testing.B, reasons map[string]int) {
	b.ReportMetric(float64(reasons["confirmed"]), "outcome-confirmed")
	var names []string
	for r := range reasons {
		if r != "confirmed" {
			names = append(names, r)
		}
	}
	sort.Strings(names)
	for _, r := range names {
		b.ReportMetric(float64(reasons[r]), "outcome-"+r)
	}
}

// BenchmarkOrdersCeiling bounds BenchmarkOrders: as many records as the
// pipeline writes for the same orderCount orders (modelRecords of the same
// day), produced with the sdk producer's settings to one fresh topic of 8
// partitions and read back by one plain franz-go consumer, timed from the
// first send to the last record read. The values are the day's checkout
// events, each sent as many times as its order makes records, under keys
// that spread them over the partitions.
//
// The pipeline writes those records hop after hop, each hop waiting for
// the one before, on five goka groups whose changelog and emit producers
// share this process with their consumers; here every record is written
// at once by one producer and read by one consumer. So this is the cost
// of moving the pipeline's records through this broker and nothing else:
// records/s is the figure to set BenchmarkOrders' records/s beside, and
// orders-equiv/s is it divided by the model's records per order.
func BenchmarkOrdersCeiling(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	topic := kafkatest.Topics(b, brokers, partitions, "orders")["orders"]
	cl, err := kgo.NewClient(producerOpts(brokers)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	records := newTail(b, brokers, topic)
	run := runID()
	start := time.Now().Add(-24 * time.Hour)
	roundTrip := func(recs []*kgo.Record) time.Duration {
		send := func(ctx context.Context, i int, fn func(error)) {
			cl.Produce(ctx, recs[i], func(_ *kgo.Record, err error) { fn(err) })
		}
		// The idempotent producer writes each record once, and the topic
		// holds nothing else.
		done, _ := pipeline(b, len(recs), send, records, func(*kgo.Record) bool { return true })
		return done
	}
	roundTrip(ceilingRecords(b, orderDay(run+"-w", orderSeed, orderUsers, orderSKUs, orderWarmup, start), topic))

	var done time.Duration
	n := 0
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		recs := ceilingRecords(b, orderDay(fmt.Sprintf("%s-%d", run, i), orderSeed, orderUsers, orderSKUs, orderCount, start), topic)
		n += len(recs)
		b.StartTimer()
		done += roundTrip(recs)
	}
	b.StopTimer()
	b.ReportMetric(float64(n)/done.Seconds(), "records/s")
	b.ReportMetric(float64(b.N*orderCount)/done.Seconds(), "orders-equiv/s")
	b.ReportMetric(float64(n)/float64(b.N*orderCount), "model-records/order")
}

// ceilingRecords repeats each order's checkout event once per record the
// model says its order writes, keyed apart so they spread as the
// pipeline's many keys do.
func ceilingRecords(b *testing.B, day ordergen.Day, topic string) []*kgo.Record {
	b.Helper()
	out := make([]*kgo.Record, 0, modelRecords(day))
	for _, r := range placedRecords(b, day, topic) {
		var ev ordersv1.OrderEvent
		if err := proto.Unmarshal(r.Value, &ev); err != nil {
			b.Fatal(err)
		}
		k := recordsPerOrder + recordsPerLine*len(ev.GetPlaced().GetLines())
		for j := range k {
			out = append(out, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "%s/%d", r.Key, j), Value: r.Value})
		}
	}
	return out
}

// orderLatencyRates are the open loop's rates, one sub-benchmark each: a
// busy shop's checkouts for one instance, and four times that, both under
// what BenchmarkOrders sustains, so the figures are latency, not queueing.
var orderLatencyRates = []float64{50, 200}

// orderLatencyCount is how many orders the sub-benchmarks of one run send
// together, warm-ups included, when each runs one iteration, as they do:
// one takes longer than the default -benchtime.
func orderLatencyCount() int {
	n := 0
	for _, rate := range orderLatencyRates {
		n += int(rate*(orderLatencyWarmup+orderLatencyFor).Seconds()) + int(rate)
	}
	return n
}

const (
	orderLatencyFor    = 10 * time.Second
	orderLatencyWarmup = 2 * time.Second
	orderLatencyUsers  = 2_000
	// orderTimeout is far past any saga's time at this rate: an order that
	// takes it is broken, and counts as failed.
	orderTimeout = 30 * time.Second
)

// BenchmarkOrderLatency is the p50 and p99 from the produce of an
// OrderPlaced to the consumption of its outcome, at each of
// orderLatencyRates orders/s for orderLatencyFor (after orderLatencyWarmup unrecorded), open
// loop, on one instance (inventory and order pipeline, no API). Each order
// is a checkout of the generated day stamped with the time it is due,
// produced synchronously with the sdk producer's settings; a consumer
// tailing the outcomes topic as the API's outcome consumer does hands
// each outcome to the order waiting for it. Its ceiling is
// BenchmarkOrderLatencyCeiling.
//
// An order crosses Kafka some eight times one after another: checkout,
// observation, two fraud loop hops, decision, reserve, reserved event,
// outcome (the saga quotes from its lookup of the pricing table). A fraud
// rejection skips the last three and is faster, so outcome-confirmed says
// how many took the whole path.
func BenchmarkOrderLatency(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	rig := startOrders(b, brokers)
	run := runID()
	day := orderDay(run, orderSeed, orderLatencyUsers, orderSKUs, orderLatencyCount(), time.Now().Add(-24*time.Hour))
	rig.stockUp(b, run, day.Catalog, time.Now().Add(-25*time.Hour))
	w := startDispatch(b, brokers, string(rig.ord.Outcomes))
	send := func(ctx context.Context, ev *ordersv1.OrderEvent) (string, error) {
		v, err := proto.Marshal(ev)
		if err != nil {
			return "", err
		}
		got, stop := w.wait(ev.GetOrderId())
		defer stop()
		r := &kgo.Record{Topic: string(rig.ord.Events), Key: []byte(ev.GetOrderId()), Value: v}
		if err := rig.cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			return "", err
		}
		select {
		case out := <-got:
			var oc ordersv1.OrderEvent
			if err := proto.Unmarshal(out.Value, &oc); err != nil {
				return "", err
			}
			return outcomeReason(&oc), nil
		case <-ctx.Done():
			return "", errors.New("no outcome in time")
		}
	}
	var seq atomic.Int64
	forRates(b, orderLatencyRates, func(b *testing.B, rate float64) { measureOrderLatency(b, rate, day, &seq, send) })
}

// BenchmarkOrderLatencyCeiling bounds BenchmarkOrderLatency as
// BenchmarkReserveLatencyCeiling bounds the reserve: at the same rate and
// for as long, open loop, each order is one synchronous produce (the sdk
// producer's settings) of the same checkout event, keyed by its order id,
// then a wait for a consumer tailing the topic the same way to read that
// record back. One crossing of Kafka with nothing done, where the saga
// makes about eight in a row.
func BenchmarkOrderLatencyCeiling(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	topic := kafkatest.Topics(b, brokers, partitions, "rtt")["rtt"]
	cl, err := kgo.NewClient(producerOpts(brokers)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	w := startDispatch(b, brokers, topic)
	run := runID()
	day := orderDay(run, orderSeed, orderLatencyUsers, orderSKUs, orderLatencyCount(), time.Now().Add(-24*time.Hour))
	send := func(ctx context.Context, ev *ordersv1.OrderEvent) (string, error) {
		v, err := proto.Marshal(ev)
		if err != nil {
			return "", err
		}
		got, stop := w.wait(ev.GetOrderId())
		defer stop()
		r := &kgo.Record{Topic: topic, Key: []byte(ev.GetOrderId()), Value: v}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			return "", err
		}
		select {
		case <-got:
			// What comes back is the checkout event itself: no outcome.
			return "", nil
		case <-ctx.Done():
			return "", errors.New("record not read back in time")
		}
	}
	var seq atomic.Int64
	forRates(b, orderLatencyRates, func(b *testing.B, rate float64) { measureOrderLatency(b, rate, day, &seq, send) })
}

// measureOrderLatency sends the day's orders, from the one after seq on,
// one each at the open loop's due times at rate, stamped with them, the
// warm-up unrecorded, and reports the latency quantiles and, when send
// returns reasons, the measured orders' outcomes by reason.
func measureOrderLatency(b *testing.B, rate float64, day ordergen.Day, seq *atomic.Int64, send func(context.Context, *ordersv1.OrderEvent) (string, error)) {
	b.Helper()
	var (
		errs    = new(errorsOnce)
		reasons = new(reasonCounts)
	)
	reasons.mu.by = map[string]int{}
	fire := func(rec *Recorder, counted bool) func(time.Time) {
		return func(due time.Time) {
			i := seq.Add(1) - 1
			if i >= int64(len(day.Events)) {
				// More iterations than orderLatencyCount planned for.
				rec.Fail()
				errs.add(errors.New("the day's orders ran out"))
				return
			}
			ev := day.Events[i].Order
			ev.TimestampMs = due.UnixMilli()
			ctx, cancel := context.WithTimeout(context.Background(), orderTimeout)
			defer cancel()
			reason, err := send(ctx, ev)
			if err != nil {
				rec.Fail()
				errs.add(err)
				return
			}
			rec.Observe(time.Since(due))
			if counted && reason != "" {
				reasons.add(reason)
			}
		}
	}
	OpenLoop(context.Background(), rate, orderLatencyWarmup, fire(new(Recorder), false))
	rec := new(Recorder)
	b.ResetTimer()
	for range b.N {
		OpenLoop(context.Background(), rate, orderLatencyFor, fire(rec, true))
	}
	b.StopTimer()
	errs.log(b)
	reportLatency(b, rec.Summary())
	reasons.mu.Lock()
	defer reasons.mu.Unlock()
	if len(reasons.mu.by) > 0 {
		reportReasons(b, reasons.mu.by)
	}
}

// reasonCounts counts outcomes by reason from many goroutines.
type reasonCounts struct {
	mu struct {
		sync.Mutex
		by map[string]int
	}
}

func (r *reasonCounts) add(reason string) {
	r.mu.Lock()
	r.mu.by[reason]++
	r.mu.Unlock()
}

const (
	// fraudUsers users make fraudOrders orders in the day replayed for
	// BenchmarkFraudMemory: 2.5 orders a user, ordergen's default shape
	// (8,000 users, 20,000 orders) scaled up, with its planted fraud and
	// failed payments.
	fraudUsers  = 100_000
	fraudOrders = 250_000
)

// BenchmarkFraudMemory is what the fraud table holds for a day of
// fraudUsers users, with no broker: every event of a generated day goes
// through fraud.Step device -> card -> user in time order, as the fraud
// group's stages do, with the deployed model. One iteration replays the
// whole day into an empty table; the figures are per 100,000 users that
// ordered (users with a "u:" entity), and the devices and cards they used.
//
// encoded-MB is the table's values as the changelog and Pebble store them
// (proto.Marshal of fraud.EntityToWire), split by kind in u-, d- and
// c-encoded-MB; heap-MB is the Go heap the entities hold, map included, as
// a view or an in-memory store would. counters-MB is the reference: only
// the window counters (orders, amount, failed per bucket), 8 bytes each,
// which any representation must keep; the rest is bucket times, members,
// dedupe origins, recent decisions and keys.
func BenchmarkFraudMemory(b *testing.B) {
	cfg := ordergen.DefaultConfig()
	cfg.Seed = orderSeed
	cfg.Users, cfg.LegitOrders = fraudUsers, fraudOrders
	day := ordergen.Generate(cfg)
	m, err := fraud.ParseModel(fraud.DefaultModelJSON)
	if err != nil {
		b.Fatal(err)
	}
	var (
		entities map[string]fraud.Entity
		heap     uint64
	)
	b.ResetTimer()
	for range b.N {
		entities = nil
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		entities = replayFraud(b, day, m)
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = after.HeapAlloc - min(before.HeapAlloc, after.HeapAlloc)
	}
	b.StopTimer()
	runtime.KeepAlive(day)

	var encoded [4]int64 // by fraud.Stage
	var counters, users int64
	for key, e := range entities {
		v, err := proto.Marshal(fraud.EntityToWire(e))
		if err != nil {
			b.Fatal(err)
		}
		st := fraud.StageOf(key)
		encoded[st] += int64(len(v))
		counters += 3 * 8 * int64(len(e.Fine)+len(e.Minutes)+len(e.Hours))
		if st == fraud.StageUser {
			users++
		}
	}
	if users == 0 {
		b.Fatal("no user entities")
	}
	per := func(n int64) float64 { return float64(n) / float64(users) * 100_000 / 1e6 }
	b.ReportMetric(float64(users), "users")
	b.ReportMetric(per(encoded[fraud.StageUser]+encoded[fraud.StageDevice]+encoded[fraud.StageCard]), "encoded-MB/100k-users")
	b.ReportMetric(per(encoded[fraud.StageUser]), "u-encoded-MB/100k-users")
	b.ReportMetric(per(encoded[fraud.StageDevice]), "d-encoded-MB/100k-users")
	b.ReportMetric(per(encoded[fraud.StageCard]), "c-encoded-MB/100k-users")
	b.ReportMetric(per(int64(heap)), "heap-MB/100k-users")
	b.ReportMetric(per(counters), "counters-MB/100k-users")
}

// replayFraud runs every event of day through the stages in memory, each
// stage reading its stream in order, and returns the table.
func replayFraud(b *testing.B, day ordergen.Day, m *fraud.Model) map[string]fraud.Entity {
	entities := map[string]fraud.Entity{}
	offsets := map[int32]int64{}
	policy := fraud.DefaultPolicy()
	for i, ev := range day.Events {
		o := observation(ev.Order, fraud.Origin{Stream: fraud.StreamSaga, Offset: int64(i)})
		for o != nil {
			stream := fraud.StreamLoop
			if o.Stage == fraud.StageDevice {
				stream = fraud.StreamObservations
			}
			at := fraud.Origin{Stream: stream, Offset: offsets[stream]}
			offsets[stream]++
			e, ok := entities[o.Key]
			if !ok {
				e = fraud.NewEntity(o.Key)
			}
			e, res := fraud.Step(e, *o, at, m, policy)
			if res.Err != nil {
				b.Fatalf("step %s: %v", o.Key, res.Err)
			}
			entities[o.Key] = e
			o = res.Forward
		}
	}
	return entities
}

// observation is what the saga sends fraud for a checkout event.
func observation(ev *ordersv1.OrderEvent, origin fraud.Origin) *fraud.Observation {
	t := time.UnixMilli(ev.GetTimestampMs()).UTC()
	var o fraud.Observation
	if p := ev.GetPlaced(); p != nil {
		o = fraud.NewObservation(fraud.KindOrder, ev.GetOrderId(), p.GetUserId(), p.GetDeviceId(), p.GetPaymentId(),
			p.GetCurrency(), ordergen.Total(ev), t, origin)
	} else {
		p := ev.GetPaymentFailed()
		o = fraud.NewObservation(fraud.KindPaymentFailed, ev.GetOrderId(), p.GetUserId(), p.GetDeviceId(), p.GetPaymentId(),
			"", p.GetAmountMinor(), t, origin)
	}
	return &o
}
