package schemas

// Topic names are part of the wire contract: producers outside this
// repository write to them by name, so renaming one is a breaking change
// that needs a new topic and a migration, not an edit here.
//
// Every keyed topic is partitioned by Kafka's default partitioner (murmur2
// of the key bytes, see internal/partition); the key is the UTF-8 bytes of
// the field named below, with no prefix or encoding.
const (
	// InventoryCommands carries inventoryv1.Command, keyed by sku.
	InventoryCommands = "titan.inventory.commands"
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
	// prices, campaigns, and the saga's price checks.
	PricingCommands = "titan.pricing.commands"
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
	// FlashSaleCommands carries flashsalev1.Message from clients: Define
	// keyed by the sale key, Purchase keyed by the buyer's user key (see
	// topologies/flashsale for the keys).
	FlashSaleCommands = "titan.flashsale.commands"
	// FlashSaleEvents carries flashsalev1.Result, keyed by
	// "<sale id>/<idempotency key>".
	FlashSaleEvents = "titan.flashsale.events"
	// FlashSaleDeadLetters receives the flash-sale commands that could not
	// be decoded or were invalid.
	FlashSaleDeadLetters = "titan.flashsale.dlq"
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
