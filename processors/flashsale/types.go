package flashsale

import "time"

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
	// KindDefine (client -> sale key) creates the sale.
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
)

var kindNames = [...]string{"unknown", "define", "purchase", "open", "take", "take_result", "borrow", "grant", "close", "report"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Origin locates the record whose processing sent a message: its input
// stream (a processor reads several, each with its own offsets), partition
// and offset; Seq orders the messages one record sent. Client messages
// have no origin.
type Origin struct {
	Stream    int32
	Partition int32
	Offset    int64
	Seq       int32
}

// source is where an origin's offsets are counted.
func (o Origin) source() int64 { return int64(o.Stream)<<32 | int64(uint32(o.Partition)) }

// after reports whether o comes after p from the same partition.
func (o Origin) after(p Origin) bool {
	return o.Offset > p.Offset || (o.Offset == p.Offset && o.Seq > p.Seq)
}

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

	Sale Sale // Define, Open

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
// publish, and once all buckets have closed, the settlement.
type Output struct {
	Messages []Message
	Results  []Result
	Settle   *Settlement
}

// AllocationOrder is the order id under which a sale's units are reserved
// in the SKU's inventory, from its creation until its settlement.
func AllocationOrder(saleID string) string { return "flash-sale:" + saleID }

// Settlement is what a sale sold in the end: the units to take from the
// SKU's inventory reservation; the rest of the allocation goes back.
type Settlement struct {
	SaleID string
	SKU    string
	Units  int64
	Sold   int64
}

// Seen keeps, per origin stream and partition, the last internal message
// applied.
type Seen map[int64]Origin

// fresh reports whether m is new, and records it. Client messages are
// always fresh here; their idempotency is the user key's business.
func (s *Seen) fresh(m Message) bool {
	if !m.Internal {
		return true
	}
	src := m.Origin.source()
	if last, ok := (*s)[src]; ok && !m.Origin.after(last) {
		return false
	}
	if *s == nil {
		*s = Seen{}
	}
	(*s)[src] = m.Origin
	return true
}

func (s Seen) clone() Seen {
	if s == nil {
		return nil
	}
	out := make(Seen, len(s))
	for k, v := range s {
		out[k] = v
	}
	return out
}
