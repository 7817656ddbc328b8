// The errors the SDK throws. An InvalidError carries the same field path and reason code as the
// *schemas.InvalidError Titan's processors dead-letter a record with, so a refusal here reads like
// the dead letter the record would have become.

/** The reason codes of schemas/validate*.go, schemas/ids.go and schemas/flashsale.go. */
export const Reason = {
  nilMessage: "nil_message",
  missingCommandId: "missing_command_id",
  missingEventId: "missing_event_id",
  missingOrderId: "missing_order_id",
  missingSku: "missing_sku",
  missingKind: "missing_kind",
  missingLines: "missing_lines",
  missingCurrency: "missing_currency",
  missingUserId: "missing_user_id",
  missingDeviceId: "missing_device_id",
  missingPaymentId: "missing_payment_id",
  missingCampaignId: "missing_campaign_id",
  missingSaleId: "missing_sale_id",
  missingIdempotencyKey: "missing_idempotency_key",
  invalidId: "invalid_id",
  reservedId: "reserved_id",
  derivedId: "derived_id",
  invalidSku: "invalid_sku",
  invalidQty: "invalid_qty",
  invalidTtl: "invalid_ttl",
  invalidTimestamp: "invalid_timestamp",
  invalidCurrency: "invalid_currency",
  invalidPrice: "invalid_price",
  invalidCampaign: "invalid_campaign",
  invalidPercent: "invalid_percent",
  invalidAmount: "invalid_amount",
  invalidPeriod: "invalid_period",
  invalidBucket: "invalid_bucket",
  invalidLine: "invalid_line",
  duplicateSku: "duplicate_sku",
  tooLong: "too_long",
  internalKind: "internal_kind",
} as const;

export type Reason = (typeof Reason)[keyof typeof Reason];

/**
 * InvalidError reports the first rule a record breaks, in field order. field is the field's path
 * in proto names ("reserve.ttl_ms", "placed.lines[2].qty"), empty when the message itself is
 * missing. Nothing is sent for a record that fails.
 */
export class InvalidError extends Error {
  readonly field: string;
  readonly reason: Reason;
  readonly detail: string;

  constructor(field: string, reason: Reason, detail = "") {
    let msg = field === "" ? `titan: invalid message: ${reason}` : `titan: invalid field ${field}: ${reason}`;
    if (detail !== "") msg += ` (${detail})`;
    super(msg);
    this.name = "InvalidError";
    this.field = field;
    this.reason = reason;
    this.detail = detail;
  }
}

/** OptionError reports a bad producer option; the producer is not built. */
export class OptionError extends Error {
  constructor(message: string) {
    super(`titan: invalid option: ${message}`);
    this.name = "OptionError";
  }
}

/** ClosedError is thrown by a send after close() was called. */
export class ClosedError extends Error {
  constructor() {
    super("titan: producer closed");
    this.name = "ClosedError";
  }
}
