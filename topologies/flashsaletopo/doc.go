// Package flashsale declares the flash-sale topology: the goka group that
// runs processors/flashsale's three kinds of keys, the settler that is the
// sales' clock, and the purchase index the API polls.
//
//	commands (public: Purchase) ─────┐
//	internal (Titan: Create, Abandon, Close) ──> titan-flashsale ──loop──> titan-flashsale
//	allocations (inventory events) ──┘   │  table: sale, bucket and user states
//	      ^                              ├──> events (Result, key "<sale>/<idempotency key>")
//	      │                              │          └──> titan-flashsale-purchases (Result per key)
//	      │                              └──> titan.inventory.internal (Reserve, Release, settlement; key SKU)
//	      └───────── titan-inventory (Reply: orders "titan:flash-sale:*", key AllocationKey) <──┘
//
// Three inputs, one table, co-partitioned (Names.Copartitioned, checked
// before anything starts):
//
//   - the public commands topic is the clients'. It takes purchases only;
//     anything else a client sends there (a Create, a Close, a retired
//     Define, a message between keys) is dead-lettered as internal_kind.
//     A purchase follows the id rule with its ids out of Titan's namespace,
//     travels under its buyer's key, and its own time (which its bucket
//     decides the window with) must lie within Options.TimeWindow of the
//     time Kafka received it: the topic is stamped by the broker
//     (LogAppendTime).
//   - the internal topic is Titan's: the API's Create, the settler's
//     Abandon and Close. A deployment grants write access to it to Titan
//     alone, as to every internal topic (see schemas/topics.go).
//   - the allocations topic carries the inventory's events about the
//     sales' allocations, which the inventory group routes there by order
//     id (its Reply option with prefix processors/flashsale.AllocationPrefix
//     and Key AllocationKey), keyed by the sale key.
//
// A sale is created as a saga at its sale key (see processors/flashsale):
// the Create makes the sale key send the allocation's Reserve to the
// inventory's internal topic, keyed by SKU; the answer comes back on the
// allocations topic and opens the sale or fails it. The settler scans the
// sale keys of the partitions this instance owns: a creation still
// unanswered past its deadline (Policy.CreationTimeout after the Create)
// gets an Abandon, which fails it and makes the sale key release the
// allocation, after its Reserve on the same partition, so the units come
// back even when the answer was lost; an ended sale gets a Close per bucket
// until every bucket has reported, after which the sale key sends the
// settlement and the inventory's answer settles the sale, or fails the
// settlement when the allocation was gone. A failed settlement is logged at
// Error with the sale's id: what the sale sold did not leave the SKU's
// stock, which an operator has to put right.
//
// Keys are named by Router: "s:<sale>" for the sale, "u:<sale>:<user>" for
// a buyer, and "b:<sale>:<bucket>:<salt>" for a bucket, where the salt is
// the smallest number that puts bucket b on the partition b places after
// the sale key's. Buckets of one sale so land on distinct partitions (as
// far as there are partitions), which is the point of having them.
//
// Messages between keys go through the group's loop topic, stamped with the
// input stream, partition, offset and sequence of the record that sent
// them, which is what lets each key drop redelivered copies. A callback
// hands its messages, results and inventory commands to the producer before
// its state write, and the producer sends a state write only once everything
// handed over before it is acknowledged (internal/gokaopts): a state write
// that reached the changelog implies the messages did too, whichever brokers
// lead their partitions. After an unclean shutdown the state package
// discards local state and recovers from the changelog, so a key is never
// ahead of what its messages say.
package flashsaletopo
