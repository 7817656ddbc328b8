// The rules a client's record must meet, as schemas/validate*.go and schemas/flashsale.go state
// them, over the generated messages. Each function throws an InvalidError for the first broken
// rule, in field order, with the same field path and reason Titan's processors would dead-letter
// the record with; the order matters, since it decides which error a record with two faults gets.

import { InvalidError, Reason } from "./errors.js";
import { checkClientID, checkID, checkOptionalID, checkSKU, refuseReserved, utf8Length } from "./ids.js";
import type { Command as InventoryCommand } from "./gen/titan/inventory/v1/inventory_pb.js";
import type { OrderEvent, OrderPaid, OrderPlaced, PaymentFailed } from "./gen/titan/orders/v1/orders_pb.js";
import { CampaignKind, type Campaign, type Command as PricingCommand } from "./gen/titan/pricing/v1/pricing_pb.js";
import type { ViewEvent } from "./gen/titan/recommendations/v1/recommendations_pb.js";

/** Limits of the rules; they keep quantities and prices far from int64 overflow when summed. */
export const Limits = {
  maxQty: 1_000_000_000n,
  maxReserveTTLMs: 7n * 24n * 60n * 60n * 1000n,
  maxOrderLines: 1000,
  maxReasonBytes: 1024,
  maxPriceMinor: 1_000_000_000_000n,
  maxPercentBps: 10_000n,
  maxPurchaseQty: 1000n,
  maxSaleBuckets: 256,
} as const;

// i64 reads an int64 field of a message, which plain JavaScript may have filled with anything: a
// bigint or a safe integer is its value, anything else is refused for the field.
export function i64(field: string, v: unknown, reason: Reason): bigint {
  if (typeof v === "bigint" && BigInt.asIntN(64, v) === v) return v;
  if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt(v);
  throw new InvalidError(field, reason, `${shown(v)} is not an integer`);
}

/** shown is v as an error names it, without calling anything of v's own. */
export function shown(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null || typeof v === "object" || typeof v === "function") return v === null ? "null" : `a ${typeof v}`;
  return String(v);
}

function checkQty(field: string, v: unknown): void {
  const qty = i64(field, v, Reason.invalidQty);
  if (qty <= 0n || qty > Limits.maxQty) throw new InvalidError(field, Reason.invalidQty);
}

function checkTimestamp(v: unknown): void {
  if (i64("timestamp_ms", v, Reason.invalidTimestamp) <= 0n) throw new InvalidError("timestamp_ms", Reason.invalidTimestamp);
}

function checkReason(field: string, reason: string): void {
  if (typeof reason !== "string") throw new InvalidError(field, Reason.tooLong, `a ${typeof reason}, not a string`);
  if (utf8Length(reason) > Limits.maxReasonBytes) throw new InvalidError(field, Reason.tooLong);
}

/** checkCurrency accepts ISO 4217 alphabetic codes: prices are in the currency's minor units. */
export function checkCurrency(field: string, cur: string): void {
  if (cur === "" || cur === undefined || cur === null) throw new InvalidError(field, Reason.missingCurrency);
  if (typeof cur !== "string" || !/^[A-Z]{3}$/.test(cur)) throw new InvalidError(field, Reason.invalidCurrency);
}

/** validateCommand is schemas.ValidateCommand followed by schemas.CheckClientCommand. */
export function validateCommand(cmd: InventoryCommand | undefined): void {
  if (cmd === undefined || cmd === null) throw new InvalidError("", Reason.nilMessage);
  checkID("command_id", cmd.commandId, Reason.missingCommandId);
  checkSKU("sku", cmd.sku);
  checkTimestamp(cmd.timestampMs);
  switch (cmd.kind.case) {
    case "restock":
      // Restock needs no order, but one that is sent follows the id rule.
      checkOptionalID("order_id", cmd.orderId);
      checkQty("qty", cmd.qty);
      break;
    case "reserve": {
      checkID("order_id", cmd.orderId, Reason.missingOrderId);
      checkQty("qty", cmd.qty);
      const ttl = i64("reserve.ttl_ms", cmd.kind.value.ttlMs, Reason.invalidTtl);
      if (ttl <= 0n || ttl > Limits.maxReserveTTLMs) throw new InvalidError("reserve.ttl_ms", Reason.invalidTtl);
      break;
    }
    case "commit":
      // qty 0 commits the whole reservation; a part of it releases the rest.
      checkID("order_id", cmd.orderId, Reason.missingOrderId);
      const qty = i64("qty", cmd.qty, Reason.invalidQty);
      if (qty < 0n || qty > Limits.maxQty) throw new InvalidError("qty", Reason.invalidQty);
      break;
    case "release":
    case "expire":
      checkID("order_id", cmd.orderId, Reason.missingOrderId);
      break;
    default:
      throw new InvalidError("kind", Reason.missingKind);
  }
  // What a client may send beyond that: no id in Titan's namespace, and no expiry, which is the
  // sweeper's alone.
  refuseReserved("command_id", cmd.commandId);
  refuseReserved("order_id", cmd.orderId);
  if (cmd.kind.case === "expire") throw new InvalidError("kind", Reason.internalKind);
}

/** validateOrderEvent is schemas.ValidateOrderEvent followed by schemas.CheckClientOrderEvent. */
export function validateOrderEvent(ev: OrderEvent | undefined): void {
  if (ev === undefined || ev === null) throw new InvalidError("", Reason.nilMessage);
  checkID("event_id", ev.eventId, Reason.missingEventId);
  checkID("order_id", ev.orderId, Reason.missingOrderId);
  checkTimestamp(ev.timestampMs);
  switch (ev.kind.case) {
    case "placed":
      validatePlaced(ev.kind.value);
      break;
    case "confirmed":
      break;
    case "rejected":
      checkReason("rejected.reason", ev.kind.value.reason);
      break;
    case "cancelled":
      checkReason("cancelled.reason", ev.kind.value.reason);
      break;
    case "paymentFailed":
      validatePaymentFailed(ev.kind.value);
      break;
    case "paid":
      validatePaid(ev.kind.value);
      break;
    default:
      throw new InvalidError("kind", Reason.missingKind);
  }
  refuseReserved("event_id", ev.eventId);
  refuseReserved("order_id", ev.orderId);
  if (ev.kind.case === "placed") {
    const p = ev.kind.value;
    refuseReserved("placed.user_id", p.userId);
    refuseReserved("placed.device_id", p.deviceId);
    refuseReserved("placed.payment_id", p.paymentId);
  } else if (ev.kind.case === "paymentFailed") {
    const p = ev.kind.value;
    refuseReserved("payment_failed.user_id", p.userId);
    refuseReserved("payment_failed.device_id", p.deviceId);
    refuseReserved("payment_failed.payment_id", p.paymentId);
  } else if (ev.kind.case === "paid") {
    const p = ev.kind.value;
    refuseReserved("paid.user_id", p.userId);
    refuseReserved("paid.payment_id", p.paymentId);
  }
}

function validatePlaced(p: OrderPlaced): void {
  checkOptionalID("placed.user_id", p.userId);
  checkOptionalID("placed.device_id", p.deviceId);
  checkOptionalID("placed.payment_id", p.paymentId);
  checkCurrency("placed.currency", p.currency);
  if (p.lines.length === 0) throw new InvalidError("placed.lines", Reason.missingLines);
  if (p.lines.length > Limits.maxOrderLines) throw new InvalidError("placed.lines", Reason.tooLong);
  // Inventory keeps one reservation per order and SKU, so two lines of one SKU would fight over
  // it; the checkout must merge them.
  const seen = new Set<string>();
  p.lines.forEach((line, i) => {
    const field = `placed.lines[${i}]`;
    checkSKU(`${field}.sku`, line.sku);
    if (seen.has(line.sku)) throw new InvalidError(`${field}.sku`, Reason.duplicateSku);
    seen.add(line.sku);
    checkQty(`${field}.qty`, line.qty);
    const price = i64(`${field}.unit_price_minor`, line.unitPriceMinor, Reason.invalidPrice);
    if (price < 0n || price > Limits.maxPriceMinor) {
      throw new InvalidError(`${field}.unit_price_minor`, Reason.invalidPrice);
    }
  });
}

// A payment failure is counted against the user, the device and the payment instrument, so it
// needs all three.
function validatePaymentFailed(p: PaymentFailed): void {
  checkID("payment_failed.user_id", p.userId, Reason.missingUserId);
  checkID("payment_failed.device_id", p.deviceId, Reason.missingDeviceId);
  checkID("payment_failed.payment_id", p.paymentId, Reason.missingPaymentId);
  if (i64("payment_failed.amount_minor", p.amountMinor, Reason.invalidPrice) < 0n) throw new InvalidError("payment_failed.amount_minor", Reason.invalidPrice);
  checkReason("payment_failed.reason", p.reason);
}

// A payment is money: it needs the user, the payment instrument and an amount in a currency.
function validatePaid(p: OrderPaid): void {
  checkID("paid.user_id", p.userId, Reason.missingUserId);
  checkID("paid.payment_id", p.paymentId, Reason.missingPaymentId);
  if (i64("paid.amount_minor", p.amountMinor, Reason.invalidPrice) < 0n) throw new InvalidError("paid.amount_minor", Reason.invalidPrice);
  checkCurrency("paid.currency", p.currency);
}

/** validatePricingCommand is schemas.ValidatePricingCommand followed by schemas.CheckClientPricingCommand. */
export function validatePricingCommand(cmd: PricingCommand | undefined): void {
  if (cmd === undefined || cmd === null) throw new InvalidError("", Reason.nilMessage);
  checkID("command_id", cmd.commandId, Reason.missingCommandId);
  checkSKU("sku", cmd.sku);
  checkTimestamp(cmd.timestampMs);
  switch (cmd.kind.case) {
    case "setBase": {
      const p = i64("set_base.price_minor", cmd.kind.value.priceMinor, Reason.invalidPrice);
      if (p < 0n || p > Limits.maxPriceMinor) throw new InvalidError("set_base.price_minor", Reason.invalidPrice);
      checkCurrency("set_base.currency", cmd.kind.value.currency);
      break;
    }
    case "upsertCampaign":
      validateCampaign("upsert_campaign.campaign", cmd.kind.value.campaign);
      break;
    case "endCampaign":
      checkID("end_campaign.campaign_id", cmd.kind.value.campaignId, Reason.missingCampaignId);
      break;
    case "check":
      checkID("check.order_id", cmd.kind.value.orderId, Reason.missingOrderId);
      if (!Number.isInteger(cmd.kind.value.line) || cmd.kind.value.line < 0) throw new InvalidError("check.line", Reason.invalidLine);
      break;
    case "tick":
      break;
    default:
      throw new InvalidError("kind", Reason.missingKind);
  }
  refuseReserved("command_id", cmd.commandId);
  switch (cmd.kind.case) {
    case "check":
    case "tick":
      // Titan's own: a check answers the order saga, a tick is the ticker's.
      throw new InvalidError("kind", Reason.internalKind);
    case "upsertCampaign":
      refuseReserved("upsert_campaign.campaign.id", cmd.kind.value.campaign?.id ?? "");
      break;
    case "endCampaign":
      refuseReserved("end_campaign.campaign_id", cmd.kind.value.campaignId);
      break;
  }
}

function validateCampaign(field: string, c: Campaign | undefined): void {
  if (c === undefined || c === null || typeof c !== "object") throw new InvalidError(field, Reason.invalidCampaign);
  checkID(`${field}.id`, c.id, Reason.missingCampaignId);
  // Only the field the kind names is read; the other may hold anything.
  switch (c.kind) {
    case CampaignKind.PERCENT:
      const bps = i64(`${field}.percent_bps`, c.percentBps, Reason.invalidPercent);
      if (bps < 1n || bps > Limits.maxPercentBps) {
        throw new InvalidError(`${field}.percent_bps`, Reason.invalidPercent);
      }
      break;
    case CampaignKind.FIXED:
      const amount = i64(`${field}.amount_minor`, c.amountMinor, Reason.invalidAmount);
      if (amount < 1n || amount > Limits.maxPriceMinor) {
        throw new InvalidError(`${field}.amount_minor`, Reason.invalidAmount);
      }
      break;
    default:
      throw new InvalidError(`${field}.kind`, Reason.invalidCampaign);
  }
  const starts = i64(`${field}.starts_at_ms`, c.startsAtMs, Reason.invalidPeriod);
  if (starts < 0n) throw new InvalidError(`${field}.starts_at_ms`, Reason.invalidPeriod);
  if (i64(`${field}.ends_at_ms`, c.endsAtMs, Reason.invalidPeriod) <= starts) {
    throw new InvalidError(`${field}.ends_at_ms`, Reason.invalidPeriod);
  }
}

/** validateViewEvent is schemas.ValidateViewEvent. */
export function validateViewEvent(v: ViewEvent | undefined): void {
  if (v === undefined || v === null) throw new InvalidError("", Reason.nilMessage);
  checkClientID("event_id", v.eventId, Reason.missingEventId);
  checkClientID("user_id", v.userId, Reason.missingUserId);
  checkSKU("sku", v.sku);
  checkOptionalID("session_id", v.sessionId);
  refuseReserved("session_id", v.sessionId);
  checkTimestamp(v.timestampMs);
}

/** checkPurchase is schemas.CheckPurchase: the rules a client's flash-sale purchase meets. */
export function checkPurchase(saleId: string, userId: string, idempotencyKey: string, qty: bigint, bucket: number): void {
  checkID("sale_id", saleId, Reason.missingSaleId);
  checkClientID("user_id", userId, Reason.missingUserId);
  checkClientID("idempotency_key", idempotencyKey, Reason.missingIdempotencyKey);
  if (qty < 1n || qty > Limits.maxPurchaseQty) {
    throw new InvalidError("qty", Reason.invalidQty, `${qty} not in 1..${Limits.maxPurchaseQty}`);
  }
  if (!Number.isInteger(bucket) || bucket < 0 || bucket >= Limits.maxSaleBuckets) {
    throw new InvalidError("bucket", Reason.invalidBucket, `${bucket} not in 0..${Limits.maxSaleBuckets - 1}`);
  }
}
