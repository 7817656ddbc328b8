// Package partition is the one key-to-partition mapping Titan uses:
// Kafka's default partitioner, (murmur2(key) & 0x7fffffff) % partitions.
//
// A stateful goka processor owns the partitions it is assigned and keeps
// each key's state in the partition the key hashes to; lookups through views
// and the records goka itself emits are placed by the same hash. If a
// producer hashes keys differently nothing fails: its records reach a
// processor that has no state for them, which then builds a second, wrong
// state for the key in the wrong partition while the real one sits
// elsewhere. Agreeing on one partitioner is therefore part of the wire
// contract, not a tuning choice.
//
// Kafka's default was chosen over goka's (sarama's FNV-1a) so that the
// Java client, kafka-python, KafkaJS 2 and franz-go write into Titan's
// topics correctly by default; librdkafka-based clients need
// partitioner=murmur2_random (their default, consistent_random, is crc32).
// Since a misplaced record fails nowhere by itself, every processor checks
// that each record's key hashes to the partition it arrived in and sets it
// aside as wrong_partition otherwise (internal/observe). The Titan side
// must be told:
//
//   - goka processors, views and emitters: goka.WithHasher(Hasher()),
//     goka.WithViewHasher(Hasher()), goka.WithEmitterHasher(Hasher()).
//     goka's producer builders pass the same hasher to sarama's
//     NewCustomHashPartitioner, so records goka emits land where views look.
//   - franz-go clients: kgo.RecordPartitioner(Kgo()).
//   - code that needs the number directly: Partition.
//
// Hasher's Sum32 already clears the sign bit, so goka's abs(int32(sum)) % n
// and sarama's equivalent reduce to exactly Kafka's formula.
//
// One rule is Titan's own: a key with a NUL byte is placed by what comes
// before its first NUL. A processor that keeps a key's state in several
// entries of its table names them "key\x00...", and they land in key's
// partition (topologies/inventorytopo). No key a client may send holds a NUL,
// so for every client key the mapping is Kafka's.
package partition
