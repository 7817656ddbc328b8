package bench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/valyala/fasthttp"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/processors/flashsale"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
)

const (
	// purchaseLatencyUsers buyers share the attempts, each far under the
	// limit, so every answer is 201 and no buyer's key grows large.
	purchaseLatencyUsers = 1000
	purchaseLatencyLimit = 1000
	// purchaseLatencyRate is the reserve benchmark's first rate.
	purchaseLatencyRate = 200.0
)

// BenchmarkFlashSalePurchaseLatency is the p50 and p99 of POST
// /v1/flash-sales/{id}/purchases on one instance with the API, at the
// reserve benchmark's first rate (purchaseLatencyRate requests/s for reserveFor, after
// reserveWarmup unrecorded), open loop over keep-alive connections, on
// one sale of one bucket (the API's default) on one SKU with far more
// units than the run buys. The sale is created through the API and its
// bucket is open before anything is sent. Its ceiling is
// BenchmarkFlashSalePurchaseLatencyCeiling.
//
// A 202 (no result within the API's command wait) counts as a latency of
// that wait and in "pending"; other answers than 201 count in "failed".
// The stage medians split a request as the reserve benchmark's do, at the
// attempt's time (set by the API just before it produces) and the time
// goka's producer batched the result event: the "process" stage is the
// purchase crossing the commands topic and the loop topic twice.
func BenchmarkFlashSalePurchaseLatency(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	ns := kafkatest.Prefix(b)
	inst := startTitanIn(b, brokers, ns, true)
	rig := newFlashRig(b, brokers, ns)
	addr := inst.HTTPAddr()
	hc := httpClient(addr, 512)
	restockHTTP(b, hc, addr, 1, 1_000_000)
	run := runID()
	sale := sales(run, 1, 1, 100_000, purchaseLatencyLimit, time.Now())[0]
	sale.SKU = skuName(0)
	createSaleHTTP(b, hc, addr, sale)
	rig.awaitOpen(b, []flashsale.Sale{sale})

	const warmup, measured = "w", "m"
	var (
		seq     atomic.Int64
		pending atomic.Int64
		errs    = new(errorsOnce)
		timed   = newTimeline()
	)
	fire := func(rec *Recorder, phase string) func(time.Time) {
		return func(due time.Time) {
			i := seq.Add(1)
			key := fmt.Sprintf("%s-%s%d", run, phase, i)
			user := fmt.Sprintf("user-%04d", i%purchaseLatencyUsers)
			status, body, err := purchaseHTTP(hc, addr, sale.ID, user, key)
			switch {
			case err != nil:
				rec.Fail()
				errs.add(err)
			case status == fasthttp.StatusCreated:
				rec.Observe(time.Since(due))
				if phase == measured {
					timed.answered(flashsale.PurchaseKey(sale.ID, key), due, time.Now())
				}
			case status == fasthttp.StatusAccepted:
				pending.Add(1)
				rec.Observe(time.Since(due))
			default:
				rec.Fail()
				errs.add(fmt.Errorf("status %d: %s", status, body))
			}
		}
	}

	OpenLoop(context.Background(), purchaseLatencyRate, reserveWarmup, fire(new(Recorder), warmup))
	events := newTail(b, brokers, string(rig.fs.Events))
	pending.Store(0)
	rec := new(Recorder)
	b.ResetTimer()
	for range b.N {
		OpenLoop(context.Background(), purchaseLatencyRate, reserveFor, fire(rec, measured))
	}
	b.StopTimer()
	errs.log(b)
	reportLatency(b, rec.Summary())
	b.ReportMetric(float64(pending.Load()), "pending")
	stages, err := purchaseStages(timed, events)
	if err != nil {
		b.Fatalf("stages: %v", err)
	}
	for i, name := range []string{"send", "process", "return"} {
		b.ReportMetric(Millis(stages[i].Quantile(0.5)), name+"-p50-ms")
	}
}

// purchaseStages is timeline.stages for purchase results, which the
// timeline holds by purchase key: due to the attempt's time, the attempt's
// time to the result's record time, the record time to the answer.
func purchaseStages(t *timeline, events *tail) ([3]Summary, error) {
	t.mu.Lock()
	want := maps.Clone(t.mu.by)
	t.mu.Unlock()
	var recs [3]Recorder
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := events.until(ctx, len(want), func(r *kgo.Record) bool {
		span, ok := want[string(r.Key)]
		if !ok {
			return false
		}
		var w flashsalev1.Result
		if err := proto.Unmarshal(r.Value, &w); err != nil {
			return false
		}
		delete(want, string(r.Key))
		sent := time.UnixMilli(w.GetTimestampMs())
		recs[0].Observe(sent.Sub(span[0]))
		recs[1].Observe(r.Timestamp.Sub(sent))
		recs[2].Observe(span[1].Sub(r.Timestamp))
		return true
	})
	return [3]Summary{recs[0].Summary(), recs[1].Summary(), recs[2].Summary()}, err
}

// BenchmarkFlashSalePurchaseLatencyCeiling bounds
// BenchmarkFlashSalePurchaseLatency as BenchmarkReserveLatencyCeiling
// bounds the reserve: at the same rate and for as long, open loop, each
// request is one synchronous produce (the sdk producer's settings) of the
// Purchase message the API would send, keyed by the buyer's key, then a
// wait for a consumer tailing the topic to read that record back. A
// purchase crosses Kafka four times (commands, loop twice, events) and is
// processed three times in between; this is one crossing with nothing
// done.
func BenchmarkFlashSalePurchaseLatencyCeiling(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	topic := kafkatest.Topics(b, brokers, partitions, "rtt")["rtt"]
	cl, err := kgo.NewClient(producerOpts(brokers)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	// The API's results consumer waits at most 500 ms per fetch.
	tl := newTail(b, brokers, topic, kgo.FetchMaxWait(500*time.Millisecond))
	w := newWaiters()
	ctx, cancel := context.WithCancel(context.Background())
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		w.dispatch(ctx, tl.cl)
	}()
	b.Cleanup(func() { cancel(); <-dispatched })

	run := runID()
	router := flashsale.NewKeys(partitions)
	saleID := run + "-0000"
	var seq atomic.Int64
	errs := new(errorsOnce)
	fire := func(rec *Recorder) func(time.Time) {
		return func(due time.Time) {
			i := seq.Add(1)
			id := strconv.FormatInt(i, 10)
			user := fmt.Sprintf("user-%04d", i%purchaseLatencyUsers)
			m := flashsale.Message{Kind: flashsale.KindPurchase, SaleID: saleID, Key: router.User(saleID, user),
				Time: wireTime(time.Now()), IdempotencyKey: fmt.Sprintf("%s-%d", run, i), UserID: user, Qty: 1}
			v, err := proto.Marshal(flashsale.MessageToWire(m))
			if err != nil {
				rec.Fail()
				errs.add(err)
				return
			}
			got, stop := w.wait(id)
			defer stop()
			rctx, cancel := context.WithTimeout(ctx, requestTimeout)
			defer cancel()
			r := &kgo.Record{Topic: topic, Key: []byte(m.Key), Value: v, Headers: []kgo.RecordHeader{{Key: "id", Value: []byte(id)}}}
			if err := cl.ProduceSync(rctx, r).FirstErr(); err != nil {
				rec.Fail()
				errs.add(err)
				return
			}
			select {
			case <-got:
				rec.Observe(time.Since(due))
			case <-rctx.Done():
				rec.Fail()
				errs.add(errors.New("record not read back in time"))
			}
		}
	}

	OpenLoop(ctx, purchaseLatencyRate, reserveWarmup, fire(new(Recorder)))
	rec := new(Recorder)
	b.ResetTimer()
	for range b.N {
		OpenLoop(ctx, purchaseLatencyRate, reserveFor, fire(rec))
	}
	b.StopTimer()
	errs.log(b)
	reportLatency(b, rec.Summary())
}
