package flashsaletopo

import (
	"github.com/lovoo/goka"

	"github.com/titan-commerce/titan/internal/kafkaadmin"
	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/schemas"
)

// Names are the topics and groups of one deployment of the topology.
type Names struct {
	Group          goka.Group
	PurchasesGroup goka.Group
	// Commands is the public topic: clients' purchases. Internal is
	// Titan's own: the API's Create, the settler's Abandon and Close.
	Commands goka.Stream
	Internal goka.Stream
	// Allocations carries the inventory's events about the sales'
	// allocations, keyed by the sale key (AllocationKey).
	Allocations goka.Stream
	Events      goka.Stream
	DeadLetters goka.Stream
}

// NamesFor returns the names in a namespace; the empty namespace gives the
// names in schemas.
func NamesFor(namespace string) Names {
	return Names{
		Group:          goka.Group(schemas.Namespaced(namespace, "titan-flashsale")),
		PurchasesGroup: goka.Group(schemas.Namespaced(namespace, "titan-flashsale-purchases")),
		Commands:       goka.Stream(schemas.Namespaced(namespace, schemas.FlashSaleCommands)),
		Internal:       goka.Stream(schemas.Namespaced(namespace, schemas.FlashSaleInternal)),
		Allocations:    goka.Stream(schemas.Namespaced(namespace, schemas.FlashSaleAllocations)),
		Events:         goka.Stream(schemas.Namespaced(namespace, schemas.FlashSaleEvents)),
		DeadLetters:    goka.Stream(schemas.Namespaced(namespace, schemas.FlashSaleDeadLetters)),
	}
}

// Table holds a flashsale.State per key.
func (n Names) Table() goka.Table { return goka.GroupTable(n.Group) }

// Loop is the topic keys send each other messages through; goka names it
// after the group.
func (n Names) Loop() goka.Stream { return goka.Stream(string(n.Group) + "-loop") }

// PurchasesTable holds the result of each attempt.
func (n Names) PurchasesTable() goka.Table { return goka.GroupTable(n.PurchasesGroup) }

// Topics declares every topic of the topology, all co-partitioned. Clients
// write the commands topic, so the broker stamps its records (AppendTime)
// and a purchase's own time is held to the time Kafka received it.
// Allocations is written by the inventory's group, which goka does not
// create output topics for: it is declared here, with the group that reads
// it.
func (n Names) Topics(partitions int32) []kafkaadmin.Topic {
	return []kafkaadmin.Topic{
		{Name: string(n.Commands), Partitions: partitions, AppendTime: true},
		{Name: string(n.Internal), Partitions: partitions},
		{Name: string(n.Allocations), Partitions: partitions},
		{Name: string(n.Events), Partitions: partitions},
		{Name: string(n.DeadLetters), Partitions: partitions},
		{Name: string(n.Loop()), Partitions: partitions},
		{Name: string(n.Table()), Partitions: partitions, Compact: true},
		{Name: string(n.PurchasesTable()), Partitions: partitions, Compact: true},
	}
}

// Copartitioned is what the flash-sale group needs co-partitioned: every
// input, keyed by the sale's keys, and its table. The purchase index reads
// the events topic into its own table, which must match it too.
func (n Names) Copartitioned() []kafkaadmin.Copartitioned {
	return []kafkaadmin.Copartitioned{
		{Group: string(n.Group), Topics: []string{
			string(n.Commands), string(n.Internal), string(n.Allocations), string(n.Loop()), string(n.Table()),
		}},
		{Group: string(n.PurchasesGroup), Topics: []string{string(n.Events), string(n.PurchasesTable())}},
	}
}

// AllocationKey is the key the inventory's events about a sale's
// allocation (order flashsale.AllocationOrder) carry on Allocations: the
// sale key, so the answers reach the key that sent the commands. It is the
// inventory topology's Reply.Key for the prefix flashsale.AllocationPrefix.
func AllocationKey(orderID string) string {
	saleID, _ := flashsale.SaleOfAllocation(orderID)
	return flashsale.SaleKey(saleID)
}
