package fraudtopo

import (
	"errors"
	"fmt"

	"github.com/lovoo/goka"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/internal/topology"
	"github.com/titan-commerce/titan/processors/fraud"
)

// Options configure a Topology.
type Options struct {
	// Base carries what every topology is built from (Goka,
	// Partitions, TimeWindow, Hooks, Logger).
	topology.Base
	// Names of the topology's topics and group; the zero value means
	// NamesFor("").
	Names Names
	// Saga is the order saga's answer stream: decisions go there, keyed by
	// order id.
	Saga goka.Stream
	// Model is the scoring model in force; required.
	Model  *ModelFile
	Policy fraud.Policy
}

func (o *Options) validate() error {
	if err := o.Check("fraud"); err != nil {
		return err
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
	g := o.group()
	dlq := observe.NewDeadLetterWriter(o.Goka)
	proc, err := goka.NewProcessor(o.Goka.Brokers, g.graph(o.Decorator(dlq)), o.Goka.Processor(gokaopts.OutputsFirst)...)
	if err != nil {
		return nil, fmt.Errorf("fraud: processor: %w", err)
	}
	return &Topology{topology.NewSet(dlq, []*goka.Processor{proc})}, nil
}

// Graphs returns the groups New runs for o, defined by New's code but
// connected to nothing: what `titan topology` describes.
// Only its Names and Saga shape them.
func Graphs(o Options) []*goka.GroupGraph {
	return []*goka.GroupGraph{o.group().graph(observe.Decorator{})}
}

func (o Options) group() *group {
	if o.Names == (Names{}) {
		o.Names = NamesFor("") // as validate has it for New
	}
	return &group{names: o.Names, saga: o.Saga, model: o.Model, policy: o.Policy}
}
