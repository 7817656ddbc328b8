// Package pricing runs the pricing processor (processors/pricing) as a goka
// group, titan-pricing, whose table holds one price state per SKU.
//
// The group reads two streams keyed by SKU, so both are co-partitioned with
// its table: titan.pricing.commands (catalog prices, campaigns, and the
// order saga's price checks) and titan.inventory.events (reservations and
// stock levels, the demand signal). Every change of a price is published on
// titan.pricing.events with the base price and each rule's contribution;
// a price check is answered with a Quote on the saga's topic, keyed by
// order id.
//
// # Time-driven changes
//
// A campaign starting or ending and a demand interval closing change a
// price with no input to carry the change, and goka has no timers. The
// Ticker runs beside the processor in every instance: each TickInterval it
// reads the recovered table partitions this instance owns, and for each
// SKU whose pricing.NextChange has come it sends a Tick command (id
// "tick/<sku>/<due ms>", stamped with the wall clock) through
// titan.pricing.commands. The processor applies it like any command, in
// the SKU's partition order, and publishes each change at its boundary's
// time, so a tick that is late only delays the PriceChanged, and one sent
// twice publishes nothing more. The Ticker's comment says how it avoids
// resending ticks still in flight.
package pricing
