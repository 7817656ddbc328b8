package instance

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/titan-commerce/titan/api"
	"github.com/titan-commerce/titan/internal/faults"
	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/supervise"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/processors/orders"
	"github.com/titan-commerce/titan/processors/pricing"
	"github.com/titan-commerce/titan/schemas"
	"github.com/titan-commerce/titan/sinks/clickhouse"
	"github.com/titan-commerce/titan/state"
	"github.com/titan-commerce/titan/topologies/orderstopo"
)

// Topologies an instance can run. A flash sale takes its units from the
// inventory, and so does an order, so flashsale and orders need inventory
// running in the same deployment. orders is the order pipeline: pricing,
// fraud scoring and the order saga. recommendations learns from views and
// confirmed orders and filters by the inventory's stock.
const (
	TopologyInventory       = "inventory"
	TopologyFlashSale       = "flashsale"
	TopologyOrders          = "orders"
	TopologyRecommendations = "recommendations"
)

var knownTopologies = []string{TopologyInventory, TopologyFlashSale, TopologyOrders, TopologyRecommendations}

// DefaultMaxBufferedRecords is Config.MaxBuffered's default: about a
// second of a busy instance's commands.
const DefaultMaxBufferedRecords = 10000

// failoverMetadataAge is the least time between two metadata requests of
// the instance's producers: franz-go asks again after a failed send to a
// dead leader no sooner than this (5 s by default, most of a broker kill's
// silence).
const failoverMetadataAge = 250 * time.Millisecond

// Config is everything one Titan process needs. Zero fields take the
// defaults from EnsureDefaults; Validate reports what cannot work.
type Config struct {
	// Brokers of the Kafka cluster; empty starts the embedded in-memory
	// broker.
	Brokers []string
	// Namespace prefixes every topic and group name, so deployments can
	// share a cluster; empty uses the names in schemas.
	Namespace string
	// StateDir holds the Pebble state of processors and views. Empty means
	// a fresh temporary directory, removed at exit.
	StateDir string
	// HTTPAddr is where the API listens; empty disables it.
	HTTPAddr string
	// Partitions of every topic the instance creates.
	Partitions int
	// Replication of every topic the instance creates.
	Replication int
	// Topologies to run.
	Topologies []string
	// InstanceID names the process to Kafka (client ids); defaults to
	// the host name.
	InstanceID string
	// CommandWait bounds how long an API command waits for its result.
	CommandWait time.Duration
	// ReadWait bounds how long a read with min_offset waits.
	ReadWait time.Duration
	// MaxPending bounds the API's requests waiting for their results, per
	// results consumer (api.Options.MaxPending); past it a command is shed
	// with 429 overloaded. Default api.DefaultMaxPending.
	MaxPending int
	// MaxBuffered bounds the records each producer the API sends through
	// buffers for Kafka; a command that finds its producer's buffer full
	// is shed with 429 overloaded instead of waiting for room. Default
	// DefaultMaxBufferedRecords.
	MaxBuffered int
	// SweepInterval is how often expired reservations, and prices that
	// time alone changes (campaign boundaries, demand steps), are looked
	// for.
	SweepInterval time.Duration
	// DedupeWindow is how long a command id is remembered per SKU.
	DedupeWindow time.Duration
	// TimeWindow bounds a client message's own time against the time Kafka
	// received it: at most Ahead after it, at most Behind before it. A
	// message outside goes to its topology's dead letters as
	// invalid_timestamp.
	TimeWindow schemas.TimeWindow
	// OrderReserveTTL is how long the order saga's reservations hold
	// before they must be committed; the saga commits as soon as every line
	// is reserved, so this only matters if it falls that far behind.
	OrderReserveTTL time.Duration
	// OrderStepTimeout is how long an order waits for a step's answer (a
	// fraud verdict, a price quote, a reservation) before the saga rejects
	// it as timed_out and releases what it holds.
	OrderStepTimeout time.Duration
	// FraudModel is the path of the fraud model file, reloaded by
	// Instance.ReloadModel; empty uses the model built into the binary
	// (fraud.DefaultModelJSON, processors/fraud/model.json).
	FraudModel string
	// PricingRules is the path of a pricing rules file
	// (pricing.ParseRules: a campaign discount limit, the demand rule);
	// empty prices with pricing.DefaultPolicy. The pricing group, the
	// saga's quotes and the API's prices all read it. titan replay takes
	// the same file to try a changed rule on recorded traffic.
	PricingRules string
	// Sync is the state's sync policy: "none" (the changelog is the
	// durable copy) or "always".
	Sync   string
	Logger *slog.Logger

	// ClickHouse is where the analytics live: with its Addr set, the API's
	// /v1/analytics views and the dashboard read it. Empty leaves them
	// answering 503 analytics_unavailable.
	ClickHouse clickhouse.Options
	// Sink runs the ClickHouse sink (sinks/clickhouse) inside the
	// instance: it applies the schema and writes the event topics to
	// ClickHouse. It needs ClickHouse.Addr.
	Sink bool

	// APIAccess is who may use the HTTP API: bearer tokens (reloadable,
	// so the caller that loaded them reloads them), whether reads need
	// one, and the Host names the API answers to. The zero value leaves
	// the API open to anyone who can reach HTTPAddr.
	APIAccess api.Access

	// GroupSessionTimeout is how long a consumer group waits to hear from
	// an instance before it gives that instance's partitions to the
	// others; zero means gokaopts.DefaultSessionTimeout (6 s, the least a
	// broker accepts unless its group.min.session.timeout.ms is lowered).
	GroupSessionTimeout time.Duration

	// PeerAddr is where the instance's liveness beacon listens
	// (internal/liveness): the other instances in its consumer groups hold
	// a connection to it, and when it drops and nothing answers there
	// they remove this instance's members at once rather than wait out
	// the session timeout. Empty turns the beacon, and the watch of the
	// others, off; so does the embedded broker, which has no peers.
	PeerAddr string
	// PeerAdvertise is the address the others dial to reach PeerAddr;
	// empty means PeerAddr's own (the host name where it listens on every
	// interface).
	PeerAdvertise string

	// RestartBackoff bounds the wait before a processor, view or results
	// consumer that failed is started again; the zero value means
	// supervise.DefaultBackoff (1 s doubling to 30 s, reset after a
	// minute of running).
	RestartBackoff supervise.Backoff

	// Faults is the fault-injection hook: while its switches are on, the
	// processors' state writes or Kafka sends fail (internal/faults), as
	// a broken disk or a lost broker would make them. It exists for tests
	// of how an instance survives such failures; production leaves it nil.
	Faults *faults.Injector
}

// EnsureDefaults fills the zero fields.
func (c *Config) EnsureDefaults() {
	if c.Partitions == 0 {
		c.Partitions = 8
	}
	if c.Replication == 0 {
		c.Replication = 1
	}
	if len(c.Topologies) == 0 {
		c.Topologies = []string{TopologyInventory, TopologyFlashSale, TopologyOrders, TopologyRecommendations}
	}
	if c.CommandWait == 0 {
		c.CommandWait = 2 * time.Second
	}
	if c.ReadWait == 0 {
		c.ReadWait = 2 * time.Second
	}
	if c.MaxPending == 0 {
		c.MaxPending = api.DefaultMaxPending
	}
	if c.MaxBuffered == 0 {
		c.MaxBuffered = DefaultMaxBufferedRecords
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = time.Second
	}
	if c.DedupeWindow == 0 {
		c.DedupeWindow = inventory.DefaultPolicy().DedupeWindow
	}
	if c.TimeWindow.Ahead == 0 {
		c.TimeWindow.Ahead = schemas.DefaultTimeWindow().Ahead
	}
	if c.TimeWindow.Behind == 0 {
		c.TimeWindow.Behind = schemas.DefaultTimeWindow().Behind
	}
	if c.OrderReserveTTL == 0 {
		c.OrderReserveTTL = orders.DefaultPolicy().ReserveTTL
	}
	if c.OrderStepTimeout == 0 {
		c.OrderStepTimeout = orderstopo.DefaultStepTimeout
	}
	if c.Sync == "" {
		c.Sync = "none"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.RestartBackoff == (supervise.Backoff{}) {
		c.RestartBackoff = supervise.DefaultBackoff()
	}
	if c.GroupSessionTimeout == 0 {
		c.GroupSessionTimeout = gokaopts.DefaultSessionTimeout
	}
}

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	var errs []error
	if c.Sink && c.ClickHouse.Addr == "" {
		errs = append(errs, errors.New("the ClickHouse sink needs ClickHouse's address"))
	}
	for _, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			errs = append(errs, fmt.Errorf("broker %q is not host:port", b))
		}
	}
	if c.HTTPAddr != "" {
		if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
			errs = append(errs, fmt.Errorf("http address %q is not host:port", c.HTTPAddr))
		}
	}
	if c.Partitions < 1 || c.Partitions > 10000 {
		errs = append(errs, fmt.Errorf("partitions %d not in 1..10000", c.Partitions))
	}
	if c.Replication < 1 || c.Replication > 32767 {
		errs = append(errs, fmt.Errorf("replication %d not in 1..32767", c.Replication))
	}
	for _, t := range c.Topologies {
		if !slices.Contains(knownTopologies, t) {
			errs = append(errs, fmt.Errorf("unknown topology %q (known: %s)", t, strings.Join(knownTopologies, ", ")))
		}
	}
	for _, t := range []string{TopologyFlashSale, TopologyOrders, TopologyRecommendations} {
		if c.Runs(t) && !c.Runs(TopologyInventory) {
			errs = append(errs, fmt.Errorf("topology %s needs %s", t, TopologyInventory))
		}
	}
	for name, d := range map[string]time.Duration{"command wait": c.CommandWait, "read wait": c.ReadWait,
		"sweep interval": c.SweepInterval, "dedupe window": c.DedupeWindow, "order reserve ttl": c.OrderReserveTTL, "order step timeout": c.OrderStepTimeout,
		"max time ahead": c.TimeWindow.Ahead, "max time behind": c.TimeWindow.Behind} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s %v must be positive", name, d))
		}
	}
	if c.MaxPending < 1 {
		errs = append(errs, fmt.Errorf("max pending %d must be positive", c.MaxPending))
	}
	if c.MaxBuffered < 1 {
		errs = append(errs, fmt.Errorf("max buffered records %d must be positive", c.MaxBuffered))
	}
	if _, err := c.syncPolicy(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.PricingPolicy(); err != nil {
		errs = append(errs, err)
	}
	if err := c.RestartBackoff.Validate(); err != nil {
		errs = append(errs, err)
	}
	for name, a := range map[string]string{"peer address": c.PeerAddr, "peer advertise address": c.PeerAdvertise} {
		if a != "" {
			if _, _, err := net.SplitHostPort(a); err != nil {
				errs = append(errs, fmt.Errorf("%s %q is not host:port", name, a))
			}
		}
	}
	if c.GroupSessionTimeout < time.Second {
		errs = append(errs, fmt.Errorf("group session timeout %v is below 1s", c.GroupSessionTimeout))
	}
	if err := c.APIAccess.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("instance: invalid config: %w", err)
	}
	return nil
}

func (c *Config) syncPolicy() (state.SyncPolicy, error) {
	switch c.Sync {
	case "none":
		return state.SyncNone, nil
	case "always":
		return state.SyncAlways, nil
	}
	return 0, fmt.Errorf("sync %q is neither none nor always", c.Sync)
}

// PricingPolicy is the pricing policy of PricingRules, read now:
// pricing.DefaultPolicy without a file.
func (c *Config) PricingPolicy() (pricing.Policy, error) {
	if c.PricingRules == "" {
		return pricing.DefaultPolicy(), nil
	}
	b, err := os.ReadFile(c.PricingRules)
	if err != nil {
		return pricing.Policy{}, fmt.Errorf("pricing rules: %w", err)
	}
	p, err := pricing.ParseRules(b)
	if err != nil {
		return pricing.Policy{}, fmt.Errorf("%s: %w", c.PricingRules, err)
	}
	return p, nil
}

// Runs reports whether the instance runs topology t.
func (c *Config) Runs(t string) bool {
	for _, x := range c.Topologies {
		if x == t {
			return true
		}
	}
	return false
}

// Embedded reports whether the instance runs its own in-memory broker.
func (c *Config) Embedded() bool { return len(c.Brokers) == 0 }

// String prints the configuration, one setting per line.
func (c *Config) String() string {
	var b strings.Builder
	brokers := strings.Join(c.Brokers, ",")
	if c.Embedded() {
		brokers = "(embedded, in memory)"
	}
	stateDir := c.StateDir
	if stateDir == "" {
		stateDir = "(temporary)"
	}
	fmt.Fprintf(&b, "namespace=%s\n", c.Namespace)
	fmt.Fprintf(&b, "brokers=%s\nstate_dir=%s\nhttp_addr=%s\npartitions=%d\nreplication=%d\ntopologies=%s\n",
		brokers, stateDir, c.HTTPAddr, c.Partitions, c.Replication, strings.Join(c.Topologies, ","))
	fmt.Fprintf(&b, "instance_id=%s\ncommand_wait=%s\nread_wait=%s\nsweep_interval=%s\ndedupe_window=%s\nsync=%s\n",
		c.InstanceID, c.CommandWait, c.ReadWait, c.SweepInterval, c.DedupeWindow, c.Sync)
	model := c.FraudModel
	if model == "" {
		model = "(built in)"
	}
	fmt.Fprintf(&b, "max_pending=%d\nmax_buffered_records=%d\n", c.MaxPending, c.MaxBuffered)
	fmt.Fprintf(&b, "order_reserve_ttl=%s\norder_step_timeout=%s\nfraud_model=%s\n", c.OrderReserveTTL, c.OrderStepTimeout, model)
	rules := c.PricingRules
	if rules == "" {
		rules = "(default)"
	}
	fmt.Fprintf(&b, "pricing_rules=%s\n", rules)
	fmt.Fprintf(&b, "max_time_ahead=%s\nmax_time_behind=%s\n", c.TimeWindow.Ahead, c.TimeWindow.Behind)
	fmt.Fprintf(&b, "restart_backoff=%s..%s (reset after %s)\n", c.RestartBackoff.Min, c.RestartBackoff.Max, c.RestartBackoff.Healthy)
	fmt.Fprintf(&b, "group_session_timeout=%s\n", c.GroupSessionTimeout)
	fmt.Fprintf(&b, "clickhouse=%s database=%s sink=%t\n", c.ClickHouse.Addr, c.ClickHouse.Database, c.Sink)
	peer := c.PeerAddr
	switch {
	case c.Embedded():
		peer = "(off: embedded broker)"
	case peer == "":
		peer = "(off)"
	case c.PeerAdvertise != "":
		peer += " advertised as " + c.PeerAdvertise
	}
	fmt.Fprintf(&b, "peer_addr=%s\n", peer)
	if c.Faults != nil {
		b.WriteString("faults=INJECTED (a test's fault-injection hook is set)\n")
	}
	tokens, hosts := "(none: the API is open)", "(any)"
	if t := c.APIAccess.Tokens; t != nil {
		tokens = fmt.Sprintf("%s (%d tokens)", t.Path(), t.Len())
	}
	if len(c.APIAccess.AllowedHosts) > 0 {
		hosts = strings.Join(c.APIAccess.AllowedHosts, ",")
	}
	fmt.Fprintf(&b, "api_tokens_file=%s\napi_read_auth=%t\napi_allowed_hosts=%s\n", tokens, c.APIAccess.ReadAuth, hosts)
	return b.String()
}
