// The golden vectors of schemas/testdata/vectors, which schemas/vectors_test.go checks for Go: the
// same files checked here, so the Go and Node producers cannot drift apart without a test failing.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { equals, fromBinary, fromJson, toBinary, type DescMessage, type JsonValue } from "@bufbuild/protobuf";
import { deriveId, validID } from "../src/ids.js";
import { partition } from "../src/partition.js";
import { Topics } from "../src/topics.js";
import * as records from "../src/records.js";
import { CommandSchema as InventoryCommandSchema } from "../src/gen/titan/inventory/v1/inventory_pb.js";
import { OrderEventSchema } from "../src/gen/titan/orders/v1/orders_pb.js";
import { CampaignKind, CommandSchema as PricingCommandSchema } from "../src/gen/titan/pricing/v1/pricing_pb.js";
import { Kind, MessageSchema as FlashSaleMessageSchema } from "../src/gen/titan/flashsale/v1/flashsale_pb.js";
import { ViewEventSchema } from "../src/gen/titan/recommendations/v1/recommendations_pb.js";

// Compiled to dist/test/, three levels below sdk/node; the vectors are the repository's.
const vectors = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..", "schemas", "testdata", "vectors");

interface PartitionVectors {
  partition_counts: number[];
  keys: { key: string; key_hex: string; partitions: number[] }[];
}

interface RecordVector {
  name: string;
  idempotency_key?: string;
  topic: string;
  type: string;
  key: string;
  message: JsonValue;
  value_hex: string;
}

function read<T>(name: string): T {
  return JSON.parse(readFileSync(join(vectors, name), "utf8")) as T;
}

const schemas: Record<string, DescMessage> = {
  [InventoryCommandSchema.typeName]: InventoryCommandSchema,
  [OrderEventSchema.typeName]: OrderEventSchema,
  [PricingCommandSchema.typeName]: PricingCommandSchema,
  [FlashSaleMessageSchema.typeName]: FlashSaleMessageSchema,
  [ViewEventSchema.typeName]: ViewEventSchema,
};

test("every key lands in the partition the vectors give, for every partition count", () => {
  const v = read<PartitionVectors>("partitions.json");
  assert.ok(v.keys.length >= 20 && v.partition_counts.length >= 10, "the vectors file is nearly empty");
  let checked = 0;
  for (const k of v.keys) {
    const key = Buffer.from(k.key_hex, "hex");
    assert.equal(key.toString("utf8"), k.key, `key ${k.key}: key_hex is not its UTF-8 bytes`);
    assert.equal(k.partitions.length, v.partition_counts.length, `key ${k.key}: one partition per count`);
    v.partition_counts.forEach((n, i) => {
      assert.equal(partition(key, n), k.partitions[i], `key ${JSON.stringify(k.key)}, ${n} partitions`);
      // A string key is its UTF-8 bytes.
      assert.equal(partition(k.key, n), k.partitions[i], `key ${JSON.stringify(k.key)} as a string, ${n} partitions`);
      checked++;
    });
  }
  assert.equal(checked, v.keys.length * v.partition_counts.length);
});

test("every record encodes to the vector's bytes and decodes back", async (t) => {
  const v = read<{ records: RecordVector[] }>("records.json");
  const topics = new Set<string>(Object.values(Topics));
  assert.ok(v.records.length >= 13, `${v.records.length} records`);
  for (const r of v.records) {
    await t.test(r.name, () => {
      const schema = schemas[r.type];
      assert.ok(schema, `no generated type ${r.type}`);
      assert.ok(topics.has(r.topic), `topic ${r.topic} is not one the SDK writes`);
      const msg = fromJson(schema, r.message);
      assert.equal(Buffer.from(toBinary(schema, msg)).toString("hex"), r.value_hex);
      const back = fromBinary(schema, Buffer.from(r.value_hex, "hex"));
      assert.ok(equals(schema, back, msg), "value_hex decodes to another message");
    });
  }
});

// The SDK's own record builders, given the vectors' messages, produce the vectors' topic, key and
// bytes: the keying rules of the SDK are the processors'.
test("the SDK keys and encodes every client input as the vectors do", async (t) => {
  const v = read<{ records: RecordVector[] }>("records.json");
  const now = () => 1;
  let built = 0;
  for (const r of v.records) {
    let rec: records.TitanRecord | undefined;
    switch (r.type) {
      case InventoryCommandSchema.typeName:
        rec = records.inventoryRecord(fromJson(InventoryCommandSchema, r.message));
        break;
      case OrderEventSchema.typeName:
        rec = records.orderEventRecord(fromJson(OrderEventSchema, r.message));
        break;
      case PricingCommandSchema.typeName:
        rec = records.pricingRecord(fromJson(PricingCommandSchema, r.message));
        break;
      case ViewEventSchema.typeName:
        rec = records.viewRecord(fromJson(ViewEventSchema, r.message));
        break;
      case FlashSaleMessageSchema.typeName: {
        const m = fromJson(FlashSaleMessageSchema, r.message);
        // Clients only buy; the vectors' definition is a retired kind, which the SDK has no send for.
        if (m.kind !== Kind.PURCHASE) continue;
        // The purchase's bucket is the buyer's in a sale of some bucket count: find one that
        // gives the vector's, so the SDK computes the bucket rather than copying it.
        const buckets = [...Array(256).keys()].map((i) => i + 1).find((n) => partition(m.userId, n) === m.bucket);
        assert.ok(buckets !== undefined);
        rec = records.purchaseRecord(
          { saleId: m.saleId, userId: m.userId, idempotencyKey: m.idempotencyKey, qty: m.qty, buckets, timestampMs: m.timestampMs },
          now,
        );
        break;
      }
      default:
        assert.fail(`no SDK send for ${r.type}`);
    }
    await t.test(r.name, () => {
      assert.equal(rec.topic, r.topic);
      assert.equal(rec.key, r.key);
      assert.equal(Buffer.from(rec.value).toString("hex"), r.value_hex);
    });
    built++;
  }
  assert.ok(built >= 12, `${built} records built`);
});

// The typed sends, given a record's fields, time and idempotency key, make its topic, key and bytes:
// the ids they derive and the fields they fill are the Go SDK's (sdk/vectors_test.go checks Go's).
test("the typed sends make every vector record that names its idempotency key", async (t) => {
  const v = read<{ records: RecordVector[] }>("records.json");
  const now = () => 1;
  let made = 0;
  for (const r of v.records) {
    const key = r.idempotency_key;
    if (key === undefined || key === "") continue;
    let rec: records.TitanRecord | undefined;
    switch (r.type) {
      case InventoryCommandSchema.typeName: {
        const c = fromJson(InventoryCommandSchema, r.message);
        const base = { idempotencyKey: key, sku: c.sku, timestampMs: c.timestampMs };
        const k = c.kind;
        const cmd =
          k.case === "restock" ? records.restockCommand({ ...base, qty: c.qty }, now)
          : k.case === "reserve" ? records.reserveCommand({ ...base, orderId: c.orderId, qty: c.qty, ttlMs: k.value.ttlMs }, now)
          : k.case === "commit" ? records.commitCommand({ ...base, orderId: c.orderId, qty: c.qty }, now)
          : k.case === "release" ? records.releaseCommand({ ...base, orderId: c.orderId }, now)
          : assert.fail(`no typed send for ${k.case}`);
        rec = records.inventoryRecord(cmd);
        break;
      }
      case OrderEventSchema.typeName: {
        const e = fromJson(OrderEventSchema, r.message);
        const base = { idempotencyKey: key, orderId: e.orderId, timestampMs: e.timestampMs };
        const k = e.kind;
        const ev =
          k.case === "placed" ? records.placedEvent({ ...base, userId: k.value.userId, deviceId: k.value.deviceId, paymentId: k.value.paymentId,
              currency: k.value.currency, lines: k.value.lines.map((l) => ({ sku: l.sku, qty: l.qty, unitPriceMinor: l.unitPriceMinor })) }, now)
          : k.case === "paymentFailed" ? records.paymentFailedEvent({ ...base, userId: k.value.userId, deviceId: k.value.deviceId,
              paymentId: k.value.paymentId, amountMinor: k.value.amountMinor, reason: k.value.reason }, now)
          : k.case === "paid" ? records.paidEvent({ ...base, userId: k.value.userId, paymentId: k.value.paymentId,
              amountMinor: k.value.amountMinor, currency: k.value.currency }, now)
          : k.case === "cancelled" ? records.cancelledEvent({ ...base, reason: k.value.reason }, now)
          : assert.fail(`no typed send for ${k.case}`);
        rec = records.orderEventRecord(ev);
        break;
      }
      case PricingCommandSchema.typeName: {
        const c = fromJson(PricingCommandSchema, r.message);
        const base = { idempotencyKey: key, sku: c.sku, timestampMs: c.timestampMs };
        const k = c.kind;
        let cmd;
        if (k.case === "setBase") {
          cmd = records.setBaseCommand({ ...base, priceMinor: k.value.priceMinor, currency: k.value.currency }, now);
        } else if (k.case === "upsertCampaign") {
          const cp = k.value.campaign!;
          cmd = records.upsertCampaignCommand({ ...base, campaign: { id: cp.id, kind: cp.kind === CampaignKind.PERCENT ? "percent" : "fixed",
            percentBps: cp.percentBps, amountMinor: cp.amountMinor, startsAtMs: cp.startsAtMs, endsAtMs: cp.endsAtMs } }, now);
        } else if (k.case === "endCampaign") {
          cmd = records.endCampaignCommand({ ...base, campaignId: k.value.campaignId }, now);
        } else {
          assert.fail(`no typed send for ${k.case}`);
        }
        rec = records.pricingRecord(cmd);
        break;
      }
      case FlashSaleMessageSchema.typeName: {
        const m = fromJson(FlashSaleMessageSchema, r.message);
        assert.equal(m.kind, Kind.PURCHASE);
        assert.equal(m.idempotencyKey, key);
        const buckets = [...Array(256).keys()].map((i) => i + 1).find((n) => partition(m.userId, n) === m.bucket);
        assert.ok(buckets !== undefined);
        rec = records.purchaseRecord({ saleId: m.saleId, userId: m.userId, idempotencyKey: key, qty: m.qty, buckets, timestampMs: m.timestampMs }, now);
        break;
      }
      case ViewEventSchema.typeName: {
        const e = fromJson(ViewEventSchema, r.message);
        rec = records.viewRecord(records.viewEvent({ idempotencyKey: key, userId: e.userId, sku: e.sku, sessionId: e.sessionId,
          timestampMs: e.timestampMs }, now));
        break;
      }
      default:
        assert.fail(`no typed send for ${r.type}`);
    }
    await t.test(r.name, () => {
      assert.equal(rec.topic, r.topic);
      assert.equal(rec.key, r.key);
      assert.equal(Buffer.from(rec.value).toString("hex"), r.value_hex);
    });
    made++;
  }
  assert.ok(made >= 13, `${made} typed sends checked`);
});

// The SDKs derive the same record id from an idempotency key, in both of its forms.
test("every idempotency key derives the vector's id", async (t) => {
  const v = read<{ ids: { key: string; id: string }[] }>("ids.json");
  assert.ok(v.ids.length >= 10, `${v.ids.length} ids`);
  for (const { key, id } of v.ids) {
    await t.test(key.length > 24 ? `${key.slice(0, 24)}… (${key.length})` : key, () => {
      assert.equal(deriveId(key), id);
      assert.ok(validID(id));
    });
  }
});
