package orders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/lovoo/goka"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/processors/orders"
	"github.com/titan-commerce/titan/schemas"
)

// Options configure a Topology.
type Options struct {
	// Names of the saga's topics and group; the zero value means
	// NamesFor("").
	Names Names
	// Peers are the other topologies' streams; all are required.
	Peers Peers
	Goka  gokaopts.Config
	// Partitions of the topology's topics, which are co-partitioned: a
	// record whose key hashes to another partition than the one it arrived
	// in is set aside (observe.Decorator).
	Partitions int32
	Policy     orders.Policy
	// TimeWindow bounds a checkout event's time against the time Kafka
	// received it; the zero value means schemas.DefaultTimeWindow().
	TimeWindow schemas.TimeWindow
	Hooks      observe.Hooks
	Logger     *slog.Logger
}

func (o *Options) validate() error {
	if err := o.Goka.Validate(); err != nil {
		return err
	}
	if o.Partitions < 1 {
		return fmt.Errorf("orders: %d partitions", o.Partitions)
	}
	p := o.Peers
	if p.InventoryCommands == "" || p.InventoryOrderEvents == "" || p.PricingCommands == "" || p.FraudObservations == "" {
		return errors.New("orders: every peer stream is required")
	}
	if o.Names == (Names{}) {
		o.Names = NamesFor("")
	}
	if o.Policy == (orders.Policy{}) {
		o.Policy = orders.DefaultPolicy()
	}
	if o.TimeWindow == (schemas.TimeWindow{}) {
		o.TimeWindow = schemas.DefaultTimeWindow()
	}
	if err := o.TimeWindow.Validate(); err != nil {
		return err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// Topology runs the order saga of one instance.
type Topology struct {
	names Names
	proc  *goka.Processor
}

// New builds the topology; Run starts it.
func New(o Options) (*Topology, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	g := &saga{names: o.Names, peers: o.Peers, policy: o.Policy, window: o.TimeWindow}
	proc, err := goka.NewProcessor(o.Goka.Brokers, g.graph(observe.Decorator{Partitions: o.Partitions, Hooks: o.Hooks, Logger: o.Logger}), o.Goka.Processor()...)
	if err != nil {
		return nil, fmt.Errorf("orders: processor: %w", err)
	}
	return &Topology{names: o.Names, proc: proc}, nil
}

// Run blocks until ctx ends or the processor fails.
func (t *Topology) Run(ctx context.Context) error { return t.proc.Run(ctx) }

// Recovered reports whether the processor has caught up with its table.
func (t *Topology) Recovered() bool { return t.proc.Recovered() }

// Processors lists the goka processors, for lag metrics.
func (t *Topology) Processors() map[string]*goka.Processor {
	return map[string]*goka.Processor{string(t.names.Group): t.proc}
}
