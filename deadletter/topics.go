package deadletter

import (
	"fmt"
	"strings"

	"github.com/titan-commerce/titan/schemas"
)

// Topic is one dead-letter topic and the topology whose records it holds.
type Topic struct {
	// Topology is the short name titan dlq --topology takes.
	Topology string
	// Name is the topic, in the namespace Topics was given.
	Name string
	// Input is the one of Titan's input topics, which a shop's services
	// write, that the topology reads: its dead letters may be sent back
	// there. Empty for a topology that reads only what Titan writes.
	Input string
}

// topics are the dead-letter topics outside any namespace, one per
// topology that sets records aside; inventory's holds those of both its
// groups, recommendations' those of its three. The fraud group reads only
// the saga's observations, and the ClickHouse sink reads events that other
// readers took already: their dead letters go back nowhere.
var topics = []Topic{
	{"inventory", schemas.InventoryDeadLetters, schemas.InventoryCommands},
	{"orders", schemas.OrderDeadLetters, schemas.OrderEvents},
	{"pricing", schemas.PricingDeadLetters, schemas.PricingCommands},
	{"fraud", schemas.FraudDeadLetters, ""},
	{"flashsale", schemas.FlashSaleDeadLetters, schemas.FlashSaleCommands},
	{"recommendations", schemas.RecommendationDeadLetters, schemas.RecommendationViews},
	{"sink", schemas.SinkDeadLetters, ""},
}

// Topics lists every dead-letter topic in namespace.
func Topics(namespace string) []Topic {
	out := make([]Topic, len(topics))
	for i, t := range topics {
		out[i] = Topic{Topology: t.Topology, Name: schemas.Namespaced(namespace, t.Name)}
		if t.Input != "" {
			out[i].Input = schemas.Namespaced(namespace, t.Input)
		}
	}
	return out
}

// TopicOf is the dead-letter topic of topology in namespace.
func TopicOf(namespace, topology string) (string, error) {
	for _, t := range Topics(namespace) {
		if t.Topology == topology {
			return t.Name, nil
		}
	}
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.Topology
	}
	return "", fmt.Errorf("%w: topology %q: want one of %s", ErrInvalid, topology, strings.Join(names, ", "))
}

// Inputs lists Titan's input topics in namespace: the ones a shop's
// services write, each read by one topology. They are the only topics a
// dead letter may be sent back to. The others are Titan's own (internal
// commands, loops, events): what arrives there is trusted to be Titan's,
// and an event sent again reaches every reader of it twice.
func Inputs(namespace string) []string {
	var out []string
	for _, t := range Topics(namespace) {
		if t.Input != "" {
			out = append(out, t.Input)
		}
	}
	return out
}

// InputOf is the input topic whose records the dead-letter topic dlq of
// namespace holds, which its dead letters may be sent back to; false when
// dlq is not one of Topics(namespace) or its topology reads no input topic.
func InputOf(namespace, dlq string) (string, bool) {
	for _, t := range Topics(namespace) {
		if t.Name == dlq {
			return t.Input, t.Input != ""
		}
	}
	return "", false
}
