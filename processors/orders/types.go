package orders

import (
	"errors"
	"time"

	"github.com/titan-commerce/titan/processors/inventory"
)

var (
	// ErrConflict is returned by Place when the order id is known with a
	// different content: a second order under one id, not a retry.
	ErrConflict = errors.New("orders: order id already placed with a different content")
	// ErrInvalid is returned by Place for a message that cannot belong to
	// the order at all (no order id, or another order's id). The adapter
	// dead-letters it; content the saga can judge is rejected instead.
	ErrInvalid = errors.New("orders: invalid placed order")
)

// Rejection reasons, stable: shops and dashboards match on them.
const (
	ReasonFraudRejected      = "fraud_rejected"
	ReasonPriceMismatch      = "price_mismatch"
	ReasonPriceUnavailable   = "price_unavailable"
	ReasonOutOfStock         = "out_of_stock"
	ReasonCancelled          = "cancelled"
	ReasonReservationExpired = inventory.ReasonExpired
	// ReasonInvalidOrder is for content the schema layer should have kept
	// out (see schemas.ValidateOrderEvent): the saga repeats the checks it
	// relies on so it is total on any Placed value.
	ReasonInvalidOrder = "invalid_order"
	// ReasonTimedOut: the order did not move for the saga's step timeout: a
	// step's answer did not come.
	ReasonTimedOut = "timed_out"
)

// Fraud outcomes, as FraudVerdict.Outcome.
const (
	FraudApprove = "approve"
	FraudReview  = "review"
	FraudReject  = "reject"
)

// FraudRequest kinds.
const (
	FraudKindOrder         = "order"
	FraudKindPaymentFailed = "payment_failed"
)

// Line is qty units of one SKU at a unit price in minor units.
type Line struct {
	SKU       string
	Qty       int64
	UnitPrice int64
}

// Placed is a shop's OrderPlaced event.
type Placed struct {
	EventID   string
	OrderID   string
	UserID    string
	DeviceID  string
	PaymentID string
	Currency  string
	Lines     []Line
	Time      time.Time
}

// Payment is a shop's OrderPaid event: a payment captured for an order.
type Payment struct {
	EventID   string
	OrderID   string
	UserID    string
	PaymentID string
	Amount    int64
	Currency  string
	Time      time.Time
}

// FailedPayment is a shop's PaymentFailed event.
type FailedPayment struct {
	EventID   string
	OrderID   string
	UserID    string
	DeviceID  string
	PaymentID string
	Amount    int64
	Reason    string
	Time      time.Time
}

// FraudVerdict is the fraud processor's decision on an order.
type FraudVerdict struct {
	// Outcome is FraudApprove, FraudReview or FraudReject.
	Outcome string
	Score   float64
	// Reasons, most important first, kept whole so the order explains
	// its own decision.
	Reasons      []FraudReason
	ModelVersion string
	Time         time.Time
}

// FraudReason is one cause of a fraud decision: a rule that fired, or a
// feature's share of the model's log-odds (Contribution).
type FraudReason struct {
	Code         string
	Detail       string
	Contribution float64
}

// Codes lists the reasons' codes.
func (v FraudVerdict) Codes() []string {
	var out []string
	for _, r := range v.Reasons {
		out = append(out, r.Code)
	}
	return out
}

// PriceQuote is the pricing processor's answer to one PriceCheck.
type PriceQuote struct {
	SKU string
	// Line is the index of the order line the check was for.
	Line int32
	// Found is false when the SKU has no price.
	Found    bool
	Price    int64
	Currency string
	Time     time.Time
}

// Status is where an order is in the saga; the values match
// ordersv1.OrderStatus.
type Status uint8

const (
	StatusUnknown Status = iota
	StatusScoring
	StatusPricing
	StatusReserving
	StatusConfirmed
	StatusRejected
)

var statusNames = [...]string{"unknown", "scoring", "pricing", "reserving", "confirmed", "rejected"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "unknown"
}

// Terminal reports whether the order has its outcome.
func (s Status) Terminal() bool { return s == StatusConfirmed || s == StatusRejected }

// LineStatus is where one line's reservation is; the values match
// ordersv1.LineStatus.
type LineStatus uint8

const (
	LineUnknown LineStatus = iota
	// LinePending: the reservation has not been asked for yet.
	LinePending
	// LineReserving: the Reserve is sent, its answer not yet seen.
	LineReserving
	LineReserved
	LineCommitted
	LineReleased
	// LineRefused: the inventory refused the reservation (Reason says why).
	LineRefused
	LineExpired
	// LineSkipped: the order ended before the reservation was asked for.
	LineSkipped
)

var lineStatusNames = [...]string{
	"unknown", "pending", "reserving", "reserved", "committed", "released", "refused", "expired", "skipped",
}

func (s LineStatus) String() string {
	if int(s) < len(lineStatusNames) {
		return lineStatusNames[s]
	}
	return "unknown"
}

// LineState is one line of an order and where its price check and
// reservation are.
type LineState struct {
	SKU       string
	Qty       int64
	UnitPrice int64

	Quoted         bool
	QuoteFound     bool
	QuotedPrice    int64
	QuotedCurrency string

	Status LineStatus
	// Reason is the inventory's reason when it refused or failed the line.
	Reason string
}

// Step is one entry of an order's history.
type Step struct {
	At     time.Time
	Name   string
	Detail string
}

// History step names.
const (
	StepPlaced        = "placed"
	StepInvalid       = "invalid"
	StepFraud         = "fraud_" // + the verdict's outcome
	StepPriced        = "priced"
	StepReserving     = "reserving"
	StepReserved      = "reserved"
	StepRefused       = "refused"
	StepExpired       = "expired"
	StepConfirmed     = "confirmed"
	StepRejected      = "rejected"
	StepRelease       = "release"
	StepReleased      = "released"
	StepReleaseFailed = "release_failed"
	StepCommitted     = "committed"
	StepCommitFailed  = "commit_failed"
	StepCancelIgnored = "cancel_ignored"
	StepPaymentFailed = "payment_failed"
	StepPaid          = "paid"
	StepTimedOut      = "timed_out"
)

// Order is the saga's state for one order id; it mirrors ordersv1.Order.
// The zero Order is an id the saga has not seen.
type Order struct {
	ID            string
	PlacedEventID string
	UserID        string
	DeviceID      string
	PaymentID     string
	Currency      string
	PlacedAt      time.Time
	// Fingerprint is the digest of the placed content (see Fingerprint).
	Fingerprint string

	Status Status
	// Reason and Detail are set iff the order is Rejected.
	Reason string
	Detail string
	// TerminalAt is set iff the order is terminal.
	TerminalAt time.Time

	// Fraud is the verdict; its Outcome is empty until one arrived.
	Fraud  FraudVerdict
	Review bool

	Lines          []LineState
	History        []Step
	HistoryDropped int64
}

// Steps counts the steps the order has taken, those dropped from its
// history included: it grows with every change, so an order whose Steps
// did not change has not moved.
func (o Order) Steps() int64 { return o.HistoryDropped + int64(len(o.History)) }

// Clock is the latest time the order has seen: every change appends a step
// stamped with the saga's time, which never goes back.
func (o Order) Clock() time.Time {
	if n := len(o.History); n > 0 {
		return o.History[n-1].At
	}
	return o.PlacedAt
}

// Total is the sum of qty * unit price over the lines.
func (o Order) Total() int64 {
	var t int64
	for _, l := range o.Lines {
		t += l.Qty * l.UnitPrice
	}
	return t
}

// Policy is what the saga judges with.
type Policy struct {
	// PriceToleranceBps is how far an order's unit price may be from the
	// quoted price, in basis points of the quoted price (100 = 1 %); 0
	// demands the exact price, a negative value is read as 0.
	PriceToleranceBps int64
	// ReserveTTL is how long inventory holds a line's reservation; 0 or
	// less means the default.
	ReserveTTL time.Duration
	// MaxHistory bounds an order's history; 0 or less means the default.
	MaxHistory int
}

// DefaultPolicy allows 1 % price drift, holds reservations for an hour and
// keeps 64 history steps.
func DefaultPolicy() Policy {
	return Policy{PriceToleranceBps: 100, ReserveTTL: time.Hour, MaxHistory: 64}
}

func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.PriceToleranceBps < 0 {
		p.PriceToleranceBps = 0
	}
	if p.ReserveTTL <= 0 {
		p.ReserveTTL = d.ReserveTTL
	}
	if p.MaxHistory <= 0 {
		p.MaxHistory = d.MaxHistory
	}
	return p
}

// FraudRequest asks the fraud processor to count (and, for an order, score)
// what happened.
type FraudRequest struct {
	// Kind is FraudKindOrder or FraudKindPaymentFailed.
	Kind      string
	OrderID   string
	UserID    string
	DeviceID  string
	PaymentID string
	Currency  string
	Amount    int64
	Time      time.Time
}

// PriceCheck asks the pricing processor for a SKU's price at Time.
type PriceCheck struct {
	// ID is deterministic per order and line (see PriceCheckID), so a
	// repeated check is recognisable.
	ID      string
	OrderID string
	SKU     string
	Line    int32
	Time    time.Time
}

// Outcome is the order's terminal result, published once.
type Outcome struct {
	Confirmed     bool
	Reason        string
	Detail        string
	Total         int64
	Review        bool
	ReviewReasons []string
	Time          time.Time
	// UserID, Currency and Lines say who bought what, on a confirmed order.
	UserID   string
	Currency string
	Lines    []Line
}

// Effects are what one input makes the saga send.
type Effects struct {
	Fraud       *FraudRequest
	PriceChecks []PriceCheck
	Inventory   []inventory.Command
	Outcome     *Outcome
}

// Join returns e followed by more: the requests of both in order, and
// more's fraud request and outcome where e has none.
func (e Effects) Join(more Effects) Effects {
	e.PriceChecks = append(e.PriceChecks, more.PriceChecks...)
	e.Inventory = append(e.Inventory, more.Inventory...)
	if e.Fraud == nil {
		e.Fraud = more.Fraud
	}
	if e.Outcome == nil {
		e.Outcome = more.Outcome
	}
	return e
}

// Empty reports whether there is nothing to send.
func (e Effects) Empty() bool {
	return e.Fraud == nil && len(e.PriceChecks) == 0 && len(e.Inventory) == 0 && e.Outcome == nil
}
