// Package recommendations holds the logic of "bought together" and "viewed
// together" recommendations. Like processors/inventory it is pure: each
// step takes a key's state and one input and returns the new state and the
// pairs to emit; it reads no clock and touches no Kafka, so table tests,
// the quality simulation and the topology run the same code.
//
// # Keys
//
// Three kinds of key, each a small state:
//
//   - a user key (views, keyed by user id) keeps the user's recent views
//     and bought items, bounded (UserHistory). View turns a view into
//     pairs: the viewed item with each other distinct item of the current
//     session, in both directions. A session is the storefront's session
//     id, or, for views without one, a run of the user's views less than
//     Policy.SessionGap apart. UserBought records purchases, so that
//     ForUser leaves them out.
//   - an order key (inventory's Committed events, keyed by order id) keeps
//     the SKUs bought so far (Basket). Bought pairs a newly bought SKU with
//     each SKU already in the order.
//   - an item key (pairs, keyed by item, through a repartition topic) keeps
//     the item's neighbors with their scores (ItemState). Count adds one
//     pair.
//
// A step bounds what one input can emit: at most Policy.MaxPairsPerEvent
// other items (the most recent), each giving two pairs.
//
// # Decay
//
// A co-view counts for less as it ages, halving every Policy.ViewHalfLife
// (a day: browsing trends turn over quickly); a co-purchase halves every
// Policy.PurchaseHalfLife (a week: buying together is rarer and more
// stable). Decaying every score at every pair would rewrite the whole
// state, so scores are forward-decayed instead: an item keeps an epoch e,
// and an occurrence at time t adds 2^((t-e)/h) to the neighbor's score for
// the signal's half-life h. The decayed value at any time T is the stored
// sum times 2^(-(T-e)/h), the same factor for every neighbor, so nothing
// needs touching as time passes. Sums grow with t, so when the item's
// clock (its latest pair time) runs more than Policy.RebaseInterval ahead
// of the epoch, the epoch moves up to the clock and every stored sum is
// multiplied by 2^(-(new-old)/h): the values read at any time stay the
// same and the largest weight stays close to 1. Policy.Validate keeps the
// interval under 32 half-lives, so no weight exceeds 2^32.
//
// # Ranking and the top K
//
// A neighbor ranks by the blend ViewWeight*view + PurchaseWeight*purchase
// (a purchase weighs 5 views by default). With two half-lives the blend's
// order is not time-invariant: a purchase decays slower than a view, so as
// time passes purchases gain on views and two neighbors can swap without
// any new pair. The stored order is therefore defined at one instant, the
// epoch: neighbors are sorted by the blend of their stored sums, which is
// exactly their blend at the epoch. A pair only raises one neighbor's
// rank, so Count moves that one neighbor up past those it now outranks
// (a binary search and a shift; nothing else is touched or rescored), and
// the first K neighbors are the top K at the epoch for any K up to
// Policy.MaxNeighbors. When the epoch is rebased the sums are rescaled
// unevenly and the whole list, at most MaxNeighbors long, is sorted again:
// once per RebaseInterval of the item's time, not per pair.
//
// Between rebases the stored order is the order at most RebaseInterval
// ago. Relative to views, a purchase gains a factor
// 2^(RebaseInterval*(1/ViewHalfLife - 1/PurchaseHalfLife)) over that time,
// about 2.5% with the defaults, so only neighbors within 2.5% of each
// other can be out of order. Top corrects for it: while the query time is
// within RebaseInterval of the epoch it takes the first 2k candidates in
// stored order and orders them by their exact blend at the query time;
// further away (an item that has been quiet) it scores every neighbor, at
// most MaxNeighbors. Reported scores are always exact at the query time.
//
// # Heads and neighbors
//
// Count takes an item's whole state, which suits tests and the quality
// simulation. CountPair is the same step for a store that keeps each
// neighbor apart from the item's head (topologies/recommendationstopo): it
// reads the neighbor the pair names through a Neighbors reader and
// returns the new head and the neighbors that changed (ItemChanges), so
// that a pair costs the same on an item of 200 neighbors as on one of 5.
// The head keeps the list's size and its lowest neighbor, which is what a
// newcomer to a full list is measured against; when the lowest moves up
// or leaves, the neighbor right before it in the stored order takes its
// place. Only a rebase, and a list over a shrunk MaxNeighbors, reads and
// rewrites every neighbor. Count is CountPair over the list in a slice.
//
// # Pruning the long tail
//
// An item keeps at most Policy.MaxNeighbors neighbors (200, twenty times
// the default K). When the list is full, a new neighbor takes the last
// place only if its first occurrence ranks at least as high as the
// neighbor there, which is then forgotten; otherwise the new neighbor is
// dropped. Either way Pruned counts one. Because an occurrence's weight
// grows with its time, a fresh single co-occurrence outranks any neighbor
// whose whole decayed history is worth less than one co-occurrence now:
// the tail is a queue of one-off neighbors in which the oldest leaves
// first, and a neighbor that recurs before it reaches the end of the queue
// accumulates and climbs out of it. Established neighbors are never
// displaced by noise; a real new affinity gets in as soon as the last
// place holds a neighbor worth less than one fresh co-occurrence, which
// decay guarantees within a few half-lives at worst; and the state of an
// item is bounded whatever its traffic.
//
// # Exactly once
//
// Views are deduplicated by event id at the user key (the last
// Policy.MaxEventIDs ids), a bought SKU by the order's basket. Pairs carry
// their Origin: the stream, partition and offset of the record that emitted
// them and their place among its pairs (Stamp). Pairs from one input
// partition reach an item in order, so the item keeps the highest origin
// per stream and partition and ignores anything at or before it: the
// copies a replayed input record emits again. One window remains: if the
// user or order state was written but the pairs were lost in a crash, the
// replayed record is a duplicate there and emits nothing, so those pairs
// are lost, never doubled. For a decayed statistic that is the right side
// to err on.
package recommendations
