package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkaadmin"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/ordergen"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas/codec"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
	"github.com/titan-commerce/titan/topologies/fraudtopo"
	"github.com/titan-commerce/titan/topologies/inventorytopo"
	"github.com/titan-commerce/titan/topologies/orderstopo"
	"github.com/titan-commerce/titan/topologies/pricingtopo"
)

const (
	// orderReserveTTL outlasts the generated day by a day: the inventory's
	// sweeper expires by wall clock, and a day of orders replayed in
	// seconds must not lose reservations to it.
	orderReserveTTL = 48 * time.Hour
	// orderStock is what every SKU gets, far above what any run orders,
	// so no order runs out and the figure is the path of a confirmation.
	orderStock = 1_000_000
)

// orderRig is one instance running the inventory and the order pipeline
// (saga, pricing, fraud), in a namespace of its own, and a producer with
// the sdk's settings for its input topics.
type orderRig struct {
	brokers []string
	ns      string
	inv     inventorytopo.Names
	ord     orderstopo.Names
	pr      pricingtopo.Names
	cl      *kgo.Client
}

// orderTopics are the topics of an instance running the inventory and the
// order pipeline in ns.
func orderTopics(ns string) []kafkaadmin.Topic {
	out := inventorytopo.NamesFor(ns).Topics(partitions)
	out = append(out, orderstopo.NamesFor(ns).Topics(partitions)...)
	out = append(out, pricingtopo.NamesFor(ns).Topics(partitions)...)
	return append(out, fraudtopo.NamesFor(ns).Topics(partitions)...)
}

func orderGroups(ns string) []string {
	inv := inventorytopo.NamesFor(ns)
	return []string{string(inv.Group), string(inv.OrdersGroup), string(orderstopo.NamesFor(ns).Group),
		string(pricingtopo.NamesFor(ns).Group), string(fraudtopo.NamesFor(ns).Group)}
}

// startOrders runs the order pipeline's instance: no API and no flash
// sales, which would share the two cores without taking part.
func startOrders(b *testing.B, brokers []string) *orderRig {
	b.Helper()
	ns := kafkatest.Prefix(b)
	runTitan(b, instance.Config{
		Topologies:      []string{instance.TopologyInventory, instance.TopologyOrders},
		Brokers:         brokers,
		Namespace:       ns,
		StateDir:        b.TempDir(),
		Partitions:      partitions,
		InstanceID:      "bench-" + ns,
		OrderReserveTTL: orderReserveTTL,
		TimeWindow:      historyWindow,
		Logger:          quietLogger(),
	}, orderTopics(ns), orderGroups(ns))
	cl, err := kgo.NewClient(producerOpts(brokers)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	return &orderRig{
		brokers: brokers, ns: ns,
		inv: inventorytopo.NamesFor(ns), ord: orderstopo.NamesFor(ns),
		pr: pricingtopo.NamesFor(ns), cl: cl,
	}
}

// orderDay is a day of honest checkouts starting at start: orders of 1 to
// 4 lines (mostly 1 or 2) at catalog prices, from users with their usual
// devices and cards, no planted fraud and no failed payments. Order and
// event ids carry run, so runs on one instance never meet.
func orderDay(run string, seed int64, users, skus, orders int, start time.Time) ordergen.Day {
	cfg := ordergen.DefaultConfig()
	cfg.Seed, cfg.Start = seed, start
	cfg.Users, cfg.SKUs, cfg.LegitOrders = users, skus, orders
	cfg.CardTesting, cfg.AccountTakeovers, cfg.VelocityAbusers = 0, 0, 0
	cfg.MismatchRate, cfg.FailRate = 0, 0
	day := ordergen.Generate(cfg)
	for _, e := range day.Events {
		e.Order.OrderId = run + "-" + e.Order.GetOrderId()
		e.Order.EventId = run + "-" + e.Order.GetEventId()
	}
	return day
}

// stockUp gives every SKU of the catalog its price and orderStock units,
// and returns once the pricing and the inventory have published the
// result of each: an order placed before would be rejected for a price or
// stock it was about to have.
func (r *orderRig) stockUp(b *testing.B, run string, catalog []ordergen.Item, at time.Time) {
	b.Helper()
	prices := newTail(b, r.brokers, string(r.pr.Events))
	stock := newTail(b, r.brokers, string(r.inv.Events))
	ctx, cancel := context.WithTimeout(context.Background(), roundTimeout)
	defer cancel()
	for _, it := range catalog {
		r.produce(b, ctx, string(r.pr.Commands), it.SKU, &pricingv1.Command{
			CommandId: run + "-price:" + it.SKU, Sku: it.SKU, TimestampMs: at.UnixMilli(),
			Kind: &pricingv1.Command_SetBase{SetBase: &pricingv1.SetBasePrice{PriceMinor: it.Price, Currency: it.Currency}},
		})
		r.produce(b, ctx, string(r.inv.Commands), it.SKU, inventory.CommandToWire(inventory.Command{
			ID: run + "-restock:" + it.SKU, Kind: inventory.KindRestock, SKU: it.SKU, Qty: orderStock, Time: at,
		}))
	}
	if err := r.cl.Flush(ctx); err != nil {
		b.Fatalf("stock up: %v", err)
	}
	priced := map[string]bool{}
	for _, it := range catalog {
		priced[it.SKU] = false
	}
	if _, err := prices.until(ctx, len(catalog), func(rec *kgo.Record) bool {
		done, ok := priced[string(rec.Key)]
		priced[string(rec.Key)] = true
		return ok && !done
	}); err != nil {
		b.Fatalf("prices: %v", err)
	}
	dec := codec.Event()
	if _, err := stock.until(ctx, len(catalog), func(rec *kgo.Record) bool {
		w, err := dec.DecodeMessage(rec.Value)
		return err == nil && strings.HasPrefix(w.GetCommandId(), run+"-restock:")
	}); err != nil {
		b.Fatalf("restocks: %v", err)
	}
}

// produce sends m keyed by key; a failure fails the benchmark from the
// producer's goroutine, as it is seen only there.
func (r *orderRig) produce(b *testing.B, ctx context.Context, topic, key string, m proto.Message) {
	v, err := proto.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	r.cl.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(key), Value: v}, func(rec *kgo.Record, err error) {
		if err != nil {
			b.Errorf("produce to %s: %v", rec.Topic, err)
		}
	})
}

// placedRecords are the checkout records of day's orders, keyed by order
// id as a checkout writes them, into topic.
func placedRecords(b *testing.B, day ordergen.Day, topic string) []*kgo.Record {
	b.Helper()
	out := make([]*kgo.Record, 0, len(day.Events))
	for _, e := range day.Events {
		v, err := proto.Marshal(e.Order)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, &kgo.Record{Topic: topic, Key: []byte(e.Order.GetOrderId()), Value: v})
	}
	return out
}

// outcomeMatcher accepts the first outcome of each order in recs and
// counts them by reason ("confirmed" for a confirmation). The saga
// publishes one outcome per order, but at least once.
func outcomeMatcher(recs []*kgo.Record, reasons map[string]int) func(*kgo.Record) bool {
	want := make(map[string]struct{}, len(recs))
	for _, r := range recs {
		want[string(r.Key)] = struct{}{}
	}
	return func(r *kgo.Record) bool {
		if _, ok := want[string(r.Key)]; !ok {
			return false
		}
		var ev ordersv1.OrderEvent
		if err := proto.Unmarshal(r.Value, &ev); err != nil {
			return false
		}
		delete(want, string(r.Key))
		reasons[outcomeReason(&ev)]++
		return true
	}
}

func outcomeReason(ev *ordersv1.OrderEvent) string {
	if ev.GetConfirmed() != nil {
		return "confirmed"
	}
	if r := ev.GetRejected().GetReason(); r != "" {
		return r
	}
	return "unknown"
}

// topicEnds sums, per topic, the next offsets to be written: with no
// transactions, the records ever written to it.
func topicEnds(ctx context.Context, adm *kadm.Client, topics []string) (map[string]int64, error) {
	listed, err := adm.ListEndOffsets(ctx, topics...)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(topics))
	listed.Each(func(o kadm.ListedOffset) { out[o.Topic] += o.Offset })
	return out, nil
}

// settledOffsets waits until the topics' end offsets stop moving (the
// same in two reads settle apart) and returns them: the commits that
// follow a confirmation, and their echoes in the indexes and changelogs,
// are still being written when the last outcome is read.
func settledOffsets(b *testing.B, adm *kadm.Client, topics []string, settle time.Duration) map[string]int64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tick := time.NewTicker(settle)
	defer tick.Stop()
	var prev map[string]int64
	for {
		cur, err := topicEnds(ctx, adm, topics)
		if err != nil {
			b.Fatalf("end offsets: %v", err)
		}
		if prev != nil && sameOffsets(prev, cur) {
			return cur
		}
		prev = cur
		select {
		case <-ctx.Done():
			b.Fatalf("topics still growing after a minute")
		case <-tick.C:
		}
	}
}

func sameOffsets(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// topicDelta logs what each topic gained between two readings, most first,
// per order, so a change in the pipeline's record count shows where.
func topicDelta(b *testing.B, ns string, before, after map[string]int64, orders int) int64 {
	type row struct {
		topic string
		n     int64
	}
	var rows []row
	var total int64
	for t, n := range after {
		if d := n - before[t]; d > 0 {
			rows = append(rows, row{strings.TrimPrefix(t, ns+"."), d})
			total += d
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		return rows[i].n > rows[j].n || rows[i].n == rows[j].n && rows[i].topic < rows[j].topic
	})
	var s strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&s, " %s=%.2f", r.topic, float64(r.n)/float64(orders))
	}
	b.Logf("records per order by topic:%s", s.String())
	return total
}

// keyWaiters hands each record read back to the caller waiting for its
// key: the shape of the API's outcome dispatcher, which waits by order id.
type keyWaiters struct {
	mu struct {
		sync.Mutex
		by map[string]chan *kgo.Record
	}
}

func newKeyWaiters() *keyWaiters {
	w := &keyWaiters{}
	w.mu.by = map[string]chan *kgo.Record{}
	return w
}

// wait registers interest in key; call it before producing.
func (w *keyWaiters) wait(key string) (<-chan *kgo.Record, func()) {
	ch := make(chan *kgo.Record, 1)
	w.mu.Lock()
	w.mu.by[key] = ch
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		delete(w.mu.by, key)
		w.mu.Unlock()
	}
}

func (w *keyWaiters) dispatch(ctx context.Context, cl *kgo.Client) {
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fetches.EachRecord(func(r *kgo.Record) {
			w.mu.Lock()
			ch, ok := w.mu.by[string(r.Key)]
			delete(w.mu.by, string(r.Key))
			w.mu.Unlock()
			if ok {
				ch <- r
			}
		})
	}
}

// startDispatch tails topic and dispatches its records by key until the
// benchmark ends. The consumer waits at most 500 ms per fetch, as the
// API's outcome consumer does.
func startDispatch(b *testing.B, brokers []string, topic string) *keyWaiters {
	b.Helper()
	tl := newTail(b, brokers, topic, kgo.FetchMaxWait(500*time.Millisecond))
	w := newKeyWaiters()
	ctx, cancel := context.WithCancel(context.Background())
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		w.dispatch(ctx, tl.cl)
	}()
	b.Cleanup(func() { cancel(); <-dispatched })
	return w
}
