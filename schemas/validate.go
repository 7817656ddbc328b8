package schemas

import (
	"errors"
	"fmt"

	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

// Limits enforced by ValidateCommand and ValidateOrderEvent. They bound what
// one record can make a processor store and keep quantities far from int64
// overflow when summed into a SKU's ledger.
const (
	MaxQty          = 1_000_000_000
	MaxReserveTTLMs = 7 * 24 * 60 * 60 * 1000
	MaxOrderLines   = 1000
	MaxReasonBytes  = 1024
)

// ErrInvalid is wrapped by every *InvalidError, for callers that only need
// to tell "the message is bad" from "the system failed".
var ErrInvalid = errors.New("schemas: invalid message")

// Reason is a stable, machine-readable code for why a message is invalid. It
// is written into dead letters and rejection events, so a code is never
// renamed or reused for a different rule.
type Reason string

// The reasons ValidateCommand and ValidateOrderEvent report.
const (
	ReasonNilMessage       Reason = "nil_message"
	ReasonMissingCommandID Reason = "missing_command_id"
	ReasonMissingEventID   Reason = "missing_event_id"
	ReasonMissingOrderID   Reason = "missing_order_id"
	ReasonMissingSKU       Reason = "missing_sku"
	ReasonMissingKind      Reason = "missing_kind"
	ReasonMissingLines     Reason = "missing_lines"
	ReasonMissingCurrency  Reason = "missing_currency"
	ReasonMissingUserID    Reason = "missing_user_id"
	ReasonMissingDeviceID  Reason = "missing_device_id"
	ReasonMissingPaymentID Reason = "missing_payment_id"
	ReasonInvalidSKU       Reason = "invalid_sku"
	ReasonInvalidQty       Reason = "invalid_qty"
	ReasonInvalidTTL       Reason = "invalid_ttl"
	ReasonInvalidTimestamp Reason = "invalid_timestamp"
	ReasonInvalidCurrency  Reason = "invalid_currency"
	ReasonInvalidPrice     Reason = "invalid_price"
	ReasonDuplicateSKU     Reason = "duplicate_sku"
	ReasonTooLong          Reason = "too_long"
)

// InvalidError reports the first rule a message breaks. Field is the path of
// the offending field in proto names ("reserve.ttl_ms",
// "placed.lines[2].qty"), empty when the message itself is missing.
type InvalidError struct {
	Field  string
	Reason Reason
	// Detail says more where the reason alone does not, e.g. how far a
	// timestamp is off; empty otherwise.
	Detail string
}

func (e *InvalidError) Error() string {
	msg := fmt.Sprintf("schemas: invalid field %s: %s", e.Field, e.Reason)
	if e.Field == "" {
		msg = fmt.Sprintf("schemas: invalid message: %s", e.Reason)
	}
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrInvalid) hold for every validation failure.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

// ReasonOf is the reason of the *InvalidError in err's chain, or "invalid"
// when there is none: the code a dead letter records for a message that
// failed validation.
func ReasonOf(err error) Reason {
	var inv *InvalidError
	if errors.As(err, &inv) {
		return inv.Reason
	}
	return "invalid"
}

func invalid(field string, reason Reason) error {
	return &InvalidError{Field: field, Reason: reason}
}

// ValidateCommand checks the rules every inventory command must satisfy
// before it is produced or applied. Decoding does not validate, so a
// processor can dead-letter a decodable but invalid command with the reason
// returned here. The error, if any, is an *InvalidError for the first
// broken rule, in field order.
func ValidateCommand(cmd *inventoryv1.Command) error {
	if cmd == nil {
		return invalid("", ReasonNilMessage)
	}
	if err := CheckID("command_id", cmd.GetCommandId(), ReasonMissingCommandID); err != nil {
		return err
	}
	if err := CheckSKU("sku", cmd.GetSku()); err != nil {
		return err
	}
	if cmd.GetTimestampMs() <= 0 {
		return invalid("timestamp_ms", ReasonInvalidTimestamp)
	}

	switch kind := cmd.GetKind().(type) {
	case nil:
		return invalid("kind", ReasonMissingKind)
	case *inventoryv1.Command_Restock:
		// Restock needs no order, but an order id that is sent follows the
		// id rule like every id that may be copied into events and state.
		if err := CheckOptionalID("order_id", cmd.GetOrderId()); err != nil {
			return err
		}
		return checkQty("qty", cmd.GetQty())
	case *inventoryv1.Command_Reserve:
		if err := CheckID("order_id", cmd.GetOrderId(), ReasonMissingOrderID); err != nil {
			return err
		}
		if err := checkQty("qty", cmd.GetQty()); err != nil {
			return err
		}
		if ttl := kind.Reserve.GetTtlMs(); ttl <= 0 || ttl > MaxReserveTTLMs {
			return invalid("reserve.ttl_ms", ReasonInvalidTTL)
		}
		return nil
	case *inventoryv1.Command_Commit:
		// A commit may sell part of the reservation (qty) and release the
		// rest; qty 0 sells all of it.
		if err := CheckID("order_id", cmd.GetOrderId(), ReasonMissingOrderID); err != nil {
			return err
		}
		if q := cmd.GetQty(); q < 0 || q > MaxQty {
			return invalid("qty", ReasonInvalidQty)
		}
		return nil
	case *inventoryv1.Command_Release, *inventoryv1.Command_Expire:
		// These name an existing reservation by order and SKU, so qty is
		// not theirs to check.
		return CheckID("order_id", cmd.GetOrderId(), ReasonMissingOrderID)
	default:
		return invalid("kind", ReasonMissingKind)
	}
}

// ValidateOrderEvent checks the rules every order event must satisfy before
// it is published or applied, reporting the first broken rule, in field
// order, as an *InvalidError.
func ValidateOrderEvent(ev *ordersv1.OrderEvent) error {
	if ev == nil {
		return invalid("", ReasonNilMessage)
	}
	if err := CheckID("event_id", ev.GetEventId(), ReasonMissingEventID); err != nil {
		return err
	}
	if err := CheckID("order_id", ev.GetOrderId(), ReasonMissingOrderID); err != nil {
		return err
	}
	if ev.GetTimestampMs() <= 0 {
		return invalid("timestamp_ms", ReasonInvalidTimestamp)
	}

	switch kind := ev.GetKind().(type) {
	case nil:
		return invalid("kind", ReasonMissingKind)
	case *ordersv1.OrderEvent_Placed:
		return validatePlaced(kind.Placed)
	case *ordersv1.OrderEvent_Confirmed:
		return nil
	case *ordersv1.OrderEvent_Rejected:
		if len(kind.Rejected.GetReason()) > MaxReasonBytes {
			return invalid("rejected.reason", ReasonTooLong)
		}
		return nil
	case *ordersv1.OrderEvent_Cancelled:
		if len(kind.Cancelled.GetReason()) > MaxReasonBytes {
			return invalid("cancelled.reason", ReasonTooLong)
		}
		return nil
	case *ordersv1.OrderEvent_PaymentFailed:
		return validatePaymentFailed(kind.PaymentFailed)
	case *ordersv1.OrderEvent_Paid:
		return validatePaid(kind.Paid)
	default:
		return invalid("kind", ReasonMissingKind)
	}
}

func validatePlaced(p *ordersv1.OrderPlaced) error {
	for _, f := range []struct {
		name, value string
	}{
		{"placed.user_id", p.GetUserId()},
		{"placed.device_id", p.GetDeviceId()},
		{"placed.payment_id", p.GetPaymentId()},
	} {
		if err := CheckOptionalID(f.name, f.value); err != nil {
			return err
		}
	}
	if err := CheckCurrency("placed.currency", p.GetCurrency()); err != nil {
		return err
	}

	lines := p.GetLines()
	switch {
	case len(lines) == 0:
		return invalid("placed.lines", ReasonMissingLines)
	case len(lines) > MaxOrderLines:
		return invalid("placed.lines", ReasonTooLong)
	}
	// Inventory keeps one reservation per order and SKU, so two lines for
	// one SKU would fight over it; the checkout must merge them.
	seen := make(map[string]struct{}, len(lines))
	for i, line := range lines {
		field := fmt.Sprintf("placed.lines[%d]", i)
		if err := CheckSKU(field+".sku", line.GetSku()); err != nil {
			return err
		}
		if _, dup := seen[line.GetSku()]; dup {
			return invalid(field+".sku", ReasonDuplicateSKU)
		}
		seen[line.GetSku()] = struct{}{}
		if err := checkQty(field+".qty", line.GetQty()); err != nil {
			return err
		}
		// Bounded like a catalog price, so qty * price cannot overflow.
		if p := line.GetUnitPriceMinor(); p < 0 || p > MaxPriceMinor {
			return invalid(field+".unit_price_minor", ReasonInvalidPrice)
		}
	}
	return nil
}

// CheckPlacedIdentity checks what the order saga needs of a placement
// beyond ValidateOrderEvent: the user, device and payment ids, which
// ValidateOrderEvent leaves optional. Fraud scoring keys its features by
// them, so an order without them cannot be scored.
func CheckPlacedIdentity(p *ordersv1.OrderPlaced) error {
	for _, f := range []struct {
		name, value string
		missing     Reason
	}{
		{"placed.user_id", p.GetUserId(), ReasonMissingUserID},
		{"placed.device_id", p.GetDeviceId(), ReasonMissingDeviceID},
		{"placed.payment_id", p.GetPaymentId(), ReasonMissingPaymentID},
	} {
		if f.value == "" {
			return invalid(f.name, f.missing)
		}
	}
	return nil
}

// validatePaymentFailed needs the three ids: a failure is counted against
// the user, the device and the payment instrument.
func validatePaymentFailed(p *ordersv1.PaymentFailed) error {
	for _, f := range []struct {
		name, value string
		missing     Reason
	}{
		{"payment_failed.user_id", p.GetUserId(), ReasonMissingUserID},
		{"payment_failed.device_id", p.GetDeviceId(), ReasonMissingDeviceID},
		{"payment_failed.payment_id", p.GetPaymentId(), ReasonMissingPaymentID},
	} {
		if err := CheckID(f.name, f.value, f.missing); err != nil {
			return err
		}
	}
	if p.GetAmountMinor() < 0 {
		return invalid("payment_failed.amount_minor", ReasonInvalidPrice)
	}
	if len(p.GetReason()) > MaxReasonBytes {
		return invalid("payment_failed.reason", ReasonTooLong)
	}
	return nil
}

// validatePaid needs the user and the payment instrument, and an amount
// in a currency: a payment is money, and a record of it without either
// could not be reconciled with the order.
func validatePaid(p *ordersv1.OrderPaid) error {
	if err := CheckID("paid.user_id", p.GetUserId(), ReasonMissingUserID); err != nil {
		return err
	}
	if err := CheckID("paid.payment_id", p.GetPaymentId(), ReasonMissingPaymentID); err != nil {
		return err
	}
	if p.GetAmountMinor() < 0 {
		return invalid("paid.amount_minor", ReasonInvalidPrice)
	}
	return CheckCurrency("paid.currency", p.GetCurrency())
}

func checkQty(field string, qty int64) error {
	if qty <= 0 || qty > MaxQty {
		return invalid(field, ReasonInvalidQty)
	}
	return nil
}

// CheckCurrency accepts ISO 4217 alphabetic codes; prices are in the
// currency's minor units, so an unknown shape means an unknown scale.
func CheckCurrency(field, cur string) error {
	if cur == "" {
		return invalid(field, ReasonMissingCurrency)
	}
	if len(cur) != 3 {
		return invalid(field, ReasonInvalidCurrency)
	}
	for i := 0; i < len(cur); i++ {
		if cur[i] < 'A' || cur[i] > 'Z' {
			return invalid(field, ReasonInvalidCurrency)
		}
	}
	return nil
}

// ReasonInternalKind: a client sent a kind of message only Titan sends.
const ReasonInternalKind Reason = "internal_kind"

// CheckClientCommand checks what a command from a client (the public
// commands topic, the API) must satisfy beyond ValidateCommand: its ids
// stay out of Titan's namespace, and its kind is one clients may send:
// Expire is the expiry sweeper's alone.
func CheckClientCommand(cmd *inventoryv1.Command) error {
	if err := RefuseReserved("command_id", cmd.GetCommandId()); err != nil {
		return err
	}
	if err := RefuseReserved("order_id", cmd.GetOrderId()); err != nil {
		return err
	}
	if _, ok := cmd.GetKind().(*inventoryv1.Command_Expire); ok {
		return invalid("kind", ReasonInternalKind)
	}
	return nil
}

// CheckInternalCommand checks what a command on Titan's internal commands
// topic must satisfy beyond ValidateCommand: its id is in Titan's
// namespace, so it can never equal a client's.
func CheckInternalCommand(cmd *inventoryv1.Command) error {
	if !Reserved(cmd.GetCommandId()) {
		return &InvalidError{Field: "command_id", Reason: ReasonInvalidID, Detail: "an internal command's id starts with " + ReservedPrefix}
	}
	return nil
}

// CheckClientOrderEvent checks what an order event from a shop's checkout
// must satisfy beyond ValidateOrderEvent: its ids stay out of Titan's
// namespace.
func CheckClientOrderEvent(ev *ordersv1.OrderEvent) error {
	if err := RefuseReserved("event_id", ev.GetEventId()); err != nil {
		return err
	}
	if err := RefuseReserved("order_id", ev.GetOrderId()); err != nil {
		return err
	}
	switch kind := ev.GetKind().(type) {
	case *ordersv1.OrderEvent_Placed:
		for _, f := range []struct{ name, value string }{
			{"placed.user_id", kind.Placed.GetUserId()},
			{"placed.device_id", kind.Placed.GetDeviceId()},
			{"placed.payment_id", kind.Placed.GetPaymentId()},
		} {
			if err := RefuseReserved(f.name, f.value); err != nil {
				return err
			}
		}
	case *ordersv1.OrderEvent_PaymentFailed:
		for _, f := range []struct{ name, value string }{
			{"payment_failed.user_id", kind.PaymentFailed.GetUserId()},
			{"payment_failed.device_id", kind.PaymentFailed.GetDeviceId()},
			{"payment_failed.payment_id", kind.PaymentFailed.GetPaymentId()},
		} {
			if err := RefuseReserved(f.name, f.value); err != nil {
				return err
			}
		}
	case *ordersv1.OrderEvent_Paid:
		for _, f := range []struct{ name, value string }{
			{"paid.user_id", kind.Paid.GetUserId()},
			{"paid.payment_id", kind.Paid.GetPaymentId()},
		} {
			if err := RefuseReserved(f.name, f.value); err != nil {
				return err
			}
		}
	}
	return nil
}
