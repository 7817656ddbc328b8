// The producer's contract that needs no broker: options are checked when it is built, an invalid
// record is refused before anything is sent, and a closed producer refuses sends.

import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { ClosedError, deriveId, InvalidError, OptionError, Producer, Reason } from "../src/index.js";
import { CommandSchema as InventoryCommandSchema } from "../src/gen/titan/inventory/v1/inventory_pb.js";
import { OrderEventSchema } from "../src/gen/titan/orders/v1/orders_pb.js";
import { CommandSchema as PricingCommandSchema } from "../src/gen/titan/pricing/v1/pricing_pb.js";

// Nothing listens on port 1: a send that tried to reach it would fail with a connection error,
// after the client's retries, not with the InvalidError the tests expect at once.
const nowhere = ["127.0.0.1:1"];

test("bad options are refused when the producer is built, naming the option", () => {
  const bad: [string, unknown][] = [
    ["brokers", { brokers: [] }],
    ["brokers", { brokers: undefined }],
    ["brokers[1]", { brokers: ["127.0.0.1:9092", "no-port"] }],
    ["clientId", { brokers: nowhere, clientId: "" }],
    ["clientId", { brokers: nowhere, clientId: "a\nb" }],
    ["namespace", { brokers: nowhere, namespace: "has space" }],
    ["namespace", { brokers: nowhere, namespace: "x".repeat(240) }],
    ["retries", { brokers: nowhere, retries: -1 }],
    ["retries", { brokers: nowhere, retries: 1 }],
    ["maxBatch", { brokers: nowhere, maxBatch: 0 }],
    ["requestTimeoutMs", { brokers: nowhere, requestTimeoutMs: 1.5 }],
    ["options", null],
  ];
  for (const [field, opts] of bad) {
    assert.throws(() => new Producer(opts as never), (e: unknown) => e instanceof OptionError && e.message.includes(field),
      `${JSON.stringify(opts)} should be refused for ${field}`);
  }
});

test("topics take the namespace", () => {
  assert.equal(new Producer({ brokers: nowhere }).topic("titan.inventory.commands"), "titan.inventory.commands");
  assert.equal(new Producer({ brokers: nowhere, namespace: "shop-a" }).topic("titan.inventory.commands"),
    "shop-a.titan.inventory.commands");
});

test("an invalid record is refused at once, naming the field, and nothing is sent", async () => {
  const p = new Producer({ brokers: nowhere, retries: 2, requestTimeoutMs: 1000 });
  const started = Date.now();
  const sends: [Promise<unknown>, string, Reason][] = [
    [p.restock({ idempotencyKey: "c", sku: "", qty: 1 }), "sku", Reason.missingSku],
    [p.reserve({ idempotencyKey: "c", orderId: "o", sku: "s", qty: 1, ttlMs: 0 }), "reserve.ttl_ms", Reason.invalidTtl],
    [p.placeOrder({ idempotencyKey: "e", orderId: "o", currency: "EUR", lines: [] }), "placed.lines", Reason.missingLines],
    [p.setBasePrice({ idempotencyKey: "c", sku: "s", priceMinor: -1, currency: "EUR" }), "set_base.price_minor", Reason.invalidPrice],
    [p.purchase({ saleId: "s", userId: "titan:u", idempotencyKey: "k", qty: 1, buckets: 1 }), "user_id", Reason.reservedId],
    [p.recordView({ idempotencyKey: "v", userId: "u", sku: "s", timestampMs: 0 }), "timestamp_ms", Reason.invalidTimestamp],
    [p.restock(undefined as never), "", Reason.nilMessage],
    [p.restock({ idempotencyKey: "", sku: "s", qty: 1 }), "idempotency_key", Reason.missingIdempotencyKey],
    // A raw send's id may not take the form the typed sends derive: it would name another key's record.
    [p.sendInventoryCommand(create(InventoryCommandSchema, { commandId: deriveId("c"), sku: "s", qty: 1n, timestampMs: 1n,
      kind: { case: "restock", value: {} } })), "command_id", Reason.derivedId],
    [p.publishOrderEvent(create(OrderEventSchema, { eventId: "sdk:k:e", orderId: "o", timestampMs: 1n,
      kind: { case: "cancelled", value: {} } })), "event_id", Reason.derivedId],
    [p.sendPricingCommand(create(PricingCommandSchema, { commandId: "sdk:h:00", sku: "s", timestampMs: 1n,
      kind: { case: "endCampaign", value: { campaignId: "w" } } })), "command_id", Reason.derivedId],
  ];
  for (const [send, field, reason] of sends) {
    await assert.rejects(send, (e: unknown) => e instanceof InvalidError && e.field === field && e.reason === reason);
  }
  // The client's first connection attempt alone would take longer than this.
  assert.ok(Date.now() - started < 500, `the refusals took ${Date.now() - started} ms`);
  await p.close();
});

test("a send after close is refused with ClosedError", async () => {
  const p = new Producer({ brokers: nowhere });
  await p.close();
  await assert.rejects(p.restock({ idempotencyKey: "c", sku: "s", qty: 1 }), ClosedError);
});

test("a send that cannot reach a broker fails with the client's error, and close still returns", async () => {
  const p = new Producer({ brokers: nowhere, retries: 2, requestTimeoutMs: 500 });
  await assert.rejects(p.restock({ idempotencyKey: "c", sku: "s", qty: 1 }), (e: unknown) => e instanceof Error && !(e instanceof InvalidError));
  await p.close();
});

// The commonest use: each send awaited before the next is made. A send made just as the previous
// request settles must still go out, not wait in the queue for a request no one will make.
test("sends awaited one after another each settle", { timeout: 30_000 }, async () => {
  const p = new Producer({ brokers: nowhere, retries: 2, requestTimeoutMs: 200 });
  for (let i = 0; i < 3; i++) {
    await assert.rejects(p.restock({ idempotencyKey: `c-${i}`, sku: "s", qty: 1 }), (e: unknown) => e instanceof Error && !(e instanceof InvalidError));
  }
  await p.close();
});
