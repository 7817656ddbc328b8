package orderstopo

import (
	"github.com/lovoo/goka"

	"github.com/titan-commerce/titan/internal/kafkaadmin"
	"github.com/titan-commerce/titan/schemas"
)

// Names are the topics and group of one deployment of the saga.
type Names struct {
	Group goka.Group
	// Events is the checkout's input: placed, paid, payment_failed, cancelled.
	Events goka.Stream
	// Outcomes receives exactly one confirmed or rejected event per order.
	Outcomes goka.Stream
	// Saga carries the fraud decisions and price quotes sent back to an
	// order's key.
	Saga        goka.Stream
	DeadLetters goka.Stream
}

// NamesFor returns the names in a namespace; the empty namespace gives the
// names in schemas.
func NamesFor(namespace string) Names {
	return Names{
		Group:       goka.Group(schemas.Namespaced(namespace, "titan-orders")),
		Events:      goka.Stream(schemas.Namespaced(namespace, schemas.OrderEvents)),
		Outcomes:    goka.Stream(schemas.Namespaced(namespace, schemas.OrderOutcomes)),
		Saga:        goka.Stream(schemas.Namespaced(namespace, schemas.OrderSaga)),
		DeadLetters: goka.Stream(schemas.Namespaced(namespace, schemas.OrderDeadLetters)),
	}
}

// Table holds an orders.Order per order id.
func (n Names) Table() goka.Table { return goka.GroupTable(n.Group) }

// Topics declares the saga's own topics. They have the partition count of
// every other topology: the saga's inputs include the inventory's
// order-events topic, and requests it sends are answered on Saga, so all
// of them must be co-partitioned with its table.
func (n Names) Topics(partitions int32) []kafkaadmin.Topic {
	return []kafkaadmin.Topic{
		{Name: string(n.Events), Partitions: partitions, AppendTime: true},
		{Name: string(n.Outcomes), Partitions: partitions},
		{Name: string(n.Saga), Partitions: partitions},
		{Name: string(n.DeadLetters), Partitions: partitions},
		{Name: string(n.Table()), Partitions: partitions, Compact: true},
	}
}

// Copartitioned is what the saga needs co-partitioned: every input keyed
// by order id, and its table.
func (n Names) Copartitioned(inventoryOrderEvents goka.Stream) kafkaadmin.Copartitioned {
	return kafkaadmin.Copartitioned{Group: string(n.Group), Topics: []string{
		string(n.Events), string(n.Saga), string(inventoryOrderEvents), string(n.Table()),
	}}
}
