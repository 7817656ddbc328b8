// Package flashsale declares the flash-sale topology: the goka group that
// runs processors/flashsale's three kinds of keys, and the purchase index
// the API polls.
//
//	commands ──> titan-flashsale ──loop──> titan-flashsale
//	 (Define, Purchase)   │  table: sale, bucket and user states
//	                      └──> events (Result, key "<sale>/<idempotency key>")
//	                                │
//	                                v
//	                      titan-flashsale-purchases
//	                          table: Result per "<sale>/<idempotency key>"
//
// Keys are named by Router: "s:<sale>" for the sale, "u:<sale>:<user>" for
// a buyer, and "b:<sale>:<bucket>:<salt>" for a bucket, where the salt is
// the smallest number that puts bucket b on the partition b places after
// the sale key's. Buckets of one sale so land on distinct partitions (as
// far as there are partitions), which is the point of having them.
//
// Messages between keys go through the group's loop topic, stamped with the
// partition, offset and sequence of the record that sent them, which is
// what lets each key drop redelivered copies. A callback hands its messages
// and results to the producer before its state write: on a single broker
// connection a state write that reached the changelog then implies the
// messages did too. After an unclean shutdown the state package discards
// local state and recovers from the changelog, so a key is never ahead of
// what its messages say.
package flashsale
