"""Produce records to Kafka with librdkafka (confluent-kafka), as a shop's Python service would.

Reads one JSON object per line from stdin, {"topic", "key", "value_hex"}, produces each with an
idempotent producer (acks=all) and writes one JSON object per line to stdout for each delivery,
{"key", "partition", "offset"} or {"key", "error"}, in the order delivered.

    librdkafka_produce.py --bootstrap 127.0.0.1:9092 [--partitioner murmur2_random]

Without --partitioner, librdkafka's default (consistent_random, crc32 of the key) places the keys.
"""

import argparse
import json
import sys

from confluent_kafka import Producer


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--partitioner")
    args = parser.parse_args()

    config = {
        "bootstrap.servers": args.bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
    }
    if args.partitioner:
        config["partitioner"] = args.partitioner
    producer = Producer(config)

    failed = 0

    def delivered(err, msg):
        nonlocal failed
        key = msg.key().decode("utf-8")
        if err is not None:
            failed += 1
            print(json.dumps({"key": key, "error": str(err)}), flush=True)
        else:
            print(json.dumps({"key": key, "partition": msg.partition(), "offset": msg.offset()}), flush=True)

    for line in sys.stdin:
        if not line.strip():
            continue
        record = json.loads(line)
        producer.produce(record["topic"], key=record["key"].encode("utf-8"),
                         value=bytes.fromhex(record["value_hex"]), on_delivery=delivered)
        producer.poll(0)
    left = producer.flush(60)
    if left:
        print(f"{left} records not delivered within 60 s", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
