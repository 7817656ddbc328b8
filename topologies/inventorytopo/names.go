package inventorytopo

import (
	"github.com/lovoo/goka"

	"github.com/titan-commerce/titan/internal/kafkaadmin"
	"github.com/titan-commerce/titan/schemas"
)

// Names are the topics and groups of one deployment of the topology.
// Several deployments (staging and production, or one per test) can share
// a cluster under different namespaces.
type Names struct {
	Group       goka.Group
	OrdersGroup goka.Group
	// Commands is the public commands topic, clients'; Internal is
	// Titan's own (see processors/inventory).
	Commands    goka.Stream
	Internal    goka.Stream
	Events      goka.Stream
	OrderEvents goka.Stream
	DeadLetters goka.Stream
}

// NamesFor returns the names in a namespace; the empty namespace gives the
// names in schemas, which outside producers write to.
func NamesFor(namespace string) Names {
	return Names{
		Group:       goka.Group(schemas.Namespaced(namespace, "titan-inventory")),
		OrdersGroup: goka.Group(schemas.Namespaced(namespace, "titan-inventory-orders")),
		Commands:    goka.Stream(schemas.Namespaced(namespace, schemas.InventoryCommands)),
		Internal:    goka.Stream(schemas.Namespaced(namespace, schemas.InventoryInternal)),
		Events:      goka.Stream(schemas.Namespaced(namespace, schemas.InventoryEvents)),
		OrderEvents: goka.Stream(schemas.Namespaced(namespace, schemas.InventoryOrderEvents)),
		DeadLetters: goka.Stream(schemas.Namespaced(namespace, schemas.InventoryDeadLetters)),
	}
}

// Table holds a head per SKU and the SKU's memory under keys of its own
// (store.go); its changelog is the compacted topic goka names after the
// group.
func (n Names) Table() goka.Table { return goka.GroupTable(n.Group) }

// OrdersTable holds an inventory.OrderIndex per order id.
func (n Names) OrdersTable() goka.Table { return goka.GroupTable(n.OrdersGroup) }

// Reply routes the events about the orders of one namespace of order ids
// to a stream of their own as well, for the processor that sent their
// commands and waits for the answers keyed by its own key: a flash sale's
// allocation answers reach the sale's key so. Prefix must lie in Titan's
// namespace (schemas.ReservedPrefix), where only internal commands reach.
type Reply struct {
	Prefix string
	Stream goka.Stream
	// Key maps an order id with the prefix to the record's key.
	Key func(orderID string) string
}

// Topics declares every topic the topology reads or writes. All have the
// same partition count: the order index is keyed differently, but its
// table and input must be co-partitioned like any goka group.
func (n Names) Topics(partitions int32) []kafkaadmin.Topic {
	return []kafkaadmin.Topic{
		{Name: string(n.Commands), Partitions: partitions, AppendTime: true},
		{Name: string(n.Internal), Partitions: partitions},
		{Name: string(n.Events), Partitions: partitions},
		{Name: string(n.OrderEvents), Partitions: partitions},
		{Name: string(n.DeadLetters), Partitions: partitions},
		{Name: string(n.Table()), Partitions: partitions, Compact: true},
		{Name: string(n.OrdersTable()), Partitions: partitions, Compact: true},
	}
}

// Copartitioned lists what each group needs co-partitioned: its inputs
// and its table.
func (n Names) Copartitioned() []kafkaadmin.Copartitioned {
	return []kafkaadmin.Copartitioned{
		{Group: string(n.Group), Topics: []string{string(n.Commands), string(n.Internal), string(n.Table())}},
		{Group: string(n.OrdersGroup), Topics: []string{string(n.OrderEvents), string(n.OrdersTable())}},
	}
}
