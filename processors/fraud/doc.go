// Package fraud holds the decision logic of fraud scoring: windowed
// features per device, payment instrument and user, a model that turns
// them into a decision, and the wire mapping. Like processors/inventory it
// reads no clock, touches no Kafka and does no I/O, so table tests, fuzzing
// and the in-memory replay of a generated day run the same code the goka
// group runs.
//
// # Stages
//
// One goka group keeps an Entity per key. The order saga sends an
// Observation (NewObservation) to the device key "d:<device>"; Step counts
// it there, appends the device's features and returns it as Forward,
// addressed to the card key "c:<payment_id>"; the card does the same and
// forwards to the user key "u:<user>", which counts, appends, scores with
// the Model and returns the Decision. A stage whose id is empty is skipped
// (Observation.Route) and the last stage visited decides. Failed payments
// walk the same way, are counted as failures, and are never scored.
//
// # Dedupe
//
// An observation is identified by what it reports, not by where it was
// read: "o:<order id>" for an order, "f:<order id>:<time>" for a failed
// payment (Observation.ID). An entity remembers the ids it counted over the
// last day (at most Policy.MaxSeen) and counts a copy of one of them
// nothing. The copy is still forwarded, and at the user stage the stored
// decision for the order is returned again (or the order is scored afresh
// if it has left Policy.MaxDecisions): the copy may be this stage's own
// record replayed after a crash that came between writing the entity and
// sending, and the next stage counts it once whatever position it arrives
// from. Observation.Origin, set from Step's at argument on the forwarded
// copy, only says where a copy came from.
//
// # Windows
//
// Counters are keyed by event time, never by processing time. Each entity
// has three tiers of buckets, each counting orders, their amount and failed
// payments in [start, start+width), start aligned to the width in Unix
// time:
//
//	tier     width  kept while the bucket overlaps   answers
//	fine     10 s   (clock-1m,  clock]               the last minute
//	minutes  1 min  (clock-1h,  clock]               the last hour
//	hours    1 h    (clock-24h, clock]               the last 24 hours
//
// The entity's clock is the latest event time it has counted; it never goes
// back. Every Step prunes the buckets that no longer overlap their tier's
// span at the clock, so an entity holds at most 7+61+25 buckets
// (MaxBuckets), however busy it is.
//
// The "last W" feature read at now sums the buckets of W's tier that
// overlap (now-W, now]. The oldest, partial bucket counts whole, so a
// window reaches back between W and W plus one width: user_orders_1m covers
// 60 to 70 s, the hour windows 60 to 61 min, the day windows 24 to 25 h.
// Buckets that start after now are left out. Features are read at the
// entity's clock after counting, which is max(clock, event time), so the
// observation being scored is always in its own features when it is on
// time.
//
// # Late events
//
// An observation older than the clock is added to every tier whose bucket
// for its time is still kept: an event 5 minutes late lands in the minute
// and hour buckets but not the fine ones, so it is in user_orders_1h and
// not in user_orders_1m. When even its hour bucket is gone (it is more than
// 24 h, up to 25 h by the bucket rule above, older than the clock) it is
// counted in Entity.Late and nowhere else, and Result.Late is set; it is
// still forwarded and scored, so every order gets a decision.
//
// # Members
//
// A device and a card remember their users, a user its devices, each with
// first and last event time. A member last seen 24 h or more before the
// clock is pruned. At most Policy.MaxMembers are kept; beyond that the
// least recently seen is dropped, so device_users_24h, card_users_24h and
// user_devices_24h saturate at MaxMembers. user_new_device is 1 when the
// order's device is not among the user's devices of the last 24 h and the
// user had been seen before; user_new_devices_1h counts the devices that
// first appeared in the last hour, leaving out the device of the user's
// first observation.
//
// # Model
//
// ParseModel reads a model file (the default, DefaultModelJSON, is
// model.json here): a version, a logistic model (bias plus a weight per
// feature, applied to log1p of the feature by default) giving a
// probability, review_at and reject_at thresholds on it, and rules of one or more conditions on features, each
// forcing review or reject. Score rejects when a reject rule fires or the
// probability reaches reject_at, reviews when a review rule fires or it
// reaches review_at, and approves otherwise. A *Model is immutable: to
// change the model without a restart the adapter parses the new file and
// passes the new pointer to the next Step; decisions carry ModelVersion.
package fraud
