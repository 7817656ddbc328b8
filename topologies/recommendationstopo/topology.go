package recommendationstopo

import (
	"errors"
	"fmt"

	"github.com/lovoo/goka"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/internal/topology"
	"github.com/titan-commerce/titan/processors/recommendations"
)

// Options configure a Topology.
type Options struct {
	// Base carries what every topology is built from (Goka,
	// Partitions, TimeWindow, Hooks, Logger).
	topology.Base
	// Names of the topology's topics and groups; the zero value means
	// NamesFor("").
	Names Names
	// Outcomes is the order saga's outcomes topic: confirmed orders are the
	// purchases.
	Outcomes goka.Stream
	Policy   recommendations.Policy
}

// Topology runs the three recommendation groups of one instance.
type Topology struct {
	*topology.Set
}

// New builds the topology; Run starts it.
func New(o Options) (*Topology, error) {
	if err := o.Check("recommendations"); err != nil {
		return nil, err
	}
	if o.Outcomes == "" {
		return nil, errors.New("recommendations: the outcomes stream is required")
	}
	if o.Names == (Names{}) {
		o.Names = NamesFor("")
	}
	o.Policy = o.Policy.WithDefaults()
	if err := o.Policy.Validate(); err != nil {
		return nil, err
	}
	g := o.groups()
	dlq := observe.NewDeadLetterWriter(o.Goka)
	ug, og, ig := g.graphs(o.Decorator(dlq))
	var procs []*goka.Processor
	for _, p := range []struct {
		graph *goka.GroupGraph
		opts  []goka.ProcessorOption
	}{
		{ug, o.Goka.Processor(gokaopts.OutputsFirst)},
		{og, o.Goka.Processor(gokaopts.OutputsFirst)},
		{ig, o.Goka.ProcessorWithKeys(gokaopts.OutputsFirst, g.keys)},
	} {
		proc, err := goka.NewProcessor(o.Goka.Brokers, p.graph, p.opts...)
		if err != nil {
			return nil, fmt.Errorf("recommendations: %s: %w", p.graph.Group(), err)
		}
		procs = append(procs, proc)
	}
	return &Topology{topology.NewSet(dlq, procs)}, nil
}

// Graphs returns the groups New runs for o, defined by New's code but
// connected to nothing: what `titan topology` describes.
// Only its Names and Outcomes shape them.
func Graphs(o Options) []*goka.GroupGraph {
	users, orders, items := o.groups().graphs(observe.Decorator{})
	return []*goka.GroupGraph{users, orders, items}
}

func (o Options) groups() *groups {
	if o.Names == (Names{}) {
		o.Names = NamesFor("") // as validate has it for New
	}
	return &groups{names: o.Names, outcomes: o.Outcomes, policy: o.Policy, window: o.TimeWindow, keys: gokaopts.NewKeys(o.Names.ItemsTable())}
}
