package instance

import (
	"github.com/lovoo/goka"

	"github.com/titan-commerce/titan/internal/kafkaadmin"
	"github.com/titan-commerce/titan/internal/metrics"
)

// part is one topology as an instance runs it: the topics it needs and
// the co-partitioning they must keep, which the instance creates and
// checks before anything starts (ensureTopics), and its processors and
// punctuators, which build hands the supervisor to run with a context and
// to ask for readiness (supervise.Runner, supervise.Recoverer), building
// them again after a failure (supervised). The instance keeps its parts in
// a list, in the order they start; the API's views and consumers of a
// part are built with the API.
type part interface {
	topics(partitions int32) []kafkaadmin.Topic
	copartitioned() []kafkaadmin.Copartitioned
	build(hooks *metrics.Processing) error
	// graphs are the group graphs build runs, from the same options,
	// defined without building or connecting anything.
	graphs() []TopologyGraph
}

// TopologyGraph is one topology's goka groups as an instance runs them.
type TopologyGraph struct {
	// Topology is its name: those of Config.Topologies, and pricing and
	// fraud, which run with the order saga.
	Topology string
	Groups   []*goka.GroupGraph
}

// Graphs returns the group graphs of every topology an instance with cfg
// runs, in the order it starts them, without starting or connecting
// anything: what `titan topology` describes and checks against a cluster.
func Graphs(cfg Config) ([]TopologyGraph, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	i := newInstance(cfg)
	var out []TopologyGraph
	for _, p := range i.parts() {
		out = append(out, p.graphs()...)
	}
	return out, nil
}

// parts lists the parts cfg runs: the inventory always, which every other
// topology sends its reservations to, then the others it names.
func (i *Instance) parts() []part {
	out := []part{inventoryPart{i}}
	if i.cfg.Runs(TopologyFlashSale) {
		out = append(out, flashSalePart{i})
	}
	if i.ord != nil {
		out = append(out, i.ord)
	}
	if i.recs != nil {
		out = append(out, i.recs)
	}
	return out
}
