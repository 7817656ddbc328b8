// The producer against a real broker (TITAN_KAFKA_BROKERS), run by
// internal/instance/node_sdk_test.go under `make test`: every input lands in the partition its key
// hashes to, and concurrent sends are each written once, none acknowledged without being stored.

import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Admin } from "@platformatic/kafka";
import { Producer, Topics, namespaced, partition, type Ack } from "../src/index.js";

const brokers = (process.env.TITAN_KAFKA_BROKERS ?? "").split(",").filter((b) => b !== "");
// The SDK's partitioner is pinned by the golden vectors (vectors.test.ts); what this checks is that
// the record is written where the SDK placed it, whatever the client would have chosen.
const partitions = 6;

test("every input is written once, in the partition of its key", { timeout: 120_000 }, async () => {
  assert.ok(brokers.length > 0, "TITAN_KAFKA_BROKERS is not set: run through `go test ./internal/instance -run NodeSDKOnBroker`");
  const namespace = `node-sdk-${randomBytes(4).toString("hex")}`;
  const topics = Object.values(Topics).map((t) => namespaced(namespace, t));
  const admin = new Admin({ clientId: "titan-sdk-test", bootstrapBrokers: brokers });
  await admin.createTopics({ topics, partitions, replicas: 1 });
  const p = new Producer({ brokers, namespace });
  try {
    const at = Date.now();
    const sends: [Promise<Ack>, string, string][] = [];
    // Many to few partitions at once: what a client numbering its requests wrongly would lose.
    for (let i = 0; i < 200; i++) {
      sends.push([p.restock({ idempotencyKey: `restock-${i}`, sku: `sku-${i % 16}`, qty: i + 1 }), Topics.inventoryCommands, `sku-${i % 16}`]);
    }
    sends.push(
      [p.reserve({ idempotencyKey: "reserve-1", orderId: "order-1", sku: "sku-1", qty: 1, ttlMs: 60_000 }), Topics.inventoryCommands, "sku-1"],
      [p.commit({ idempotencyKey: "commit-1", orderId: "order-1", sku: "sku-1" }), Topics.inventoryCommands, "sku-1"],
      [p.release({ idempotencyKey: "release-1", orderId: "order-2", sku: "sku-2" }), Topics.inventoryCommands, "sku-2"],
      [p.placeOrder({ idempotencyKey: "placed-1", orderId: "order-1", currency: "EUR", lines: [{ sku: "sku-1", qty: 1, unitPriceMinor: 100 }] }),
        Topics.orderEvents, "order-1"],
      [p.paymentFailed({ idempotencyKey: "failed-1", orderId: "order-3", userId: "u", deviceId: "d", paymentId: "p", amountMinor: 1 }),
        Topics.orderEvents, "order-3"],
      [p.markPaid({ idempotencyKey: "paid-1", orderId: "order-1", userId: "u", paymentId: "p", amountMinor: 100, currency: "EUR" }),
        Topics.orderEvents, "order-1"],
      [p.cancelOrder({ idempotencyKey: "cancelled-1", orderId: "order-4" }), Topics.orderEvents, "order-4"],
      [p.setBasePrice({ idempotencyKey: "price-1", sku: "sku-1", priceMinor: 1999, currency: "EUR" }), Topics.pricingCommands, "sku-1"],
      [p.upsertCampaign({ idempotencyKey: "campaign-1", sku: "sku-1", campaign: { id: "w", kind: "fixed", amountMinor: 100, endsAtMs: at + 60_000 } }),
        Topics.pricingCommands, "sku-1"],
      [p.endCampaign({ idempotencyKey: "campaign-end-1", sku: "sku-1", campaignId: "w" }), Topics.pricingCommands, "sku-1"],
      [p.purchase({ saleId: "sale-1", userId: "user-7", idempotencyKey: "buy-1", qty: 1, buckets: 4 }), Topics.flashSaleCommands,
        "u:sale-1:user-7"],
      [p.recordView({ idempotencyKey: "view-1", userId: "user-7", sku: "sku-1" }), Topics.recommendationViews, "user-7"],
    );
    const acks = await Promise.all(sends.map(([s]) => s));
    // And one at a time, each awaited before the next is made.
    for (let i = 0; i < 10; i++) {
      const ack = await p.restock({ idempotencyKey: `again-${i}`, sku: `sku-${i}`, qty: 1 });
      sends.push([Promise.resolve(ack), Topics.inventoryCommands, `sku-${i}`]);
      acks.push(ack);
    }
    await p.flush();
    const written = new Map<string, Set<bigint>>();
    acks.forEach((ack, i) => {
      const [, topic, key] = sends[i];
      assert.equal(ack.topic, namespaced(namespace, topic));
      assert.equal(ack.partition, partition(key, partitions), `${key} in partition ${ack.partition}`);
      const at = `${ack.topic}/${ack.partition}`;
      const offsets = written.get(at) ?? new Set<bigint>();
      assert.ok(!offsets.has(ack.offset), `two records acknowledged at ${at}@${ack.offset}`);
      offsets.add(ack.offset);
      written.set(at, offsets);
    });
    // The broker holds exactly what was acknowledged: each partition's end offset is its count.
    const ends = await admin.listOffsets({
      topics: topics.map((name) => ({ name, partitions: [...Array(partitions).keys()].map((partitionIndex) => ({ partitionIndex, timestamp: -1n })) })),
    });
    for (const t of ends) {
      for (const part of t.partitions) {
        const n = BigInt(written.get(`${t.name}/${part.partitionIndex}`)?.size ?? 0);
        assert.equal(part.offset, n, `${t.name}/${part.partitionIndex} ends at ${part.offset}, ${n} records were acknowledged there`);
      }
    }
  } finally {
    await p.close();
    await admin.deleteTopics({ topics }).catch(() => {});
    await admin.close();
  }
});
