// Package pricing runs the pricing processor (processors/pricing) as a goka
// group, titan-pricing, whose table holds one price state per SKU.
//
// The group reads three streams keyed by SKU, all co-partitioned with its
// table: titan.pricing.commands (the public topic: catalog prices and
// campaigns), titan.pricing.internal (Titan's own: the order saga's price
// checks and the ticker's ticks, with ids in Titan's namespace) and
// titan.inventory.events (reservations and stock levels, the demand
// signal). A client's check or tick, or a client's id in Titan's namespace,
// is set aside: a check answers the saga, and a client's could hand an
// order a price of its choosing. Every change of a price is published on
// titan.pricing.events with the base price and each rule's contribution;
// a price check is answered with a Quote on the saga's topic, keyed by
// order id.
//
// The two command topics interleave in no fixed order, so a check is
// answered with what the SKU has seen when it is processed: a price set an
// instant before an order was placed may not be in its quote yet. The saga
// sends its checks only after fraud scoring, which in practice puts them
// well behind the commands they depend on; a shop that opens a SKU for sale
// waits until its price shows (GET /v1/prices/{sku}).
//
// # Time-driven changes
//
// A campaign starting or ending and a demand interval closing change a
// price with no input to carry the change, and goka has no timers. The
// Ticker runs beside the processor in every instance: each TickInterval it
// reads, in the recovered table partitions this instance owns, the due
// part of an index of every SKU's pricing.NextChange kept in the local
// store (nextChangeIndex, internal/localindex), so that a pass costs what
// is due, not the catalog; for each SKU whose change has come it sends a
// Tick command (id
// "titan:tick:<sku>:<due ms>", stamped with the wall clock) through
// titan.pricing.internal. The processor applies it like any command, in
// the SKU's partition order, and publishes each change at its boundary's
// time, so a tick that is late only delays the PriceChanged, and one sent
// twice publishes nothing more. The Ticker's comment says how it avoids
// resending ticks still in flight.
package pricing
