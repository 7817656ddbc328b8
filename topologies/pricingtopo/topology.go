package pricingtopo

import (
	"errors"
	"fmt"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/internal/topology"
	"github.com/titan-commerce/titan/processors/pricing"
)

// Options configure a Topology.
type Options struct {
	// Base carries what every topology is built from (Goka,
	// Partitions, TimeWindow, Hooks, Logger).
	topology.Base
	// Names of the topology's topics and group; the zero value means
	// NamesFor("").
	Names Names
	Peers Peers
	// Local returns the recovered storages of a table's partitions this
	// instance owns; the ticker reads Table through it.
	Local func(topic string) []storage.Storage
	// Send produces commands to the internal commands topic (the
	// ticker's ticks), keyed by SKU, and returns once Kafka has answered
	// for each, with the offset of each (sdk.Keyed.SendAll).
	Send SendFunc
	// TickInterval is how often the ticker looks for SKUs whose price time
	// alone has changed; a quiet SKU's change is published within about
	// this long of its boundary (stamped with the boundary's time).
	TickInterval time.Duration
	Policy       pricing.Policy
	// Replay runs the group without its ticker, on inputs recorded
	// elsewhere (titan replay): the ticks of the recorded run are among
	// them, and ticks of this run, stamped with today's clock, would move
	// every SKU to today. Local and Send are then not needed.
	Replay bool
}

func (o *Options) validate() error {
	if err := o.Check("pricing"); err != nil {
		return err
	}
	if o.Peers.InventoryEvents == "" || o.Peers.Saga == "" {
		return errors.New("pricing: the inventory events and saga streams are required")
	}
	if !o.Replay && (o.Local == nil || o.Send == nil) {
		return errors.New("pricing: Local and Send are required for time-driven changes")
	}
	if o.TickInterval <= 0 {
		o.TickInterval = time.Second
	}
	if o.Names == (Names{}) {
		o.Names = NamesFor("")
	}
	if o.Policy.HistoryLimit == 0 {
		o.Policy = pricing.DefaultPolicy()
	}
	return nil
}

// Topology runs the pricing group and the ticker of one instance.
type Topology struct {
	*topology.Set
}

// New builds the topology; Run starts it.
func New(o Options) (*Topology, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	g := o.group()
	dlq := observe.NewDeadLetterWriter(o.Goka)
	proc, err := goka.NewProcessor(o.Goka.Brokers, g.graph(o.Decorator(dlq)), o.Goka.ProcessorWithIndex(gokaopts.OutputsFirst, o.Names.Table(), nextChangeIndex)...)
	if err != nil {
		return nil, fmt.Errorf("pricing: processor: %w", err)
	}
	if o.Replay {
		return &Topology{topology.NewSet(dlq, []*goka.Processor{proc})}, nil
	}
	n := o.Names
	local := func() []storage.Storage { return o.Local(string(n.Table())) }
	ticker := NewTicker(local, o.Send, o.TickInterval, o.Logger.With("topology", string(n.Group)))
	return &Topology{topology.NewSet(dlq, []*goka.Processor{proc}, ticker)}, nil
}

// Graphs returns the groups New runs for o, defined by New's code but
// connected to nothing: what `titan topology` describes.
// Only its Names and Peers shape them.
func Graphs(o Options) []*goka.GroupGraph {
	return []*goka.GroupGraph{o.group().graph(observe.Decorator{})}
}

func (o Options) group() *group {
	if o.Names == (Names{}) {
		o.Names = NamesFor("") // as validate has it for New
	}
	return &group{names: o.Names, peers: o.Peers, policy: o.Policy, window: o.TimeWindow}
}
