// Package pricing holds the decision logic of one SKU's price: given the
// SKU's state, one input and the policy, Apply (catalog and campaign
// commands, price checks), Observe (inventory events) and Tick (time
// passing) return the new state and the PriceChanged events to publish. It
// reads no clock and touches no Kafka, so table tests, property tests and
// topology replays all run the code the processor runs.
//
// # Price
//
// A price is the base price (the catalog's list price, in the minor units
// of its currency) plus one contribution per rule that applies, in a fixed
// order: demand, then campaign. Each contribution is capped so the running
// price never drops below 0, so price == base + the sum of the amounts
// always holds and every PriceChanged explains itself. A SKU without a
// base price has no price: no PriceChanged, and quotes that say Found
// false.
//
// # Campaigns
//
// A campaign takes a percentage or a fixed amount off the base price on
// [Start, End). Campaigns do not stack: of those active at a time only the
// one with the largest discount applies (ties to the smallest id, so the
// choice does not depend on arrival order), and only it is listed. Stacking
// would let two campaigns planned apart give away more than either meant,
// and a single best offer is what a shopper is shown anyway. A fixed
// discount larger than the price gives a price of 0, with the capped amount
// in the contribution's detail. Policy.MaxCampaignDiscountBps, when set,
// limits any campaign's discount to that share of the base price, a shop's
// rule such as "never more than 30 % off"; which campaign applies is still
// decided by the discounts the campaigns ask for, and the detail says the
// limit was applied. Policies come from a rules file (ParseRules), which
// titan run and titan replay take.
//
// EndCampaign cuts a campaign short at the command's time instead of
// deleting it, and campaigns that ended stay for Policy.CampaignRetention:
// a CheckPrice is priced with the campaigns of its own time (the order's),
// so an order placed just before a campaign ended gets the campaign price
// even when its check is processed after the end. Past Policy.MaxCampaigns
// the campaigns that end first are dropped.
//
// # Demand
//
// The inventory events of the SKU feed per-interval buckets of reserved
// units (Interval, one minute by default, by event time). When an interval
// closes, pressure = units reserved in it / max(available, 1), with
// available the stock left after the newest event, and the target is
// GainBps * pressure within [FloorBps, CeilingBps]; the adjustment, in
// basis points of the base price, moves toward the target by at most
// MaxStepBps. Every elapsed interval is one step, so a burst raises a
// price gradually and a quiet SKU decays back to the floor step by step.
// Closed buckets are dropped, so at most the open interval's is kept.
// Until an inventory event has told the stock, there is no demand
// adjustment. Reservations count once: the events carry the inventory
// command's offset, which grows per SKU, and one is counted only above the
// highest offset counted (a redelivered event, and the repeated result of
// a retried inventory command, carry an old one). The stock is likewise
// taken only from the newest offset. A late event is counted in the
// interval of the state's clock, since closed intervals are never reopened.
//
// # Publishing
//
// A PriceChanged is published whenever the base, currency, price or any
// contribution differs from the last one published; its Cause names the
// most fundamental difference (base_price, then campaign_started,
// campaign_ended or campaign_updated, then demand) and its Version counts
// the SKU's changes from 1. The state keeps the newest and the last
// Policy.HistoryLimit of them.
//
// # Time
//
// An input's time is its own timestamp; the state's clock is the latest
// time seen and never goes back, so a late input is decided at the clock
// and a replay decides exactly as the first run did. Every input first
// moves the clock, and each campaign boundary or demand step crossed on
// the way is published at its own time. A quiet SKU sees no input and goka
// has no timers, so time-driven changes reach it as a command: the ticker
// in topologies/pricingtopo reads the table, and for each SKU whose NextChange
// has come it sends a KindTick command, stamped with its wall clock,
// through the commands topic. Apply decides it as Tick at that time, in the
// SKU's partition order like any other command. Because catching up is
// exact, a late or missed tick only delays a PriceChanged (each change
// keeps the time of its boundary, not of the tick), and a repeated one
// finds nothing left to publish.
//
// # Idempotency
//
// Command ids are remembered for Policy.DedupeWindow (and at most
// Policy.MaxApplied per SKU); a command whose id is remembered changes
// nothing and yields nothing, as the effect of its first delivery is
// already published. Checks are not remembered: they only read, and a
// repeated check is simply answered again. Ticks are not remembered
// either: they are idempotent by construction. A command that breaks the rules of
// schemas.ValidatePricingCommand is ignored; the topology dead-letters it
// before it gets here.
package pricing
