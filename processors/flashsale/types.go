package flashsale

import (
	"time"

	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/processors/origin"
	"github.com/titan-commerce/titan/schemas"
)

// Sale defines a flash sale.
type Sale struct {
	ID           string
	SKU          string
	Units        int64
	Start, End   time.Time
	PerUserLimit int64
	PriceMinor   int64
	Buckets      int
}

// Equal reports whether two definitions are the same sale.
func (s Sale) Equal(o Sale) bool {
	return s.ID == o.ID && s.SKU == o.SKU && s.Units == o.Units && s.Start.Equal(o.Start) && s.End.Equal(o.End) &&
		s.PerUserLimit == o.PerUserLimit && s.PriceMinor == o.PriceMinor && s.Buckets == o.Buckets
}

// Valid reports whether a sale definition can be run: its id and SKU follow
// the id rule (and the id leaves room for the allocation's command ids, which
// the inventory holds to the same rule), and its numbers make sense.
func (s Sale) Valid() bool {
	return schemas.ValidID(s.ID) && schemas.ValidID(AllocateCommandID(s.ID)) && schemas.ValidID(s.SKU) &&
		s.Units > 0 && s.Units <= schemas.MaxQty && s.PerUserLimit > 0 && s.PriceMinor >= 0 &&
		s.Buckets >= 1 && s.Buckets <= MaxBuckets && s.End.After(s.Start)
}

// Active reports whether t is inside the sale's window [Start, End).
func (s Sale) Active(t time.Time) bool { return !t.Before(s.Start) && t.Before(s.End) }

// Share is the number of units bucket b starts with: the units split as
// evenly as integers allow.
func (s Sale) Share(b int) int64 {
	n := int64(s.Buckets)
	share := s.Units / n
	if int64(b) < s.Units%n {
		share++
	}
	return share
}

// Router names the keys of a sale. Keys decide partitions, so every
// producer and processor of a deployment must use the same Router.
type Router interface {
	Sale(saleID string) string
	Bucket(saleID string, bucket int) string
	User(saleID, userID string) string
}

// Kind says what a message is.
type Kind uint8

const (
	KindUnknown Kind = iota
	// KindDefine is retired: it defined a sale with no check that its
	// units were set aside. It stays named so that an old record is
	// dead-lettered as what it is; a sale is created by KindCreate.
	KindDefine
	// KindPurchase (client -> user key) is a buyer's attempt.
	KindPurchase
	// KindOpen (sale -> bucket) hands a bucket its definition and share.
	KindOpen
	// KindTake (user -> bucket) asks for units for one attempt.
	KindTake
	// KindTakeResult (bucket -> user) answers a Take.
	KindTakeResult
	// KindBorrow (bucket -> bucket) asks a donor for units.
	KindBorrow
	// KindGrant (bucket -> bucket) carries units, possibly none.
	KindGrant
	// KindClose (settler -> bucket) ends a bucket's sale once the sale's
	// end has passed.
	KindClose
	// KindReport (bucket -> sale) carries a closed bucket's final count.
	KindReport
	// KindCreate (Titan's API -> sale key) creates the sale: the sale key
	// reserves its units from the inventory and opens it once they are.
	KindCreate
	// KindAbandon (settler -> sale key) gives up a creation the inventory
	// has not answered by its deadline.
	KindAbandon
)

var kindNames = [...]string{"unknown", "define", "purchase", "open", "take", "take_result", "borrow", "grant", "close",
	"report", "create", "abandon"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Origin locates the record whose processing sent a message
// (processors/origin). Messages from outside the group (a client's
// purchase, the API's Create, the settler's Abandon and Close) have no
// origin: each is idempotent by the state it meets instead.
type Origin = origin.Origin

// Message is anything sent to a sale's keys. Which fields matter depends
// on Kind.
type Message struct {
	Kind   Kind
	SaleID string
	Key    string // the destination key
	Time   time.Time
	// Origin is set on messages between keys; Internal says so.
	Internal bool
	Origin   Origin

	Sale Sale // Create, Open

	// Purchase, Take, TakeResult: the attempt.
	IdempotencyKey string
	UserID         string
	Qty            int64
	Bucket         int
	// Take: what the buyer holds or has in flight besides this attempt.
	Already int64
	// TakeResult: empty when the units were taken.
	Reason string

	// Open: the bucket's share. Borrow: units wanted. Grant: units given.
	Units int64
	// Borrow, Grant: the bucket that asks, or gives.
	From  int
	Round int64
}

// Rejection reasons, stable: clients match on them.
const (
	ReasonNotStarted    = "not_started"
	ReasonEnded         = "ended"
	ReasonSoldOut       = "sold_out"
	ReasonLimitExceeded = "limit_exceeded"
	ReasonInvalid       = "invalid"
	// ReasonIdempotencyConflict answers an attempt whose idempotency key
	// the buyer used before for another qty: a key names one attempt, which
	// keeps its own result, and this one changes nothing.
	ReasonIdempotencyConflict = "idempotency_key_conflict"
)

// Status of an attempt's result.
type Status uint8

const (
	StatusUnknown Status = iota
	StatusPurchased
	StatusRejected
)

func (s Status) String() string {
	switch s {
	case StatusPurchased:
		return "purchased"
	case StatusRejected:
		return "rejected"
	}
	return "unknown"
}

// Result is the one answer an attempt gets, published as an event.
type Result struct {
	SaleID         string
	IdempotencyKey string
	UserID         string
	Qty            int64
	Status         Status
	Reason         string
	Bucket         int
	PriceMinor     int64
	Time           time.Time
}

// Output is what one decision sends: messages to other keys, results to
// publish, and commands for the SKU's inventory, which travel on its
// internal topic (the allocation's reserve, the release of an abandoned
// creation, the settlement). Refused, when set, says the message was
// refused as a whole and changed nothing: the adapter sets it aside.
type Output struct {
	Messages  []Message
	Results   []Result
	Inventory []inventory.Command
	Refused   string
}

// Seen keeps, per origin stream and partition, the last internal message
// applied.
type Seen = origin.Seen

// fresh reports whether m is new, and records it in a copy of *s. Client
// messages are always fresh here; their idempotency is the user key's
// business.
func fresh(s *Seen, m Message) bool {
	if !m.Internal {
		return true
	}
	next, ok := s.Apply(m.Origin)
	*s = next
	return ok
}
