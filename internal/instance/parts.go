package instance

import (
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
