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
package pricing
