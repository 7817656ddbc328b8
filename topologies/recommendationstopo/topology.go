package recommendationstopo

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/lovoo/goka"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/internal/topology"
	"github.com/titan-commerce/titan/processors/recommendations"
	"github.com/titan-commerce/titan/schemas"
)

// Options configure a Topology.
type Options struct {
	// Names of the topology's topics and groups; the zero value means
	// NamesFor("").
	Names Names
	// Outcomes is the order saga's outcomes topic: confirmed orders are the
	// purchases.
	Outcomes goka.Stream
	Goka     gokaopts.Config
	// Partitions of the topology's topics, which are co-partitioned: a
	// record whose key hashes to another partition than the one it arrived
	// in is set aside (observe.Decorator).
	Partitions int32
	Policy     recommendations.Policy
	// TimeWindow bounds a view's time against the time Kafka received it;
	// the zero value means schemas.DefaultTimeWindow().
	TimeWindow schemas.TimeWindow
	Hooks      observe.Hooks
	Logger     *slog.Logger
}

// Topology runs the three recommendation groups of one instance.
type Topology struct {
	*topology.Set
}

// New builds the topology; Run starts it.
func New(o Options) (*Topology, error) {
	if err := o.Goka.Validate(); err != nil {
		return nil, err
	}
	if o.Partitions < 1 {
		return nil, fmt.Errorf("recommendations: %d partitions", o.Partitions)
	}
	if o.Outcomes == "" {
		return nil, errors.New("recommendations: the outcomes stream is required")
	}
	if o.Names == (Names{}) {
		o.Names = NamesFor("")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.TimeWindow == (schemas.TimeWindow{}) {
		o.TimeWindow = schemas.DefaultTimeWindow()
	}
	if err := o.TimeWindow.Validate(); err != nil {
		return nil, err
	}
	o.Policy = o.Policy.WithDefaults()
	if err := o.Policy.Validate(); err != nil {
		return nil, err
	}
	g := &groups{names: o.Names, outcomes: o.Outcomes, policy: o.Policy, window: o.TimeWindow, keys: gokaopts.NewKeys(o.Names.ItemsTable())}
	dlq := observe.NewDeadLetterWriter(o.Goka)
	ug, og, ig := g.graphs(observe.Decorator{Partitions: o.Partitions, Hooks: o.Hooks, Logger: o.Logger, Writer: dlq})
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
