package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/valyala/fasthttp"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkaadmin"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/schemas"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	"github.com/titan-commerce/titan/topologies/flashsaletopo"
	"github.com/titan-commerce/titan/topologies/inventorytopo"
)

// partitions is what every benchmark topic has, Titan's and the ceilings'.
const partitions = 8

// TestMain runs the benchmarks, Titan's and their ceilings alike, with the
// garbage collector's target titan run sets.
func TestMain(m *testing.M) {
	instance.ApplyGCPercent()
	os.Exit(m.Run())
}

// startTimeout bounds an instance's start: topic creation, two consumer
// group joins and the views' recovery, on a busy 2-core machine.
const startTimeout = 90 * time.Second

// quietLogger keeps the benchmark output to the figures: Titan logs its
// lifecycle at info.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// runID tells one benchmark's command and order ids from another's.
func runID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// commandID is shaped like the ids the API gives commands: 16 random
// bytes in hex.
func commandID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// startTitan runs one instance in a namespace of its own, waits until it
// has recovered, and registers its shutdown and the deletion of its topics
// and groups. withAPI listens on a free local port.
func startTitan(b *testing.B, brokers []string, withAPI bool) *instance.Instance {
	b.Helper()
	return startTitanIn(b, brokers, kafkatest.Prefix(b), withAPI)
}

// historyWindow admits the generated workloads' event times, which span
// the day before now (orders) and the sessions behind it (recommendations),
// produced in seconds.
var historyWindow = schemas.TimeWindow{Ahead: time.Hour, Behind: 50 * time.Hour}

// startTitanIn is startTitan in namespace ns, for benchmarks that need the
// flash-sale topology's names, which the instance does not hand out.
func startTitanIn(b *testing.B, brokers []string, ns string, withAPI bool) *instance.Instance {
	b.Helper()
	return runTitan(b, titanConfig(b, brokers, ns, withAPI), namespaceTopics(ns), namespaceGroups(ns))
}

// titanConfig is the configuration startTitanIn runs, for a benchmark that
// needs to change it or to know where the instance keeps its state.
func titanConfig(b *testing.B, brokers []string, ns string, withAPI bool) instance.Config {
	b.Helper()
	cfg := instance.Config{
		// Only what the test measures: the order pipeline would read the
		// inventory's events too and share its two cores.
		Topologies: []string{instance.TopologyInventory, instance.TopologyFlashSale},
		Brokers:    brokers,
		Namespace:  ns,
		StateDir:   b.TempDir(),
		Partitions: partitions,
		InstanceID: "bench-" + ns,
		Logger:     quietLogger(),
	}
	if withAPI {
		cfg.HTTPAddr = "127.0.0.1:0"
	}
	return cfg
}

// runTitan creates topics, runs an instance with cfg until it has
// recovered, and registers its shutdown and the deletion of topics and
// groups, which must be everything the instance creates and joins.
func runTitan(b *testing.B, cfg instance.Config, topics []kafkaadmin.Topic, groups []string) *instance.Instance {
	b.Helper()
	brokers := cfg.Brokers
	createTopics(b, brokers, topics)
	// Registered first, so it runs after the instance has stopped.
	b.Cleanup(func() { deleteNamespace(b, brokers, topics, groups) })
	inst, _ := launch(b, cfg, startTimeout)
	return inst
}

// launch runs an instance with cfg on topics that exist until it is
// ready, failing b if that takes longer than within. stop stops it and
// waits for it; it is also registered as a cleanup, and runs once.
func launch(b *testing.B, cfg instance.Config, within time.Duration) (inst *instance.Instance, stop func()) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	inst, err := instance.New(ctx, cfg)
	if err != nil {
		cancel()
		b.Fatalf("instance: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- inst.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				b.Errorf("instance stopped with: %v", err)
			}
		case <-time.After(startTimeout):
			b.Errorf("instance did not stop within %v", startTimeout)
		}
	})
	b.Cleanup(stop)

	wait, waited := context.WithTimeout(ctx, within)
	defer waited()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !inst.Ready() {
		select {
		case err := <-done:
			done <- err
			b.Fatalf("instance stopped while starting: %v", err)
		case <-wait.Done():
			b.Fatalf("instance not ready within %v", within)
		case <-tick.C:
		}
	}
	return inst, stop
}

// namespaceTopics are the topics an instance creates in ns: the
// inventory's and, as it runs both topologies by default, the flash sales'.
func namespaceTopics(ns string) []kafkaadmin.Topic {
	return append(inventorytopo.NamesFor(ns).Topics(partitions), flashsaletopo.NamesFor(ns).Topics(partitions)...)
}

// namespaceGroups are the consumer groups of an instance in ns.
func namespaceGroups(ns string) []string {
	inv, fs := inventorytopo.NamesFor(ns), flashsaletopo.NamesFor(ns)
	return []string{string(inv.Group), string(inv.OrdersGroup), string(fs.Group), string(fs.PurchasesGroup)}
}

// createTopics creates an instance's topics as the instance would and
// waits until the broker lists every partition with a leader. The
// instance creates missing topics itself but does not wait, and goka's
// topic manager, looking a moment later, may not see a table topic yet,
// try to create it too, and fail the start with "already exists".
func createTopics(b *testing.B, brokers []string, topics []kafkaadmin.Topic) {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		b.Fatalf("admin client: %v", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafkaadmin.Ensure(ctx, adm, 1, topics); err != nil {
		b.Fatalf("topics: %v", err)
	}
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.Name
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := leaders(ctx, adm, names)
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			b.Fatalf("topics not ready: %v", err)
		case <-tick.C:
		}
	}
}

func leaders(ctx context.Context, adm *kadm.Client, topics []string) error {
	m, err := adm.Metadata(ctx, topics...)
	if err != nil {
		return err
	}
	for _, name := range topics {
		td, ok := m.Topics[name]
		if !ok || td.Err != nil || len(td.Partitions) != partitions {
			return fmt.Errorf("%s not listed with %d partitions", name, partitions)
		}
		for _, p := range td.Partitions {
			if p.Err != nil || p.Leader < 0 {
				return fmt.Errorf("%s/%d has no leader", name, p.Partition)
			}
		}
	}
	return nil
}

// deleteNamespace removes an instance's topics and consumer groups, so
// repeated runs on a shared broker do not pile them up.
func deleteNamespace(b *testing.B, brokers []string, declared []kafkaadmin.Topic, groupNames []string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		b.Errorf("admin client: %v", err)
		return
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var topics []string
	for _, t := range declared {
		topics = append(topics, t.Name)
	}
	resp, err := adm.DeleteTopics(ctx, topics...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		b.Logf("deleting topics %v: %v", topics, err)
	}
	groups, err := adm.DeleteGroups(ctx, groupNames...)
	if err == nil {
		err = groups.Error()
	}
	if err != nil {
		b.Logf("deleting groups %v: %v", groupNames, err)
	}
}

// producerOpts are the sdk producer's settings (franz-go defaults with
// acks=all, idempotent, Kafka's default partitioner), so a ceiling's
// producer pays what Titan's does.
func producerOpts(brokers []string) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.RecordPartitioner(partition.Kgo()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	}
}

// tail reads every partition of a topic from where it ended when the tail
// was made; records produced after newTail returns are all seen.
type tail struct {
	cl *kgo.Client
}

func newTail(b *testing.B, brokers []string, topic string, opts ...kgo.Opt) *tail {
	b.Helper()
	adm := kafkatest.Admin(b, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		b.Fatalf("end offsets of %s: %v", topic, err)
	}
	start := map[string]map[int32]kgo.Offset{topic: {}}
	ends.Each(func(o kadm.ListedOffset) { start[topic][o.Partition] = kgo.NewOffset().At(o.Offset) })
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(start)}, opts...)...)
	if err != nil {
		b.Fatalf("consumer for %s: %v", topic, err)
	}
	b.Cleanup(cl.Close)
	return &tail{cl: cl}
}

// until polls until match has accepted n records and returns when the
// last of them was seen.
func (t *tail) until(ctx context.Context, n int, match func(*kgo.Record) bool) (time.Time, error) {
	seen := 0
	for seen < n {
		fetches := t.cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return time.Time{}, fmt.Errorf("saw %d of %d records: %w", seen, n, err)
		}
		var ferr error
		fetches.EachError(func(topic string, p int32, err error) {
			ferr = errors.Join(ferr, fmt.Errorf("%s/%d: %w", topic, p, err))
		})
		if ferr != nil {
			return time.Time{}, ferr
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if match(r) {
				seen++
			}
		})
	}
	return time.Now(), nil
}

// skuName is SKU i of a benchmark's catalogue.
func skuName(i int) string { return fmt.Sprintf("sku-%05d", i) }

// commandMix is the throughput workload: n commands over skus SKUs, taken
// in rounds of one command per SKU; every fourth round restocks 10 units,
// the others reserve one, each for an order of its own. Reserves mostly
// succeed and leave an open reservation, so SKU states grow as in a shop.
func commandMix(run string, n, skus int, now time.Time) []*inventoryv1.Command {
	out := make([]*inventoryv1.Command, n)
	for i := range n {
		out[i] = mixCommand(run, i, skus, now, 10*time.Minute)
	}
	return out
}

// mixCommand is command i of commandMix, whose reserves hold for ttl; a
// workload too long to hold in memory makes its commands one at a time.
func mixCommand(run string, i, skus int, now time.Time, ttl time.Duration) *inventoryv1.Command {
	c := &inventoryv1.Command{
		CommandId:   fmt.Sprintf("%s-c%d", run, i),
		Sku:         skuName(i % skus),
		TimestampMs: now.UnixMilli(),
	}
	if (i/skus)%4 == 0 {
		c.Qty = 10
		c.Kind = &inventoryv1.Command_Restock{Restock: &inventoryv1.Restock{}}
	} else {
		c.Qty = 1
		c.OrderId = fmt.Sprintf("%s-o%d", run, i)
		c.Kind = &inventoryv1.Command_Reserve{Reserve: &inventoryv1.Reserve{TtlMs: ttl.Milliseconds()}}
	}
	return c
}

// restocks is one restock of qty per SKU.
func restocks(run string, skus int, qty int64, now time.Time) []*inventoryv1.Command {
	out := make([]*inventoryv1.Command, skus)
	for i := range skus {
		out[i] = &inventoryv1.Command{
			CommandId:   fmt.Sprintf("%s-r%d", run, i),
			Sku:         skuName(i),
			Qty:         qty,
			TimestampMs: now.UnixMilli(),
			Kind:        &inventoryv1.Command_Restock{Restock: &inventoryv1.Restock{}},
		}
	}
	return out
}

// httpClient talks to one server over keep-alive connections, at most
// conns of them.
func httpClient(addr string, conns int) *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr:                addr,
		MaxConns:            conns,
		MaxConnWaitTimeout:  10 * time.Second,
		ReadTimeout:         10 * time.Second,
		WriteTimeout:        10 * time.Second,
		MaxIdleConnDuration: time.Minute,
	}
}

// errorsOnce keeps the first few errors of a load run for the log; the
// rest only count.
type errorsOnce struct {
	mu   sync.Mutex
	kept []error
}

func (e *errorsOnce) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.kept) < 3 {
		e.kept = append(e.kept, err)
	}
}

func (e *errorsOnce) log(b *testing.B) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, err := range e.kept {
		b.Logf("sample error: %v", err)
	}
}
