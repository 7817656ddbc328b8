package bench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/valyala/fasthttp"

	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas/codec"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// reserveRates are the open loop's rates, one sub-benchmark each: a busy
// shop's checkout rate for one instance, and five times that, both well
// under what it sustains, so the figures are latency, not queueing.
var reserveRates = []float64{200, 1000}

const (
	reserveFor = 5 * time.Second
	// reserveWarmup runs the same load first, unrecorded, so connections,
	// fetch sessions and caches are warm when the clock starts.
	reserveWarmup = time.Second
	reserveSKUs   = 100
	// requestTimeout is far past the API's 2 s command wait: a request
	// that takes it is broken, and counts as failed.
	requestTimeout = 10 * time.Second
)

// BenchmarkReserveLatency is the p50 and p99 of POST
// /v1/inventory/{sku}/reservations on one instance with the API, at each
// of reserveRates requests/s for reserveFor, open loop over keep-alive
// connections: each request is due at a fixed time, and its latency runs
// from then to its answer. Every SKU is stocked far beyond what the run
// reserves, so every answer is 201. Its ceiling is
// BenchmarkReserveLatencyCeiling.
//
// A 202 (the result did not come within the API's command wait) counts as
// a latency of that wait and in "pending"; other answers count in "failed".
//
// The three stage medians split a request where its result event records
// the times: due to the command's time (set by the API just before it
// produces), from there to when goka's producer batched the result event
// (the command crossing Kafka and the processor), and from there to the
// answer (the event crossing Kafka, the results consumer, the reply).
func BenchmarkReserveLatency(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	inst := startTitan(b, brokers, true)
	addr := inst.HTTPAddr()
	hc := httpClient(addr, 512)
	restockHTTP(b, hc, addr, reserveSKUs, 1_000_000)

	run := runID()
	var seq atomic.Int64
	forRates(b, reserveRates, func(b *testing.B, rate float64) {
		measureReserve(b, brokers, inst.Names().Events, hc, addr, run, &seq, rate)
	})
}

// measureReserve is one rate of BenchmarkReserveLatency; seq numbers the
// orders across rates.
func measureReserve(b *testing.B, brokers []string, eventsTopic goka.Stream, hc *fasthttp.HostClient, addr, run string, seq *atomic.Int64, rate float64) {
	const warmup, measured = "w", "m"
	var (
		pending atomic.Int64
		errs    = new(errorsOnce)
		timed   = newTimeline()
	)
	fire := func(rec *Recorder, phase string) func(time.Time) {
		return func(due time.Time) {
			i := seq.Add(1)
			order := fmt.Sprintf("%s-%s%d", run, phase, i)
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("http://" + addr + "/v1/inventory/" + skuName(int(i%reserveSKUs)) + "/reservations")
			req.Header.SetMethod(fasthttp.MethodPost)
			req.Header.SetContentType("application/json")
			req.SetBodyString(fmt.Sprintf(`{"order_id":"%s","qty":1,"ttl_ms":600000}`, order))
			err := hc.DoTimeout(req, resp, requestTimeout)
			switch {
			case err != nil:
				rec.Fail()
				errs.add(err)
			case resp.StatusCode() == fasthttp.StatusCreated:
				rec.Observe(time.Since(due))
				if phase == measured {
					timed.answered(order, due, time.Now())
				}
			case resp.StatusCode() == fasthttp.StatusAccepted:
				pending.Add(1)
				rec.Observe(time.Since(due))
			default:
				rec.Fail()
				errs.add(fmt.Errorf("status %d: %s", resp.StatusCode(), resp.Body()))
			}
		}
	}

	OpenLoop(context.Background(), rate, reserveWarmup, fire(new(Recorder), warmup))
	events := newTail(b, brokers, string(eventsTopic))
	pending.Store(0)
	rec := new(Recorder)
	b.ResetTimer()
	for range b.N {
		OpenLoop(context.Background(), rate, reserveFor, fire(rec, measured))
	}
	b.StopTimer()
	errs.log(b)
	reportLatency(b, rec.Summary())
	b.ReportMetric(float64(pending.Load()), "pending")
	stages, err := timed.stages(events)
	if err != nil {
		b.Fatalf("stages: %v", err)
	}
	for i, name := range []string{"send", "process", "return"} {
		b.ReportMetric(Millis(stages[i].Quantile(0.5)), name+"-p50-ms")
	}
}

// timeline keeps, per order, when its reserve was due and answered, and
// splits that span at the times its result event carries.
type timeline struct {
	mu struct {
		sync.Mutex
		by map[string][2]time.Time
	}
}

func newTimeline() *timeline {
	t := &timeline{}
	t.mu.by = map[string][2]time.Time{}
	return t
}

func (t *timeline) answered(order string, due, at time.Time) {
	t.mu.Lock()
	t.mu.by[order] = [2]time.Time{due, at}
	t.mu.Unlock()
}

// stages reads the result event of every answered order from events and
// summarises, in order: due to command time, command time to the event's
// record time, and the event's record time to the answer. Record times
// are in milliseconds, so each stage is good to about a millisecond.
func (t *timeline) stages(events *tail) ([3]Summary, error) {
	t.mu.Lock()
	want := maps.Clone(t.mu.by)
	t.mu.Unlock()
	var recs [3]Recorder
	dec := codec.Event()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := events.until(ctx, len(want), func(r *kgo.Record) bool {
		w, err := dec.DecodeMessage(r.Value)
		if err != nil || w.GetType() != inventoryv1.EventType_EVENT_TYPE_RESERVED {
			return false
		}
		span, ok := want[w.GetOrderId()]
		if !ok {
			return false
		}
		delete(want, w.GetOrderId())
		sent := time.UnixMilli(w.GetTimestampMs())
		recs[0].Observe(sent.Sub(span[0]))
		recs[1].Observe(r.Timestamp.Sub(sent))
		recs[2].Observe(span[1].Sub(r.Timestamp))
		return true
	})
	return [3]Summary{recs[0].Summary(), recs[1].Summary(), recs[2].Summary()}, err
}

// BenchmarkReserveLatencyCeiling bounds BenchmarkReserveLatency: at the
// same rate and for as long, open loop, each request is one synchronous
// produce (the sdk producer's settings, acks=all) of a reserve command
// keyed by its SKU, followed by waiting for a consumer that tails the
// topic, as the API's results consumer tails the events topic, to read
// that record back. A reservation crosses Kafka twice and is processed in
// between; this is one crossing with nothing done.
func BenchmarkReserveLatencyCeiling(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	topic := kafkatest.Topics(b, brokers, partitions, "rtt")["rtt"]
	measureCrossing(b, brokers, topic, topic)
}

// BenchmarkReserveLatencyGoka is BenchmarkReserveLatencyCeiling's load
// through the floor of BenchmarkCommandsGoka (records=titan) instead of one
// topic: each reserve is produced to the floor's commands topic, and the
// request ends when the event the floor writes for it, after its state
// writes were acknowledged as Titan's inventory's are, is read back from
// the events topic. Between the ceiling and BenchmarkReserveLatency: what
// the second crossing and goka's processing cost before any HTTP or any of
// Titan's work.
func BenchmarkReserveLatencyGoka(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	f := startFloor(b, brokers, true)
	measureCrossing(b, brokers, f.topic, f.eventsTopic)
}

// measureCrossing times reserves produced to in until a record carrying
// their "id" header is read back from out, at each of reserveRates.
func measureCrossing(b *testing.B, brokers []string, in, out string) {
	b.Helper()
	topic := in
	cl, err := kgo.NewClient(producerOpts(brokers)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	// The API's results consumer waits at most 500 ms per fetch.
	tl := newTail(b, brokers, out, kgo.FetchMaxWait(500*time.Millisecond))
	w := newWaiters()
	ctx, cancel := context.WithCancel(context.Background())
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		w.dispatch(ctx, tl.cl)
	}()
	b.Cleanup(func() { cancel(); <-dispatched })

	run := runID()
	enc := codec.Command()
	var seq atomic.Int64
	fire := func(rec *Recorder, errs *errorsOnce) func(time.Time) {
		return func(due time.Time) {
			i := seq.Add(1)
			id := strconv.FormatInt(i, 10)
			sku := skuName(int(i % reserveSKUs))
			cmd := inventory.CommandToWire(inventory.Command{
				ID: commandID(), Kind: inventory.KindReserve, SKU: sku,
				OrderID: fmt.Sprintf("%s-o%d", run, i), Qty: 1, TTL: 10 * time.Minute, Time: time.Now(),
			})
			v, err := enc.Encode(cmd)
			if err != nil {
				rec.Fail()
				errs.add(err)
				return
			}
			got, stop := w.wait(id)
			defer stop()
			rctx, cancel := context.WithTimeout(ctx, requestTimeout)
			defer cancel()
			r := &kgo.Record{Topic: topic, Key: []byte(sku), Value: v, Headers: []kgo.RecordHeader{{Key: "id", Value: []byte(id)}}}
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

	forRates(b, reserveRates, func(b *testing.B, rate float64) {
		errs := new(errorsOnce)
		OpenLoop(ctx, rate, reserveWarmup, fire(new(Recorder), errs))
		rec := new(Recorder)
		b.ResetTimer()
		for range b.N {
			OpenLoop(ctx, rate, reserveFor, fire(rec, errs))
		}
		b.StopTimer()
		errs.log(b)
		reportLatency(b, rec.Summary())
	})
}

// forRates runs measure as one sub-benchmark per rate, named rate=<n>, so
// that a figure and its ceiling at the same rate sort side by side.
func forRates(b *testing.B, rates []float64, measure func(b *testing.B, rate float64)) {
	b.Helper()
	for _, rate := range rates {
		b.Run(fmt.Sprintf("rate=%.0f", rate), func(b *testing.B) { measure(b, rate) })
	}
}

// waiters hands each record read back to the request waiting for it, by
// the record's "id" header: the shape of the API's results dispatcher.
type waiters struct {
	mu struct {
		sync.Mutex
		by map[string]chan struct{}
	}
}

func newWaiters() *waiters {
	w := &waiters{}
	w.mu.by = map[string]chan struct{}{}
	return w
}

// wait registers interest in id; call it before producing.
func (w *waiters) wait(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	w.mu.Lock()
	w.mu.by[id] = ch
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		delete(w.mu.by, id)
		w.mu.Unlock()
	}
}

func (w *waiters) dispatch(ctx context.Context, cl *kgo.Client) {
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fetches.EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key != "id" {
					continue
				}
				w.mu.Lock()
				ch, ok := w.mu.by[string(h.Value)]
				delete(w.mu.by, string(h.Value))
				w.mu.Unlock()
				if ok {
					close(ch)
				}
			}
		})
	}
}

// restockHTTP stocks skus SKUs with qty each through the API, a few
// requests at a time; it also warms the API's connections and the
// processor before anything is timed.
func restockHTTP(b *testing.B, hc *fasthttp.HostClient, addr string, skus int, qty int64) {
	b.Helper()
	var (
		wg   sync.WaitGroup
		next atomic.Int64
		errs = new(errorsOnce)
		bad  atomic.Int64
	)
	for range 8 {
		wg.Go(func() {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for i := int(next.Add(1)) - 1; i < skus; i = int(next.Add(1)) - 1 {
				req.SetRequestURI("http://" + addr + "/v1/inventory/" + skuName(i) + "/restock")
				req.Header.SetMethod(fasthttp.MethodPost)
				req.Header.SetContentType("application/json")
				req.SetBodyString(fmt.Sprintf(`{"qty":%d}`, qty))
				err := hc.DoTimeout(req, resp, requestTimeout)
				if err == nil && resp.StatusCode() != fasthttp.StatusOK {
					err = fmt.Errorf("status %d: %s", resp.StatusCode(), resp.Body())
				}
				if err != nil {
					bad.Add(1)
					errs.add(fmt.Errorf("restock %s: %w", skuName(i), err))
				}
			}
		})
	}
	wg.Wait()
	if n := bad.Load(); n > 0 {
		errs.log(b)
		b.Fatalf("%d of %d restocks failed", n, skus)
	}
}

// reportLatency reports a load run's quantiles in milliseconds and how
// many requests failed.
func reportLatency(b *testing.B, s Summary) {
	b.ReportMetric(Millis(s.Quantile(0.50)), "p50-ms")
	b.ReportMetric(Millis(s.Quantile(0.99)), "p99-ms")
	b.ReportMetric(float64(s.Failed), "failed")
}
