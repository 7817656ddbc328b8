package schemas

import (
	"errors"
	"fmt"
)

// Topic names are part of the wire contract: producers outside this
// repository write to them by name, so renaming one is a breaking change
// that needs a new topic and a migration, not an edit here.
//
// Every keyed topic is partitioned by Kafka's default partitioner (murmur2
// of the key bytes, see internal/partition); the key is the UTF-8 bytes of
// the field named below, with no prefix or encoding. A record whose key
// hashes to another partition than the one it is in is set aside as
// wrong_partition.
//
// Public topics are the ones a shop's services write: InventoryCommands,
// OrderEvents, PricingCommands, FlashSaleCommands, RecommendationViews.
// Their records' ids may not start with ReservedPrefix, and the broker
// stamps their records (LogAppendTime) so that a message's own time can be
// bounded (TimeWindow). Every other topic is internal: only Titan writes
// it, and a deployment grants write access to Titan's principal alone, as
// for Kafka Streams' internal topics. What arrives on an internal topic is
// trusted to be Titan's; that is how a processor tells the commands Titan
// sends on its own behalf from a client's.
const (
	// InventoryCommands carries inventoryv1.Command, keyed by sku: clients'
	// restocks, reservations, commits and releases.
	InventoryCommands = "titan.inventory.commands"
	// InventoryInternal carries inventoryv1.Command, keyed by sku, from
	// Titan itself: the order saga's lines, a flash sale's allocation and
	// settlement, the expiry sweeper's expiries. Their ids start with
	// ReservedPrefix.
	InventoryInternal = "titan.inventory.internal"
	// InventoryEvents carries inventoryv1.Event, keyed by sku.
	InventoryEvents = "titan.inventory.events"
	// InventoryOrderEvents carries inventoryv1.Event, keyed by order_id, so
	// that everything that happened to one order lands in one partition.
	InventoryOrderEvents = "titan.inventory.order-events"
	// InventoryDeadLetters receives the commands the inventory processor
	// could not decode or that failed ValidateCommand, so one bad record is
	// set aside instead of stopping its partition.
	InventoryDeadLetters = "titan.inventory.dlq"
	// OrderEvents carries ordersv1.OrderEvent from a shop's checkout (placed,
	// payment_failed, cancelled), keyed by order_id. The order saga reads it.
	OrderEvents = "titan.orders.events"
	// OrderOutcomes carries the saga's terminal ordersv1.OrderEvent
	// (confirmed or rejected), keyed by order_id: exactly one per order.
	OrderOutcomes = "titan.orders.outcomes"
	// OrderSaga carries ordersv1.SagaMessage, keyed by order_id: the fraud
	// decisions and price quotes that answer the saga's requests.
	OrderSaga = "titan.orders.saga"
	// OrderDeadLetters receives the order events and saga messages the saga
	// could not decode or that were invalid.
	OrderDeadLetters = "titan.orders.dlq"
	// PricingCommands carries pricingv1.Command, keyed by sku: catalog
	// prices and campaigns.
	PricingCommands = "titan.pricing.commands"
	// PricingInternal carries pricingv1.Command, keyed by sku, from Titan
	// itself: the saga's price checks and the ticker's ticks.
	PricingInternal = "titan.pricing.internal"
	// PricingEvents carries pricingv1.PriceChanged, keyed by sku.
	PricingEvents = "titan.pricing.events"
	// PricingDeadLetters receives the pricing commands that could not be
	// decoded or were invalid.
	PricingDeadLetters = "titan.pricing.dlq"
	// FraudObservations carries fraudv1.Observation from the saga, keyed by
	// the device key ("d:<device_id>"); the fraud group moves each one on to
	// the card and user keys through its loop topic.
	FraudObservations = "titan.fraud.observations"
	// RecommendationViews carries recommendationsv1.ViewEvent from the
	// storefront, keyed by user_id.
	RecommendationViews = "titan.recommendations.views"
	// RecommendationPairs carries recommendationsv1.Pair, keyed by the
	// pair's item: the repartition from users and orders to items.
	RecommendationPairs = "titan.recommendations.pairs"
	// RecommendationPurchases carries recommendationsv1.Seen for each item a
	// confirmed order bought, keyed by user_id, so a user's history knows
	// what not to recommend.
	RecommendationPurchases = "titan.recommendations.purchases"
	// RecommendationDeadLetters receives the records the recommendation
	// groups could not decode or that were invalid.
	RecommendationDeadLetters = "titan.recommendations.dlq"
	// FraudDeadLetters receives the observations that could not be decoded
	// or were invalid.
	FraudDeadLetters = "titan.fraud.dlq"
	// FlashSaleCommands carries flashsalev1.Message from clients: Purchase
	// keyed by the buyer's user key (see topologies/flashsaletopo for the keys).
	FlashSaleCommands = "titan.flashsale.commands"
	// FlashSaleInternal carries flashsalev1.Message from Titan itself: a
	// sale's creation and the settler's messages, keyed like the commands.
	FlashSaleInternal = "titan.flashsale.internal"
	// FlashSaleAllocations carries inventoryv1.Event about a sale's
	// allocation, keyed by the sale key: the inventory's answers to the
	// commands a sale sends it.
	FlashSaleAllocations = "titan.flashsale.allocations"
	// FlashSaleEvents carries flashsalev1.Result, keyed by
	// "<sale id>/<idempotency key>".
	FlashSaleEvents = "titan.flashsale.events"
	// FlashSaleDeadLetters receives the flash-sale commands that could not
	// be decoded or were invalid.
	FlashSaleDeadLetters = "titan.flashsale.dlq"
	// SinkDeadLetters receives the records of the event topics that the
	// ClickHouse sink could not write (sinks/clickhouse).
	SinkDeadLetters = "titan.sink.dlq"
)

// Namespaced is name in a deployment's namespace: the name itself for the
// empty namespace (the names outside producers write to), otherwise
// "<namespace>.<name>". Every topology names its topics and groups so, and
// several deployments can share a cluster.
func Namespaced(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "." + name
}

// ErrInvalidTopic is wrapped by CheckTopic's errors.
var ErrInvalidTopic = errors.New("invalid topic name")

// CheckTopic applies Kafka's rules for a topic name: 1 to 249 bytes of
// [a-zA-Z0-9._-], and not "." or "..". A name that breaks them fails
// where it is configured rather than on every produce or fetch, and a
// local state directory named after a topic cannot climb out of its
// parent.
func CheckTopic(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidTopic)
	case len(name) > 249:
		return fmt.Errorf("%w: %.20q... is longer than 249 bytes", ErrInvalidTopic, name)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q is reserved", ErrInvalidTopic, name)
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return fmt.Errorf("%w: %q has %q, outside [a-zA-Z0-9._-]", ErrInvalidTopic, name, c)
		}
	}
	return nil
}
