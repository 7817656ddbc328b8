// Package orders runs the order saga (processors/orders) as a goka group,
// titan-orders, whose table holds one order per order id.
//
// An order moves through two other processors, each keyed by what its
// state is about, and every hop is a Kafka topic with the saga's partition
// count:
//
//	titan.orders.events (checkout, by order id)
//	  -> saga: OrderPlaced -> titan.fraud.observations (by device)
//	  -> fraud: device -> card -> user, through its loop topic
//	  -> titan.orders.saga (decision, by order id)
//	  -> saga: quotes every line from the pricing table (Prices), then one
//	     Reserve per line -> titan.inventory.commands (by SKU)
//	  -> inventory -> titan.inventory.order-events (by order id)
//	  -> saga: OrderConfirmed (and a Commit per line) or OrderRejected
//	     (and a Release per reserved line) -> titan.orders.outcomes
//
// Pricing needs no hop: a quote only reads a SKU's price state, so the saga
// reads the pricing group's table through a goka Lookup and answers its
// own checks with the pricing group's rules (topologies/pricingtopo.Quoter),
// fed to the pure saga as the quotes it would have received. The table is
// read as the view has it, which is what a check sent to the pricing group
// would have seen too: the two command topics never ordered a price change
// against an order. What a check's time would publish (a campaign that has
// just begun) is left to the pricing group's Ticker.
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
package orderstopo
