// Records: each input a shop's services send, built from plain arguments into the generated
// message, validated, keyed as its topic's processor reads it and encoded. Nothing here touches
// Kafka, so what a record will be is testable on its own (test/records.test.ts, the golden vectors).

import { create, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { InvalidError, Reason } from "./errors.js";
import { derive } from "./ids.js";
import { partition } from "./partition.js";
import { Topics, type TopicName } from "./topics.js";
import {
  checkPurchase,
  i64,
  Limits,
  shown,
  validateCommand,
  validateOrderEvent,
  validatePricingCommand,
  validateViewEvent,
} from "./validate.js";
import { CommandSchema as InventoryCommandSchema, type Command as InventoryCommand } from "./gen/titan/inventory/v1/inventory_pb.js";
import { OrderEventSchema, type OrderEvent } from "./gen/titan/orders/v1/orders_pb.js";
import { CampaignKind, CommandSchema as PricingCommandSchema, type Command as PricingCommand } from "./gen/titan/pricing/v1/pricing_pb.js";
import { Kind as FlashSaleKind, MessageSchema as FlashSaleMessageSchema } from "./gen/titan/flashsale/v1/flashsale_pb.js";
import { ViewEventSchema, type ViewEvent } from "./gen/titan/recommendations/v1/recommendations_pb.js";

/** An int64 field: a safe integer number, or a bigint. */
export type Int64 = number | bigint;

/** A record ready to send: its topic (without a namespace), key and encoded value. */
export interface TitanRecord {
  topic: TopicName;
  key: string;
  value: Uint8Array;
}

/** int64 takes a number or bigint as an int64 field (validate.ts i64), or fallback when left out. */
export function int64(field: string, v: Int64 | undefined, reason: Reason, fallback = 0n): bigint {
  return v === undefined ? fallback : i64(field, v, reason);
}

// The time a message is stamped with unless the caller gives one. Titan bounds it against the time
// Kafka received the record (five minutes ahead, an hour behind by default), so a caller who gives
// one for a retry must give the first attempt's.
function stamp(at: Int64 | undefined, now: () => number): bigint {
  return int64("timestamp_ms", at, Reason.invalidTimestamp, BigInt(now()));
}

function str(v: string | undefined): string {
  return v ?? "";
}

function record<Desc extends DescMessage>(topic: TopicName, key: string, schema: Desc, msg: MessageShape<Desc>): TitanRecord {
  return { topic, key, value: toBinary(schema, msg) };
}

// message takes what a caller gave as a message of schema: a message of it as it is, a plain
// object (from JavaScript, or parsed JSON) as the message it describes, with the fields it lacks
// at their defaults, as a decoder would see them.
function message<Desc extends DescMessage>(schema: Desc, m: MessageShape<Desc> | undefined): MessageShape<Desc> | undefined {
  if (m === undefined || m === null || typeof m !== "object") return undefined;
  return create(schema, m as never) as MessageShape<Desc>;
}

// keyed returns the record builder of one input: the message taken as message() takes it,
// validated, and keyed by the field its topic's processor reads it by.
function keyed<Desc extends DescMessage>(
  schema: Desc, topic: TopicName, validate: (m: MessageShape<Desc> | undefined) => void, key: (m: MessageShape<Desc>) => string,
): (in_: MessageShape<Desc>) => TitanRecord {
  return (in_) => {
    const m = message(schema, in_);
    validate(m);
    return record(topic, key(m!), schema, m!);
  };
}

/** inventoryRecord validates a client's inventory command and keys it by SKU. */
export const inventoryRecord = keyed(InventoryCommandSchema, Topics.inventoryCommands, validateCommand, (c) => c.sku);

/** orderEventRecord validates a client's order event and keys it by order id. */
export const orderEventRecord = keyed(OrderEventSchema, Topics.orderEvents, validateOrderEvent, (e) => e.orderId);

/** pricingRecord validates a client's pricing command and keys it by SKU. */
export const pricingRecord = keyed(PricingCommandSchema, Topics.pricingCommands, validatePricingCommand, (c) => c.sku);

/** viewRecord validates a storefront's view event and keys it by user id. */
export const viewRecord = keyed(ViewEventSchema, Topics.recommendationViews, validateViewEvent, (v) => v.userId);

// Inputs of the typed sends. Their record ids are derived from the caller's idempotency key
// (deriveId), as the Go SDK derives them; a timestampMs left out is the time of the call.

export interface Restock {
  /** Names the command: its id is derived from it (deriveId), so a send retried with it is one command. */
  idempotencyKey: string;
  sku: string;
  qty: Int64;
  orderId?: string;
  timestampMs?: Int64;
}

export interface Reserve {
  /** Names the command: its id is derived from it (deriveId), so a send retried with it is one command. */
  idempotencyKey: string;
  orderId: string;
  sku: string;
  qty: Int64;
  ttlMs: Int64;
  timestampMs?: Int64;
}

export interface Commit {
  /** Names the command: its id is derived from it (deriveId), so a send retried with it is one command. */
  idempotencyKey: string;
  orderId: string;
  sku: string;
  /** The units sold of the reservation, the rest being released; left out or 0 sells all of it. */
  qty?: Int64;
  timestampMs?: Int64;
}

export interface Release {
  /** Names the command: its id is derived from it (deriveId), so a send retried with it is one command. */
  idempotencyKey: string;
  orderId: string;
  sku: string;
  timestampMs?: Int64;
}

export function restockCommand(in_: Restock, now: () => number): InventoryCommand {
  return create(InventoryCommandSchema, {
    commandId: derive(in_.idempotencyKey), orderId: str(in_.orderId), sku: in_.sku, qty: int64("qty", in_.qty, Reason.invalidQty),
    timestampMs: stamp(in_.timestampMs, now), kind: { case: "restock", value: {} },
  });
}

export function reserveCommand(in_: Reserve, now: () => number): InventoryCommand {
  return create(InventoryCommandSchema, {
    commandId: derive(in_.idempotencyKey), orderId: in_.orderId, sku: in_.sku, qty: int64("qty", in_.qty, Reason.invalidQty),
    timestampMs: stamp(in_.timestampMs, now),
    kind: { case: "reserve", value: { ttlMs: int64("reserve.ttl_ms", in_.ttlMs, Reason.invalidTtl) } },
  });
}

export function commitCommand(in_: Commit, now: () => number): InventoryCommand {
  return create(InventoryCommandSchema, {
    commandId: derive(in_.idempotencyKey), orderId: in_.orderId, sku: in_.sku, qty: int64("qty", in_.qty, Reason.invalidQty),
    timestampMs: stamp(in_.timestampMs, now), kind: { case: "commit", value: {} },
  });
}

export function releaseCommand(in_: Release, now: () => number): InventoryCommand {
  return create(InventoryCommandSchema, {
    commandId: derive(in_.idempotencyKey), orderId: in_.orderId, sku: in_.sku,
    timestampMs: stamp(in_.timestampMs, now), kind: { case: "release", value: {} },
  });
}

export interface OrderLine {
  sku: string;
  qty: Int64;
  unitPriceMinor?: Int64;
}

export interface PlaceOrder {
  /** Names the event: its id is derived from it (deriveId), so a send retried with it is one event. */
  idempotencyKey: string;
  orderId: string;
  userId?: string;
  deviceId?: string;
  paymentId?: string;
  currency: string;
  lines: OrderLine[];
  timestampMs?: Int64;
}

export interface PaymentFailed {
  /** Names the event: its id is derived from it (deriveId), so a send retried with it is one event. */
  idempotencyKey: string;
  orderId: string;
  userId: string;
  deviceId: string;
  paymentId: string;
  amountMinor: Int64;
  reason?: string;
  timestampMs?: Int64;
}

export interface MarkPaid {
  /** Names the event: its id is derived from it (deriveId), so a send retried with it is one event. */
  idempotencyKey: string;
  orderId: string;
  userId: string;
  paymentId: string;
  amountMinor: Int64;
  currency: string;
  timestampMs?: Int64;
}

export interface CancelOrder {
  /** Names the event: its id is derived from it (deriveId), so a send retried with it is one event. */
  idempotencyKey: string;
  orderId: string;
  reason?: string;
  timestampMs?: Int64;
}

export function placedEvent(in_: PlaceOrder, now: () => number): OrderEvent {
  // The key first, as the Go SDK checks it.
  const eventId = derive(in_.idempotencyKey);
  if (!Array.isArray(in_.lines)) throw new InvalidError("placed.lines", Reason.missingLines);
  const lines = in_.lines.map((line, i) => {
    // A line that is not an object is an empty one, refused for its SKU as Go refuses a nil line.
    const l: Partial<OrderLine> = line !== null && typeof line === "object" ? line : {};
    return {
      sku: l.sku,
      qty: int64(`placed.lines[${i}].qty`, l.qty, Reason.invalidQty),
      unitPriceMinor: int64(`placed.lines[${i}].unit_price_minor`, l.unitPriceMinor, Reason.invalidPrice),
    };
  });
  return create(OrderEventSchema, {
    eventId, orderId: in_.orderId, timestampMs: stamp(in_.timestampMs, now),
    kind: {
      case: "placed",
      value: { userId: str(in_.userId), deviceId: str(in_.deviceId), paymentId: str(in_.paymentId), currency: in_.currency, lines },
    },
  });
}

export function paymentFailedEvent(in_: PaymentFailed, now: () => number): OrderEvent {
  return create(OrderEventSchema, {
    eventId: derive(in_.idempotencyKey), orderId: in_.orderId, timestampMs: stamp(in_.timestampMs, now),
    kind: {
      case: "paymentFailed",
      value: {
        userId: in_.userId, deviceId: in_.deviceId, paymentId: in_.paymentId,
        amountMinor: int64("payment_failed.amount_minor", in_.amountMinor, Reason.invalidPrice), reason: str(in_.reason),
      },
    },
  });
}

export function paidEvent(in_: MarkPaid, now: () => number): OrderEvent {
  return create(OrderEventSchema, {
    eventId: derive(in_.idempotencyKey), orderId: in_.orderId, timestampMs: stamp(in_.timestampMs, now),
    kind: {
      case: "paid",
      value: {
        userId: in_.userId, paymentId: in_.paymentId,
        amountMinor: int64("paid.amount_minor", in_.amountMinor, Reason.invalidPrice), currency: in_.currency,
      },
    },
  });
}

export function cancelledEvent(in_: CancelOrder, now: () => number): OrderEvent {
  return create(OrderEventSchema, {
    eventId: derive(in_.idempotencyKey), orderId: in_.orderId, timestampMs: stamp(in_.timestampMs, now),
    kind: { case: "cancelled", value: { reason: str(in_.reason) } },
  });
}

export interface SetBasePrice {
  /** Names the command: its id is derived from it (deriveId), so a send retried with it is one command. */
  idempotencyKey: string;
  sku: string;
  priceMinor: Int64;
  currency: string;
  timestampMs?: Int64;
}

export interface CampaignInput {
  id: string;
  /** percent: percentBps off (1..10,000); fixed: amountMinor off. */
  kind: "percent" | "fixed";
  percentBps?: Int64;
  amountMinor?: Int64;
  /** Left out or 0: from the beginning. */
  startsAtMs?: Int64;
  endsAtMs: Int64;
}

export interface UpsertCampaign {
  /** Names the command: its id is derived from it (deriveId), so a send retried with it is one command. */
  idempotencyKey: string;
  sku: string;
  campaign: CampaignInput;
  timestampMs?: Int64;
}

export interface EndCampaign {
  /** Names the command: its id is derived from it (deriveId), so a send retried with it is one command. */
  idempotencyKey: string;
  sku: string;
  campaignId: string;
  timestampMs?: Int64;
}

export function setBaseCommand(in_: SetBasePrice, now: () => number): PricingCommand {
  return create(PricingCommandSchema, {
    commandId: derive(in_.idempotencyKey), sku: in_.sku, timestampMs: stamp(in_.timestampMs, now),
    kind: { case: "setBase", value: { priceMinor: int64("set_base.price_minor", in_.priceMinor, Reason.invalidPrice), currency: in_.currency } },
  });
}

const campaignKinds: Record<string, CampaignKind> = { percent: CampaignKind.PERCENT, fixed: CampaignKind.FIXED };

export function upsertCampaignCommand(in_: UpsertCampaign, now: () => number): PricingCommand {
  const commandId = derive(in_.idempotencyKey);
  const field = "upsert_campaign.campaign";
  const c = in_.campaign;
  if (c === undefined || c === null) throw new InvalidError(field, Reason.invalidCampaign);
  const kind = typeof c.kind === "string" && Object.hasOwn(campaignKinds, c.kind) ? campaignKinds[c.kind] : undefined;
  if (kind === undefined) {
    throw new InvalidError(`${field}.kind`, Reason.invalidCampaign, `${shown(c.kind)} is not percent or fixed`);
  }
  return create(PricingCommandSchema, {
    commandId, sku: in_.sku, timestampMs: stamp(in_.timestampMs, now),
    kind: {
      case: "upsertCampaign",
      value: {
        campaign: {
          id: c.id, kind,
          percentBps: int64(`${field}.percent_bps`, c.percentBps, Reason.invalidPercent),
          amountMinor: int64(`${field}.amount_minor`, c.amountMinor, Reason.invalidAmount),
          startsAtMs: int64(`${field}.starts_at_ms`, c.startsAtMs, Reason.invalidPeriod),
          endsAtMs: int64(`${field}.ends_at_ms`, c.endsAtMs, Reason.invalidPeriod),
        },
      },
    },
  });
}

export function endCampaignCommand(in_: EndCampaign, now: () => number): PricingCommand {
  return create(PricingCommandSchema, {
    commandId: derive(in_.idempotencyKey), sku: in_.sku, timestampMs: stamp(in_.timestampMs, now),
    kind: { case: "endCampaign", value: { campaignId: in_.campaignId } },
  });
}

export interface Purchase {
  saleId: string;
  userId: string;
  /** Names the attempt: a purchase sent again with the same key is one purchase. */
  idempotencyKey: string;
  qty: Int64;
  /** The sale's bucket count, which decides the buyer's bucket (processors/flashsale BucketOf). */
  buckets: number;
  timestampMs?: Int64;
}

/** The buyer's key in a sale (processors/flashsale UserKey), which its purchases are keyed by. */
export function userKey(saleId: string, userId: string): string {
  return `u:${saleId}:${userId}`;
}

/** purchaseRecord builds, checks and keys a flash-sale purchase, placing the buyer in its bucket. */
export function purchaseRecord(in_: Purchase, now: () => number): TitanRecord {
  const n = in_.buckets;
  if (!Number.isInteger(n) || n < 1 || n > Limits.maxSaleBuckets) {
    throw new InvalidError("buckets", Reason.invalidBucket, `${shown(n)} not in 1..${Limits.maxSaleBuckets}`);
  }
  const qty = int64("qty", in_.qty, Reason.invalidQty);
  // checkPurchase reads the ids before the buyer's bucket is hashed from one of them.
  checkPurchase(in_.saleId, in_.userId, in_.idempotencyKey, qty, 0);
  const bucket = partition(in_.userId, n);
  checkPurchase(in_.saleId, in_.userId, in_.idempotencyKey, qty, bucket);
  const key = userKey(in_.saleId, in_.userId);
  const msg = create(FlashSaleMessageSchema, {
    kind: FlashSaleKind.PURCHASE, saleId: in_.saleId, key, timestampMs: stamp(in_.timestampMs, now),
    idempotencyKey: in_.idempotencyKey, userId: in_.userId, qty, bucket,
  });
  return record(Topics.flashSaleCommands, key, FlashSaleMessageSchema, msg);
}

export interface RecordView {
  /** Names the event: its id is derived from it (deriveId), so a send retried with it is one event. */
  idempotencyKey: string;
  userId: string;
  sku: string;
  sessionId?: string;
  timestampMs?: Int64;
}

export function viewEvent(in_: RecordView, now: () => number): ViewEvent {
  return create(ViewEventSchema, {
    eventId: derive(in_.idempotencyKey), userId: in_.userId, sku: in_.sku, sessionId: str(in_.sessionId), timestampMs: stamp(in_.timestampMs, now),
  });
}
