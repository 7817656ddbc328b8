package instance

import (
	"slices"
	"testing"
)

// Every topic a part needs co-partitioned is one the instance creates,
// declared by that part or another, so the check before the start never
// looks for a topic nobody made; and a configuration runs the parts it
// names, the inventory first.
func TestPartsDeclareWhatTheyCopartition(t *testing.T) {
	for _, topologies := range [][]string{
		{TopologyInventory},
		{TopologyInventory, TopologyFlashSale},
		{TopologyInventory, TopologyFlashSale, TopologyOrders, TopologyRecommendations},
	} {
		i := newInstance(Config{Namespace: "ns", Topologies: topologies})
		parts := i.parts()
		if len(parts) != len(topologies) {
			t.Fatalf("%v: %d parts", topologies, len(parts))
		}
		if _, ok := parts[0].(inventoryPart); !ok {
			t.Errorf("%v: the first part is %T, not the inventory", topologies, parts[0])
		}
		var declared []string
		for _, p := range parts {
			for _, tp := range p.topics(8) {
				if tp.Partitions != 8 {
					t.Errorf("%v: %s declared with %d partitions", topologies, tp.Name, tp.Partitions)
				}
				declared = append(declared, tp.Name)
			}
		}
		for _, p := range parts {
			for _, set := range p.copartitioned() {
				for _, tp := range set.Topics {
					if !slices.Contains(declared, tp) {
						t.Errorf("%v: %s needs %s co-partitioned, which no part declares", topologies, set.Group, tp)
					}
				}
			}
		}
	}
}
