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
	errNotReady            = apiError{"not_ready", "the instance is still recovering its state", http.StatusServiceUnavailable}
	errUnavailable         = apiError{"unavailable", "the command could not be handed to Kafka; retry with the same command_id", http.StatusServiceUnavailable}
	errInternal            = apiError{"internal", "an internal error occurred", http.StatusInternalServerError}
)

// catalogue lists every error, for the tests that keep the OpenAPI
// description in step.
var catalogue = []apiError{
	errMalformedJSON, errUnknownField, errBodyTooLarge, errInvalidSKU, errInvalidQty, errInvalidTTL,
	errInvalidOrderID, errInvalidCommandID, errInvalidMinOffset, errInvalidRequest, errOffsetNotReached,
	errReservationNotFound, errNotFound, errMethodNotAllowed, errNotReady, errUnavailable, errInternal,
}
