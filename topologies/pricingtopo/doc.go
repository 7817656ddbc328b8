// Package pricing runs the pricing processor (processors/pricing) as a goka
// group, titan-pricing, whose table holds one price state per SKU.
//
// The group reads three streams keyed by SKU, all co-partitioned with its
// table: titan.pricing.commands (the public topic: catalog prices and
// campaigns), titan.pricing.internal (Titan's own: the ticker's ticks and
// price checks, with ids in Titan's namespace) and
// titan.inventory.events (reservations and stock levels, the demand
// signal). A client's check or tick, or a client's id in Titan's namespace,
// is set aside: a check answers the saga, and a client's could hand an
// order a price of its choosing. Every change of a price is published on
// titan.pricing.events with the base price and each rule's contribution;
// a price check is answered with a Quote on the saga's topic, keyed by
// order id.
//
// The order saga no longer sends checks: it reads this group's table
// through a goka Lookup and quotes with Quoter, the answer this group gives
// a check, without the round trip. A check on titan.pricing.internal is
// still answered, so that an order already waiting for a quote when its
// instance was upgraded gets one.
//
// A quote is what the SKU has seen when it is taken: a price set an instant
// before an order was placed may not be in it yet. The saga quotes only
// after fraud scoring, which in practice puts it well behind the commands
// it depends on; a shop that opens a SKU for sale waits until its price
// shows (GET /v1/prices/{sku}).
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
package pricingtopo
