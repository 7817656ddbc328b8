package pricingtopo

import (
	"github.com/lovoo/goka"

	"github.com/titan-commerce/titan/internal/kafkaadmin"
	"github.com/titan-commerce/titan/schemas"
)

// Names are the topics and group of one deployment of the topology.
type Names struct {
	Group goka.Group
	// Commands is the public commands topic (prices, campaigns); Internal
	// carries Titan's own (the saga's checks, the ticker's ticks).
	Commands    goka.Stream
	Internal    goka.Stream
	Events      goka.Stream
	DeadLetters goka.Stream
}

// NamesFor returns the names in a namespace; the empty namespace gives the
// names in schemas.
func NamesFor(namespace string) Names {
	return Names{
		Group:       goka.Group(schemas.Namespaced(namespace, "titan-pricing")),
		Commands:    goka.Stream(schemas.Namespaced(namespace, schemas.PricingCommands)),
		Internal:    goka.Stream(schemas.Namespaced(namespace, schemas.PricingInternal)),
		Events:      goka.Stream(schemas.Namespaced(namespace, schemas.PricingEvents)),
		DeadLetters: goka.Stream(schemas.Namespaced(namespace, schemas.PricingDeadLetters)),
	}
}

// Table holds a pricing.State per SKU.
func (n Names) Table() goka.Table { return goka.GroupTable(n.Group) }

// Topics declares the topology's own topics.
func (n Names) Topics(partitions int32) []kafkaadmin.Topic {
	return []kafkaadmin.Topic{
		{Name: string(n.Commands), Partitions: partitions, AppendTime: true},
		{Name: string(n.Internal), Partitions: partitions},
		{Name: string(n.Events), Partitions: partitions},
		{Name: string(n.DeadLetters), Partitions: partitions},
		{Name: string(n.Table()), Partitions: partitions, Compact: true},
	}
}

// Copartitioned is what the group needs co-partitioned: its commands, the
// inventory events it reads demand from (all keyed by SKU), and its table.
func (n Names) Copartitioned(inventoryEvents goka.Stream) kafkaadmin.Copartitioned {
	return kafkaadmin.Copartitioned{Group: string(n.Group), Topics: []string{
		string(n.Commands), string(n.Internal), string(inventoryEvents), string(n.Table()),
	}}
}
