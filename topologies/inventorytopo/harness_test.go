package inventorytopo_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas/codec"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	"github.com/titan-commerce/titan/sdk"
	"github.com/titan-commerce/titan/state"
	"github.com/titan-commerce/titan/topologies/inventorytopo"
)

const (
	partitions    = 8
	sweepInterval = 200 * time.Millisecond
	// stopWait bounds a graceful instance shutdown: goka drains its
	// partitions and commits before Run returns.
	stopWait = 90 * time.Second
)

// deployment is one test's namespace on the shared broker: its own topics,
// groups and table, which no other test reads.
type deployment struct {
	t       *testing.T
	brokers []string
	ns      string
	names   inventorytopo.Names
	adm     *kadm.Client
	policy  inventory.Policy
	log     *slog.Logger

	// viewParts are the storages of the view's partitions, where
	// viewStates reads SKUs whole.
	viewMu    sync.Mutex
	viewParts map[int32]storage.Storage
}

func newDeployment(t *testing.T) *deployment {
	t.Helper()
	brokers := kafkatest.Brokers(t)
	ns := kafkatest.Prefix(t)
	d := &deployment{
		t:       t,
		brokers: brokers,
		ns:      ns,
		names:   inventorytopo.NamesFor(ns),
		adm:     kafkatest.Admin(t, brokers),
		policy:  inventory.DefaultPolicy(),
		log:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	// Registered before any instance starts, so it runs after they have
	// all stopped.
	t.Cleanup(d.deleteTopics)
	return d
}

// deleteTopics drops what the instances created, so a broker shared by
// many runs does not fill up; the broker of `make test` is fresh anyway,
// so a failure is only logged.
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

// node is one running Titan instance.
type node struct {
	id     string
	dir    string
	inst   *instance.Instance
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
	took   time.Duration
}

// start builds and runs an instance without an API; it is stopped when the
// test ends unless stopped before.
func (d *deployment) start(ctx context.Context, id, dir string) *node {
	d.t.Helper()
	inst, err := instance.New(ctx, instance.Config{
		// Only what the test measures: the order pipeline would read the
		// inventory's events too and share its two cores.
		Topologies:    []string{instance.TopologyInventory},
		Brokers:       d.brokers,
		Namespace:     d.ns,
		StateDir:      dir,
		Partitions:    partitions,
		InstanceID:    id,
		SweepInterval: sweepInterval,
		DedupeWindow:  d.policy.DedupeWindow,
		Logger:        d.log.With("instance", id),
	})
	if err != nil {
		d.t.Fatalf("instance %s: %v", id, err)
	}
	// Not derived from the test's context: the test decides when an
	// instance stops and waits for it, so nothing logs after the test.
	runCtx, cancel := context.WithCancel(context.Background())
	n := &node{id: id, dir: dir, inst: inst, cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- inst.Run(runCtx) }()
	d.t.Cleanup(func() {
		if err := n.stop(); err != nil {
			d.t.Errorf("stopping %s: %v", id, err)
		}
	})
	return n
}

// stop cancels the instance and waits for Run to return; later calls
// return the first outcome.
func (n *node) stop() error {
	n.once.Do(func() {
		began := time.Now()
		n.cancel()
		timer := time.NewTimer(stopWait)
		defer timer.Stop()
		select {
		case n.err = <-n.done:
		case <-timer.C:
			n.err = fmt.Errorf("instance %s did not stop within %v", n.id, stopWait)
		}
		n.took = time.Since(began)
	})
	return n.err
}

// localPartitions lists the partitions of the table the instance has ever
// kept state for: its state builder makes one directory per partition.
func (n *node) localPartitions(table goka.Table) []int32 {
	entries, _ := os.ReadDir(filepath.Join(n.dir, "processors", string(table)))
	var out []int32
	for _, e := range entries {
		if p, err := strconv.Atoi(e.Name()); err == nil && e.IsDir() {
			out = append(out, int32(p))
		}
	}
	slices.Sort(out)
	return out
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

// assignment maps each node id to the commands partitions the inventory
// group assigned it, and gives the group's state.
func (d *deployment) assignment(ctx context.Context) (string, map[string][]int32, error) {
	groups, err := d.adm.DescribeGroups(ctx, string(d.names.Group))
	if err != nil {
		return "", nil, err
	}
	g, ok := groups[string(d.names.Group)]
	if !ok {
		return "", nil, errors.New("group not described")
	}
	if g.Err != nil {
		return "", nil, g.Err
	}
	out := map[string][]int32{}
	for _, m := range g.Members {
		id := strings.TrimSuffix(strings.TrimPrefix(m.ClientID, "titan-"), "-inventory")
		c, ok := m.Assigned.AsConsumer()
		if !ok {
			continue
		}
		for _, tp := range c.Topics {
			if tp.Topic == string(d.names.Commands) {
				out[id] = append(out[id], tp.Partitions...)
			}
		}
		slices.Sort(out[id])
	}
	return g.State, out, nil
}

// waitBalanced waits until every node has recovered and the group is
// stable with exactly these nodes, each holding at least one partition.
func (d *deployment) waitBalanced(ctx context.Context, nodes ...*node) map[string][]int32 {
	d.t.Helper()
	assigned, err := d.balanced(ctx, nodes...)
	if err != nil {
		d.t.Fatal(err)
	}
	return assigned
}

// balanced is waitBalanced for any goroutine: it returns the error.
func (d *deployment) balanced(ctx context.Context, nodes ...*node) (map[string][]int32, error) {
	var assigned map[string][]int32
	err := waitFor(ctx, "group balanced", func() (bool, string) {
		for _, n := range nodes {
			if !n.inst.Ready() {
				return false, n.id + " not ready"
			}
		}
		st, a, err := d.assignment(ctx)
		if err != nil {
			return false, err.Error()
		}
		if st != "Stable" || len(a) != len(nodes) {
			return false, fmt.Sprintf("group %s, assignment %v", st, a)
		}
		total := 0
		for _, n := range nodes {
			if len(a[n.id]) == 0 {
				return false, fmt.Sprintf("%s holds nothing: %v", n.id, a)
			}
			total += len(a[n.id])
		}
		if total != partitions {
			return false, fmt.Sprintf("assignment %v", a)
		}
		assigned = a
		return true, ""
	})
	return assigned, err
}

// sender produces commands through the SDK without waiting on each.
type sender struct {
	p  *sdk.Producer
	mu struct {
		sync.Mutex
		errs []error
	}
}

func (d *deployment) sender() *sender {
	d.t.Helper()
	p, err := sdk.NewProducer(d.brokers, sdk.WithClientID("titan-test-sender"),
		sdk.WithCommandsTopic(string(d.names.Commands)))
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(p.Close)
	return &sender{p: p}
}

func (s *sender) send(ctx context.Context, cmd *inventoryv1.Command) {
	s.p.SendCommandAsync(ctx, cmd, func(_ sdk.Ack, err error) {
		if err != nil {
			s.mu.Lock()
			s.mu.errs = append(s.mu.errs, err)
			s.mu.Unlock()
		}
	})
}

// flush waits for every send so far and reports any that failed.
func (s *sender) flush(ctx context.Context) error {
	if err := s.p.Flush(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.mu.errs...)
}

// produce sends n commands of w in batches, at most one batch per pace, so
// command timestamps spread over seconds as a shop's traffic does: short
// reservations then expire between commands, lazily or by the sweeper.
func produce(ctx context.Context, s *sender, w *workload, n, batch int, pace time.Duration) error {
	for sent := 0; sent < n; {
		start := time.Now()
		for i := 0; i < batch && sent < n; i, sent = i+1, sent+1 {
			s.send(ctx, w.next(time.Now()))
		}
		if err := s.flush(ctx); err != nil {
			return err
		}
		if rest := pace - time.Since(start); rest > 0 {
			timer := time.NewTimer(rest)
			select {
			case <-ctx.Done():
				timer.Stop()
				return ctx.Err()
			case <-timer.C:
			}
		}
	}
	return nil
}

// endOffsets are the next offsets to be written, by partition.
func (d *deployment) endOffsets(ctx context.Context, topic goka.Stream) (map[int32]int64, error) {
	listed, err := d.adm.ListEndOffsets(ctx, string(topic))
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}

// waitCommitted waits until the inventory group has committed every
// record of topic up to ends. goka commits a record only after its state
// and events are acknowledged, so the events are in the log by then.
func (d *deployment) waitCommitted(ctx context.Context, topic goka.Stream, ends map[int32]int64) error {
	return waitFor(ctx, "inventory group commits every command of "+string(topic), func() (bool, string) {
		committed, err := d.adm.FetchOffsets(ctx, string(d.names.Group))
		if err != nil {
			return false, err.Error()
		}
		for p, end := range ends {
			o, _ := committed.Lookup(string(topic), p)
			if o.At < end {
				return false, fmt.Sprintf("partition %d committed %d of %d", p, o.At, end)
			}
		}
		return true, ""
	})
}

// settledCommands are the commands of both topics, each read to its ends.
type settledCommands struct {
	public, internal         []*kgo.Record
	publicEnds, internalEnds map[int32]int64
}

// settle waits until every command in both topics is processed and l has
// read every event they produced, and returns the commands in (partition,
// offset) order with the end offsets they were read to.
func (d *deployment) settle(ctx context.Context, l *eventLog) (settledCommands, error) {
	var out settledCommands
	for {
		var err error
		if out.publicEnds, err = d.endOffsets(ctx, d.names.Commands); err != nil {
			return out, err
		}
		if out.internalEnds, err = d.endOffsets(ctx, d.names.Internal); err != nil {
			return out, err
		}
		if err := d.waitCommitted(ctx, d.names.Commands, out.publicEnds); err != nil {
			return out, err
		}
		if err := d.waitCommitted(ctx, d.names.Internal, out.internalEnds); err != nil {
			return out, err
		}
		// A sweeper may have proposed an expiry meanwhile.
		again, err := d.endOffsets(ctx, d.names.Internal)
		if err != nil {
			return out, err
		}
		if maps.Equal(out.internalEnds, again) {
			break
		}
	}
	evEnds, err := d.endOffsets(ctx, d.names.Events)
	if err != nil {
		return out, err
	}
	if err := l.readTo(ctx, evEnds); err != nil {
		return out, err
	}
	if out.public, err = d.readTopic(ctx, d.names.Commands, out.publicEnds); err != nil {
		return out, err
	}
	out.internal, err = d.readTopic(ctx, d.names.Internal, out.internalEnds)
	return out, err
}

// readTopic reads topic from the start up to ends.
func (d *deployment) readTopic(ctx context.Context, topic goka.Stream, ends map[int32]int64) ([]*kgo.Record, error) {
	return kafkatest.ReadTo(ctx, d.brokers, string(topic), ends)
}

// seenEvent is one record of the events topic.
type seenEvent struct {
	partition int32
	offset    int64
	ev        inventory.Event
	// canon identifies the event's content: two records with equal canon
	// are the same event published twice.
	canon string
}

func canonical(e inventory.Event) string {
	b, err := canonicalOpts.Marshal(inventory.EventToWire(e))
	if err != nil {
		panic(err)
	}
	return string(b)
}

// eventLog reads the events topic from the start and indexes what it saw.
type eventLog struct {
	cl      *kgo.Client
	next    map[int32]int64
	bySKU   map[string][]seenEvent
	results map[string][]seenEvent // by command id
	// ended holds the reservations ("sku\x00order") with a Committed,
	// Released or Expired event.
	ended   map[string]bool
	records int
	bad     []string
}

func (d *deployment) eventLog() *eventLog {
	d.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.brokers...),
		kgo.ConsumeTopics(string(d.names.Events)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(cl.Close)
	return &eventLog{cl: cl, next: map[int32]int64{}, bySKU: map[string][]seenEvent{},
		results: map[string][]seenEvent{}, ended: map[string]bool{}}
}

func reservationKey(sku, order string) string { return sku + "\x00" + order }

// poll reads what arrives within at most wait.
func (l *eventLog) poll(ctx context.Context, wait time.Duration) {
	pctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	dec := codec.Event()
	l.cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
		l.records++
		l.next[r.Partition] = r.Offset + 1
		w, err := dec.DecodeMessage(r.Value)
		if err != nil {
			l.bad = append(l.bad, fmt.Sprintf("%d/%d: %v", r.Partition, r.Offset, err))
			return
		}
		e := inventory.EventFromWire(w)
		s := seenEvent{partition: r.Partition, offset: r.Offset, ev: e, canon: canonical(e)}
		if string(r.Key) != e.SKU {
			l.bad = append(l.bad, fmt.Sprintf("%d/%d: key %q for sku %q", r.Partition, r.Offset, r.Key, e.SKU))
		}
		l.bySKU[e.SKU] = append(l.bySKU[e.SKU], s)
		if e.IsResult() {
			l.results[e.CommandID] = append(l.results[e.CommandID], s)
		}
		switch e.Type {
		case inventory.EventCommitted, inventory.EventReleased, inventory.EventExpired:
			l.ended[reservationKey(e.SKU, e.OrderID)] = true
		}
	})
}

// pollUntil reads until cond holds or ctx ends.
func (l *eventLog) pollUntil(ctx context.Context, what string, cond func() (bool, string)) error {
	for {
		ok, detail := cond()
		if ok {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w; still missing: %s", what, ctx.Err(), detail)
		}
		l.poll(ctx, 500*time.Millisecond)
	}
}

// readTo reads until every partition is read up to ends.
func (l *eventLog) readTo(ctx context.Context, ends map[int32]int64) error {
	return l.pollUntil(ctx, "reading events", func() (bool, string) {
		for p, end := range ends {
			if l.next[p] < end {
				return false, fmt.Sprintf("partition %d at %d of %d", p, l.next[p], end)
			}
		}
		return true, ""
	})
}

// startView runs a goka view of the inventory table, built with the same
// options the instances use, until the test ends.
func (d *deployment) startView(ctx context.Context) *goka.View {
	d.t.Helper()
	sb, err := state.NewBuilder(d.t.TempDir(), state.WithSync(state.SyncNone))
	if err != nil {
		d.t.Fatal(err)
	}
	build := func(topic string, p int32) (storage.Storage, error) {
		st, err := sb.Build(topic, p)
		if err == nil {
			d.viewMu.Lock()
			if d.viewParts == nil {
				d.viewParts = map[int32]storage.Storage{}
			}
			d.viewParts[p] = st
			d.viewMu.Unlock()
		}
		return st, err
	}
	opts := gokaopts.Config{Brokers: d.brokers, Replication: 1, Storage: build,
		ClientID: "titan-test-view", Logger: d.log}
	v, err := goka.NewView(d.brokers, d.names.Table(), inventorytopo.HeadCodec, opts.View()...)
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
				d.t.Errorf("view: %v", err)
			}
		case <-timer.C:
			d.t.Errorf("view did not stop within %v", stopWait)
		}
		_ = sb.Close()
	})
	if err := waitFor(ctx, "view recovered", func() (bool, string) { return v.Recovered(), "" }); err != nil {
		d.t.Fatal(err)
	}
	return v
}

// viewCatchUp bounds how long the view may take to apply changelog records
// that are already written.
const viewCatchUp = time.Minute

// viewStates reads the state of every SKU in want from v once v has applied
// at least the command offset want gives for it. If the table never gets
// there, it returns what it read with the error.
func (d *deployment) viewStates(ctx context.Context, v *goka.View, want map[string]inventory.State) (map[string]inventory.State, error) {
	ctx, cancel := context.WithTimeout(ctx, viewCatchUp)
	defer cancel()
	got := map[string]inventory.State{}
	err := waitFor(ctx, "view catches up with the model", func() (bool, string) {
		for sku, m := range want {
			if s, ok := got[sku]; ok && s.Offset >= m.Offset {
				continue
			}
			val, err := v.Get(sku)
			if err != nil {
				return false, err.Error()
			}
			h := inventory.NewHead()
			if val != nil {
				h = val.(inventory.Head)
			}
			if h.Offset < m.Offset {
				got[sku] = inventory.NewState()
				return false, fmt.Sprintf("%s at offset %d of %d", sku, h.Offset, m.Offset)
			}
			d.viewMu.Lock()
			st := d.viewParts[partition.Partition([]byte(sku), partitions)]
			d.viewMu.Unlock()
			s, err := inventorytopo.LoadState(st, sku)
			if err != nil {
				return false, err.Error()
			}
			got[sku] = s
			if s.Offset < m.Offset {
				return false, fmt.Sprintf("%s at offset %d of %d", sku, s.Offset, m.Offset)
			}
		}
		return true, ""
	})
	return got, err
}

var canonicalOpts = proto.MarshalOptions{Deterministic: true}

// workload generates a reproducible mix of client commands over a set of
// SKUs: restocks, reservations with short and long TTLs, commits and
// releases of earlier orders (some already ended), reservations of an order
// twice, closes of orders never made, and exact re-sends of earlier
// commands. Only the timestamps come from the clock.
type workload struct {
	rng    *rand.Rand
	prefix string
	skus   []string
	seq    int
	// cmds holds every distinct client command in first-send order;
	// a re-send is one of these, byte for byte.
	cmds     []*inventoryv1.Command
	byID     map[string]*inventoryv1.Command
	reserves []*inventoryv1.Command
	short    map[string]bool // reserve command ids with a short TTL
	// restocked is the ground truth of every SKU's restocks.
	restocked map[string]int64
	sends     int
	dupNow    int
	dupLate   int
}

const (
	longTTL = time.Hour
	// coldSKUs see a command only now and then, so their short
	// reservations are ended by the sweeper while they are idle.
	coldSKUs = 20
)

func newWorkload(seed uint64, prefix string, skus int) *workload {
	w := &workload{
		rng:       rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		prefix:    prefix,
		byID:      map[string]*inventoryv1.Command{},
		short:     map[string]bool{},
		restocked: map[string]int64{},
	}
	for i := range skus {
		w.skus = append(w.skus, fmt.Sprintf("sku-%03d", i))
	}
	return w
}

func (w *workload) pickSKU() string {
	hot := len(w.skus) - coldSKUs
	if w.rng.IntN(100) < 2 {
		return w.skus[hot+w.rng.IntN(coldSKUs)]
	}
	return w.skus[w.rng.IntN(hot)]
}

// pickReserve picks one of the recent reservations: recent enough that some
// are still open, old enough that some have ended.
func (w *workload) pickReserve() *inventoryv1.Command {
	n := min(len(w.reserves), 1500)
	return w.reserves[len(w.reserves)-1-w.rng.IntN(n)]
}

// next returns the command to send at now.
func (w *workload) next(now time.Time) *inventoryv1.Command {
	w.sends++
	r := w.rng.IntN(100)
	if r < 10 && len(w.cmds) > 0 {
		if w.rng.IntN(2) == 0 {
			w.dupNow++
			return w.cmds[len(w.cmds)-1-w.rng.IntN(min(len(w.cmds), 3))]
		}
		w.dupLate++
		return w.cmds[w.rng.IntN(len(w.cmds))]
	}
	w.seq++
	c := inventory.Command{ID: fmt.Sprintf("%s-c%06d", w.prefix, w.seq), Time: now}
	if r >= 70 && r < 97 && len(w.reserves) == 0 {
		r = 10 // nothing to close yet: restock instead
	}
	switch {
	case r < 28:
		c.Kind, c.SKU, c.Qty = inventory.KindRestock, w.pickSKU(), 1+w.rng.Int64N(40)
		w.restocked[c.SKU] += c.Qty
	case r < 70:
		c.Kind, c.SKU, c.Qty = inventory.KindReserve, w.pickSKU(), 1+w.rng.Int64N(8)
		c.OrderID = fmt.Sprintf("%s-o%06d", w.prefix, w.seq)
		c.TTL = longTTL
		if w.rng.IntN(100) < 60 {
			c.TTL = time.Duration(300+w.rng.IntN(2200)) * time.Millisecond
			w.short[c.ID] = true
		}
	case r < 72:
		// The same order again under a new id: already_reserved, unless
		// the first attempt was refused.
		prev := w.pickReserve()
		c.Kind, c.SKU, c.OrderID, c.Qty, c.TTL = inventory.KindReserve, prev.GetSku(), prev.GetOrderId(), 1, longTTL
	case r < 97:
		prev := w.pickReserve()
		c.Kind, c.SKU, c.OrderID = inventory.KindCommit, prev.GetSku(), prev.GetOrderId()
		if r >= 89 {
			c.Kind = inventory.KindRelease
		}
	default:
		c.Kind, c.SKU, c.OrderID = inventory.KindCommit, w.pickSKU(), fmt.Sprintf("%s-nobody-%d", w.prefix, w.seq)
		if r == 99 {
			c.Kind = inventory.KindRelease
		}
	}
	wire := inventory.CommandToWire(c)
	w.cmds = append(w.cmds, wire)
	w.byID[c.ID] = wire
	if c.Kind == inventory.KindReserve {
		w.reserves = append(w.reserves, wire)
	}
	return wire
}

// quiet reports whether l has a result for every command of w and an end
// for every short reservation that was made, and if not, what is missing.
func (w *workload) quiet(l *eventLog) (bool, string) {
	var noResult, open []string
	for _, c := range w.cmds {
		res := l.results[c.GetCommandId()]
		switch {
		case len(res) == 0:
			noResult = append(noResult, c.GetCommandId())
		case w.short[c.GetCommandId()] && res[0].ev.Type == inventory.EventReserved &&
			!l.ended[reservationKey(c.GetSku(), c.GetOrderId())]:
			open = append(open, c.GetSku()+"/"+c.GetOrderId())
		}
	}
	if len(noResult) == 0 && len(open) == 0 {
		return true, ""
	}
	return false, fmt.Sprintf("%d commands without a result (e.g. %v), %d short reservations not ended (e.g. %v); %d events read",
		len(noResult), noResult[:min(len(noResult), 5)], len(open), open[:min(len(open), 5)], l.records)
}
