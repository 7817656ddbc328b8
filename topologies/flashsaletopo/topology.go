package flashsaletopo

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/internal/topology"
	"github.com/titan-commerce/titan/processors/flashsale"
)

// Options configure a Topology.
type Options struct {
	// Base carries what every topology is built from (Goka,
	// Partitions, TimeWindow, Hooks, Logger).
	topology.Base
	Names Names
	// Inventory is the inventory topology's internal commands stream: a
	// sale's allocation, the release of an abandoned creation and the
	// settlement are Titan's commands there. The inventory topology must
	// route its events about flashsale.AllocationPrefix orders back to
	// Names.Allocations (its Reply option, Key AllocationKey).
	Inventory goka.Stream
	// Local returns the recovered storages of a table's partitions this
	// instance owns; the settler reads the sale keys through it.
	Local func(topic string) []storage.Storage
	// Send produces messages to the internal topic (Names.Internal), keyed
	// by msg.Key, and returns once Kafka has answered for each, with the
	// offset of each (sdk.Keyed.SendAll): the settler's Abandon and Close.
	Send SendFunc
	// Policy bounds a sale's creation and allocation; the zero value means
	// flashsale.DefaultPolicy().
	Policy flashsale.Policy
	// SettleInterval is how often overdue creations and ended sales are
	// looked for.
	SettleInterval time.Duration
	// Replay runs the groups without the settler, on inputs recorded
	// elsewhere (titan replay): the Abandons and Closes of the recorded
	// run are among them, and this run's settler would close sales by
	// today's clock. Local and Send are then not needed.
	Replay bool
}

func (o *Options) validate() error {
	if err := o.Check("flashsale"); err != nil {
		return err
	}
	if o.Inventory == "" {
		return errors.New("flashsale: no inventory commands stream")
	}
	if !o.Replay && (o.Local == nil || o.Send == nil) {
		return errors.New("flashsale: Local and Send are required for the settler")
	}
	if o.Names == (Names{}) {
		o.Names = NamesFor("")
	}
	if o.Policy == (flashsale.Policy{}) {
		o.Policy = flashsale.DefaultPolicy()
	}
	if err := o.Policy.Validate(); err != nil {
		return err
	}
	if o.SettleInterval <= 0 {
		o.SettleInterval = time.Second
	}
	return nil
}

// Topology runs the flash-sale group and the purchase index of one
// instance.
type Topology struct {
	*topology.Set
	router *flashsale.Keys
}

// New builds the topology; Run starts it.
func New(o Options) (*Topology, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	r := flashsale.NewKeys(o.Partitions)
	log := o.Logger.With("topology", string(o.Names.Group))
	g := o.group(r, log)
	dlq := observe.NewDeadLetterWriter(o.Goka)
	saleGraph, purchasesGraph := g.graphs(o.Decorator(dlq))
	sale, err := goka.NewProcessor(o.Goka.Brokers, saleGraph, o.Goka.Processor(gokaopts.OutputsFirst)...)
	if err != nil {
		return nil, fmt.Errorf("flashsale: processor: %w", err)
	}
	purchases, err := goka.NewProcessor(o.Goka.Brokers, purchasesGraph, o.Goka.Processor(gokaopts.OutputsFirst)...)
	if err != nil {
		return nil, fmt.Errorf("flashsale: purchase index: %w", err)
	}
	if o.Replay {
		return &Topology{Set: topology.NewSet(dlq, []*goka.Processor{sale, purchases}), router: r}, nil
	}
	local := func() []storage.Storage { return o.Local(string(o.Names.Table())) }
	settler := NewSettler(local, o.Send, r, o.SettleInterval, log)
	return &Topology{Set: topology.NewSet(dlq, []*goka.Processor{sale, purchases}, settler), router: r}, nil
}

// Router is the topology's router.
func (t *Topology) Router() *flashsale.Keys { return t.router }

// Graphs returns the groups New runs for o, defined by New's code but
// connected to nothing: what `titan topology` describes.
// Only its Names and Inventory shape them.
func Graphs(o Options) []*goka.GroupGraph {
	sale, purchases := o.group(flashsale.NewKeys(max(o.Partitions, 1)), slog.Default()).graphs(observe.Decorator{})
	return []*goka.GroupGraph{sale, purchases}
}

func (o Options) group(r *flashsale.Keys, log *slog.Logger) *group {
	if o.Names == (Names{}) {
		o.Names = NamesFor("") // as validate has it for New
	}
	return &group{names: o.Names, inventory: o.Inventory, router: r, policy: o.Policy, window: o.TimeWindow, log: log}
}
