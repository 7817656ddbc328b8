package recommendationstopo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/lovoo/goka"
	"golang.org/x/sync/errgroup"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/observe"
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
	names Names
	// deadLetters writes the processors' dead letters; closed when Run
	// returns.
	deadLetters         *observe.DeadLetterWriter
	users, orders, item *goka.Processor
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
	t := &Topology{names: o.Names, deadLetters: dlq}
	for _, p := range []struct {
		graph *goka.GroupGraph
		into  **goka.Processor
		opts  []goka.ProcessorOption
	}{
		{ug, &t.users, o.Goka.Processor(gokaopts.OutputsFirst)},
		{og, &t.orders, o.Goka.Processor(gokaopts.OutputsFirst)},
		{ig, &t.item, o.Goka.ProcessorWithKeys(gokaopts.OutputsFirst, g.keys)},
	} {
		proc, err := goka.NewProcessor(o.Goka.Brokers, p.graph, p.opts...)
		if err != nil {
			return nil, fmt.Errorf("recommendations: %s: %w", p.graph.Group(), err)
		}
		*p.into = proc
	}
	return t, nil
}

// Run blocks until ctx ends or a processor fails.
func (t *Topology) Run(ctx context.Context) error {
	defer t.deadLetters.Close()
	g, ctx := errgroup.WithContext(ctx)
	for _, p := range []*goka.Processor{t.users, t.orders, t.item} {
		g.Go(func() error { return p.Run(ctx) })
	}
	return g.Wait()
}

// Recovered reports whether every processor has caught up with its table.
func (t *Topology) Recovered() bool {
	return t.users.Recovered() && t.orders.Recovered() && t.item.Recovered()
}

// Processors lists the goka processors, for lag metrics.
func (t *Topology) Processors() map[string]*goka.Processor {
	return map[string]*goka.Processor{
		string(t.names.UsersGroup): t.users, string(t.names.OrdersGroup): t.orders, string(t.names.ItemsGroup): t.item,
	}
}
