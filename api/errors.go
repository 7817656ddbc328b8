package api

import "net/http"

// Code is a stable, machine-readable error code. Clients match on it; a
// code is never renamed or reused.
type Code string

// apiError is one entry of the catalogue: code, HTTP status, message;
// or one such entry about one field of a request (at).
type apiError struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	// Field is the path of the field the error is about ("sku",
	// "views[3].sku", "lines[0].unit_price"), when it is about one.
	Field  string `json:"field,omitempty"`
	status int
}

// at is e about the field at path: its message names the field first,
// then says detail, or e's own message without one.
func (e apiError) at(path, detail string) apiError {
	if detail == "" {
		detail = e.Message
	}
	e.Field, e.Message = path, path+": "+detail
	return e
}

// The catalogue of every error the API returns.
var (
	errMalformedJSON       = apiError{Code: "malformed_json", Message: "the request body is not JSON, or not one JSON object; a field of the wrong type is invalid_field", status: http.StatusBadRequest}
	errUnknownField        = apiError{Code: "unknown_field", Message: "the request body has a field this endpoint does not accept", status: http.StatusBadRequest}
	errInvalidField        = apiError{Code: "invalid_field", Message: "a field of the request body holds a value of another type than it takes (a string for a number; a fraction, an exponent or an out-of-range number for an integer), or is given twice; the message names the field and the type expected", status: http.StatusBadRequest}
	errBodyTooLarge        = apiError{Code: "body_too_large", Message: "the request body is larger than the server accepts", status: http.StatusRequestEntityTooLarge}
	errInvalidSKU          = apiError{Code: "invalid_sku", Message: "sku must be 1 to 128 bytes of printable UTF-8", status: http.StatusBadRequest}
	errInvalidQty          = apiError{Code: "invalid_qty", Message: "qty must be an integer from 1 to 1000000000", status: http.StatusBadRequest}
	errInvalidTTL          = apiError{Code: "invalid_ttl", Message: "ttl_ms must be an integer from 1 to 604800000 (7 days)", status: http.StatusBadRequest}
	errInvalidOrderID      = apiError{Code: "invalid_order_id", Message: "order_id must be 1 to 128 bytes", status: http.StatusBadRequest}
	errInvalidCommandID    = apiError{Code: "invalid_command_id", Message: "command_id must be 1 to 128 bytes", status: http.StatusBadRequest}
	errInvalidMinOffset    = apiError{Code: "invalid_min_offset", Message: "min_offset must be a non-negative integer", status: http.StatusBadRequest}
	errInvalidRequest      = apiError{Code: "invalid_request", Message: "the request breaks a rule of the command schema", status: http.StatusBadRequest}
	errOffsetNotReached    = apiError{Code: "offset_not_reached", Message: "the state has not reached min_offset within the wait; retry", status: http.StatusPreconditionFailed}
	errReservationNotFound = apiError{Code: "reservation_not_found", Message: "no reservation is known for this order", status: http.StatusNotFound}
	errNotFound            = apiError{Code: "not_found", Message: "no such endpoint", status: http.StatusNotFound}
	errMethodNotAllowed    = apiError{Code: "method_not_allowed", Message: "the endpoint does not accept this method", status: http.StatusMethodNotAllowed}
	errNotReady            = apiError{Code: "not_ready", Message: "the instance is still recovering its state, or restarting a part that failed", status: http.StatusServiceUnavailable}
	errOverloaded          = apiError{Code: "overloaded", Message: "the instance holds as many requests waiting for Kafka or for their results as it takes; retry after Retry-After seconds with the same command_id or idempotency_key", status: http.StatusTooManyRequests}
	errUnavailable         = apiError{Code: "unavailable", Message: "the request could not be handed to Kafka; retry it with the same command_id or idempotency_key", status: http.StatusServiceUnavailable}
	errInternal            = apiError{Code: "internal", Message: "an internal error occurred", status: http.StatusInternalServerError}
	errReservedID          = apiError{Code: "reserved_id", Message: "ids starting with \"titan:\" are Titan's own, as are the reservations Titan makes for orders and flash sales: a client can neither use nor change them", status: http.StatusConflict}
	errDerivedID           = apiError{Code: "derived_id", Message: "ids starting with \"sdk:\" are the ones Titan's SDKs derive from an idempotency key: choose another id, or send the key through an SDK", status: http.StatusConflict}
	errCommandIDConflict   = apiError{Code: "command_id_conflict", Message: "this command_id names another command (another kind, or another body); send a new command with a new id", status: http.StatusConflict}

	// Access and transport: refused before the endpoint looks at the
	// request, so nothing is sent to Kafka.
	errUnauthorized     = apiError{Code: "unauthorized", Message: "the endpoint needs an Authorization: Bearer token this server knows", status: http.StatusUnauthorized}
	errForbidden        = apiError{Code: "forbidden", Message: "the token does not have the scope the endpoint needs (read for reads, command for commands)", status: http.StatusForbidden}
	errHostNotAllowed   = apiError{Code: "host_not_allowed", Message: "the server does not answer to this Host name", status: http.StatusMisdirectedRequest}
	errUnsupportedMedia = apiError{Code: "unsupported_media_type", Message: "a command endpoint takes Content-Type: application/json only, also with an empty body", status: http.StatusUnsupportedMediaType}
	errMalformedRequest = apiError{Code: "malformed_request", Message: "the request is not well-formed HTTP", status: http.StatusBadRequest}
	errRequestTimeout   = apiError{Code: "request_timeout", Message: "the request did not arrive whole within the server's read timeout", status: http.StatusRequestTimeout}
	errURITooLong       = apiError{Code: "uri_too_long", Message: "the request URI is longer than the server accepts", status: http.StatusRequestURITooLong}
	errHeadersTooLarge  = apiError{Code: "headers_too_large", Message: "the request line and header fields are larger than the server accepts", status: http.StatusRequestHeaderFieldsTooLarge}

	// Flash sales. allocation_conflict is retired: a sale's allocation ids
	// are Titan's own, which no client can take first.
	errNotEnabled             = apiError{Code: "not_enabled", Message: "this instance does not run the endpoint's part of Titan (flash sales; orders, prices and fraud; or recommendations)", status: http.StatusServiceUnavailable}
	errInvalidSaleID          = apiError{Code: "invalid_sale_id", Message: "a flash sale id must be 1 to 64 characters from A-Z, a-z, 0-9, '.', '_' and '-'", status: http.StatusBadRequest}
	errInvalidUnits           = apiError{Code: "invalid_units", Message: "units must be an integer from 1 to 1000000000", status: http.StatusBadRequest}
	errInvalidStartsAt        = apiError{Code: "invalid_starts_at", Message: "starts_at must be an RFC 3339 time", status: http.StatusBadRequest}
	errInvalidEndsAt          = apiError{Code: "invalid_ends_at", Message: "ends_at must be an RFC 3339 time after starts_at, in the future and at most 6 days from now", status: http.StatusBadRequest}
	errInvalidPerUserLimit    = apiError{Code: "invalid_per_user_limit", Message: "per_user_limit must be an integer from 1 to 1000000000", status: http.StatusBadRequest}
	errInvalidPrice           = apiError{Code: "invalid_price", Message: "a price (price, unit_price, base_price) is required: an integer number of minor units from 0 to 1000000000000", status: http.StatusBadRequest}
	errInvalidBuckets         = apiError{Code: "invalid_buckets", Message: "buckets must be an integer from 1 to 256", status: http.StatusBadRequest}
	errInvalidUserID          = apiError{Code: "invalid_user_id", Message: "user_id must be 1 to 128 bytes of printable UTF-8", status: http.StatusBadRequest}
	errInvalidPurchaseQty     = apiError{Code: "invalid_purchase_qty", Message: "qty must be an integer from 1 to 1000", status: http.StatusBadRequest}
	errInvalidIdempotencyKey  = apiError{Code: "invalid_idempotency_key", Message: "idempotency_key must be 1 to 128 bytes of printable UTF-8", status: http.StatusBadRequest}
	errSaleNotFound           = apiError{Code: "sale_not_found", Message: "no flash sale with this id is defined", status: http.StatusNotFound}
	errPurchaseNotFound       = apiError{Code: "purchase_not_found", Message: "no result is known for this idempotency key in this sale (yet)", status: http.StatusNotFound}
	errSaleExists             = apiError{Code: "sale_exists", Message: "a flash sale with this id exists, or is being created, with another definition", status: http.StatusConflict}
	errInsufficientStock      = apiError{Code: "insufficient_stock", Message: "the SKU has fewer units available than the sale allocates", status: http.StatusConflict}
	errSaleFailed             = apiError{Code: "sale_failed", Message: "the flash sale's creation failed and nothing is held for it; its id stays taken, so create the sale again under another id", status: http.StatusConflict}
	errIdempotencyKeyConflict = apiError{Code: "idempotency_key_conflict", Message: "this idempotency key names another attempt in this sale: another user's, or this user's with another qty", status: http.StatusConflict}

	// Orders, prices and fraud.
	errInvalidDeviceID  = apiError{Code: "invalid_device_id", Message: "device_id must be 1 to 128 bytes of printable UTF-8", status: http.StatusBadRequest}
	errInvalidPaymentID = apiError{Code: "invalid_payment_id", Message: "payment_id must be 1 to 128 bytes of printable UTF-8", status: http.StatusBadRequest}
	errInvalidCurrency  = apiError{Code: "invalid_currency", Message: "currency must be an ISO 4217 code: three upper-case letters", status: http.StatusBadRequest}
	errInvalidLines     = apiError{Code: "invalid_lines", Message: "lines must hold 1 to 1000 lines, each an object {sku, qty, unit_price}", status: http.StatusBadRequest}
	errDuplicateSKU     = apiError{Code: "duplicate_sku", Message: "two lines of the order name the same SKU; merge them into one", status: http.StatusBadRequest}
	errInvalidLimit     = apiError{Code: "invalid_limit", Message: "limit must be an integer from 1 to 100", status: http.StatusBadRequest}
	errOrderNotFound    = apiError{Code: "order_not_found", Message: "no order with this id is known (yet)", status: http.StatusNotFound}
	errPriceNotFound    = apiError{Code: "price_not_found", Message: "the SKU has no price", status: http.StatusNotFound}
	errUserNotFound     = apiError{Code: "user_not_found", Message: "the fraud processor has seen no order or payment of this user", status: http.StatusNotFound}
	errOrderExists      = apiError{Code: "order_exists", Message: "an order with this id was placed with other content", status: http.StatusConflict}

	// Recommendations.
	errInvalidK         = apiError{Code: "invalid_k", Message: "k must be an integer from 1 to 100", status: http.StatusBadRequest}
	errInvalidSessionID = apiError{Code: "invalid_session_id", Message: "session_id, when given, must be 1 to 128 bytes of printable UTF-8", status: http.StatusBadRequest}
	errInvalidTimestamp = apiError{Code: "invalid_timestamp", Message: "timestamp_ms, when given, must be Unix milliseconds within the instance's time window of its clock (by default at most 5 minutes ahead and 1 hour behind)", status: http.StatusBadRequest}
	errInvalidViews     = apiError{Code: "invalid_views", Message: "views must hold 1 to 500 views, each an object {user_id, sku, session_id, timestamp_ms, idempotency_key}, and two views of one user may not share an idempotency_key", status: http.StatusBadRequest}

	// Analytics.
	errInvalidMinutes       = apiError{Code: "invalid_minutes", Message: "minutes must be an integer from 1 to 10080 (7 days), and is not given with from or to", status: http.StatusBadRequest}
	errInvalidFrom          = apiError{Code: "invalid_from", Message: "from must be an RFC 3339 time, not before 2000, at most a day in the future and at most 7 days before to; to needs it", status: http.StatusBadRequest}
	errInvalidTo            = apiError{Code: "invalid_to", Message: "to must be an RFC 3339 time after from and at most a day in the future", status: http.StatusBadRequest}
	errInvalidBy            = apiError{Code: "invalid_by", Message: "by must be units or revenue", status: http.StatusBadRequest}
	errAnalyticsUnavailable = apiError{Code: "analytics_unavailable", Message: "this instance has no analytics database (ClickHouse) to answer from", status: http.StatusServiceUnavailable}
	errAnalyticsFailed      = apiError{Code: "analytics_failed", Message: "the analytics database (ClickHouse) failed to answer; retry", status: http.StatusServiceUnavailable}
	errAnalyticsTimeout     = apiError{Code: "analytics_timeout", Message: "the analytics database (ClickHouse) did not answer in time; retry, or ask for a shorter window", status: http.StatusGatewayTimeout}
)

// catalogue lists every error, for the tests that keep the OpenAPI
// description in step.
var catalogue = []apiError{
	errMalformedJSON, errUnknownField, errInvalidField, errBodyTooLarge, errInvalidSKU, errInvalidQty, errInvalidTTL,
	errInvalidOrderID, errInvalidCommandID, errInvalidMinOffset, errInvalidRequest, errOffsetNotReached,
	errReservationNotFound, errNotFound, errMethodNotAllowed, errNotReady, errUnavailable, errOverloaded, errInternal,
	errReservedID, errDerivedID, errCommandIDConflict,
	errUnauthorized, errForbidden, errHostNotAllowed, errUnsupportedMedia, errMalformedRequest, errRequestTimeout,
	errURITooLong, errHeadersTooLarge,
	errNotEnabled, errInvalidSaleID, errInvalidUnits, errInvalidStartsAt, errInvalidEndsAt, errInvalidPerUserLimit,
	errInvalidPrice, errInvalidBuckets, errInvalidUserID, errInvalidPurchaseQty, errInvalidIdempotencyKey,
	errSaleNotFound, errPurchaseNotFound, errSaleExists, errInsufficientStock, errSaleFailed,
	errIdempotencyKeyConflict, errInvalidDeviceID, errInvalidPaymentID, errInvalidCurrency, errInvalidLines,
	errDuplicateSKU, errInvalidLimit, errOrderNotFound, errPriceNotFound, errUserNotFound, errOrderExists,
	errInvalidK, errInvalidSessionID, errInvalidTimestamp, errInvalidViews,
	errInvalidMinutes, errInvalidFrom, errInvalidTo, errInvalidBy, errAnalyticsUnavailable, errAnalyticsFailed,
	errAnalyticsTimeout,
}
