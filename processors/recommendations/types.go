package recommendations

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/titan-commerce/titan/processors/origin"
)

// Signal says what made two items a pair.
type Signal uint8

const (
	SignalUnknown Signal = iota
	// SignalView: both were viewed in one session.
	SignalView
	// SignalPurchase: both were bought in one order.
	SignalPurchase
)

func (s Signal) String() string {
	switch s {
	case SignalView:
		return "view"
	case SignalPurchase:
		return "purchase"
	}
	return "unknown"
}

// Streams number the inputs whose records emit pairs, so an item keeps one
// high-water mark per input partition. A topology may use other numbers as
// long as every deployment agrees on them.
const (
	StreamViews  int32 = 1
	StreamOrders int32 = 2
)

// Origin locates the record whose processing emitted a pair
// (processors/origin); Seq is the pair's place among those the record
// emitted.
type Origin = origin.Origin

// ViewEvent is a shopper looking at an item; View is the step that applies
// it to the user's history.
type ViewEvent struct {
	EventID   string
	UserID    string
	SKU       string
	SessionID string
	Time      time.Time
}

// Pair says that Other was seen with Item, in one session (SignalView) or
// one order (SignalPurchase). It is keyed by Item.
type Pair struct {
	Item   string
	Other  string
	Signal Signal
	Time   time.Time
	Origin Origin
}

// Stamp sets the origin of the pairs one record emitted, numbering them in
// order, and returns pairs. The numbering must be the same every time the
// record is processed, which it is because the steps are deterministic.
func Stamp(pairs []Pair, o Origin) []Pair {
	for i := range pairs {
		pairs[i].Origin = Origin{Stream: o.Stream, Partition: o.Partition, Offset: o.Offset, Seq: int32(i)}
	}
	return pairs
}

// Seen is one item in a user's history.
type Seen struct {
	SKU string
	At  time.Time
	// SessionID is the storefront's session, or for views without one a
	// session the processor made up from the gaps (see View).
	SessionID string
	Signal    Signal
}

// UserHistory is the state of a user key.
type UserHistory struct {
	UserID string
	// Recent views, most recent last, at most Policy.MaxRecent.
	Recent []Seen
	// Bought items, most recent last, at most Policy.MaxBought.
	Bought []Seen
	Clock  time.Time
	// EventIDs are the latest view event ids, oldest first, at most
	// Policy.MaxEventIDs; EventPrints their Fingerprints, in step (a
	// history stored before prints were kept may have fewer).
	EventIDs    []string
	EventPrints []uint64
}

// Basket is the state of an order key: the SKUs the order has bought so
// far, in the order their Committed events came.
type Basket struct {
	OrderID string
	SKUs    []string
	UserID  string
}

// Neighbor is one item seen with an item. The scores are forward-decayed
// sums relative to the item's epoch (see the package documentation).
type Neighbor struct {
	SKU           string
	ViewScore     float64
	PurchaseScore float64
	Last          time.Time
}

// ItemState is the state of an item key: its neighbors in descending rank
// (the blend at the epoch), so the top K are the first K.
type ItemState struct {
	SKU       string
	Epoch     time.Time
	Neighbors []Neighbor
	// Clock is the latest pair time counted.
	Clock time.Time
	// Pruned counts neighbors evicted from, or refused by, a full list.
	Pruned int64
	// Seen is the highest pair origin counted per input partition.
	Seen map[int64]Origin
}

// Reasons a recommendation gives.
const (
	ReasonCoViewed = "co-viewed"
	ReasonCoBought = "co-bought"
)

// Rec is one recommended item with its decayed scores at the query's time.
type Rec struct {
	SKU           string
	Score         float64
	ViewScore     float64
	PurchaseScore float64
	// Reason is ReasonCoBought when the purchase part of the blend is at
	// least the view part, else ReasonCoViewed.
	Reason string
}

// Policy holds the knobs of all three keys and the queries. The zero value
// of a field takes DefaultPolicy's. Changing the half-lives, the weights or
// RebaseInterval of a running deployment changes how stored scores read:
// scores already kept were summed under the old values.
type Policy struct {
	// SessionGap splits views without a session id into sessions.
	SessionGap time.Duration
	// MaxPairsPerEvent bounds the other items a view or a bought line is
	// paired with (the most recent ones); each gives two pairs.
	MaxPairsPerEvent int
	MaxRecent        int
	MaxBought        int
	MaxEventIDs      int

	ViewHalfLife     time.Duration
	PurchaseHalfLife time.Duration
	ViewWeight       float64
	PurchaseWeight   float64
	// RebaseInterval is how far an item's clock may run ahead of its epoch
	// before the epoch moves up to it. It bounds how stale the stored order
	// is (see the package documentation).
	RebaseInterval time.Duration
	MaxNeighbors   int

	// K is the number of recommendations a query returns by default.
	K int
	// UserSeeds is how many of a user's latest distinct items ForUser
	// blends.
	UserSeeds int
}

// DefaultPolicy: half an hour splits sessions; co-views halve in a day,
// co-purchases in a week and weigh five views; 200 neighbors per item.
func DefaultPolicy() Policy {
	return Policy{
		SessionGap:       30 * time.Minute,
		MaxPairsPerEvent: 20,
		MaxRecent:        50,
		MaxBought:        50,
		MaxEventIDs:      200,
		ViewHalfLife:     24 * time.Hour,
		PurchaseHalfLife: 7 * 24 * time.Hour,
		ViewWeight:       1,
		PurchaseWeight:   5,
		RebaseInterval:   time.Hour,
		MaxNeighbors:     200,
		K:                10,
		UserSeeds:        10,
	}
}

// WithDefaults fills every zero field from DefaultPolicy.
func (p Policy) WithDefaults() Policy {
	d := DefaultPolicy()
	setDur := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	setInt := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setDur(&p.SessionGap, d.SessionGap)
	setDur(&p.ViewHalfLife, d.ViewHalfLife)
	setDur(&p.PurchaseHalfLife, d.PurchaseHalfLife)
	setDur(&p.RebaseInterval, d.RebaseInterval)
	setInt(&p.MaxPairsPerEvent, d.MaxPairsPerEvent)
	setInt(&p.MaxRecent, d.MaxRecent)
	setInt(&p.MaxBought, d.MaxBought)
	setInt(&p.MaxEventIDs, d.MaxEventIDs)
	setInt(&p.MaxNeighbors, d.MaxNeighbors)
	setInt(&p.K, d.K)
	setInt(&p.UserSeeds, d.UserSeeds)
	if p.ViewWeight == 0 && p.PurchaseWeight == 0 {
		p.ViewWeight, p.PurchaseWeight = d.ViewWeight, d.PurchaseWeight
	}
	return p
}

// ErrPolicy is wrapped by every error Validate returns.
var ErrPolicy = errors.New("recommendations: invalid policy")

// maxGrowthExponent bounds how much one occurrence can outweigh one at the
// epoch (2^32), so forward-decayed sums stay far from float64 overflow.
const maxGrowthExponent = 32

// Validate checks a policy after WithDefaults.
func (p Policy) Validate() error {
	switch {
	case !finite(p.ViewWeight) || !finite(p.PurchaseWeight) || p.ViewWeight < 0 || p.PurchaseWeight < 0:
		return fmt.Errorf("%w: weights must be finite and not negative", ErrPolicy)
	case p.ViewWeight+p.PurchaseWeight <= 0:
		return fmt.Errorf("%w: one weight must be positive", ErrPolicy)
	case p.RebaseInterval > maxGrowthExponent*min(p.ViewHalfLife, p.PurchaseHalfLife):
		return fmt.Errorf("%w: rebase interval %v is over %d half-lives", ErrPolicy, p.RebaseInterval, maxGrowthExponent)
	}
	return nil
}

func (p Policy) String() string {
	return fmt.Sprintf("session_gap=%v max_pairs_per_event=%d max_recent=%d max_bought=%d max_event_ids=%d "+
		"view_half_life=%v purchase_half_life=%v view_weight=%g purchase_weight=%g rebase_interval=%v "+
		"max_neighbors=%d k=%d user_seeds=%d",
		p.SessionGap, p.MaxPairsPerEvent, p.MaxRecent, p.MaxBought, p.MaxEventIDs,
		p.ViewHalfLife, p.PurchaseHalfLife, p.ViewWeight, p.PurchaseWeight, p.RebaseInterval,
		p.MaxNeighbors, p.K, p.UserSeeds)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
