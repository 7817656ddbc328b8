package recommendationstopo

import (
	"github.com/lovoo/goka"

	"github.com/titan-commerce/titan/internal/kafkaadmin"
	"github.com/titan-commerce/titan/schemas"
)

// Names are the topics and groups of one deployment of the topology.
type Names struct {
	// UsersGroup keeps each user's recent history and emits co-view pairs.
	UsersGroup goka.Group
	// OrdersGroup keeps each confirmed order's basket and emits co-purchase
	// pairs.
	OrdersGroup goka.Group
	// ItemsGroup keeps each item's neighbors and top-K.
	ItemsGroup  goka.Group
	Views       goka.Stream
	Pairs       goka.Stream
	Purchases   goka.Stream
	DeadLetters goka.Stream
}

// NamesFor returns the names in a namespace; the empty namespace gives the
// names in schemas.
func NamesFor(namespace string) Names {
	return Names{
		UsersGroup:  goka.Group(schemas.Namespaced(namespace, "titan-recs-users")),
		OrdersGroup: goka.Group(schemas.Namespaced(namespace, "titan-recs-orders")),
		ItemsGroup:  goka.Group(schemas.Namespaced(namespace, "titan-recs-items")),
		Views:       goka.Stream(schemas.Namespaced(namespace, schemas.RecommendationViews)),
		Pairs:       goka.Stream(schemas.Namespaced(namespace, schemas.RecommendationPairs)),
		Purchases:   goka.Stream(schemas.Namespaced(namespace, schemas.RecommendationPurchases)),
		DeadLetters: goka.Stream(schemas.Namespaced(namespace, schemas.RecommendationDeadLetters)),
	}
}

// UsersTable holds a user history per user id.
func (n Names) UsersTable() goka.Table { return goka.GroupTable(n.UsersGroup) }

// OrdersTable holds a basket per order id.
func (n Names) OrdersTable() goka.Table { return goka.GroupTable(n.OrdersGroup) }

// ItemsTable holds an item state per SKU.
func (n Names) ItemsTable() goka.Table { return goka.GroupTable(n.ItemsGroup) }

// Topics declares the topology's topics; outcomes is the order saga's
// outcomes topic, which the orders group reads.
func (n Names) Topics(partitions int32, outcomes goka.Stream) []kafkaadmin.Topic {
	return []kafkaadmin.Topic{
		{Name: string(n.Views), Partitions: partitions, AppendTime: true},
		{Name: string(n.Pairs), Partitions: partitions},
		{Name: string(n.Purchases), Partitions: partitions},
		{Name: string(n.DeadLetters), Partitions: partitions},
		{Name: string(outcomes), Partitions: partitions},
		{Name: string(n.UsersTable()), Partitions: partitions, Compact: true},
		{Name: string(n.OrdersTable()), Partitions: partitions, Compact: true},
		{Name: string(n.ItemsTable()), Partitions: partitions, Compact: true},
	}
}

// Copartitioned is what each group needs co-partitioned.
func (n Names) Copartitioned(outcomes goka.Stream) []kafkaadmin.Copartitioned {
	return []kafkaadmin.Copartitioned{
		{Group: string(n.UsersGroup), Topics: []string{string(n.Views), string(n.Purchases), string(n.UsersTable())}},
		{Group: string(n.OrdersGroup), Topics: []string{string(outcomes), string(n.OrdersTable())}},
		{Group: string(n.ItemsGroup), Topics: []string{string(n.Pairs), string(n.ItemsTable())}},
	}
}
