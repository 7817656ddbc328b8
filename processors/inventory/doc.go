// Package inventory holds the decision logic of stock reservation for one
// SKU: given the SKU's state, one command and the policy, Decide returns the
// new state and the events to publish. It reads no clock and touches no
// Kafka, so table tests, property tests and topology replays all run the
// same code the processor runs.
//
// # Ledger
//
// A SKU's Stock has three counters. OnHand is what the warehouse holds,
// Reserved the part of it promised to open reservations, Sold what left
// through committed reservations. Available is OnHand - Reserved. Every unit
// ever restocked is either on hand or sold, so OnHand + Sold equals the sum
// of restocks, and Reserved always equals the sum of the open reservations.
// Decide never lets Reserved exceed OnHand: a reservation that does not fit
// in Available is rejected with ReasonInsufficientStock.
//
// # Idempotency
//
// Every client command carries an id. Decide remembers the result of each
// command for Policy.DedupeWindow (and at most Policy.MaxApplied commands per
// SKU); a command whose id it remembers changes nothing and yields its first
// result again, offset included. Each reservation, keyed by order id within
// the SKU, ends exactly once: Committed, Released or Expired. A Commit or
// Release that finds it already ended is rejected with a reason that says
// how it ended, so a consumer that sums events never counts a unit twice.
//
// # Time and expiry
//
// The clock of a command is its own timestamp, set by whoever produced it,
// and the state's clock never goes back (a late command is decided at the
// latest time the SKU has seen). A replay therefore decides exactly as the
// first run did. Before acting on any command Decide expires every open
// reservation whose deadline has passed at that clock: stock is never held
// by a reservation past its TTL once the SKU sees any traffic.
//
// A quiet SKU sees no command, and goka has no timers, so the topology runs
// a sweeper on each instance: it scans the local state of the partitions the
// instance owns and sends an Expire command, keyed by the SKU, for every
// reservation past its deadline (see topologies/inventory). Expire is an
// ordinary command on the same partition, so it is ordered with the SKU's
// other commands, survives rebalances and crashes like them, and is
// harmless when repeated: it expires only reservations that are still open
// and due, and yields nothing otherwise.
package inventory
