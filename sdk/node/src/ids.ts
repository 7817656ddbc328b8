// The id rule of schemas/ids.go: command ids, order ids, SKUs, user ids, idempotency keys and every
// other id become record keys, table keys, URL path segments and log fields, so Titan, its API and
// every SDK accept exactly the same set.

import { createHash } from "node:crypto";

import { InvalidError, Reason } from "./errors.js";

/** MaxIDBytes bounds every id, SKUs included, in UTF-8 bytes. */
export const MaxIDBytes = 128;

/**
 * ReservedPrefix starts every id Titan derives for itself; no id a client sends may start with it,
 * so no client can name, repeat or touch what Titan does on its own behalf.
 */
export const ReservedPrefix = "titan:";

// Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. A lone
// surrogate (a string that is not valid UTF-16, so no valid UTF-8 either) matches none of them.
// Format characters (zero-width, bidi overrides) are out because they make two ids that render
// alike compare different, or render one id as another.
const printable = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]+$/u;

/**
 * DerivedPrefix starts the ids the SDKs derive from an idempotency key (deriveId). The Go SDK's raw
 * sends and Titan's API refuse a caller's own id that starts with it, so a derived id names one
 * caller's key.
 */
export const DerivedPrefix = "sdk:";

/**
 * deriveId is the record id the SDKs derive from an idempotency key, as the Go SDK does
 * (schemas.DeriveID): "sdk:k:<key>" when that fits in MaxIDBytes UTF-8 bytes, else "sdk:h:" and the
 * hex SHA-256 of the key's UTF-8 bytes. The same key always gives the same id, so a send retried
 * with it is the same record to its processor. schemas/testdata/vectors/ids.json pins both forms.
 */
export function deriveId(key: string): string {
  const short = `${DerivedPrefix}k:${key}`;
  if (utf8Length(short) <= MaxIDBytes) return short;
  return `${DerivedPrefix}h:${createHash("sha256").update(key, "utf8").digest("hex")}`;
}

/** utf8Length is the length of s in UTF-8 bytes, the unit every bound of the rules counts in. */
export function utf8Length(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

/**
 * validID reports whether id may be used as an id: 1 to MaxIDBytes bytes of UTF-8, every character
 * printable, and neither "." nor "..", which mean something else in a path.
 */
export function validID(id: string): boolean {
  return id !== "" && utf8Length(id) <= MaxIDBytes && id !== "." && id !== ".." && printable.test(id);
}

/** reserved reports whether id is in Titan's own namespace. */
export function reserved(id: string): boolean {
  return typeof id === "string" && id.startsWith(ReservedPrefix);
}

function checkIDAs(field: string, id: string, missing: Reason, malformed: Reason): void {
  // Callers in plain JavaScript can pass anything; a non-string is refused, not thrown over.
  if (id === undefined || id === null) throw new InvalidError(field, missing);
  if (typeof id !== "string") throw new InvalidError(field, malformed, `a ${typeof id}, not a string`);
  if (id === "") throw new InvalidError(field, missing);
  if (utf8Length(id) > MaxIDBytes) throw new InvalidError(field, Reason.tooLong);
  if (!validID(id)) throw new InvalidError(field, malformed);
}

/** checkID applies the id rule to one field: missing when empty, too_long, else invalid_id. */
export function checkID(field: string, id: string, missing: Reason): void {
  checkIDAs(field, id, missing, Reason.invalidId);
}

/** checkClientID is checkID for an id a client chose: it must also stay out of Titan's namespace. */
export function checkClientID(field: string, id: string, missing: Reason): void {
  checkID(field, id, missing);
  refuseReserved(field, id);
}

/**
 * derive checks an idempotency key by the rule of a client's ids and returns the id derived from
 * it (deriveId), as the Go SDK's typed sends do.
 */
export function derive(key: string): string {
  checkClientID("idempotency_key", key, Reason.missingIdempotencyKey);
  return deriveId(key);
}

/**
 * refuseDerived reports derived_id for an id a caller chose that has the form of a derived one: a
 * derived id names one idempotency key, which a hand-made id could collide with.
 */
export function refuseDerived(field: string, id: string): void {
  if (typeof id === "string" && id.startsWith(DerivedPrefix)) throw new InvalidError(field, Reason.derivedId);
}

/** refuseReserved reports reserved_id for an id in Titan's namespace. */
export function refuseReserved(field: string, id: string): void {
  if (reserved(id)) throw new InvalidError(field, Reason.reservedId);
}

/** checkOptionalID applies the id rule to a field that may be left empty. */
export function checkOptionalID(field: string, id: string): void {
  if (id !== "" && id !== undefined && id !== null) checkIDAs(field, id, Reason.invalidId, Reason.invalidId);
}

/** checkSKU applies the id rule to a SKU, reporting invalid_sku for a malformed one. */
export function checkSKU(field: string, sku: string): void {
  checkIDAs(field, sku, Reason.missingSku, Reason.invalidSku);
}
