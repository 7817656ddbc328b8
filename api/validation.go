package api

import (
	"errors"
	"regexp"

	"github.com/titan-commerce/titan/schemas"
)

// fieldErrors maps the field a schema rule names (schemas.InvalidError)
// to the API error that names the request's field. The rules live in
// schemas alone: a handler builds the message it will send, validates it
// there, and answers a refusal through its fieldErrors, so the API holds
// each endpoint's field names and nothing of the rules.
type fieldErrors map[string]apiError

// reasonErrors are what a reason means whatever field it names.
var reasonErrors = map[schemas.Reason]apiError{
	schemas.ReasonReservedID:   errReservedID,
	schemas.ReasonDerivedID:    errDerivedID,
	schemas.ReasonDuplicateSKU: errDuplicateSKU,
}

// listIndex is a list's index in a field's name, "[2]" in
// "placed.lines[2].qty".
var listIndex = regexp.MustCompile(`\[[0-9]+\]`)

// of returns the API error for err: by its reason if that means the same
// everywhere, else by its field with any list index taken out
// ("placed.lines[].qty"); errInvalidRequest for anything else.
func (m fieldErrors) of(err error) apiError {
	var inv *schemas.InvalidError
	if !errors.As(err, &inv) {
		return errInvalidRequest
	}
	if e, ok := reasonErrors[inv.Reason]; ok {
		return e
	}
	if e, ok := m[listIndex.ReplaceAllString(inv.Field, "[]")]; ok {
		return e
	}
	return errInvalidRequest
}

// at is m's error for err, about the field err names, below prefix.
func (m fieldErrors) at(prefix string, err error) apiError {
	e := m.of(err)
	var inv *schemas.InvalidError
	if !errors.As(err, &inv) || inv.Field == "" {
		return e
	}
	return e.at(prefix+inv.Field, "")
}

// The fields of each endpoint's messages.
var (
	commandErrors = fieldErrors{
		"sku":            errInvalidSKU,
		"qty":            errInvalidQty,
		"reserve.ttl_ms": errInvalidTTL,
		"order_id":       errInvalidOrderID,
		"command_id":     errInvalidCommandID,
	}
	orderErrors = fieldErrors{
		"event_id":                        errInvalidOrderID,
		"order_id":                        errInvalidOrderID,
		"placed.user_id":                  errInvalidUserID,
		"placed.device_id":                errInvalidDeviceID,
		"placed.payment_id":               errInvalidPaymentID,
		"placed.currency":                 errInvalidCurrency,
		"placed.lines":                    errInvalidLines,
		"placed.lines[].sku":              errInvalidSKU,
		"placed.lines[].qty":              errInvalidQty,
		"placed.lines[].unit_price_minor": errInvalidPrice,
	}
	pricingErrors = fieldErrors{
		"command_id":           errInvalidCommandID,
		"sku":                  errInvalidSKU,
		"set_base.currency":    errInvalidCurrency,
		"set_base.price_minor": errInvalidPrice,
	}
	purchaseErrors = fieldErrors{
		"sale_id":         errInvalidSaleID,
		"user_id":         errInvalidUserID,
		"idempotency_key": errInvalidIdempotencyKey,
		"qty":             errInvalidPurchaseQty,
	}
)
