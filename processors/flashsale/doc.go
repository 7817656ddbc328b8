// Package flashsale holds the decision logic of a flash sale: a fixed number
// of units of one SKU sold between a start and an end, at most a per-user
// limit to each buyer, under a spike of attempts on one hot SKU. Like
// processors/inventory it is pure: each Decide function takes a key's
// state, one message and returns the new state and what to send.
//
// # Keys
//
// A sale lives under three kinds of keys, each a small state:
//
//   - the sale key holds the definition and, after the end, the settlement;
//   - one bucket key per bucket holds a share of the units: available,
//     sold, and the borrowing protocol below;
//   - one user key per buyer holds the buyer's purchases, the attempts in
//     flight and the results of recent attempts (the idempotency record).
//
// A purchase goes to the buyer's user key, which checks idempotency and
// sends a Take to the buyer's bucket (a fixed function of the user id) with
// how much the buyer already holds; the bucket checks the window, the limit
// and its units and answers with a TakeResult; the user key records it and
// publishes the result. Splitting the sale over buckets spreads one SKU's
// traffic over partitions; keeping buyers in their own keys keeps every
// state small, so no write grows with the size of the sale.
//
// # Moving units between buckets
//
// A bucket that runs dry while buyers ask parks their takes and borrows:
// it sends Borrow to the next bucket, which gives half of what it has (at
// least what is wanted, if it has that much) in a Grant. A bucket keeps
// asking the same donor while it gives, moves on to the next when one gives
// nothing, and ends the round when every other bucket in a row gave nothing;
// parked takes are then rejected as sold out. Messages between keys go
// through a topic, never shared memory.
//
// Why the sale can never oversell: a unit is always in exactly one place,
// the available count of one bucket or one Grant in flight. A donor
// subtracts what it grants in the same state write that emits the Grant,
// the receiver adds it exactly once, and a bucket sells only from its own
// available count. So the units sold over all buckets never exceed the
// units allocated.
//
// Why it is exactly once under redelivery: every message between keys
// carries its origin, the partition and offset of the record whose
// processing sent it (and a sequence number among the messages that record
// sent). Messages from one origin partition to one key arrive in that
// order, so a key keeps, per origin partition, the last origin it applied
// and ignores anything at or before it: the copies a crashed and replayed
// partition sends again. Client purchases are deduplicated by their
// idempotency key in the user's state instead.
//
// Why nothing sells outside the window or above the limit: the bucket
// decides with the attempt's own timestamp, so a replay decides the same,
// and it counts against the limit what the buyer holds plus every attempt
// of theirs still in flight, so concurrent attempts cannot pass the limit
// together.
package flashsale
