// Package instance assembles one Titan process: the broker connection (or
// the embedded in-memory broker), the topics, the Pebble state, the
// topologies, the views the API reads, and the HTTP server. cmd/titan runs
// one; integration tests and benchmarks run several side by side.
//
// # Failures
//
// goka reports its own failures (a state write or read that fails, a send
// Kafka refuses, a consumer group that loses its broker) by stopping the
// processor, and internal/observe lets them, rather than turning the input
// into a dead letter. Such a failure stops one component, not the
// instance: each topology (its processors with their punctuator), each view
// the API reads and each results consumer runs under internal/supervise.
// A component that stops while the instance runs is logged at Error level
// with its name, shown in /readyz (503, naming it with its last error)
// while /healthz stays 200, and built again with the same options after a
// backoff (Config.RestartBackoff: 1 s doubling to 30 s, started over once
// an incarnation has run for a minute). The new processors resume from
// their committed offsets. Ready, the lag metrics and the API's views
// always read the current incarnation.
//
// Before a failed topology is built again its tables' local state is
// distrusted (state.Builder.Distrust): the processor may have written
// values locally whose changelog records and outputs never reached Kafka,
// and trusting them it would see its effect applied and not emit the lost
// outputs again. The rebuilt processors recover those tables from their
// changelogs, which hold only what Kafka acknowledged, and decide the
// unacknowledged input again; the cost is one changelog replay.
//
// On a real cluster the instance also runs a liveness beacon and watches
// the other instances in its consumer groups through theirs
// (internal/liveness, Config.PeerAddr): when one is killed, the survivors
// remove its group members at once, and its partitions move without
// waiting out the session timeout.
//
// Cancelling Run's context is not a failure: it shuts everything down in
// the order Run describes. Only the HTTP server failing ends Run early.
// Config.Faults is a hook for tests to make state writes and sends fail on
// demand.
package instance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/titan-commerce/titan/analytics"
	"github.com/titan-commerce/titan/api"
	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/kafkaadmin"
	"github.com/titan-commerce/titan/internal/liveness"
	"github.com/titan-commerce/titan/internal/metrics"
	"github.com/titan-commerce/titan/internal/restore"
	"github.com/titan-commerce/titan/internal/supervise"
	"github.com/titan-commerce/titan/internal/topology"
	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/processors/inventory"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	"github.com/titan-commerce/titan/sdk"
	"github.com/titan-commerce/titan/sinks/clickhouse"
	"github.com/titan-commerce/titan/state"
	"github.com/titan-commerce/titan/topologies/flashsaletopo"
	"github.com/titan-commerce/titan/topologies/inventorytopo"
)

// ErrHTTPListen is wrapped by the error New returns when the API cannot
// listen on Config.HTTPAddr, beside the listener's own error.
var ErrHTTPListen = errors.New("instance: the HTTP API cannot listen on")

// Instance is one running Titan process.
type Instance struct {
	cfg     Config
	names   inventorytopo.Names
	log     *slog.Logger
	brokers []string

	cluster  *kfake.Cluster // embedded broker, nil with real brokers
	tempDir  string         // removed at close when StateDir was empty
	procs    *state.Builder
	views    *state.Builder
	lookups  *state.Builder // the tables processors look up (goka.Lookup)
	producer *sdk.Producer
	// own writes everything Titan sends on its own behalf and the API's
	// flash-sale messages (sdk.Keyed): the punctuators' proposals, a
	// sale's creation, a buyer's purchase. Its buffer is the instance's: a
	// request that finds it full is shed (429), a proposal waits for room.
	own *sdk.Producer
	// sup runs the topologies, views and results consumers, and builds
	// again whichever fails.
	sup *supervise.Supervisor
	// clickhouse is the analytics' connection; nil without ClickHouse.
	clickhouse *clickhouse.Conn
	fsNames    flashsaletopo.Names
	// flash is the flash-sale topology's first incarnation, nil unless the
	// instance runs flash sales; after a failure the supervisor runs
	// another, whose router is the same.
	flash  *flashsaletopo.Topology
	stock  *view
	orders *view
	// Flash-sale views and results, for the API; nil without flash sales.
	sales     *view
	purchases *view
	fsResults *api.FlashSaleResults
	// The order pipeline and recommendations; nil unless the instance runs
	// them.
	ord      *orderPipeline
	recs     *recsPipeline
	results  *api.Results
	server   *api.Server
	ln       net.Listener
	registry *prometheus.Registry

	// started is when New began, from which the ready log line counts.
	started time.Time
	// admin looks up the changelogs' ends for progress.
	admin    *kgo.Client
	progress *progress
	// tables lists, per supervised component, the tables it holds, for
	// /readyz; built before Run, read-only after.
	tables map[string][]tableRef
	// groups are the consumer groups of the processors the instance runs.
	groups []string
	// beacon tells the other instances this one is alive; nil when
	// Config.PeerAddr is empty or the broker is embedded.
	beacon  *liveness.Beacon
	watcher *liveness.Watcher

	closeOnce sync.Once
}

// New builds an instance; Run starts it. On error everything built so far
// is torn down again.
func New(ctx context.Context, cfg Config) (inst *Instance, err error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	i := newInstance(cfg)
	if i.sup, err = supervise.New(supervise.Options{Backoff: cfg.RestartBackoff, Logger: cfg.Logger}); err != nil {
		return nil, fmt.Errorf("instance: %w", err)
	}
	defer func() {
		if err != nil {
			i.close()
		}
	}()
	if cfg.HTTPAddr != "" {
		// Taken first: an address in use is the commonest reason a start
		// fails, and it should fail before topics are made and state opened.
		if i.ln, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return nil, fmt.Errorf("%w %s: %w", ErrHTTPListen, cfg.HTTPAddr, err)
		}
	}
	if err := i.startBroker(); err != nil {
		return nil, err
	}
	if err := i.ensureTopics(ctx); err != nil {
		return nil, err
	}
	if i.admin, err = kgo.NewClient(kgo.SeedBrokers(i.brokers...), kgo.ClientID(i.clientID("admin"))); err != nil {
		return nil, fmt.Errorf("instance: admin client: %w", err)
	}
	if err := i.openState(); err != nil {
		return nil, err
	}
	if cfg.PeerAddr != "" && !cfg.Embedded() {
		if i.beacon, err = liveness.Listen(cfg.PeerAddr, cfg.PeerAdvertise); err != nil {
			return nil, fmt.Errorf("instance: %w", err)
		}
	}
	i.progress = newProgress(kadm.NewClient(i.admin), i.procs, i.views)
	// The API's inventory commands, order events and price commands are
	// clients' records: the SDK checks them as any client's.
	if i.producer, err = sdk.NewProducer(i.brokers, sdk.WithClientID(i.clientID("producer")),
		sdk.WithNamespace(i.cfg.Namespace), sdk.WithMaxBuffered(i.cfg.MaxBuffered)); err != nil {
		return nil, fmt.Errorf("instance: producer: %w", err)
	}
	// Titan's own messages are written with the Keyed writers, which
	// leave the checks to their senders. No linger: the API's sends
	// through it wait for their acknowledgement (sdk.Keyed.TrySend).
	if i.own, err = sdk.NewProducer(i.brokers,
		sdk.WithClientID(i.clientID("own-producer")),
		sdk.WithLinger(0),
		sdk.WithKgoOptions(kgo.MetadataMinAge(failoverMetadataAge), kgo.MaxBufferedRecords(i.cfg.MaxBuffered)),
	); err != nil {
		return nil, fmt.Errorf("instance: producer of Titan's own messages: %w", err)
	}
	if err := i.buildTopology(); err != nil {
		return nil, err
	}
	if cfg.ClickHouse.Addr != "" {
		// Not waited for: the shop's hot paths do not stop for their
		// analytics, which answer 503 while ClickHouse is away.
		if i.clickhouse, err = clickhouse.Dial(cfg.ClickHouse); err != nil {
			return nil, fmt.Errorf("instance: %w", err)
		}
	}
	if cfg.HTTPAddr != "" {
		if err := i.buildAPI(ctx); err != nil {
			return nil, err
		}
	}
	if err := i.watchPeers(); err != nil {
		return nil, err
	}
	return i, nil
}

// newInstance is the instance of cfg with its names and parts, nothing
// built or connected yet.
func newInstance(cfg Config) *Instance {
	i := &Instance{cfg: cfg, names: inventorytopo.NamesFor(cfg.Namespace), fsNames: flashsaletopo.NamesFor(cfg.Namespace),
		log: cfg.Logger, brokers: cfg.Brokers, registry: prometheus.NewRegistry(), started: time.Now(),
		tables: map[string][]tableRef{}}
	if cfg.Runs(TopologyOrders) {
		i.ord = newOrderPipeline(i, cfg.Namespace)
	}
	if cfg.Runs(TopologyRecommendations) {
		i.recs = newRecsPipeline(i, cfg.Namespace)
	}
	return i
}

// watchPeers builds the watcher of the other instances in the groups of
// the processors this instance runs (internal/liveness).
func (i *Instance) watchPeers() error {
	if i.beacon == nil || len(i.groups) == 0 {
		return nil
	}
	removed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "titan_peer_members_removed_total",
		Help: "Consumer-group members of instances seen dead through their liveness beacon, removed from their groups by this instance.",
	}, []string{"group"})
	if err := i.registry.Register(removed); err != nil {
		return fmt.Errorf("instance: %w", err)
	}
	var err error
	i.watcher, err = liveness.NewWatcher(liveness.WatcherOptions{Client: i.admin, Groups: i.groups, Self: i.beacon.Peer(), Logger: i.log,
		Removed: func(group string, n int) { removed.WithLabelValues(group).Add(float64(n)) }})
	if err != nil {
		return fmt.Errorf("instance: %w", err)
	}
	return nil
}

func (i *Instance) clientID(role string) string {
	if i.cfg.InstanceID == "" {
		host, _ := os.Hostname()
		i.cfg.InstanceID = host
	}
	return "titan-" + i.cfg.InstanceID + "-" + role
}

func (i *Instance) startBroker() error {
	if !i.cfg.Embedded() {
		return nil
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return fmt.Errorf("instance: embedded broker: %w", err)
	}
	i.cluster = c
	i.brokers = c.ListenAddrs()
	i.log.Warn("EMBEDDED BROKER: no Kafka brokers configured, so Titan runs an in-process broker. "+
		"Its data lives in memory and is gone at exit; set TITAN_KAFKA_BROKERS or --brokers for a real cluster.",
		"addr", i.brokers)
	return nil
}

func (i *Instance) ensureTopics(ctx context.Context) error {
	// Topics just created are unknown to the first metadata the client
	// asks for; franz-go asks again no sooner than MetadataMinAge (5 s by
	// default), which a first start on a real cluster then waited out
	// before kafkaadmin.WaitServing saw the topics served.
	cl, err := kgo.NewClient(kgo.SeedBrokers(i.brokers...), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		return fmt.Errorf("instance: admin client: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var (
		topics []kafkaadmin.Topic
		sets   []kafkaadmin.Copartitioned
	)
	for _, p := range i.parts() {
		topics = append(topics, p.topics(int32(i.cfg.Partitions))...)
		sets = append(sets, p.copartitioned()...)
	}
	adm := kadm.NewClient(cl)
	if err := kafkaadmin.Ensure(ctx, adm, int16(i.cfg.Replication), topics); err != nil {
		return fmt.Errorf("instance: topics: %w", err)
	}
	// Topics made by an earlier deployment, or by hand, may disagree with
	// each other even when each matches nothing declared here.
	if err := kafkaadmin.CheckCopartitioned(ctx, adm, sets...); err != nil {
		return fmt.Errorf("instance: %w", err)
	}
	return nil
}

func (i *Instance) openState() error {
	dir := i.cfg.StateDir
	if dir == "" || i.cfg.Embedded() {
		// The embedded broker forgets everything at exit; state kept on
		// disk would point at offsets that no longer exist.
		tmp, err := os.MkdirTemp("", "titan-state-")
		if err != nil {
			return fmt.Errorf("instance: state dir: %w", err)
		}
		i.tempDir, dir = tmp, tmp
	}
	policy, _ := i.cfg.syncPolicy()
	// A partition that opens empty (a first start, a successor's after a
	// crash, a new instance's share) and holds at least MinRecords reads
	// its changelog in bulk before goka catches up the rest
	// (internal/restore). The API's views load
	// so too, although their update callbacks (api.Notifier, the stock
	// cache) do not see what a bulk load writes: a view loads in bulk
	// only while it has not recovered, and until then the API neither
	// reads it nor waits on it, and its caches hold nothing.
	load := state.WithBulkLoad(restore.Loader(i.admin, restore.MinRecords,
		kgo.SeedBrokers(i.brokers...), kgo.ClientID(i.clientID("restore"))))
	var err error
	if i.procs, err = state.NewBuilder(filepath.Join(dir, "processors"), state.WithSync(policy), state.WithLogger(i.log),
		load); err != nil {
		return fmt.Errorf("instance: state: %w", err)
	}
	// Views replicate whole tables; they get their own directory so they
	// never contend with the processors for a partition's database.
	// A view holds only what it read from the changelog, so its local
	// state is never ahead of Kafka and survives a crash as it is.
	if i.views, err = state.NewBuilder(filepath.Join(dir, "views"), state.WithSync(state.SyncNone), state.WithLogger(i.log),
		state.WithTrustUncleanState(true), load); err != nil {
		return fmt.Errorf("instance: state: %w", err)
	}
	// A processor's lookups replicate another group's table, as views
	// do, and the same table may be both a lookup and a view of the API.
	if i.lookups, err = state.NewBuilder(filepath.Join(dir, "lookups"), state.WithSync(state.SyncNone), state.WithLogger(i.log),
		state.WithTrustUncleanState(true), load); err != nil {
		return fmt.Errorf("instance: state: %w", err)
	}
	if err := metrics.RegisterStateCaches(i.registry,
		map[string]*state.Builder{"processors": i.procs, "views": i.views, "lookups": i.lookups}); err != nil {
		return fmt.Errorf("instance: state metrics: %w", err)
	}
	return nil
}

// lookupGokaConfig is gokaConfig for a processor that looks tables up
// (goka.Lookup): their copies are opened apart from the processors' own
// tables and the API's views (i.lookups), and their consumers ride through
// a broker's death (gokaopts.Config.Lookups).
func (i *Instance) lookupGokaConfig(role string, tables ...goka.Table) gokaopts.Config {
	store := func(topic string, partition int32) (storage.Storage, error) {
		if slices.Contains(tables, goka.Table(topic)) {
			return i.lookups.Build(topic, partition)
		}
		return i.procs.Build(topic, partition)
	}
	c := i.gokaConfig(store, role)
	c.Lookups = tables
	return c
}

func (i *Instance) gokaConfig(store storage.Builder, role string) gokaopts.Config {
	c := gokaopts.Config{
		Brokers:     i.brokers,
		Replication: i.cfg.Replication,
		Storage:     store,
		ClientID:    i.clientID(role),
		Logger:      i.log,
		// Views have no group; processors are what the timeout is for.
		SessionTimeout: i.cfg.GroupSessionTimeout,
	}
	if i.beacon != nil {
		c.MemberData = liveness.MemberData(i.beacon.Peer())
	}
	// Not assigned when nil: a nil *faults.Injector in the interface
	// would not compare equal to nil.
	if i.cfg.Faults != nil {
		c.Faults = i.cfg.Faults
	}
	return c
}

func (i *Instance) buildTopology() error {
	hooks, err := metrics.NewProcessing(i.registry)
	if err != nil {
		return fmt.Errorf("instance: metrics: %w", err)
	}
	for _, p := range i.parts() {
		if err := p.build(hooks); err != nil {
			return err
		}
	}
	if _, err := metrics.NewLag(i.registry, i.processors); err != nil {
		return fmt.Errorf("instance: metrics: %w", err)
	}
	return nil
}

// inventoryPart is the inventory topology: stock per SKU, the order index
// and the expiry sweeper.
type inventoryPart struct{ i *Instance }

func (p inventoryPart) topics(partitions int32) []kafkaadmin.Topic {
	return p.i.names.Topics(partitions)
}

func (p inventoryPart) copartitioned() []kafkaadmin.Copartitioned { return p.i.names.Copartitioned() }

func (p inventoryPart) build(hooks *metrics.Processing) error {
	_, err := supervised(p.i, TopologyInventory, inventorytopo.New, p.options(hooks))
	return err
}

func (p inventoryPart) graphs() []TopologyGraph {
	return []TopologyGraph{{TopologyInventory, inventorytopo.Graphs(p.options(nil))}}
}

func (p inventoryPart) options(hooks *metrics.Processing) inventorytopo.Options {
	i := p.i
	policy := inventory.DefaultPolicy()
	policy.DedupeWindow = i.cfg.DedupeWindow
	return inventorytopo.Options{
		Base: topology.Base{
			TimeWindow: i.cfg.TimeWindow,
			Partitions: int32(i.cfg.Partitions),
			Goka:       i.gokaConfig(i.procs.Build, "inventory"),
			Hooks:      hooks,
			Logger:     i.log,
		},
		Replies:       i.inventoryReplies(),
		Names:         i.names,
		Local:         i.recoveredPartitions,
		Send:          sdk.KeyedOn(i.own, string(i.names.Internal), (*inventoryv1.Command).GetSku).SendAll,
		Policy:        policy,
		SweepInterval: i.cfg.SweepInterval,
	}
}

// flashSalePart is the flash-sale topology: sales, buckets, buyers, the
// purchase index and the settler.
type flashSalePart struct{ i *Instance }

func (p flashSalePart) topics(partitions int32) []kafkaadmin.Topic {
	return p.i.fsNames.Topics(partitions)
}

func (p flashSalePart) copartitioned() []kafkaadmin.Copartitioned { return p.i.fsNames.Copartitioned() }

func (p flashSalePart) build(hooks *metrics.Processing) error {
	var err error
	p.i.flash, err = supervised(p.i, TopologyFlashSale, flashsaletopo.New, p.options(hooks))
	return err
}

func (p flashSalePart) graphs() []TopologyGraph {
	return []TopologyGraph{{TopologyFlashSale, flashsaletopo.Graphs(p.options(nil))}}
}

func (p flashSalePart) options(hooks *metrics.Processing) flashsaletopo.Options {
	i := p.i
	return flashsaletopo.Options{
		Base: topology.Base{
			Partitions: int32(i.cfg.Partitions),
			Goka:       i.gokaConfig(i.procs.Build, "flashsale"),
			TimeWindow: i.cfg.TimeWindow,
			Hooks:      hooks,
			Logger:     i.log,
		},
		Names:     i.fsNames,
		Inventory: i.names.Internal,
		Local:     i.recoveredPartitions,
		Send:      sdk.KeyedOn(i.own, string(i.fsNames.Internal), (*flashsalev1.Message).GetKey).SendAll,
	}
}

func (i *Instance) recoveredPartitions(topic string) []storage.Storage {
	var out []storage.Storage
	for _, p := range i.procs.Open(topic) {
		if p.Storage.Recovered() {
			out = append(out, p.Storage)
		}
	}
	return out
}

// inventoryReplies routes the inventory's answers about a flash sale's
// allocation to the sale's key; none without flash sales. Every instance of
// a deployment runs the same topologies, so the inventory partitions of an
// instance without flash sales see no allocation to answer.
func (i *Instance) inventoryReplies() []inventorytopo.Reply {
	if !i.cfg.Runs(TopologyFlashSale) {
		return nil
	}
	return []inventorytopo.Reply{{Prefix: flashsale.AllocationPrefix, Stream: i.fsNames.Allocations, Key: flashsaletopo.AllocationKey}}
}

func (i *Instance) buildAPI(ctx context.Context) error {
	stockN, ordersN := api.NewNotifier(), api.NewNotifier()
	viewWith := func(update goka.UpdateCallback) []goka.ViewOption {
		return append(i.gokaConfig(i.views.Build, "view").View(), goka.WithViewCallback(update))
	}
	viewOpts := func(n *api.Notifier) []goka.ViewOption { return viewWith(n.Callback()) }
	// The recommendation routes ask for the stock of every neighbor they
	// rank: they read it through a cache that the view's writes keep
	// current.
	stockCache := newViewCache[any](stockCacheSize)
	var err error
	if i.stock, err = i.newView(i.names.Table(), inventorytopo.HeadCodec, viewWith(stockCache.after(stockN.Callback()))...); err != nil {
		return fmt.Errorf("instance: stock view: %w", err)
	}
	if i.orders, err = i.newView(i.names.OrdersTable(), inventorytopo.IndexCodec, viewOpts(ordersN)...); err != nil {
		return fmt.Errorf("instance: order view: %w", err)
	}
	if i.results, err = api.NewResults(ctx, i.brokers, string(i.names.Events), i.log); err != nil {
		return err
	}
	if err := i.superviseConsumer("inventory results", i.results); err != nil {
		return err
	}
	flashDeps, err := i.flashSaleDeps(ctx, viewOpts)
	if err != nil {
		return err
	}
	orderDeps, err := i.orderDeps(ctx, viewOpts)
	if err != nil {
		return err
	}
	recsDeps, err := i.recsDeps(viewOpts, cachedTable{view: i.stock, cache: stockCache})
	if err != nil {
		return err
	}
	i.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	i.server, err = api.New(api.Deps{
		FlashSales:      flashDeps,
		OrderSaga:       orderDeps,
		Recommendations: recsDeps,
		Stock:           i.stock,
		StockNotifier:   stockN,
		Orders:          i.orders,
		OrdersNotifier:  ordersN,
		Send: func(ctx context.Context, cmd *inventoryv1.Command) (int32, int64, error) {
			ack, err := i.producer.SendCommand(ctx, cmd)
			return ack.Partition, ack.Offset, err
		},
		Results:   i.results,
		Ready:     i.Ready,
		Health:    i.health,
		Analytics: i.analytics(),
	}, api.Options{
		CommandWait: i.cfg.CommandWait,
		ReadWait:    i.cfg.ReadWait,
		MaxPending:  i.cfg.MaxPending,
		Registerer:  i.registry,
		Logger:      i.log,
		Access:      i.cfg.APIAccess,
	})
	return err
}

// analytics is what the API's analytics views read: nil without
// ClickHouse, which they answer with 503.
func (i *Instance) analytics() api.Analytics {
	if i.clickhouse == nil {
		return nil
	}
	return analytics.NewQuerier(i.clickhouse)
}

// flashSaleDeps builds what the API's flash-sale routes read and send
// through; nil when the instance runs no flash sales.
func (i *Instance) flashSaleDeps(ctx context.Context, viewOpts func(*api.Notifier) []goka.ViewOption) (*api.FlashSaleDeps, error) {
	if i.flash == nil {
		return nil, nil
	}
	salesN, purchasesN := api.NewNotifier(), api.NewNotifier()
	var err error
	if i.sales, err = i.newView(i.fsNames.Table(), flashsaletopo.StateCodec, viewOpts(salesN)...); err != nil {
		return nil, fmt.Errorf("instance: flash-sale view: %w", err)
	}
	if i.purchases, err = i.newView(i.fsNames.PurchasesTable(), flashsaletopo.ResultCodec, viewOpts(purchasesN)...); err != nil {
		return nil, fmt.Errorf("instance: purchase view: %w", err)
	}
	if i.fsResults, err = api.NewFlashSaleResults(ctx, i.brokers, string(i.fsNames.Events), i.log); err != nil {
		return nil, err
	}
	if err := i.superviseConsumer("flash-sale results", i.fsResults); err != nil {
		return nil, err
	}
	return &api.FlashSaleDeps{
		Sales:             i.sales,
		SalesNotifier:     salesN,
		Purchases:         i.purchases,
		PurchasesNotifier: purchasesN,
		Router:            i.flash.Router(),
		// Purchases are clients' messages, on the public topic; a
		// creation is Titan's, on the internal one.
		Send:         sdk.KeyedOn(i.own, string(i.fsNames.Commands), (*flashsalev1.Message).GetKey).TrySend,
		SendInternal: sdk.KeyedOn(i.own, string(i.fsNames.Internal), (*flashsalev1.Message).GetKey).TrySend,
		Results:      i.fsResults,
	}, nil
}

// Brokers are the brokers the instance talks to, the embedded one's
// address included.
func (i *Instance) Brokers() []string { return i.brokers }

// HTTPAddr is the address the API listens on, empty without one.
func (i *Instance) HTTPAddr() string {
	if i.ln == nil {
		return ""
	}
	return i.ln.Addr().String()
}

// Ready reports whether every processor and view has recovered its state,
// and none is failed.
func (i *Instance) Ready() bool { return i.sup.Ready() }

// announceReady logs, once, when the instance first becomes ready and how
// long it took from New; it gives up when ctx ends.
func (i *Instance) announceReady(ctx context.Context) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for !i.Ready() {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
	i.log.Info("ready", "took", time.Since(i.started).Round(time.Millisecond), "components", len(i.sup.Health()))
	return nil
}

// Run runs the instance until ctx ends or the API server fails. A
// topology, view or results consumer that fails meanwhile does not end it:
// the supervisor builds it again (see the package comment). Then Run shuts
// down in this order: the HTTP server stops taking requests and finishes
// those in flight (which may still be waiting for results, so everything
// else is still running); then the processors, views and consumers stop,
// committing their offsets; then the producer flushes; then the liveness
// beacon closes (only now may the other instances take this one's
// partitions on its word), the state is closed, and last the embedded
// broker goes.
func (i *Instance) Run(ctx context.Context) error {
	defer i.close()
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return i.sup.Run(gctx) })
	g.Go(func() error { return i.progress.Run(gctx) })
	g.Go(func() error { return i.announceReady(gctx) })
	if i.watcher != nil {
		g.Go(func() error { return i.watcher.Run(gctx) })
		i.log.Info("watching peers", "beacon", i.beacon.Peer().Addr, "groups", len(i.groups))
	}
	if i.server != nil {
		g.Go(func() error { return i.server.Serve(i.ln) })
		i.log.Info("api listening", "addr", i.HTTPAddr())
	}
	if i.cfg.Sink {
		g.Go(func() error { return i.runSink(gctx) })
	}
	select {
	case <-ctx.Done():
		i.log.Info("shutting down")
	case <-gctx.Done():
		// The supervisor returns only once runCtx ends: the server failed.
		i.log.Error("the API server stopped; shutting down")
	}
	if i.server != nil {
		sctx, cancel := context.WithTimeout(context.Background(), i.cfg.CommandWait+5*time.Second)
		if err := i.server.Shutdown(sctx); err != nil {
			i.log.Warn("http shutdown", "err", err)
		}
		cancel()
	}
	cancelRun()
	err := g.Wait()
	flush, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ferr := i.producer.Flush(flush); ferr != nil {
		err = errors.Join(err, ferr)
	}
	if ferr := i.own.Flush(flush); ferr != nil {
		err = errors.Join(err, ferr)
	}
	return err
}

// runSink writes the event topics to ClickHouse until ctx ends; it
// starts again after a failure and never stops the instance.
func (i *Instance) runSink(ctx context.Context) error {
	return clickhouse.Serve(ctx, clickhouse.ServiceOptions{
		ClickHouse: i.cfg.ClickHouse,
		Sink: clickhouse.SinkOptions{Brokers: i.brokers, Namespace: i.cfg.Namespace, ClientID: i.clientID("sink"),
			Metrics: clickhouse.NewMetrics(i.registry), Logger: i.log},
		Migrate:              true,
		DeadLetterPartitions: int32(i.cfg.Partitions),
		Replication:          int16(i.cfg.Replication),
	})
}

func (i *Instance) close() {
	i.closeOnce.Do(func() {
		if i.clickhouse != nil {
			_ = i.clickhouse.Close()
		}
		// Only now, with the processors stopped, may the others take
		// this instance's partitions on the beacon's word.
		if i.beacon != nil {
			_ = i.beacon.Close()
		}
		if i.ln != nil {
			_ = i.ln.Close()
		}
		if i.producer != nil {
			i.producer.Close()
		}
		if i.own != nil {
			i.own.Close()
		}
		if i.admin != nil {
			i.admin.Close()
		}
		for _, b := range []*state.Builder{i.procs, i.views, i.lookups} {
			if b != nil {
				if err := b.Close(); err != nil {
					i.log.Warn("close state", "err", err)
				}
			}
		}
		if i.cluster != nil {
			i.cluster.Close()
		}
		if i.tempDir != "" {
			_ = os.RemoveAll(i.tempDir)
		}
	})
}

// Names are the topics and groups the instance uses.
func (i *Instance) Names() inventorytopo.Names { return i.names }

// Metrics gathers the instance's Prometheus metrics.
func (i *Instance) Metrics() prometheus.Gatherer { return i.registry }
