// Package schemas is Titan's wire contract: the protobuf messages that cross
// Kafka (generated into inventory/v1 and orders/v1 from proto/), the topics
// they travel on (topics.go), the rules a message must satisfy before it is
// produced or applied (ValidateCommand, ValidateOrderEvent), and, in
// schemas/codec, the goka codecs that turn them into record values.
//
// # Encoding
//
// Record values are the plain protobuf binary encoding of one message, with
// no framing, magic byte or schema-registry id, so any protobuf runtime can
// read them. Record keys are the raw UTF-8 bytes of one field:
//
//	topic                          value                    key
//	titan.inventory.commands       inventoryv1.Command      sku
//	titan.inventory.events         inventoryv1.Event        sku
//	titan.inventory.order-events   inventoryv1.Event        order_id
//	titan.orders.events            ordersv1.OrderEvent      order_id
//
// Keys choose partitions with Kafka's default partitioner (murmur2, see
// internal/partition). A processor's state for a key lives in the partition
// the key hashes to, so a record placed elsewhere by a producer that hashes
// differently is set aside as wrong_partition instead of being applied to a
// second, empty state for the key.
//
// # Clients and Titan
//
// Public topics take clients' records, internal topics Titan's own (see
// topics.go). Ids follow one rule (ids.go, ValidID) and those starting with
// ReservedPrefix are Titan's: CheckClientCommand, CheckClientOrderEvent and
// CheckClientPricingCommand refuse them in a client's record, and the
// internal checks demand them. A client message's own time is bounded by a
// TimeWindow around the time Kafka received it (clock.go).
//
// # Versioning
//
// Readers and writers of different releases share every topic, and state
// tables are read back from changelogs written by older releases, so within a
// package version (titan.inventory.v1, titan.orders.v1) a change must leave
// old bytes readable by new code and new bytes readable by old code:
//
//   - Add fields and oneof cases with new numbers; readers treat the zero
//     value as "not sent". Old readers keep unknown fields, so a state
//     value written by new code survives a round trip through old code.
//   - Never renumber a field, change its type, or reuse the number or name of
//     a removed one: delete it and add a `reserved` line for both.
//   - Never change what an existing field or enum value means, including its
//     unit (the _ms and _minor suffixes are part of the name).
//   - Enum values are only added; 0 stays UNSPECIFIED so a reader can tell
//     "not set" from a real value.
//   - Validation may be tightened only for fields that no producer sends yet;
//     a record that was valid when written must stay valid when replayed.
//
// A change that cannot follow these rules gets a new package version (v2)
// and new topic names; both versions are served until every producer and
// table has moved.
//
// Package compat holds these rules: its test fails `make test` on a change
// that breaks the schema recorded in compat/published.json, and `make
// generate` records additions there.
//
// Generated code is committed. After editing a .proto file run
// schemas/generate.sh (make generate); generate.sh --check fails when the
// committed code is stale.
package schemas
