package flashsaletopo_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/internal/proctest"
	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
	"github.com/titan-commerce/titan/schemas/codec"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	"github.com/titan-commerce/titan/sdk"
	"github.com/titan-commerce/titan/state"
	"github.com/titan-commerce/titan/topologies/flashsaletopo"
	"github.com/titan-commerce/titan/topologies/inventorytopo"
)

const (
	partitions = 8
	// stopWait bounds a graceful instance shutdown and a killed child's exit.
	stopWait = 90 * time.Second
)

// deployment is one test's namespace on the shared broker: the inventory and
// flash-sale topics and groups of the instances it starts, which no other
// test reads.
type deployment struct {
	t       *testing.T
	brokers []string
	ns      string
	inv     inventorytopo.Names
	fs      flashsaletopo.Names
	router  *flashsale.Keys
	adm     *kadm.Client
	log     *slog.Logger
	// window is the time window the instances hold purchases to; zero
	// means the default.
	window schemas.TimeWindow
}

func newDeployment(t *testing.T) *deployment {
	t.Helper()
	brokers := kafkatest.Brokers(t)
	ns := kafkatest.Prefix(t)
	d := &deployment{
		t:       t,
		brokers: brokers,
		ns:      ns,
		inv:     inventorytopo.NamesFor(ns),
		fs:      flashsaletopo.NamesFor(ns),
		router:  flashsale.NewKeys(partitions),
		adm:     kafkatest.Admin(t, brokers),
		log:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	// Registered before any instance starts, so it runs after they have
	// all stopped.
	t.Cleanup(d.deleteTopics)
	return d
}

// deleteTopics drops what the instances created, so a broker shared by many
// runs does not fill up; a failure is only logged.
func (d *deployment) deleteTopics() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	listed, err := d.adm.ListTopics(ctx)
	if err != nil {
		d.t.Logf("listing topics to delete: %v", err)
		return
	}
	var mine []string
	for _, name := range listed.Names() {
		if strings.HasPrefix(name, d.ns+".") {
			mine = append(mine, name)
		}
	}
	if resp, err := d.adm.DeleteTopics(ctx, mine...); err != nil || resp.Error() != nil {
		d.t.Logf("deleting topics %v: %v %v", mine, err, resp.Error())
	}
}

// waitFor checks cond every 100 ms until it holds or ctx ends; the error
// carries the last detail cond gave.
func waitFor(ctx context.Context, what string, cond func() (bool, string)) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, detail := cond()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last: %s)", what, ctx.Err(), detail)
		case <-tick.C:
		}
	}
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// --- instances in this process ---

// node is one Titan instance running in the test process, without an API.
type node struct {
	id     string
	inst   *instance.Instance
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// start builds and runs an instance; it is stopped when the test ends.
func (d *deployment) start(ctx context.Context, id, dir string) *node {
	d.t.Helper()
	// Only what the test measures: the order pipeline would read the
	// inventory's events too and share its two cores.
	return d.startWith(ctx, id, dir, instance.TopologyInventory, instance.TopologyFlashSale)
}

// startWith is start with the topologies given.
func (d *deployment) startWith(ctx context.Context, id, dir string, topologies ...string) *node {
	d.t.Helper()
	inst, err := instance.New(ctx, instance.Config{
		TimeWindow: d.window,
		Topologies: topologies,
		Brokers:    d.brokers,
		Namespace:  d.ns,
		StateDir:   dir,
		Partitions: partitions,
		InstanceID: id,
		Logger:     d.log.With("instance", id),
	})
	if err != nil {
		d.t.Fatalf("instance %s: %v", id, err)
	}
	// Not derived from the test's context: the test decides when an
	// instance stops and waits for it, so nothing logs after the test.
	runCtx, cancel := context.WithCancel(context.Background())
	n := &node{id: id, inst: inst, cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- inst.Run(runCtx) }()
	d.t.Cleanup(func() {
		if err := n.stop(); err != nil {
			d.t.Errorf("stopping %s: %v", id, err)
		}
	})
	return n
}

func (n *node) stop() error {
	n.once.Do(func() {
		n.cancel()
		timer := time.NewTimer(stopWait)
		defer timer.Stop()
		select {
		case n.err = <-n.done:
		case <-timer.C:
			n.err = fmt.Errorf("instance %s did not stop within %v", n.id, stopWait)
		}
	})
	return n.err
}

// --- titan processes ---

// spawn starts `titan run` on dir for this deployment (see proctest.Spawn).
func (d *deployment) spawn(bin, id, dir, logDir string) *proctest.Proc {
	d.t.Helper()
	return proctest.Spawn(d.t, bin, id, logDir, "--brokers", strings.Join(d.brokers, ","), "--namespace", d.ns,
		"--state-dir", dir, "--partitions", fmt.Sprint(partitions), "--instance-id", id,
		"--topologies", instance.TopologyInventory+","+instance.TopologyFlashSale)
}

// --- consumer groups ---

// groups lists each consumer group of a deployment with the input topic
// whose partitions say how its work is split.
func (d *deployment) groups() map[goka.Group]goka.Stream {
	return map[goka.Group]goka.Stream{
		d.inv.Group:         d.inv.Commands,
		d.inv.OrdersGroup:   d.inv.OrderEvents,
		d.fs.Group:          d.fs.Commands,
		d.fs.PurchasesGroup: d.fs.Events,
	}
}

// stable reports whether every group of the deployment is stable with
// exactly members members, each holding part of the partitions.
func (d *deployment) stable(ctx context.Context, members int) (bool, string) {
	names := make([]string, 0, 4)
	for g := range d.groups() {
		names = append(names, string(g))
	}
	described, err := d.adm.DescribeGroups(ctx, names...)
	if err != nil {
		return false, err.Error()
	}
	for g, topic := range d.groups() {
		dg, ok := described[string(g)]
		switch {
		case !ok:
			return false, string(g) + " not described"
		case dg.Err != nil:
			return false, fmt.Sprintf("%s: %v", g, dg.Err)
		case dg.State != "Stable" || len(dg.Members) != members:
			return false, fmt.Sprintf("%s: %s with %d members", g, dg.State, len(dg.Members))
		}
		total := 0
		for _, m := range dg.Members {
			c, ok := m.Assigned.AsConsumer()
			held := 0
			for _, tp := range c.Topics {
				if ok && tp.Topic == string(topic) {
					held += len(tp.Partitions)
				}
			}
			if held == 0 {
				return false, fmt.Sprintf("%s: %s holds nothing", g, m.ClientID)
			}
			total += held
		}
		if total != partitions {
			return false, fmt.Sprintf("%s: %d of %d partitions assigned", g, total, partitions)
		}
	}
	return true, ""
}

// waitStable waits until every group is stable with members members and
// ready reports true.
func (d *deployment) waitStable(ctx context.Context, members int, ready func() (bool, string)) error {
	return waitFor(ctx, fmt.Sprintf("groups stable with %d members", members), func() (bool, string) {
		if ok, detail := ready(); !ok {
			return false, detail
		}
		return d.stable(ctx, members)
	})
}

func nodesReady(nodes ...*node) func() (bool, string) {
	return func() (bool, string) {
		for _, n := range nodes {
			if !n.inst.Ready() {
				return false, n.id + " not ready"
			}
		}
		return true, ""
	}
}

// --- producing ---

// buyer produces flash-sale messages straight to the commands topic, placed
// by the partitioner every Titan producer uses, without waiting on each.
type buyer struct {
	cl *kgo.Client
	mu struct {
		sync.Mutex
		errs []error
	}
}

func (d *deployment) buyer() *buyer {
	d.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.brokers...), kgo.RecordPartitioner(partition.Kgo()),
		kgo.DefaultProduceTopic(string(d.fs.Commands)), kgo.ProducerLinger(5*time.Millisecond),
		kgo.ClientID("titan-test-buyer"))
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(cl.Close)
	return &buyer{cl: cl}
}

func (b *buyer) send(ctx context.Context, m flashsale.Message) { b.sendTo(ctx, "", m) }

// sendTo produces m to topic; the empty topic is the commands topic.
func (b *buyer) sendTo(ctx context.Context, topic goka.Stream, m flashsale.Message) {
	v, err := proto.Marshal(flashsale.MessageToWire(m))
	if err != nil {
		b.fail(err)
		return
	}
	b.cl.Produce(ctx, &kgo.Record{Topic: string(topic), Key: []byte(m.Key), Value: v}, func(_ *kgo.Record, err error) {
		if err != nil {
			b.fail(err)
		}
	})
}

func (b *buyer) fail(err error) {
	b.mu.Lock()
	b.mu.errs = append(b.mu.errs, err)
	b.mu.Unlock()
}

// flush waits for every send so far and reports any that failed.
func (b *buyer) flush(ctx context.Context) error {
	if err := b.cl.Flush(ctx); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return errors.Join(b.mu.errs...)
}

// ms drops what the wire cannot carry, so a sent time compares equal to
// the time a result carries back.
func ms(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

// restock gives sku qty more units through the public commands topic, as a
// shop does, and waits until the inventory has applied it: a sale's
// allocation travels on the internal topic, in no order with the public
// one.
func (d *deployment) restock(ctx context.Context, il *inventoryLog, sku string, qty int64) {
	t := d.t
	t.Helper()
	p, err := sdk.NewProducer(d.brokers, sdk.WithClientID("titan-test-inventory"), sdk.WithCommandsTopic(string(d.inv.Commands)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	id := "restock:" + sku
	c := inventory.Command{ID: id, Kind: inventory.KindRestock, SKU: sku, Qty: qty, Time: time.Now()}
	if _, err := p.SendCommand(ctx, inventory.CommandToWire(c)); err != nil {
		t.Fatal(err)
	}
	err = il.pollUntil(ctx, "restock of "+sku, func() (bool, string) {
		_, ok := il.results[id]
		return ok, "no result yet"
	})
	if err != nil {
		t.Fatal(err)
	}
}

// create sends the sale's Create on the internal topic, as the API does.
func (d *deployment) create(ctx context.Context, b *buyer, s flashsale.Sale) {
	d.t.Helper()
	b.sendTo(ctx, d.fs.Internal, flashsale.Message{Kind: flashsale.KindCreate, SaleID: s.ID, Key: d.router.Sale(s.ID), Sale: s,
		Time: ms(time.Now())})
	if err := b.flush(ctx); err != nil {
		d.t.Fatal(err)
	}
}

// openSale restocks the sale's SKU, creates the sale as the API does, and
// waits until the inventory holds its units and view shows every bucket
// open.
func (d *deployment) openSale(ctx context.Context, b *buyer, il *inventoryLog, v *goka.View, s flashsale.Sale, restock int64) {
	t := d.t
	t.Helper()
	d.restock(ctx, il, s.SKU, restock)
	d.create(ctx, b, s)
	allocate := flashsale.AllocateCommandID(s.ID)
	err := il.pollUntil(ctx, "allocation of "+s.ID, func() (bool, string) {
		_, ok := il.results[allocate]
		return ok, "no result yet"
	})
	if err != nil {
		t.Fatal(err)
	}
	if ev := il.results[allocate]; ev.Type != inventory.EventReserved || ev.Qty != s.Units || ev.OrderID != flashsale.AllocationOrder(s.ID) {
		t.Fatalf("allocation of %s: %v %s qty %d, want reserved %d", s.ID, ev.Type, ev.Reason, ev.Qty, s.Units)
	}
	err = waitFor(ctx, "buckets of "+s.ID+" open", func() (bool, string) {
		buckets, err := bucketStates(v, d.router, s)
		if err != nil {
			return false, err.Error()
		}
		for i, bs := range buckets {
			if !bs.Opened {
				return false, fmt.Sprintf("bucket %d not open", i)
			}
		}
		return true, ""
	})
	if err != nil {
		t.Fatal(err)
	}
}

// --- reading topics ---

// resultLog reads the flash-sale events topic from the start and keeps every
// copy of every result, by purchase key.
type resultLog struct {
	cl      *kgo.Client
	byKey   map[string][]flashsale.Result
	records int
	bad     []string
}

func (d *deployment) resultLog() *resultLog {
	d.t.Helper()
	return &resultLog{cl: d.reader(d.fs.Events), byKey: map[string][]flashsale.Result{}}
}

// reader consumes topic from the start, without a group.
func (d *deployment) reader(topic goka.Stream) *kgo.Client {
	d.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.brokers...), kgo.ConsumeTopics(string(topic)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(cl.Close)
	return cl
}

func (l *resultLog) poll(ctx context.Context, wait time.Duration) {
	pctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	l.cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
		l.records++
		var w flashsalev1.Result
		if err := proto.Unmarshal(r.Value, &w); err != nil {
			l.bad = append(l.bad, fmt.Sprintf("%d/%d: %v", r.Partition, r.Offset, err))
			return
		}
		res := flashsale.ResultFromWire(&w)
		key := flashsale.PurchaseKey(res.SaleID, res.IdempotencyKey)
		if string(r.Key) != key {
			l.bad = append(l.bad, fmt.Sprintf("%d/%d: key %q for %q", r.Partition, r.Offset, r.Key, key))
		}
		l.byKey[key] = append(l.byKey[key], res)
	})
}

// pollUntil reads until cond holds or ctx ends.
func (l *resultLog) pollUntil(ctx context.Context, what string, cond func() (bool, string)) error {
	return pollUntil(ctx, what, cond, l.poll)
}

func pollUntil(ctx context.Context, what string, cond func() (bool, string), poll func(context.Context, time.Duration)) error {
	for {
		ok, detail := cond()
		if ok {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w; still missing: %s", what, ctx.Err(), detail)
		}
		poll(ctx, 500*time.Millisecond)
	}
}

// await reads until the attempt has at least copies results and returns
// the last.
func (l *resultLog) await(ctx context.Context, m flashsale.Message, copies int) (flashsale.Result, error) {
	key := flashsale.PurchaseKey(m.SaleID, m.IdempotencyKey)
	err := l.pollUntil(ctx, "result of "+key, func() (bool, string) {
		return len(l.byKey[key]) >= copies, fmt.Sprintf("%s: %d of %d results", key, len(l.byKey[key]), copies)
	})
	if err != nil {
		return flashsale.Result{}, err
	}
	return l.byKey[key][len(l.byKey[key])-1], nil
}

// inventoryLog reads the inventory events topic from the start: the first
// result of each command and every event of the flash sales' allocations.
type inventoryLog struct {
	cl          *kgo.Client
	results     map[string]inventory.Event
	allocations map[string][]inventory.Event // by order id
	bad         []string
}

func (d *deployment) inventoryLog() *inventoryLog {
	d.t.Helper()
	return &inventoryLog{cl: d.reader(d.inv.Events), results: map[string]inventory.Event{},
		allocations: map[string][]inventory.Event{}}
}

func (l *inventoryLog) poll(ctx context.Context, wait time.Duration) {
	pctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	dec := codec.Event()
	l.cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
		w, err := dec.DecodeMessage(r.Value)
		if err != nil {
			l.bad = append(l.bad, fmt.Sprintf("%d/%d: %v", r.Partition, r.Offset, err))
			return
		}
		e := inventory.EventFromWire(w)
		if _, ok := l.results[e.CommandID]; !ok && e.IsResult() {
			l.results[e.CommandID] = e
		}
		if strings.HasPrefix(e.OrderID, flashsale.AllocationPrefix) {
			l.allocations[e.OrderID] = append(l.allocations[e.OrderID], e)
		}
	})
}

func (l *inventoryLog) pollUntil(ctx context.Context, what string, cond func() (bool, string)) error {
	return pollUntil(ctx, what, cond, l.poll)
}

// --- views ---

// startView runs a goka view of table, built with the options the
// instances use, until the test ends, and waits until it has recovered.
func (d *deployment) startView(ctx context.Context, table goka.Table, c goka.Codec) *goka.View {
	d.t.Helper()
	sb, err := state.NewBuilder(d.t.TempDir(), state.WithSync(state.SyncNone))
	if err != nil {
		d.t.Fatal(err)
	}
	opts := gokaopts.Config{Brokers: d.brokers, Replication: 1, Storage: sb.Build,
		ClientID: "titan-test-view", Logger: d.log}
	v, err := goka.NewView(d.brokers, table, c, opts.View()...)
	if err != nil {
		d.t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- v.Run(runCtx) }()
	d.t.Cleanup(func() {
		cancel()
		timer := time.NewTimer(stopWait)
		defer timer.Stop()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				d.t.Errorf("view of %s: %v", table, err)
			}
		case <-timer.C:
			d.t.Errorf("view of %s did not stop within %v", table, stopWait)
		}
		_ = sb.Close()
	})
	if err := waitFor(ctx, "view recovered", func() (bool, string) { return v.Recovered(), "" }); err != nil {
		d.t.Fatal(err)
	}
	return v
}

func (d *deployment) saleView(ctx context.Context) *goka.View {
	return d.startView(ctx, d.fs.Table(), flashsaletopo.StateCodec)
}

// bucketStates reads every bucket of s from a view of the flash-sale table.
func bucketStates(v *goka.View, r *flashsale.Keys, s flashsale.Sale) ([]flashsale.BucketState, error) {
	out := make([]flashsale.BucketState, s.Buckets)
	for b := range s.Buckets {
		val, err := v.Get(r.Bucket(s.ID, b))
		if err != nil {
			return nil, err
		}
		if val != nil {
			if st := val.(flashsale.State).Bucket; st != nil {
				out[b] = *st
			}
		}
	}
	return out, nil
}

// unitsLeft says how many units the buckets of s hold, as far as v shows.
func unitsLeft(v *goka.View, r *flashsale.Keys, s flashsale.Sale) string {
	buckets, err := bucketStates(v, r, s)
	if err != nil {
		return err.Error()
	}
	var left int64
	for _, b := range buckets {
		left += b.Available
	}
	return fmt.Sprintf("%d of %d units left in the buckets", left, s.Units)
}

// parkedSummary gives each bucket's available units and parked takes.
func parkedSummary(v *goka.View, r *flashsale.Keys, s flashsale.Sale) string {
	buckets, err := bucketStates(v, r, s)
	if err != nil {
		return err.Error()
	}
	var avail []int64
	var parked []int
	for _, b := range buckets {
		avail = append(avail, b.Available)
		parked = append(parked, len(b.Parked))
	}
	return fmt.Sprintf("buckets: available %v, parked %v", avail, parked)
}

func saleState(v *goka.View, r *flashsale.Keys, id string) (flashsale.SaleState, error) {
	val, err := v.Get(r.Sale(id))
	if err != nil || val == nil {
		return flashsale.SaleState{}, err
	}
	if st := val.(flashsale.State).Sale; st != nil {
		return *st, nil
	}
	return flashsale.SaleState{}, nil
}

// --- workload ---

// workload is a reproducible spike of purchase attempts on one sale: users
// pick a quantity of 1 or 2, and some attempts are sent again with the same
// idempotency key, byte for byte, soon after or much later, as a client
// that lost the answer would. Only the timestamps come from the clock.
type workload struct {
	rng    *rand.Rand
	sale   flashsale.Sale
	router *flashsale.Keys
	users  []string
	// attempts holds every distinct attempt in first-send order.
	attempts         []flashsale.Message
	sends            int
	dupSoon, dupLate int
	// cursor indexes the first attempt answered has not yet found a
	// result for.
	cursor int
	// overran counts the attempts made at or after the end, which are
	// stamped a millisecond before it: a busy machine may send slower than
	// planned, but every attempt here is meant to be inside the window.
	overran int
}

func newWorkload(seed uint64, s flashsale.Sale, r *flashsale.Keys, users int) *workload {
	w := &workload{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), sale: s, router: r}
	for i := range users {
		w.users = append(w.users, fmt.Sprintf("user-%05d", i))
	}
	return w
}

// next returns the message to send at now: 5% a retry of one of the last
// few attempts, 5% a retry of any earlier one, the rest a new attempt.
func (w *workload) next(now time.Time) flashsale.Message {
	w.sends++
	if r := w.rng.IntN(100); r < 10 && len(w.attempts) > 0 {
		if r < 5 {
			w.dupSoon++
			return w.attempts[len(w.attempts)-1-w.rng.IntN(min(len(w.attempts), 20))]
		}
		w.dupLate++
		return w.attempts[w.rng.IntN(len(w.attempts))]
	}
	return w.fresh(now)
}

func (w *workload) fresh(now time.Time) flashsale.Message {
	if !now.Before(w.sale.End) {
		w.overran++
		now = w.sale.End.Add(-time.Millisecond)
	}
	user := w.users[w.rng.IntN(len(w.users))]
	m := flashsale.Message{
		Kind: flashsale.KindPurchase, SaleID: w.sale.ID, Key: w.router.User(w.sale.ID, user), UserID: user,
		IdempotencyKey: fmt.Sprintf("k%06d", len(w.attempts)), Qty: 1 + w.rng.Int64N(2),
		Bucket: flashsale.BucketOf(user, w.sale.Buckets), Time: ms(now),
	}
	w.attempts = append(w.attempts, m)
	return m
}

// produce sends messages of w until it holds distinct attempts, in
// batches of at most batch per pace; after each batch it calls between,
// which may stop the run with an error.
func produce(ctx context.Context, b *buyer, w *workload, distinct, batch int, pace time.Duration, between func(sent int) error) error {
	for len(w.attempts) < distinct {
		start := time.Now()
		for i := 0; i < batch && len(w.attempts) < distinct; i++ {
			b.send(ctx, w.next(time.Now()))
		}
		if err := b.flush(ctx); err != nil {
			return err
		}
		if between != nil {
			if err := between(len(w.attempts)); err != nil {
				return err
			}
		}
		if rest := pace - time.Since(start); rest > 0 {
			if err := sleepCtx(ctx, rest); err != nil {
				return err
			}
		}
	}
	return nil
}

// raceEnabled is set when the test binary was built with -race, which slows
// the processors several times over.
var raceEnabled = func() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}()

// scaled is n attempts, or a fifth of them under the race detector, so a
// sale's attempts still fit its window.
func scaled(n int) int {
	if raceEnabled {
		return n / 5
	}
	return n
}

func (w *workload) logSent(t *testing.T, began time.Time) {
	t.Helper()
	t.Logf("sent %d messages (%d attempts, %d retried soon, %d late) in %v, %v before the end",
		w.sends, len(w.attempts), w.dupSoon, w.dupLate, time.Since(began).Round(time.Millisecond),
		time.Until(w.sale.End).Round(time.Millisecond))
	if w.overran > 0 {
		t.Logf("sending overran the window: %d attempts made after the end were stamped just before it", w.overran)
	}
}

// answered reports whether l holds a result for every attempt of w. It
// moves a cursor over the attempts, so each call costs little however many
// there are.
func (w *workload) answered(l *resultLog) (bool, string) {
	for w.cursor < len(w.attempts) {
		m := w.attempts[w.cursor]
		if len(l.byKey[flashsale.PurchaseKey(m.SaleID, m.IdempotencyKey)]) == 0 {
			return false, fmt.Sprintf("attempt %s has no result, nor maybe some after it; %d results read",
				m.IdempotencyKey, l.records)
		}
		w.cursor++
	}
	return true, ""
}

func (w *workload) countAnswered(l *resultLog) int {
	n := 0
	for _, m := range w.attempts {
		if len(l.byKey[flashsale.PurchaseKey(m.SaleID, m.IdempotencyKey)]) > 0 {
			n++
		}
	}
	return n
}
