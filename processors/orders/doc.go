// Package orders holds the decision logic of the order saga: given an
// order's state, one input and the policy, each function returns the new
// state and the Effects to send. It reads no clock and touches no Kafka, so
// table tests, property tests and topology replays all run the code the
// processor runs.
//
// # The saga
//
// An order goes through three steps, each a request answered on the
// order's key (the topology answers the price checks itself, from a lookup
// of the pricing table, and feeds the quotes back at once; see
// topologies/orderstopo):
//
//	Place      -> Scoring    Effects.Fraud: score the order (amount = sum qty*unit price)
//	OnFraud    -> Pricing    one PriceCheck per line, at the order's placed time
//	OnQuote    -> Reserving  once every line is quoted: one inventory Reserve per line
//	OnInventory-> Confirmed  once every line is reserved: one Commit per line
//
// and ends in exactly one terminal state, Confirmed or Rejected, with one
// Outcome effect. A fraud rejection ends it as fraud_rejected; a SKU with
// no price as price_unavailable; a price in another currency, or further
// from the quoted price than Policy.PriceToleranceBps, as price_mismatch
// (the price is judged at the placed time because that is what the buyer
// was shown); a refused reservation as out_of_stock; a reservation that
// expired before the others arrived as reservation_expired; Cancel as
// cancelled; content the schema layer should have refused as invalid_order.
// A review verdict lets the order go ahead with Review set, so a person
// looks at it after the fact instead of the buyer waiting.
//
// Only once every line is priced does the saga reserve, so an order
// rejected by fraud or pricing never holds stock: its lines are Skipped. A
// rejection while reserving releases every line already Reserved; lines
// still Reserving are released as soon as their reservation comes back,
// because nobody will commit them and holding them until their TTL would
// keep the stock from other buyers. A confirmed order's reservations are
// committed whole (qty 0).
//
// # Idempotency and ordering
//
// Inputs arrive keyed by order id, at least once, possibly after the order
// ended, and from several sources whose relative order is arbitrary (each
// source keeps its own order). Every function therefore acts only on the
// input its current state waits for and ignores the rest without touching
// the state: a verdict outside Scoring, a quote for a line already quoted,
// an inventory answer that would move a line backwards. An ignored input
// adds no history, so duplicates never grow the state. Place compares a
// Fingerprint of the content: the same content again is a retry and does
// nothing; a different content under a known id is ErrConflict, because two
// orders under one id cannot both be served. A cancel for an order the saga
// has not seen is ignored rather than remembered, so a stray id creates no
// state; a cancel after the outcome only leaves a cancel_ignored step.
//
// The saga's inventory commands have ids that are a function of the order,
// SKU and kind (CommandID), so a command sent twice is applied once, and
// OnInventory matches an answer to a line by SKU and by those ids (for an
// expiry, the id of the Reserve that made the reservation). A shop may send
// commands for the same order by hand; their answers are not the saga's and
// are ignored. Price checks and the outcome event have fixed ids too
// (PriceCheckID, OutcomeEventID): if the processor crashes after emitting
// and before storing the order, the input is processed again and emits the
// same ids, which their readers drop.
//
// A failed payment changes no status; PaymentFailed forwards it to fraud
// scoring and notes it in a known order's history, which is how a duplicate
// is recognised. For an order the saga has not seen there is no history, so
// a duplicate is forwarded again and the fraud processor's own
// de-duplication (by the record's origin) applies.
//
// A captured payment (Paid) changes no status either: the saga confirms and
// commits without waiting for it. It is noted in a known order's history,
// where a payment for an order rejected or cancelled meanwhile shows as one
// to refund, and ignored for an id the saga has not seen, as a cancel is.
//
// # Time
//
// The saga's time for an input is the later of the input's own time and
// the latest time the order has seen (Order.Clock, the time of its last
// history step), so a late input is judged at the order's latest time and a
// replay decides exactly as the first run. Effects carry that time, except
// the price checks, which carry the placed time.
//
// Reservations are held for Policy.ReserveTTL. An order is confirmed as
// soon as its last reservation arrives and commits right away, so a
// reservation can only expire after confirmation if the saga lags behind
// the inventory by more than the TTL. The outcome is already published then
// and stands; the line records the expiry and the history a commit_failed
// step for an operator to settle.
//
// # Deadlines
//
// An answer that never comes (a peer that is down, an answer lost to a bug,
// one that answers another command) would leave an order waiting for good,
// holding its reservations. Every change appends a step, so Order.Steps
// grows whenever the order moves. The topology's deadline scanner watches
// the open orders and, for one whose step count has not changed for the
// step timeout on its own clock, sends Timeout with that count; Timeout
// rejects the order as timed_out if it still has that count, and releases
// what it holds: the reserved lines, and the lines still reserving, whose
// Reserve the inventory applies before the Release since both travel keyed
// by SKU on one topic. An order that moved since, or ended, ignores it, so
// a late or repeated Timeout is harmless. The wait is measured on the
// scanner's clock, not on the order's: an order's times are its events',
// which a checkout may stamp in the past.
//
// History is bounded by Policy.MaxHistory: the oldest steps are dropped and
// counted in HistoryDropped. CheckOrder states the invariants that hold
// after every step.
package orders
