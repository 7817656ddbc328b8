package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/processors/flashsale"
)

const (
	// purchaseCount is each case's attempts, the size of the inventory
	// workload, so the two rates read side by side.
	purchaseCount = 20_000
	// purchaseRounds slices each case's attempts, and the cases take
	// turns round by round, so a neighbour's burst on the shared machine
	// lands on all three rather than on whichever ran then.
	purchaseRounds = 4
	// purchaseUsers buyers make purchaseCount/purchaseUsers = 4 attempts
	// each in every case (per sale in the spread case), one per round,
	// each of one unit, under a limit they never reach.
	purchaseUsers = 5_000
	purchaseLimit = 10
	// purchaseWarmup attempts by buyers of their own run first, untimed,
	// on the same sales: they create the first buyer keys, open fetch
	// sessions and warm the buckets' partitions.
	purchaseWarmup = 1_000
)

// purchaseCase is one shape of the load: the same attempts over sales
// sales of buckets buckets, each sale on a SKU of its own with units units.
// Units are far above the attempts, so every attempt is bought and no
// bucket has to borrow: the figure is the path of a purchase, not of a
// sell-out.
type purchaseCase struct {
	name           string
	sales, buckets int
	units          int64
}

var purchaseCases = []purchaseCase{
	{name: "hot-sku-1-bucket", sales: 1, buckets: 1, units: 100_000},
	{name: "hot-sku-8-buckets", sales: 1, buckets: 8, units: 100_000},
	{name: "1000-skus", sales: 1000, buckets: 1, units: 100},
}

// BenchmarkFlashSalePurchases is purchases/s through one instance (flash
// sale and inventory topologies, no API, 8 partitions), in three cases
// that differ only in where the same purchaseCount attempts go: one hot
// SKU in a sale of one bucket, the same sale split into 8 buckets, and
// 1,000 sales on 1,000 SKUs. Every case's sales are created (each sale key
// allocates its units from the inventory), their buckets open and a warm-up
// has run before any clock starts. Then the cases take turns, purchaseRounds rounds of a
// quarter of their attempts each: a kgo producer with the sdk's settings
// streams Purchase messages to the flash-sale commands topic as fast as it
// can, keyed per the Router, and a round's clock runs from its first send
// to the last of its results read back from the events topic. A case's
// figures sum its rounds; "ns/op" is that summed time. The three cases
// share one instance. Its ceiling is BenchmarkFlashSalePurchasesCeiling,
// and the last line gives the ratios of the cases to the first.
//
// A purchase crosses the commands topic once and the loop topic twice
// (Take to the bucket, TakeResult back to the buyer), writes three states
// and one result, and the purchase index reads the result and writes a
// fourth state. "rejected" counts results that were not purchases; it
// should read 0. "top-part-share-%" is the busiest partition's share of the
// flash-sale group's records: about 42 % with one bucket (every Take plus
// an eighth of the buyers' records), about 12.5 % when spread.
//
// The benchmark does its work once whatever b.N is: it is meant for
// -benchtime 1x, as every broker benchmark here is.
func BenchmarkFlashSalePurchases(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	ns := kafkatest.Prefix(b)
	inst := startTitanIn(b, brokers, ns, false)
	rig := newFlashRig(b, brokers, ns)
	events := newTail(b, brokers, string(rig.fs.Events))
	roundTrip := func(recs []*kgo.Record, keys []string) (done, acked time.Duration, rejected int) {
		send := func(ctx context.Context, i int, fn func(error)) {
			rig.cl.Produce(ctx, recs[i], func(_ *kgo.Record, err error) { fn(err) })
		}
		done, acked = pipeline(b, len(recs), send, events, resultMatcher(keys, &rejected))
		return done, acked, rejected
	}

	run := runID()
	runs := make([]*purchaseRun, len(purchaseCases))
	for k, c := range purchaseCases {
		tag := fmt.Sprintf("%s-%d", run, k)
		ss := sales(tag, c.sales, c.buckets, c.units, purchaseLimit, time.Now())
		rig.open(b, ss)
		runs[k] = newPurchaseRun(b, rig.router, string(rig.fs.Commands), ss, tag, roundTrip)
		runs[k].load = &groupLoad{gather: inst.Metrics(), group: string(rig.fs.Group)}
	}
	for r := range purchaseRounds {
		for _, pr := range runs {
			pr.round(b, r)
		}
	}
	for k, c := range purchaseCases {
		b.Run(c.name, func(b *testing.B) { runs[k].report(b) })
	}
	// The ratios are the figures that carry from run to run; a line of
	// their own prints them without -v, which a parent's log needs.
	b.Run("ratios", func(b *testing.B) {
		b.ReportMetric(0, "ns/op")
		base := runs[0].rate()
		for k, c := range purchaseCases[1:] {
			b.ReportMetric(runs[k+1].rate()/base, c.name+"/"+purchaseCases[0].name)
		}
	})
}

// BenchmarkFlashSalePurchasesCeiling bounds BenchmarkFlashSalePurchases:
// the hot-SKU case's records (the same keys, the same encoded Purchase
// messages) produced with the same settings to a fresh topic with the
// same partition count and read back by a plain franz-go consumer, after
// the same warm-up, in the same rounds, timed the same way. Every case
// has keys of the same kind, one per buyer and sale, so one ceiling
// serves the three.
func BenchmarkFlashSalePurchasesCeiling(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	topic := kafkatest.Topics(b, brokers, partitions, "purchases")["purchases"]
	cl, err := kgo.NewClient(producerOpts(brokers)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	records := newTail(b, brokers, topic)
	roundTrip := func(recs []*kgo.Record, _ []string) (done, acked time.Duration, rejected int) {
		send := func(ctx context.Context, i int, fn func(error)) {
			cl.Produce(ctx, recs[i], func(_ *kgo.Record, err error) { fn(err) })
		}
		// The idempotent producer writes each record once, and the topic
		// holds nothing else.
		done, acked = pipeline(b, len(recs), send, records, func(*kgo.Record) bool { return true })
		return done, acked, 0
	}
	c := purchaseCases[0]
	tag := runID()
	ss := sales(tag, c.sales, c.buckets, c.units, purchaseLimit, time.Now())
	pr := newPurchaseRun(b, flashsale.NewKeys(partitions), topic, ss, tag, roundTrip)
	for r := range purchaseRounds {
		pr.round(b, r)
	}
	pr.report(b)
}

// purchaseRun is one case: its measured attempts, the round trip that
// carries them, and what its rounds took so far.
type purchaseRun struct {
	recs      []*kgo.Record
	keys      []string
	roundTrip func(recs []*kgo.Record, keys []string) (done, acked time.Duration, rejected int)
	// load, when set, follows the flash-sale group's partitions.
	load *groupLoad

	done, acked time.Duration
	cpu         cpuClock
	rejected    int
}

// newPurchaseRun warms roundTrip up with purchaseWarmup attempts on ss and
// builds the purchaseCount attempts to measure.
func newPurchaseRun(b *testing.B, router flashsale.Router, topic string, ss []flashsale.Sale, tag string,
	roundTrip func(recs []*kgo.Record, keys []string) (done, acked time.Duration, rejected int)) *purchaseRun {
	b.Helper()
	warm, warmKeys := purchases(b, router, topic, ss, tag+"-w", purchaseWarmup, purchaseWarmup, time.Now())
	roundTrip(warm, warmKeys)
	recs, keys := purchases(b, router, topic, ss, tag+"-m", purchaseCount, purchaseUsers, time.Now())
	return &purchaseRun{recs: recs, keys: keys, roundTrip: roundTrip}
}

// round sends round r's slice of the attempts and adds up what it took,
// and the CPU this process spent meanwhile.
func (p *purchaseRun) round(b *testing.B, r int) {
	b.Helper()
	lo, hi := r*len(p.recs)/purchaseRounds, (r+1)*len(p.recs)/purchaseRounds
	p.cpu.start()
	p.load.start(b)
	d, a, rej := p.roundTrip(p.recs[lo:hi], p.keys[lo:hi])
	p.load.stop(b)
	p.cpu.stop()
	p.done, p.acked, p.rejected = p.done+d, p.acked+a, p.rejected+rej
}

func (p *purchaseRun) rate() float64 { return float64(len(p.recs)) / p.done.Seconds() }

// report gives the rates, the CPU per attempt, the rejections and, with
// load, the busiest partition's share.
func (p *purchaseRun) report(b *testing.B) {
	total := float64(len(p.recs))
	b.ReportMetric(float64(p.done.Nanoseconds()), "ns/op")
	b.ReportMetric(p.rate(), "purchases/s")
	b.ReportMetric(total/p.acked.Seconds(), "ack-purchases/s")
	p.cpu.report(b, total, "purchase")
	b.ReportMetric(float64(p.rejected), "rejected")
	p.load.report(b)
}

// groupLoad reads from an instance's metrics how one goka group's records
// spread over its partitions while purchases ran. A partition processes
// its records one at a time, so the busiest partition's share says how
// much of the group's work is serial: with one bucket, every Take lands on
// the bucket's partition.
type groupLoad struct {
	gather prometheus.Gatherer
	group  string
	begin  map[string]float64
	// processed sums the measured rounds, by partition.
	processed map[string]float64
}

// snapshot is the records the group has processed so far, by partition.
func (g *groupLoad) snapshot(b *testing.B) map[string]float64 {
	b.Helper()
	mfs, err := g.gather.Gather()
	if err != nil {
		b.Fatalf("metrics: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "titan_processor_messages_processed_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var topology, partition string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "topology":
					topology = l.GetValue()
				case "partition":
					partition = l.GetValue()
				}
			}
			if topology == g.group {
				out[partition] += m.GetCounter().GetValue()
			}
		}
	}
	return out
}

func (g *groupLoad) start(b *testing.B) {
	if g != nil {
		g.begin = g.snapshot(b)
	}
}

func (g *groupLoad) stop(b *testing.B) {
	if g == nil {
		return
	}
	if g.processed == nil {
		g.processed = map[string]float64{}
	}
	for p, n := range g.snapshot(b) {
		g.processed[p] += n - g.begin[p]
	}
}

// report gives the busiest partition's share of the group's records.
func (g *groupLoad) report(b *testing.B) {
	if g == nil {
		return
	}
	var total, top float64
	for _, n := range g.processed {
		total += n
		top = max(top, n)
	}
	if total > 0 {
		b.ReportMetric(100*top/total, "top-part-share-%")
	}
}
