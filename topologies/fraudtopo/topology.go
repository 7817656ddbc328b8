package fraudtopo

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/lovoo/goka"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/internal/topology"
	"github.com/titan-commerce/titan/processors/fraud"
)

// Options configure a Topology.
type Options struct {
	// Names of the topology's topics and group; the zero value means
	// NamesFor("").
	Names Names
	// Saga is the order saga's answer stream: decisions go there, keyed by
	// order id.
	Saga goka.Stream
	// Model is the scoring model in force; required.
	Model *ModelFile
	Goka  gokaopts.Config
	// Partitions of the topology's topics, which are co-partitioned: a
	// record whose key hashes to another partition than the one it arrived
	// in is set aside (observe.Decorator).
	Partitions int32
	Policy     fraud.Policy
	Hooks      observe.Hooks
	Logger     *slog.Logger
}

func (o *Options) validate() error {
	if err := o.Goka.Validate(); err != nil {
		return err
	}
	if o.Partitions < 1 {
		return fmt.Errorf("fraud: %d partitions", o.Partitions)
	}
	if o.Saga == "" || o.Model == nil || o.Model.Model() == nil {
		return errors.New("fraud: the saga stream and a model are required")
	}
	if o.Names == (Names{}) {
		o.Names = NamesFor("")
	}
	if o.Policy == (fraud.Policy{}) {
		o.Policy = fraud.DefaultPolicy()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// Topology runs the fraud group of one instance.
type Topology struct {
	*topology.Set
}

// New builds the topology; Run starts it.
func New(o Options) (*Topology, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	g := &group{names: o.Names, saga: o.Saga, model: o.Model, policy: o.Policy}
	dlq := observe.NewDeadLetterWriter(o.Goka)
	proc, err := goka.NewProcessor(o.Goka.Brokers, g.graph(observe.Decorator{Partitions: o.Partitions, Hooks: o.Hooks, Logger: o.Logger, Writer: dlq}), o.Goka.Processor(gokaopts.OutputsFirst)...)
	if err != nil {
		return nil, fmt.Errorf("fraud: processor: %w", err)
	}
	return &Topology{topology.NewSet(dlq, []*goka.Processor{proc})}, nil
}
