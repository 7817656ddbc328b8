package inventorytopo

import (
	"errors"
	"fmt"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/internal/topology"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
)

// Options configure a Topology.
type Options struct {
	// Base carries what every topology is built from (Goka,
	// Partitions, TimeWindow, Hooks, Logger).
	topology.Base
	// Names of the topics and groups; the zero value means NamesFor("").
	Names Names
	// Local returns the recovered storages of a table's partitions this
	// instance owns; the expiry sweeper reads Table through it.
	Local func(topic string) []storage.Storage
	// Send produces commands to the internal commands topic (the
	// sweeper's expiries), keyed by SKU, and returns once they are
	// acknowledged, with their offsets.
	Send SendFunc
	// Policy bounds what each SKU remembers.
	Policy inventory.Policy
	// Replies route the events of orders in Titan's namespace to the
	// topologies that sent their commands.
	Replies []Reply
	// SweepInterval is how often expired reservations are looked for; an
	// idle SKU's reservation ends within about this long of its deadline.
	SweepInterval time.Duration
	// Replay runs the groups without the expiry sweeper, on inputs
	// recorded elsewhere (titan replay): the expiries the live sweeper
	// sent are among them, and this run's, decided by today's clock,
	// would end every reservation at once. Local and Send are then not
	// needed.
	Replay bool
}

func (o *Options) validate() error {
	if err := o.Check("inventory"); err != nil {
		return err
	}
	if !o.Replay && (o.Local == nil || o.Send == nil) {
		return errors.New("inventory: Local and Send are required for expiry")
	}
	if o.Names == (Names{}) {
		o.Names = NamesFor("")
	}
	if o.Policy == (inventory.Policy{}) {
		o.Policy = inventory.DefaultPolicy()
	}
	for _, r := range o.Replies {
		if !schemas.Reserved(r.Prefix) || r.Stream == "" || r.Key == nil {
			return fmt.Errorf("inventory: reply %+v: the prefix must be in Titan's namespace, with a stream and a key", r)
		}
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = time.Second
	}
	return nil
}

// Topology runs the inventory processor, the order index and the expiry
// sweeper of one instance.
type Topology struct {
	*topology.Set
}

// New builds the topology; Run starts it.
func New(o Options) (*Topology, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	n := o.Names
	g := o.graph()
	dlq := observe.NewDeadLetterWriter(o.Goka)
	stockGraph, ordersGraph := g.graphs(o.Decorator(dlq))
	// State first: a SKU's commands come from two topics in no fixed
	// order, so a command decided again after a crash could come out
	// otherwise; with its state write in before its events, no command
	// whose events anyone saw is decided again (see Delivery in doc.go).
	stock, err := goka.NewProcessor(o.Goka.Brokers, stockGraph, o.Goka.ProcessorWithKeys(gokaopts.StateFirst, g.keys)...)
	if err != nil {
		return nil, fmt.Errorf("inventory: processor: %w", err)
	}
	orders, err := goka.NewProcessor(o.Goka.Brokers, ordersGraph, o.Goka.Processor(gokaopts.OutputsFirst)...)
	if err != nil {
		return nil, fmt.Errorf("inventory: order index: %w", err)
	}
	if o.Replay {
		return &Topology{topology.NewSet(dlq, []*goka.Processor{stock, orders})}, nil
	}
	local := func() []storage.Storage { return o.Local(string(n.Table())) }
	sweeper := NewSweeper(local, o.Send, o.SweepInterval, o.Logger.With("topology", string(n.Group)))
	return &Topology{topology.NewSet(dlq, []*goka.Processor{stock, orders}, sweeper)}, nil
}

// Graphs returns the groups New runs for o, defined by New's code but
// connected to nothing: what `titan topology` describes.
// Only its Names and Replies shape them.
func Graphs(o Options) []*goka.GroupGraph {
	stock, orders := o.graph().graphs(observe.Decorator{})
	return []*goka.GroupGraph{stock, orders}
}

func (o Options) graph() *graph {
	if o.Names == (Names{}) {
		o.Names = NamesFor("") // as validate has it for New
	}
	return &graph{names: o.Names, policy: o.Policy, window: o.TimeWindow, replies: o.Replies, keys: gokaopts.NewKeys(o.Names.Table()).Index(expiryIndex)}
}
