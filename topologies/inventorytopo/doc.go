// Package inventory declares the inventory topology: two goka groups and
// the expiry sweeper that together serve stock reservation per SKU.
//
//	commands (public, key sku) ──┐
//	internal (Titan's, key sku) ─┴─> titan-inventory ──> events (key sku)
//	                                   │   table: a head per SKU, and its memory
//	                                   │          under keys of its own
//	                                   ├──────────────> order-events (key order id)
//	                                   │                   │
//	                                   │                   v
//	                                   │        titan-inventory-orders
//	                                   │         table: inventory.OrderIndex per order
//	                                   └──> replies (Titan's namespaces, e.g. a
//	                                        flash sale's allocation, to its sale key)
//
// titan-inventory decodes each command, validates it, and hands it to
// processors/inventory.Step with the SKU's head and its memory; it writes
// the new head and the entries the command changed to its table (Pebble
// locally, the changelog in Kafka; see store.go for the layout) and
// publishes every
// event twice: keyed by SKU for readers of stock, and keyed by order id for
// the order index (and, for an order in a namespace with a Reply, a third
// time to its owner). A record that cannot be decoded, fails validation, is
// keyed by something other than its SKU, sits in another partition than
// its key hashes to, or is a client's command in Titan's namespace or
// stamped outside the time window goes to the dead-letter topic with its
// reason, and the partition carries on. The public commands topic is the
// clients'; the internal one carries the commands Titan sends on its own
// behalf (the order saga, flash sales, the sweeper), whose ids start with
// schemas.ReservedPrefix and whose reservations only Titan may end.
//
// titan-inventory-orders keeps, per order, the latest event of each of its
// reservations. The API reads it to turn Commit(order) and Release(order)
// into commands on the right SKUs, and to answer polls.
//
// # Delivery and idempotency
//
// goka commits a command's offset only after its state write and its
// events are acknowledged, so a crash replays commands whose effects may
// already be in the changelog. The processor sends a command's events only
// once its state write is acknowledged (gokaopts.StateFirst), so whatever
// anyone has seen of a command, its successor finds in the state. Decide
// then makes the replay harmless: the very record it applied, read again,
// publishes again the events it published, as they were, and changes
// nothing; another record under a known id (a client's retry) gets the
// first result. A command whose state write was lost published nothing,
// and is decided afresh. Deciding a command again is what this order
// avoids: a SKU's commands arrive on two topics, which a successor may
// read in another interleaving than the owner it replaces, so a second
// decision could differ from the first.
//
// A command costs what it changes: a reserve reads its order's reservation
// and its id's memory, and writes the 40-byte head and five small records,
// on a fresh SKU as on one holding a hundred open reservations and four
// thousand remembered commands (BenchmarkStep). Views and the API read
// only heads.
//
// # Expiry
//
// goka has no timers. Decide expires due reservations lazily, before any
// command on the SKU; the Sweeper covers idle SKUs by proposing Expire
// commands through the internal commands topic. See Sweeper for why that is
// safe under duplicates, rebalances and crashes.
//
// # Names
//
// All topic and group names come from Names. NamesFor("") gives the names in
// schemas, which producers outside Titan write to; a namespace prefixes
// them all so several deployments can share one cluster.
package inventorytopo
