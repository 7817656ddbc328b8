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
	// OrderEvents carries ordersv1.OrderEvent, keyed by order_id.
	OrderEvents = "titan.orders.events"
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
