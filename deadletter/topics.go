package deadletter

import (
	"fmt"
	"slices"
	"strings"

	"github.com/titan-commerce/titan/schemas"
)

// Topic is one dead-letter topic and the topology whose records it holds.
type Topic struct {
	// Topology is the short name titan dlq --topology takes.
	Topology string
	// Name is the topic, in the namespace Topics was given.
	Name string
}

// topics are the dead-letter topics outside any namespace, one per
// topology that sets records aside; inventory's holds those of both its
// groups, recommendations' those of its three.
var topics = []Topic{
	{"inventory", schemas.InventoryDeadLetters},
	{"orders", schemas.OrderDeadLetters},
	{"pricing", schemas.PricingDeadLetters},
	{"fraud", schemas.FraudDeadLetters},
	{"flashsale", schemas.FlashSaleDeadLetters},
	{"recommendations", schemas.RecommendationDeadLetters},
	{"sink", schemas.SinkDeadLetters},
}

// Topics lists every dead-letter topic in namespace.
func Topics(namespace string) []Topic {
	out := make([]Topic, len(topics))
	for i, t := range topics {
		out[i] = Topic{Topology: t.Topology, Name: schemas.Namespaced(namespace, t.Name)}
	}
	return out
}

// TopicOf is the dead-letter topic of topology in namespace.
func TopicOf(namespace, topology string) (string, error) {
	for _, t := range topics {
		if t.Topology == topology {
			return schemas.Namespaced(namespace, t.Name), nil
		}
	}
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.Topology
	}
	return "", fmt.Errorf("%w: topology %q: want one of %s", ErrInvalid, topology, strings.Join(names, ", "))
}

// inputs are the public topics: the ones a shop's services write, each read
// by one topology (schemas/topics.go).
var inputs = []string{
	schemas.InventoryCommands,
	schemas.OrderEvents,
	schemas.PricingCommands,
	schemas.FlashSaleCommands,
	schemas.RecommendationViews,
}

// Inputs lists, in namespace, the topics a dead letter may be sent back to:
// Titan's input topics, which a shop's services write. The others are
// Titan's own (internal commands, loops, events): what goes there is
// trusted to be Titan's, and an event sent again reaches every reader of it
// twice.
func Inputs(namespace string) []string {
	out := make([]string, len(inputs))
	for i, t := range inputs {
		out[i] = schemas.Namespaced(namespace, t)
	}
	return out
}

// IsInput reports whether topic is one of Inputs(namespace).
func IsInput(namespace, topic string) bool { return slices.Contains(Inputs(namespace), topic) }
