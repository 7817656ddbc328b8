// Package fraud runs fraud scoring (processors/fraud) as a goka group,
// titan-fraud, whose table holds the windowed features of every device,
// payment instrument and user.
//
// The saga sends each observation (an order, or a failed payment) to the
// device's key on titan.fraud.observations. Each key counts it, adds its
// features and passes it on through the group's loop topic: device, then
// card, then user. The user's key scores the order with the model in force
// and sends the decision to the order's key on the saga topic. One group
// with one table keeps the three kinds of key on the same partitioning, and
// the loop makes every hop a Kafka record, so a crash between hops loses
// nothing; a copy sent twice is recognised by the order it reports and
// counted once.
//
// The model (weights and rules) is read from a file (by default the one
// built into the binary, processors/fraud/model.json) and swapped on reload (SIGHUP to titan run) without a restart;
// every decision names the model version it was made with.
package fraudtopo
