package inventory

import (
	"slices"
	"time"
)

// Stock is a SKU's ledger; see the package comment.
type Stock struct {
	OnHand   int64
	Reserved int64
	Sold     int64
}

// Available is what a new reservation may take.
func (s Stock) Available() int64 { return s.OnHand - s.Reserved }

// Kind says what a command asks for.
type Kind uint8

const (
	KindUnknown Kind = iota
	KindRestock
	KindReserve
	KindCommit
	KindRelease
	// KindExpire is sent by the expiry sweeper, never by clients.
	KindExpire
)

var kindNames = [...]string{"unknown", "restock", "reserve", "commit", "release", "expire"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Command is one request for a SKU, with its place in the commands topic.
type Command struct {
	ID      string
	Kind    Kind
	OrderID string
	SKU     string
	Qty     int64
	TTL     time.Duration
	Time    time.Time

	// Internal says the command came from Titan's internal commands topic,
	// which only Titan writes: the order saga, flash-sale allocation and
	// settlement, the expiry sweeper. See the package comment.
	Internal bool

	// Partition and Offset locate the command in its topic (the public
	// commands topic, or the internal one). The result event carries them
	// so a reader can wait until its view of the SKU includes the command.
	Partition int32
	Offset    int64
}

// EventType is the kind of an event.
type EventType uint8

const (
	EventUnknown EventType = iota
	EventRestocked
	EventReserved
	EventRejected
	EventCommitted
	EventReleased
	EventExpired
)

var eventNames = [...]string{"unknown", "restocked", "reserved", "rejected", "committed", "released", "expired"}

func (t EventType) String() string {
	if int(t) < len(eventNames) {
		return eventNames[t]
	}
	return "unknown"
}

// Rejection reasons, stable: clients and dashboards match on them.
const (
	ReasonInsufficientStock = "insufficient_stock"
	ReasonInvalidCommand    = "invalid_command"
	ReasonAlreadyReserved   = "already_reserved"
	ReasonNotFound          = "reservation_not_found"
	ReasonAlreadyCommitted  = "already_committed"
	ReasonAlreadyReleased   = "already_released"
	ReasonExpired           = "reservation_expired"
	ReasonQtyExceeds        = "qty_exceeds_reservation"
	// ReasonCommandIDConflict: the command id names another command, one
	// of another kind or with another body; nothing changed.
	ReasonCommandIDConflict = "command_id_conflict"
	// ReasonReservedID: a client's command named an id in Titan's
	// namespace, or a reservation Titan made; nothing changed.
	ReasonReservedID = "reserved_id"
)

// Event is what Decide publishes: the result of a command, or an expiry.
type Event struct {
	Type      EventType
	CommandID string
	OrderID   string
	SKU       string
	Qty       int64
	Time      time.Time
	Reason    string
	ExpiresAt time.Time
	Partition int32
	Offset    int64
	// Stock is the SKU's ledger right after the event.
	Stock Stock
	// ReserveCommandID is, on Expired, the id of the Reserve that made the
	// reservation.
	ReserveCommandID string
	// Seq is the SKU's sequence number of the command that led to the
	// event: it orders a SKU's events across the public and the internal
	// topic, whose offsets cannot be compared.
	Seq int64
	// Internal says Partition and Offset are the internal topic's.
	Internal bool
}

// IsResult reports whether e answers a client command (every client
// command gets exactly one); expiries are not results.
func (e Event) IsResult() bool { return e.Type != EventExpired && e.Type != EventUnknown }

// ReservationStatus is where a reservation is in its life.
type ReservationStatus uint8

const (
	StatusUnknown ReservationStatus = iota
	StatusOpen
	StatusCommitted
	StatusReleased
	StatusExpired
)

var statusNames = [...]string{"unknown", "open", "committed", "released", "expired"}

func (s ReservationStatus) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "unknown"
}

// Reservation is one order's hold on a SKU's stock.
type Reservation struct {
	OrderID   string
	CommandID string
	Qty       int64
	ExpiresAt time.Time
	Status    ReservationStatus
	// ClosedAt is when the reservation ended; ended reservations are kept
	// for the dedupe window so late commands get a precise answer.
	ClosedAt time.Time
	// Internal marks a reservation an internal command made: an order
	// saga's line or a flash sale's allocation. Only internal commands
	// (and expiry) end it.
	Internal bool
}

// Applied remembers a command's events for the dedupe window.
type Applied struct {
	CommandID string
	// Fingerprint is the command's Fingerprint: a command with the same
	// id and another fingerprint is another command. Zero for commands
	// remembered before fingerprints were kept; those match any.
	Fingerprint uint64
	// Result answers the command; none for an Expire.
	Result Event
	// Expired are the expiries the command made due, published before
	// Result. A retry gets Result alone; a replay of the same record
	// gets both again (see Decide).
	Expired []Event
	At      time.Time
	// Seq is the SKU's sequence number the command was applied at.
	Seq int64
}

// Events are what the command published, in order.
func (a Applied) Events() []Event {
	out := slices.Clone(a.Expired)
	if a.Result.Type != EventUnknown {
		out = append(out, a.Result)
	}
	return out
}

// Policy bounds what a SKU remembers.
type Policy struct {
	// DedupeWindow is how long a command is remembered, with its id, its
	// result and the reservations it ended. A retry later than this is
	// treated as a new command.
	DedupeWindow time.Duration
	// MaxApplied caps the commands remembered per SKU, so one hot SKU
	// cannot grow its memory without bound; the oldest are forgotten
	// first.
	MaxApplied int
}

// DefaultPolicy remembers commands for 15 minutes, up to 4096 per SKU.
func DefaultPolicy() Policy {
	return Policy{DedupeWindow: 15 * time.Minute, MaxApplied: 4096}
}
