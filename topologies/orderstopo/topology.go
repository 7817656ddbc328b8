package orderstopo

import (
	"errors"
	"fmt"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/internal/topology"
	"github.com/titan-commerce/titan/processors/orders"
)

// Options configure a Topology.
type Options struct {
	// Base carries what every topology is built from (Goka,
	// Partitions, TimeWindow, Hooks, Logger).
	topology.Base
	// Names of the saga's topics and group; the zero value means
	// NamesFor("").
	Names Names
	// Peers are the other topologies' streams; all are required.
	Peers Peers
	// Prices is the pricing table the saga quotes from; required.
	Prices Prices
	Policy orders.Policy
	// Local returns the recovered storages of a table's partitions this
	// instance owns; the deadline scanner reads Table through it.
	Local func(topic string) []storage.Storage
	// SendSaga produces messages to the saga topic (the scanner's
	// Timeouts), keyed by order id, and returns once Kafka has answered
	// for each, with the offset of each (sdk.Keyed.SendAll).
	SendSaga SendFunc
	// StepTimeout is how long an order may stay without moving (waiting
	// for a fraud verdict, a quote, a reservation) before it is rejected as
	// timed_out, releasing what it holds. Default two minutes; a healthy
	// deployment answers each step within a second.
	StepTimeout time.Duration
	// ScanInterval is how often the open orders are looked at; a stalled
	// order ends within about this long after its timeout. Default a
	// quarter of StepTimeout.
	ScanInterval time.Duration
	// Replay runs the group without its deadline scanner, on inputs
	// recorded elsewhere (titan replay): the Timeouts of the recorded run
	// are among them, and this run's scanner would time out every order
	// the recorded answers have not reached yet. Local and SendSaga are
	// then not needed.
	Replay bool
}

func (o *Options) validate() error {
	if err := o.Check("orders"); err != nil {
		return err
	}
	p := o.Peers
	if p.InventoryCommands == "" || p.InventoryOrderEvents == "" || p.FraudObservations == "" {
		return errors.New("orders: every peer stream is required")
	}
	if o.Prices.Table == "" || o.Prices.Codec == nil || o.Prices.Quote == nil {
		return errors.New("orders: the pricing table, its codec and Quote are required")
	}
	if o.Names == (Names{}) {
		o.Names = NamesFor("")
	}
	if o.Policy == (orders.Policy{}) {
		o.Policy = orders.DefaultPolicy()
	}
	if !o.Replay && (o.Local == nil || o.SendSaga == nil) {
		return errors.New("orders: Local and SendSaga are required for deadlines")
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = DefaultStepTimeout
	}
	if o.ScanInterval <= 0 {
		o.ScanInterval = o.StepTimeout / 4
	}
	return nil
}

// DefaultStepTimeout is how long an order may stay without moving unless
// Options say otherwise.
const DefaultStepTimeout = 2 * time.Minute

// Topology runs the order saga and its deadline scanner on one instance.
type Topology struct {
	*topology.Set
}

// New builds the topology; Run starts it.
func New(o Options) (*Topology, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	g := o.saga()
	dlq := observe.NewDeadLetterWriter(o.Goka)
	proc, err := goka.NewProcessor(o.Goka.Brokers, g.graph(o.Decorator(dlq)), o.Goka.ProcessorWithIndex(gokaopts.OutputsFirst, o.Names.Table(), OpenOrders)...)
	if err != nil {
		return nil, fmt.Errorf("orders: processor: %w", err)
	}
	if o.Replay {
		return &Topology{topology.NewSet(dlq, []*goka.Processor{proc})}, nil
	}
	local := func() []storage.Storage { return o.Local(string(o.Names.Table())) }
	deadlines := NewDeadlines(local, o.SendSaga, o.StepTimeout, o.ScanInterval, o.Logger.With("topology", string(o.Names.Group)))
	return &Topology{topology.NewSet(dlq, []*goka.Processor{proc}, deadlines)}, nil
}

// Graphs returns the groups New runs for o, defined by New's code but
// connected to nothing: what `titan topology` describes.
// Only its Names, Peers and Prices.Table shape them.
func Graphs(o Options) []*goka.GroupGraph {
	return []*goka.GroupGraph{o.saga().graph(observe.Decorator{})}
}

func (o Options) saga() *saga {
	if o.Names == (Names{}) {
		o.Names = NamesFor("") // as validate has it for New
	}
	return &saga{names: o.Names, peers: o.Peers, prices: o.Prices, policy: o.Policy, window: o.TimeWindow}
}
