package fraud

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Kind says what an observation reports.
type Kind uint8

const (
	KindUnknown Kind = iota
	// KindOrder is a placed order: counted, and scored by the last stage.
	KindOrder
	// KindPaymentFailed is a failed payment attempt: counted, never scored.
	KindPaymentFailed
)

var kindNames = [...]string{"unknown", "order", "payment_failed"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Stage is the kind of key an observation is addressed to. The numbering
// follows the visiting order, device first.
type Stage uint8

const (
	StageUnknown Stage = iota
	StageDevice
	StageCard
	StageUser
)

var stageNames = [...]string{"unknown", "device", "card", "user"}

func (s Stage) String() string {
	if int(s) < len(stageNames) {
		return stageNames[s]
	}
	return "unknown"
}

// Key prefixes. The three kinds of entity share one table, so the prefix
// keeps a device and a user with the same id apart.
const (
	devicePrefix = "d:"
	cardPrefix   = "c:"
	userPrefix   = "u:"
)

// DeviceKey is the table key of a device.
func DeviceKey(id string) string { return devicePrefix + id }

// CardKey is the table key of a payment instrument.
func CardKey(id string) string { return cardPrefix + id }

// UserKey is the table key of a user.
func UserKey(id string) string { return userPrefix + id }

// StageOf tells the stage of a table key from its prefix.
func StageOf(key string) Stage {
	if len(key) < 2 {
		return StageUnknown
	}
	switch key[:2] {
	case devicePrefix:
		return StageDevice
	case cardPrefix:
		return StageCard
	case userPrefix:
		return StageUser
	}
	return StageUnknown
}

// Origin streams, as the topology numbers them (see fraudv1.Origin).
const (
	StreamObservations int32 = 0
	StreamLoop         int32 = 1
	StreamSaga         int32 = 2
)

// Origin locates the record whose processing sent an observation. Offsets
// only compare within one stream and partition.
type Origin struct {
	Stream    int32
	Partition int32
	Offset    int64
}

// Observed is an observation an entity has counted.
type Observed struct {
	ID string
	At time.Time
}

// observedRetain is how far behind the clock a counted observation is
// remembered: the longest window plus its bucket, beyond which a copy
// would be late and counted nowhere.
const observedRetain = 25 * 3_600_000

// Feature is one named measurement; the names are the model's vocabulary
// (see the Feature* constants).
type Feature struct {
	Name  string
	Value float64
}

// Observation is one order or failed payment on its way through the
// stages. Features accumulates what the stages already visited measured.
type Observation struct {
	Kind      Kind
	Stage     Stage
	Key       string
	OrderID   string
	UserID    string
	DeviceID  string
	PaymentID string
	Currency  string
	// Amount is in minor units of Currency.
	Amount   int64
	Time     time.Time
	Origin   Origin
	Features []Feature
}

// NewObservation is what the saga sends for an order event. It is addressed
// to the device key; an order with no device starts at the card, one with
// no card either at the user (see Route).
func NewObservation(kind Kind, orderID, userID, deviceID, paymentID, currency string, amount int64, t time.Time, origin Origin) Observation {
	o := Observation{
		Kind:      kind,
		OrderID:   orderID,
		UserID:    userID,
		DeviceID:  deviceID,
		PaymentID: paymentID,
		Currency:  currency,
		Amount:    amount,
		Time:      t,
		Origin:    origin,
	}
	o.Stage, o.Key = o.Route(StageUnknown)
	return o
}

// ID names what an observation reports, the same on every copy of it: an
// order is observed once per entity, a failed payment by its order and
// time (an order may fail to pay more than once).
func (o Observation) ID() string {
	if o.Kind == KindPaymentFailed {
		return "f:" + o.OrderID + ":" + strconv.FormatInt(o.Time.UnixMilli(), 10)
	}
	return "o:" + o.OrderID
}

// Route gives the stage after from (StageUnknown for the first) that the
// observation visits, and its key. Stages whose id is empty are skipped, so
// anonymous orders never pile up in one shared "d:" or "c:" entity; when
// no stage is left it returns StageUnknown, and the stage at hand decides.
// An observation with no id at all still needs a decision: it goes to the
// user stage with key "u:", which scores it without counting it.
func (o Observation) Route(from Stage) (Stage, string) {
	if from < StageDevice && o.DeviceID != "" {
		return StageDevice, DeviceKey(o.DeviceID)
	}
	if from < StageCard && o.PaymentID != "" {
		return StageCard, CardKey(o.PaymentID)
	}
	if from < StageUser && (o.UserID != "" || from == StageUnknown) {
		return StageUser, UserKey(o.UserID)
	}
	return StageUnknown, ""
}

// Limits an observation must respect; they keep every sum and every time
// computation far from overflow.
const (
	MaxAmount   = int64(1) << 48
	maxMillis   = int64(253402300799999) // 9999-12-31T23:59:59.999Z
	MaxFeatures = 256
)

// ErrInvalid is wrapped by every error Validate returns.
var ErrInvalid = errors.New("fraud: invalid observation")

// Validate checks what Step relies on. The adapter dead-letters an
// observation that fails it; Step refuses it too (Result.Err), so a bad
// record never reaches an entity.
func (o Observation) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	switch {
	case o.Kind != KindOrder && o.Kind != KindPaymentFailed:
		return bad("kind %d", o.Kind)
	case o.OrderID == "":
		return bad("missing order id")
	case o.Amount < 0 || o.Amount > MaxAmount:
		return bad("amount %d", o.Amount)
	case len(o.Features) > MaxFeatures:
		return bad("%d features", len(o.Features))
	}
	if ms := o.Time.UnixMilli(); ms <= 0 || ms > maxMillis {
		return bad("time %v", o.Time)
	}
	want, ok := o.expectedKey()
	if !ok {
		return bad("stage %v", o.Stage)
	}
	if o.Key != want {
		return bad("key %q for stage %v, want %q", o.Key, o.Stage, want)
	}
	return nil
}

func (o Observation) expectedKey() (string, bool) {
	switch o.Stage {
	case StageDevice:
		return DeviceKey(o.DeviceID), o.DeviceID != ""
	case StageCard:
		return CardKey(o.PaymentID), o.PaymentID != ""
	case StageUser:
		return UserKey(o.UserID), true
	}
	return "", false
}

// Outcome is what the saga does with an order.
type Outcome uint8

const (
	OutcomeUnknown Outcome = iota
	OutcomeApprove
	// OutcomeReview lets the order go ahead and asks a person to look.
	OutcomeReview
	OutcomeReject
)

var outcomeNames = [...]string{"unknown", "approve", "review", "reject"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// Flagged reports whether the outcome needs more than a plain approval.
func (o Outcome) Flagged() bool { return o == OutcomeReview || o == OutcomeReject }

// Reason is one cause of a decision: a rule that fired (Contribution 0) or
// a feature's part of the model's log-odds.
type Reason struct {
	Code         string
	Detail       string
	Contribution float64
}

// Decision answers one order.
type Decision struct {
	OrderID string
	UserID  string
	Outcome Outcome
	// Score is the model's probability of fraud, in [0, 1].
	Score        float64
	Reasons      []Reason
	ModelVersion string
	// Time is the order's event time.
	Time     time.Time
	Features []Feature
}

// Result is what one Step produced besides the new entity.
type Result struct {
	// Forward is the observation for the next stage, with this stage's
	// features appended; nil at the last stage.
	Forward *Observation
	// Decision is set when this stage was the last one for an order.
	Decision *Decision
	// Duplicate: the origin was not after the last one seen from its
	// source, so nothing was counted. Forward and Decision are still set,
	// so a crash between writing the entity and emitting loses nothing.
	Duplicate bool
	// Late: the event was too old for any retained bucket and was not
	// counted; it was still forwarded and scored.
	Late bool
	// Err is set, and nothing else, when the observation fails Validate.
	Err error
}

// Policy bounds what an entity keeps.
type Policy struct {
	// MaxMembers caps the distinct members (a user's devices, a device's or
	// a card's users); the least recently seen is dropped first, so a
	// distinct count saturates at MaxMembers.
	MaxMembers int
	// MaxDecisions is how many recent decisions a deciding entity keeps
	// for the API and for answering a duplicate again.
	MaxDecisions int
	// MaxSeen caps the observations an entity remembers for dedupe (a
	// day's worth at most); past it the oldest are forgotten first, and a
	// copy of one of those would be counted again.
	MaxSeen int
}

// DefaultPolicy remembers up to 512 observations per entity: far more than
// an honest user, device or card makes in a day.
func DefaultPolicy() Policy {
	return Policy{MaxMembers: 64, MaxDecisions: 8, MaxSeen: 512}
}

func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.MaxMembers <= 0 {
		p.MaxMembers = d.MaxMembers
	}
	if p.MaxDecisions <= 0 {
		p.MaxDecisions = d.MaxDecisions
	}
	if p.MaxSeen <= 0 {
		p.MaxSeen = d.MaxSeen
	}
	return p
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
