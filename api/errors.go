package api

import "net/http"

// Code is a stable, machine-readable error code. Clients match on it; a
// code is never renamed or reused.
type Code string

// apiError is one entry of the catalogue: code, HTTP status, message.
type apiError struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	status  int
}

// The catalogue of every error the API returns.
var (
	errMalformedJSON       = apiError{"malformed_json", "the request body is not a JSON object of the expected shape", http.StatusBadRequest}
	errUnknownField        = apiError{"unknown_field", "the request body has a field this endpoint does not accept", http.StatusBadRequest}
	errBodyTooLarge        = apiError{"body_too_large", "the request body is larger than the server accepts", http.StatusRequestEntityTooLarge}
	errInvalidSKU          = apiError{"invalid_sku", "sku must be 1 to 128 bytes of printable UTF-8", http.StatusBadRequest}
	errInvalidQty          = apiError{"invalid_qty", "qty must be an integer from 1 to 1000000000", http.StatusBadRequest}
	errInvalidTTL          = apiError{"invalid_ttl", "ttl_ms must be an integer from 1 to 604800000 (7 days)", http.StatusBadRequest}
	errInvalidOrderID      = apiError{"invalid_order_id", "order_id must be 1 to 128 bytes", http.StatusBadRequest}
	errInvalidCommandID    = apiError{"invalid_command_id", "command_id must be 1 to 128 bytes", http.StatusBadRequest}
	errInvalidMinOffset    = apiError{"invalid_min_offset", "min_offset must be a non-negative integer", http.StatusBadRequest}
	errInvalidRequest      = apiError{"invalid_request", "the request breaks a rule of the command schema", http.StatusBadRequest}
	errOffsetNotReached    = apiError{"offset_not_reached", "the state has not reached min_offset within the wait; retry", http.StatusPreconditionFailed}
	errReservationNotFound = apiError{"reservation_not_found", "no reservation is known for this order", http.StatusNotFound}
	errNotFound            = apiError{"not_found", "no such endpoint", http.StatusNotFound}
	errMethodNotAllowed    = apiError{"method_not_allowed", "the endpoint does not accept this method", http.StatusMethodNotAllowed}
	errNotReady            = apiError{"not_ready", "the instance is still recovering its state, or restarting a part that failed", http.StatusServiceUnavailable}
	errOverloaded          = apiError{"overloaded", "the instance holds as many requests waiting for Kafka or for their results as it takes; retry after Retry-After seconds with the same command_id or idempotency_key", http.StatusTooManyRequests}
	errUnavailable         = apiError{"unavailable", "the request could not be handed to Kafka; retry it with the same command_id or idempotency_key", http.StatusServiceUnavailable}
	errInternal            = apiError{"internal", "an internal error occurred", http.StatusInternalServerError}
	errReservedID          = apiError{"reserved_id", "ids starting with \"titan:\" are Titan's own, as are the reservations Titan makes for orders and flash sales: a client can neither use nor change them", http.StatusConflict}
	errCommandIDConflict   = apiError{"command_id_conflict", "this command_id names another command (another kind, or another body); send a new command with a new id", http.StatusConflict}

	// Access and transport: refused before the endpoint looks at the
	// request, so nothing is sent to Kafka.
	errUnauthorized     = apiError{"unauthorized", "the endpoint needs an Authorization: Bearer token this server knows", http.StatusUnauthorized}
	errForbidden        = apiError{"forbidden", "the token does not have the scope the endpoint needs (read for reads, command for commands)", http.StatusForbidden}
	errHostNotAllowed   = apiError{"host_not_allowed", "the server does not answer to this Host name", http.StatusMisdirectedRequest}
	errUnsupportedMedia = apiError{"unsupported_media_type", "a command endpoint takes Content-Type: application/json only, also with an empty body", http.StatusUnsupportedMediaType}
	errMalformedRequest = apiError{"malformed_request", "the request is not well-formed HTTP", http.StatusBadRequest}
	errRequestTimeout   = apiError{"request_timeout", "the request did not arrive whole within the server's read timeout", http.StatusRequestTimeout}
	errURITooLong       = apiError{"uri_too_long", "the request URI is longer than the server accepts", http.StatusRequestURITooLong}
	errHeadersTooLarge  = apiError{"headers_too_large", "the request line and header fields are larger than the server accepts", http.StatusRequestHeaderFieldsTooLarge}

	// Flash sales. allocation_conflict is retired: a sale's allocation ids
	// are Titan's own, which no client can take first.
	errNotEnabled             = apiError{"not_enabled", "this instance does not run the endpoint's part of Titan (flash sales; orders, prices and fraud; or recommendations)", http.StatusServiceUnavailable}
	errInvalidSaleID          = apiError{"invalid_sale_id", "a flash sale id must be 1 to 64 characters from A-Z, a-z, 0-9, '.', '_' and '-'", http.StatusBadRequest}
	errInvalidUnits           = apiError{"invalid_units", "units must be an integer from 1 to 1000000000", http.StatusBadRequest}
	errInvalidStartsAt        = apiError{"invalid_starts_at", "starts_at must be an RFC 3339 time", http.StatusBadRequest}
	errInvalidEndsAt          = apiError{"invalid_ends_at", "ends_at must be an RFC 3339 time after starts_at, in the future and at most 6 days from now", http.StatusBadRequest}
	errInvalidPerUserLimit    = apiError{"invalid_per_user_limit", "per_user_limit must be an integer from 1 to 1000000000", http.StatusBadRequest}
	errInvalidPrice           = apiError{"invalid_price", "a price (price, unit_price, base_price) is required: an integer number of minor units from 0 to 1000000000000", http.StatusBadRequest}
	errInvalidBuckets         = apiError{"invalid_buckets", "buckets must be an integer from 1 to 256", http.StatusBadRequest}
	errInvalidUserID          = apiError{"invalid_user_id", "user_id must be 1 to 128 bytes of printable UTF-8", http.StatusBadRequest}
	errInvalidPurchaseQty     = apiError{"invalid_purchase_qty", "qty must be an integer from 1 to 1000", http.StatusBadRequest}
	errInvalidIdempotencyKey  = apiError{"invalid_idempotency_key", "idempotency_key must be 1 to 128 bytes of printable UTF-8", http.StatusBadRequest}
	errSaleNotFound           = apiError{"sale_not_found", "no flash sale with this id is defined", http.StatusNotFound}
	errPurchaseNotFound       = apiError{"purchase_not_found", "no result is known for this idempotency key in this sale (yet)", http.StatusNotFound}
	errSaleExists             = apiError{"sale_exists", "a flash sale with this id exists, or is being created, with another definition", http.StatusConflict}
	errInsufficientStock      = apiError{"insufficient_stock", "the SKU has fewer units available than the sale allocates", http.StatusConflict}
	errSaleFailed             = apiError{"sale_failed", "the flash sale's creation failed and nothing is held for it; its id stays taken, so create the sale again under another id", http.StatusConflict}
	errIdempotencyKeyConflict = apiError{"idempotency_key_conflict", "this idempotency key names another attempt in this sale: another user's, or this user's with another qty", http.StatusConflict}

	// Orders, prices and fraud.
	errInvalidDeviceID  = apiError{"invalid_device_id", "device_id must be 1 to 128 bytes of printable UTF-8", http.StatusBadRequest}
	errInvalidPaymentID = apiError{"invalid_payment_id", "payment_id must be 1 to 128 bytes of printable UTF-8", http.StatusBadRequest}
	errInvalidCurrency  = apiError{"invalid_currency", "currency must be an ISO 4217 code: three upper-case letters", http.StatusBadRequest}
	errInvalidLines     = apiError{"invalid_lines", "lines must hold 1 to 1000 lines, each an object {sku, qty, unit_price}", http.StatusBadRequest}
	errDuplicateSKU     = apiError{"duplicate_sku", "two lines of the order name the same SKU; merge them into one", http.StatusBadRequest}
	errInvalidLimit     = apiError{"invalid_limit", "limit must be an integer from 1 to 100", http.StatusBadRequest}
	errOrderNotFound    = apiError{"order_not_found", "no order with this id is known (yet)", http.StatusNotFound}
	errPriceNotFound    = apiError{"price_not_found", "the SKU has no price", http.StatusNotFound}
	errUserNotFound     = apiError{"user_not_found", "the fraud processor has seen no order or payment of this user", http.StatusNotFound}
	errOrderExists      = apiError{"order_exists", "an order with this id was placed with other content", http.StatusConflict}

	// Recommendations.
	errInvalidK = apiError{"invalid_k", "k must be an integer from 1 to 100", http.StatusBadRequest}

	// Analytics.
	errInvalidMinutes       = apiError{"invalid_minutes", "minutes must be an integer from 1 to 10080 (7 days), and is not given with from or to", http.StatusBadRequest}
	errInvalidFrom          = apiError{"invalid_from", "from must be an RFC 3339 time, not before 2000, at most a day in the future and at most 7 days before to; to needs it", http.StatusBadRequest}
	errInvalidTo            = apiError{"invalid_to", "to must be an RFC 3339 time after from and at most a day in the future", http.StatusBadRequest}
	errInvalidBy            = apiError{"invalid_by", "by must be units or revenue", http.StatusBadRequest}
	errAnalyticsUnavailable = apiError{"analytics_unavailable", "this instance has no analytics database (ClickHouse) to answer from", http.StatusServiceUnavailable}
	errAnalyticsFailed      = apiError{"analytics_failed", "the analytics database (ClickHouse) failed to answer; retry", http.StatusServiceUnavailable}
	errAnalyticsTimeout     = apiError{"analytics_timeout", "the analytics database (ClickHouse) did not answer in time; retry, or ask for a shorter window", http.StatusGatewayTimeout}
)

// catalogue lists every error, for the tests that keep the OpenAPI
// description in step.
var catalogue = []apiError{
	errMalformedJSON, errUnknownField, errBodyTooLarge, errInvalidSKU, errInvalidQty, errInvalidTTL,
	errInvalidOrderID, errInvalidCommandID, errInvalidMinOffset, errInvalidRequest, errOffsetNotReached,
	errReservationNotFound, errNotFound, errMethodNotAllowed, errNotReady, errUnavailable, errOverloaded, errInternal,
	errReservedID, errCommandIDConflict,
	errUnauthorized, errForbidden, errHostNotAllowed, errUnsupportedMedia, errMalformedRequest, errRequestTimeout,
	errURITooLong, errHeadersTooLarge,
	errNotEnabled, errInvalidSaleID, errInvalidUnits, errInvalidStartsAt, errInvalidEndsAt, errInvalidPerUserLimit,
	errInvalidPrice, errInvalidBuckets, errInvalidUserID, errInvalidPurchaseQty, errInvalidIdempotencyKey,
	errSaleNotFound, errPurchaseNotFound, errSaleExists, errInsufficientStock, errSaleFailed,
	errIdempotencyKeyConflict, errInvalidDeviceID, errInvalidPaymentID, errInvalidCurrency, errInvalidLines,
	errDuplicateSKU, errInvalidLimit, errOrderNotFound, errPriceNotFound, errUserNotFound, errOrderExists,
	errInvalidK,
	errInvalidMinutes, errInvalidFrom, errInvalidTo, errInvalidBy, errAnalyticsUnavailable, errAnalyticsFailed,
	errAnalyticsTimeout,
}
