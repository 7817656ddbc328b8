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
//   - the sale key holds the definition, the sale's phase (its creation,
//     then its settlement with the inventory; SaleState) and, after the
//     end, the buckets' final counts;
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
// # Creating a sale: a saga at the sale key
//
// A sale sells units the SKU's inventory has set aside for it, its
// allocation: a reservation of the sale's units under the order
// AllocationOrder(id), in Titan's namespace (schemas.ReservedPrefix). The
// sale key makes and ends it itself, with commands of Titan's own that
// travel on the inventory's internal topic, so the reservation is Titan's:
// the inventory refuses any client command under its ids and any client's
// commit or release of it (reserved_id). No client can release the
// allocation to sell its units a second time, take its ids first to block
// the sale, or open a sale whose units were never set aside: Create, like
// Abandon and Close, is accepted only from Titan's own topic.
//
//	Create ──> Allocating ──Reserved──> Open ──reports──> Settling ──Committed/Released──> Settled
//	               │                      │                   │
//	               ├──Rejected──> Failed  └──allocation lost──┴──Rejected──> SettlementFailed
//	               └──Abandon (deadline)──> Failed + Release
//
// Create (DecideSale) stores the definition, stamps the creation's deadline
// (its time plus Policy.CreationTimeout) and sends the allocation's Reserve
// (AllocateCommandID). Its TTL runs from the Create's own time to
// Policy.AllocationGrace after the end, computed without a clock, so a
// Create processed again after a crash sends the very same command, which
// the inventory applies once by its id. A Create repeated with the same
// definition changes nothing; another definition under the id is refused.
//
// The inventory's answer comes back to the sale key (OnInventory): Reserved
// with the sale's units opens every bucket with its share; a rejection
// (insufficient_stock, ...) fails the creation with the inventory's reason.
// If no answer has come by the deadline, the settler, the sale's clock,
// sends Abandon: the creation fails (creation_timed_out) and the sale key
// sends a Release of the allocation (AbandonCommandID). Nothing leaks
// however the answer is lost: the Reserve and the Release are sent by the
// same key, in that order, keyed by the SKU on one topic, so the inventory
// applies the Release after the Reserve and the units come back, and when
// the Reserve was refused the Release finds nothing. An answer arriving
// after that changes nothing; every phase moves forward only.
//
// # Settling a sale
//
// After the end every bucket closes and reports what it sold. With the
// last report the sale key is Settling and sends the settlement
// (SettleCommandID): a Commit of what was sold, or a Release of the whole
// allocation when nothing was. The inventory's Committed or Released
// answer settles the sale. A settlement the inventory refuses
// (reservation_not_found, reservation_expired, ...) means the allocation
// was no longer there: the units the sale sold never left the SKU's stock
// and may be sold again. The sale then fails its settlement with the
// inventory's reason, which the topology logs as an error and the API
// shows. So does an allocation that ends under the sale by anything but its
// settlement (it expired, or an operator's or a bug's command released or
// committed it), as soon as the inventory's event arrives, with the reason
// the settlement would have met. The settler still closes such a sale's
// buckets, so its final count is known to whoever puts the stock right.
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
// units allocated; and the buckets open only once the inventory holds the
// allocation, as Titan's, which no client can take back, so no unit the
// sale sells can be sold by anyone else.
//
// Why it is exactly once under redelivery: every message between keys
// carries its origin, the input stream, partition and offset of the record
// whose processing sent it (and a sequence number among the messages that
// record sent). Messages from one origin partition to one key arrive in
// that order, so a key keeps, per origin stream and partition, the last
// origin it applied and ignores anything at or before it: the copies a
// crashed and replayed partition sends again. Messages from outside the
// group carry no origin and are idempotent by the state they meet instead:
// client purchases by their idempotency key in the user's state (the same
// key with another qty is another attempt under a used key, answered
// idempotency_key_conflict and changing nothing), a Create by the
// definition the sale key holds, an Abandon and the inventory's answers by
// the sale's phase, which only moves forward, a Close by the bucket's.
// A key's messages can be ahead of its state, never behind it (see
// topologies/flashsaletopo): after a crash a bucket's answer may reach a user key
// whose recovered state never recorded the take. The answer still answers
// the attempt, once, and the purchase decided again gets a copy.
//
// Why nothing sells outside the window or above the limit: the bucket
// decides with the attempt's own timestamp, so a replay decides the same,
// and the topology holds that timestamp to the time Kafka received the
// attempt (schemas.TimeWindow), so a buyer cannot stamp their way into a
// sale that has ended; and the bucket counts against the limit what the
// buyer holds plus every attempt of theirs still in flight, so concurrent
// attempts cannot pass the limit together.
package flashsale
