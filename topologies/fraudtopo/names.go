package fraudtopo

import (
	"github.com/lovoo/goka"

	"github.com/titan-commerce/titan/internal/kafkaadmin"
	"github.com/titan-commerce/titan/schemas"
)

// Names are the topics and group of one deployment of the topology.
type Names struct {
	Group        goka.Group
	Observations goka.Stream
	DeadLetters  goka.Stream
}

// NamesFor returns the names in a namespace; the empty namespace gives the
// names in schemas.
func NamesFor(namespace string) Names {
	return Names{
		Group:        goka.Group(schemas.Namespaced(namespace, "titan-fraud")),
		Observations: goka.Stream(schemas.Namespaced(namespace, schemas.FraudObservations)),
		DeadLetters:  goka.Stream(schemas.Namespaced(namespace, schemas.FraudDeadLetters)),
	}
}

// Table holds a fraud.Entity per device, card and user key.
func (n Names) Table() goka.Table { return goka.GroupTable(n.Group) }

// Loop is the topic an observation takes from one key to the next; goka
// names it after the group.
func (n Names) Loop() goka.Stream { return goka.Stream(string(n.Group) + "-loop") }

// Topics declares the topology's topics.
func (n Names) Topics(partitions int32) []kafkaadmin.Topic {
	return []kafkaadmin.Topic{
		{Name: string(n.Observations), Partitions: partitions},
		{Name: string(n.DeadLetters), Partitions: partitions},
		{Name: string(n.Loop()), Partitions: partitions},
		{Name: string(n.Table()), Partitions: partitions, Compact: true},
	}
}

// Copartitioned is what the group needs co-partitioned.
func (n Names) Copartitioned() kafkaadmin.Copartitioned {
	return kafkaadmin.Copartitioned{Group: string(n.Group), Topics: []string{
		string(n.Observations), string(n.Loop()), string(n.Table()),
	}}
}
