// Package orders runs the order saga (processors/orders) as a goka group,
// titan-orders, whose table holds one order per order id.
//
// An order moves through three other processors, each keyed by what its
// state is about, and every hop is a Kafka topic with the saga's partition
// count:
//
//	titan.orders.events (checkout, by order id)
//	  -> saga: OrderPlaced -> titan.fraud.observations (by device)
//	  -> fraud: device -> card -> user, through its loop topic
//	  -> titan.orders.saga (decision, by order id)
//	  -> saga: one CheckPrice per line -> titan.pricing.commands (by SKU)
//	  -> pricing -> titan.orders.saga (quote, by order id)
//	  -> saga: one Reserve per line -> titan.inventory.commands (by SKU)
//	  -> inventory -> titan.inventory.order-events (by order id)
//	  -> saga: OrderConfirmed (and a Commit per line) or OrderRejected
//	     (and a Release per reserved line) -> titan.orders.outcomes
//
// The saga's inputs (checkout events, answers, inventory order events) are
// all keyed by order id and read by one group, so they must be
// co-partitioned with its table; Names.Copartitioned lists them and the
// instance checks them against the cluster before anything starts.
//
// Every request the saga sends carries a deterministic id in Titan's
// namespace (the inventory command ids are derived from order and SKU),
// goes to its peer's internal topic, and every answer is matched to what
// the order is waiting for, and anything else is ignored; so a message
// delivered twice, or replayed after a crash, changes nothing, and an order
// publishes exactly one outcome.
//
// An order that stops moving is ended by Deadlines: a scanner over the
// instance's partitions of the table that sends a Timeout to the saga topic
// for every order past its deadline (see processors/orders). The checkout
// topic is public: its events' ids stay out of Titan's namespace and their
// times within the configured window of the time Kafka received them.
package orders
