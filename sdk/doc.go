// Package sdk is how a shop's services write into Titan: one Producer for
// every input, and waits for the answers.
//
// # Inputs
//
// Each record a shop sends is a plain value, sent with Send (which waits
// for Kafka's acknowledgement) or SendAsync (which calls back):
//
//	inventory        Restock, Reserve, Commit, Release
//	orders           PlaceOrder, MarkPaid, PaymentFailed, CancelOrder
//	pricing          SetPrice, StartCampaign, EndCampaign
//	flash sales      Purchase; DefineFlashSale (operators' tools, see its doc)
//	recommendations  View
//
// The caller names each operation with an idempotency key; the SDK fills the
// rest. The record's id is derived from the key (schemas.DeriveID), so a send
// retried with the same key, after a timeout or a crash, is the same record
// to its processor, which applies it once; its time is the producer's clock
// (WithClock). Ready-made messages go through SendCommand, PublishOrderEvent
// and SendPricingCommand, which refuse a caller's id in the derived ids'
// namespace, so the two never meet.
//
// # What the producer gets right
//
// Titan's processors cannot check these after the fact:
//
//   - The record lands in the partition whose processor holds its key's
//     state: inventory and pricing commands keyed by SKU, order events by
//     order id, views by user id, a purchase by the buyer's key and a sale's
//     definition by the sale's key (processors/flashsale), placed with
//     Kafka's default partitioner (internal/partition).
//   - An input that breaks a rule of its processor's is refused before it
//     is produced, with the *schemas.InvalidError (field and reason) the
//     processor would dead-letter it with.
//   - A retried send is written once and an acknowledged one is durable: the
//     client is idempotent with acks=all, whatever WithKgoOptions says.
//
// # Buffering
//
// Records wait in a bounded buffer for Kafka. WithBuffer chooses what a
// send that finds it full does: FailFast fails it at once with
// ErrBufferFull (shed the request), Block waits for room until the send's
// context ends. Flush waits for every record sent so far; Close fails what
// is still buffered, so Flush first.
//
// # Waiting for answers
//
// WaitCommandResult returns an inventory command's result event,
// WaitOrderOutcome an order's confirmation or rejection and
// WaitPurchaseResult a flash-sale purchase's result. Each reads only the
// partition its key maps to, from the send's time (Ack.SentAt), with a
// client of its own, until the answer comes or its context ends.
//
//	p, err := sdk.NewProducer([]string{"localhost:9092"}, sdk.WithClientID("checkout"))
//	if err != nil { ... }
//	defer p.Close()
//	ack, err := p.Send(ctx, sdk.Restock{IdempotencyKey: "delivery-7781/line-1", SKU: "sku-123", Qty: 40})
//	if err != nil { ... }
//	ev, err := p.WaitCommandResult(ctx, "sku-123", ack.ID, ack.SentAt)
//
// WithNamespace writes to a deployment whose instances run with a
// namespace. Keyed is the writer of Titan's own internal topics, for its
// instances.
package sdk
