// Package sdk is how a shop's services write into Titan: a Kafka producer
// for inventory commands (SendCommand) and order events (PublishOrderEvent).
//
// It exists so that every writer gets three things right that Titan's
// processors cannot check after the fact:
//
//   - The record lands in the partition whose processor holds the key's
//     state: commands are keyed by SKU, order events by order id, and keys
//     are placed with Kafka's default partitioner (internal/partition).
//   - A record that breaks the schema rules is refused before it is
//     produced, with the same *schemas.InvalidError the processor would
//     dead-letter it with (schemas.ValidateCommand, ValidateOrderEvent).
//   - A send that is retried is written once and an acknowledged send is
//     durable: the client is idempotent with acks=all.
//
// Commands carry their own id (command_id) and time (timestamp_ms); a caller
// that retries after an error must resend the same command, not a new one,
// so the processor can recognise it.
//
//	p, err := sdk.NewProducer([]string{"localhost:9092"}, sdk.WithClientID("checkout"))
//	if err != nil { ... }
//	defer p.Close()
//	ack, err := p.SendCommand(ctx, cmd)
package sdk
