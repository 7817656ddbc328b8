// Package inventory holds the decision logic of stock reservation for one
// SKU: given the SKU's state, one command and the policy, Decide returns the
// new state and the events to publish. It reads no clock and touches no
// Kafka, so table tests, property tests and topology replays all run the
// same code the processor runs.
//
// # Head and memory
//
// Step decides on a SKU's Head (its ledger, offsets, seq, clock, next
// deadline and the bounds of what it remembers) and reads what the SKU
// remembers, its reservations and the commands it applied, through a
// Memory, one entry at a time; it returns the new head and the Changes to
// that memory. A command therefore costs what it changes, whatever the SKU
// has seen: the topology keeps each entry under a key of its own. Decide
// runs the same Step on a State, the whole SKU in memory, for tests and
// replays.
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
// # Command identity
//
// Every command carries an id, and an id names one command of its SKU: the
// memory of ids lives with the SKU's state, so two SKUs may each have a
// command under one id (a client's request that touches several SKUs, such
// as the API's commit of an order, sends one command per SKU). Decide remembers
// each command it applied for Policy.DedupeWindow (and at most
// Policy.MaxApplied per SKU), with its result and its Fingerprint: the hash
// of what it asks for (kind, order, quantity, TTL; not its time, which a
// retry may restamp). A command whose id it remembers
//
//   - read again from the very record it was applied from is a replay
//     after a crash: it changes nothing and yields every event it yielded,
//     the expiries its clock made due included (the topology sends events
//     only after the state write, so a successor may be the first to
//     publish them);
//   - with the same fingerprint is a retry: it changes nothing and yields
//     its first result again, offset included;
//   - with another fingerprint is another command under a used id: it is
//     rejected with ReasonCommandIDConflict and changes nothing, and the id
//     keeps naming the first command. A reserve sent under a restock's id
//     therefore never answers "restocked", and a commit under a reserve's
//     id never leaves the reservation open while answering success.
//
// An ended reservation is remembered as long as the command that ended
// it, and forgotten with it.
//
// Each reservation, keyed by order id within the SKU, ends exactly once:
// Committed, Released or Expired. A Commit or Release that finds it already
// ended is rejected with a reason that says how it ended, so a consumer that
// sums events never counts a unit twice.
//
// # Titan's commands and clients'
//
// Commands reach a SKU from two topics: clients write the public commands
// topic; Titan alone writes the internal one (the order saga's lines, a
// flash sale's allocation and settlement, the expiry sweeper), which a
// deployment protects with ACLs like any internal topic. Command.Internal
// says which. Titan's ids start with schemas.ReservedPrefix, and a client's
// command in that namespace is refused with ReasonReservedID (the topology
// dead-letters it before it gets here). A reservation an internal command
// made is Titan's: only internal commands, or its TTL, end it, and a
// client's Commit or Release of it is refused with ReasonReservedID. So no
// client can release a flash sale's units to sell them twice, or end an
// order's line under the saga's feet.
//
// A SKU's commands from the two topics interleave in no fixed order, and
// their offsets say nothing about each other: State.Offset and
// State.InternalOffset follow each topic, and State.Seq numbers every
// command the SKU applied, which Event.Seq carries to order a SKU's events.
//
// # Time and expiry
//
// The clock of a command is its own timestamp, set by whoever produced it,
// and the state's clock never goes back (a late command is decided at the
// latest time the SKU has seen). A replay therefore decides exactly as the
// first run did. The topology refuses a client's command stamped far from
// the time Kafka received it (schemas.TimeWindow), and Decide clamps any
// time to the years 1 to 9999, so no timestamp can move a SKU's clock
// years ahead or overflow a deadline. Before acting on any command Decide expires every open
// reservation whose deadline has passed at that clock: stock is never held
// by a reservation past its TTL once the SKU sees any traffic.
//
// A quiet SKU sees no command, and goka has no timers, so the topology runs
// a sweeper on each instance: it scans the local state of the partitions the
// instance owns and sends an Expire command, keyed by the SKU, for every
// reservation past its deadline (see topologies/inventorytopo). Expire is an
// ordinary command on the same partition, so it is ordered with the SKU's
// other commands, survives rebalances and crashes like them, and is
// harmless when repeated: it expires only reservations that are still open
// and due, and yields nothing otherwise.
package inventory
