// Package deadletter is the record Titan sets aside when it cannot process
// one: its dead letter, the JSON value written to a topology's dead-letter
// topic (Topics), keyed like the record it holds.
//
// A dead letter keeps the record whole, key and value as they arrived, with
// where it came from and why it was set aside, so that an operator can
// read it (titan dlq inspect) and, once the cause is fixed, send it back to
// the topic it came from (titan dlq replay).
//
// # JSON form
//
// One JSON object per dead letter, written by Encode and read by Decode:
//
//	topology    string  who set the record aside: the goka group of the
//	                    processor (in its namespace, e.g. "titan-inventory"),
//	                    or "clickhouse-sink" for the ClickHouse sink.
//	topic       string  the topic the record was read from (its source),
//	                    in the deployment's namespace. Required.
//	partition   number  the record's partition in topic, 0 or more.
//	offset      number  the record's offset in that partition, 0 or more.
//	                    topic/partition/offset name one dead letter: the
//	                    same record set aside twice (a processor stopped
//	                    after writing the dead letter and before committing
//	                    its offset reads it again) is still one.
//	key         string  the record's key. JSON strings hold UTF-8 only: a
//	                    key with bytes that are not UTF-8 is written with
//	                    U+FFFD in their place, and cannot be replayed as it
//	                    was.
//	value       string  the record's value, base64 (standard, padded), or
//	                    null when the record had none.
//	reason      string  a short stable code, e.g. "decode", "invalid_qty",
//	                    "wrong_partition", "undecodable". Required.
//	error       string  the error in words, for people.
//	time        string  RFC 3339 with nanoseconds: for a processor, the
//	                    record's own Kafka timestamp; for the sink, when it
//	                    set the record aside.
//	belongs_to  number  only for wrong_partition: the partition the key
//	                    hashes to. Absent otherwise.
//
// Fields may be added; readers ignore the ones they do not know. The form
// is the one Titan has always written, so old dead letters still decode.
//
// The Kafka record that carries a dead letter has its own timestamp, the
// time it was written; titan dlq selects by that time, which the broker can
// seek by.
package deadletter
