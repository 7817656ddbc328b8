package pricing

import (
	"slices"
	"time"
)

// CampaignKind says how a campaign takes its discount off the base price.
type CampaignKind uint8

const (
	CampaignUnknown CampaignKind = iota
	// CampaignPercent takes PercentBps basis points of the base price off.
	CampaignPercent
	// CampaignFixed takes Amount minor units off.
	CampaignFixed
)

var campaignKindNames = [...]string{"unknown", "percent", "fixed"}

func (k CampaignKind) String() string {
	if int(k) < len(campaignKindNames) {
		return campaignKindNames[k]
	}
	return "unknown"
}

// Campaign is a discount on one SKU, active on [Start, End).
type Campaign struct {
	ID         string
	Kind       CampaignKind
	PercentBps int64
	Amount     int64
	Start, End time.Time
}

// ActiveAt reports whether the campaign applies at t.
func (c Campaign) ActiveAt(t time.Time) bool {
	return !t.Before(c.Start) && t.Before(c.End)
}

// Kind says what a command asks for.
type Kind uint8

const (
	KindUnknown Kind = iota
	KindSetBase
	KindUpsertCampaign
	KindEndCampaign
	// KindCheck asks for a Quote; it changes nothing but the clock.
	KindCheck
	// KindTick brings the SKU up to the command's time, as Tick does. Only
	// the ticker sends it, for SKUs whose NextChange has come.
	KindTick
)

var kindNames = [...]string{"unknown", "set_base", "upsert_campaign", "end_campaign", "check", "tick"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Command is one request for a SKU. Which fields count depends on Kind:
// BasePrice and Currency for KindSetBase, Campaign for KindUpsertCampaign,
// CampaignID for KindEndCampaign, OrderID and Line for KindCheck; KindTick
// uses only Time.
type Command struct {
	ID         string
	Kind       Kind
	SKU        string
	Time       time.Time
	BasePrice  int64
	Currency   string
	Campaign   Campaign
	CampaignID string
	OrderID    string
	Line       int32
}

// InventorySignal is what one inventory event tells pricing about demand.
type InventorySignal struct {
	SKU  string
	Time time.Time
	// Offset is the inventory command offset the event carries. It grows
	// per SKU; a redelivered or re-answered event repeats an old one.
	Offset int64
	// Reserved is the quantity of a RESERVED event, 0 for other events.
	Reserved int64
	// Available is on hand minus reserved right after the event; it counts
	// only when StockKnown.
	Available  int64
	StockKnown bool
}

// ReasonCommandIDConflict is the reason a command whose id names another
// command is set aside.
const ReasonCommandIDConflict = "command_id_conflict"

// Rule names in contributions.
const (
	RuleDemand         = "demand"
	RuleCampaignPrefix = "campaign:"
)

// Causes of a PriceChanged, stable: consumers and dashboards match on them.
const (
	CauseBasePrice       = "base_price"
	CauseCampaignStarted = "campaign_started"
	CauseCampaignEnded   = "campaign_ended"
	CauseCampaignUpdated = "campaign_updated"
	CauseDemand          = "demand"
)

// Contribution is one rule's part of a price. Rule is "campaign:<id>" or
// "demand"; Amount is signed (a discount is negative); Detail says how the
// amount was reached, for people.
type Contribution struct {
	Rule   string
	Amount int64
	Detail string
}

// PriceChanged is published whenever a SKU's price or its explanation
// changes. Price == Base + the sum of the contributions' amounts.
type PriceChanged struct {
	SKU, Currency string
	Base, Price   int64
	Contributions []Contribution
	Cause         string
	Time          time.Time
	// Version counts the SKU's price changes, from 1.
	Version int64
	// CommandID is the command that made the change, empty when the change
	// came from time passing or from the inventory events.
	CommandID string
}

// Quote is a price at a given time, the answer to a CheckPrice.
type Quote struct {
	OrderID, SKU string
	Line         int32
	// Found is false when the SKU has no base price; the rest is then zero.
	Found         bool
	Price         int64
	Currency      string
	Time          time.Time
	Contributions []Contribution
}

// DemandBucket counts the units reserved in the interval starting at Start.
type DemandBucket struct {
	Start    time.Time
	Reserved int64
}

// Demand is what a SKU learned from the inventory events; see the package
// comment.
type Demand struct {
	// Buckets are the intervals not yet closed, oldest first.
	Buckets []DemandBucket
	// Available is the stock left after the newest inventory event.
	Available  int64
	StockKnown bool
	// AdjustmentBps is the demand adjustment in basis points of the base.
	AdjustmentBps int64
	// AdjustedAt is the start of the last interval closed; zero before the
	// first signal.
	AdjustedAt time.Time
	// Offset is the highest inventory offset whose reservation was counted,
	// StockOffset the highest whose stock was taken; both -1 at first.
	Offset      int64
	StockOffset int64
	// Due is when closing an interval next moves the adjustment, zero when
	// it is settled.
	Due time.Time
}

// Applied remembers a command id for the dedupe window.
type Applied struct {
	CommandID string
	At        time.Time
	// Fingerprint is the command's Fingerprint; zero for commands
	// remembered before fingerprints were kept, which match any.
	Fingerprint uint64
}

// State is everything the processor keeps for one SKU.
type State struct {
	SKU  string
	Base int64
	// Currency is empty until the first base price; without it the SKU has
	// no price.
	Currency  string
	Campaigns []Campaign
	Demand    Demand
	// Latest is the newest PriceChanged; Version 0 before the first.
	Latest PriceChanged
	// Changes are the recent PriceChanged, oldest first, bounded by
	// Policy.HistoryLimit.
	Changes []PriceChanged
	Applied []Applied
	// Clock is the latest input time seen.
	Clock time.Time
}

// NewState is the state of a SKU never seen.
func NewState() State {
	return State{Demand: Demand{Offset: -1, StockOffset: -1}}
}

// Current is the newest PriceChanged, false before the first.
func (s State) Current() (PriceChanged, bool) {
	return s.Latest, s.Latest.Version > 0
}

// History returns up to limit recent changes, newest first; limit <= 0
// returns all that are kept.
func (s State) History(limit int) []PriceChanged {
	n := len(s.Changes)
	if limit > 0 && limit < n {
		n = limit
	}
	out := make([]PriceChanged, 0, n)
	for i := len(s.Changes) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, s.Changes[i])
	}
	return out
}

// Campaign returns the SKU's campaign with the id, if it is kept.
func (s State) Campaign(id string) (Campaign, bool) {
	if i := s.campaignIndex(id); i >= 0 {
		return s.Campaigns[i], true
	}
	return Campaign{}, false
}

func (s State) campaignIndex(id string) int {
	return slices.IndexFunc(s.Campaigns, func(c Campaign) bool { return c.ID == id })
}

// Policy bounds what a SKU remembers and sets the demand rule.
type Policy struct {
	// HistoryLimit is how many recent PriceChanged a SKU keeps; 0 keeps none.
	HistoryLimit int
	// DedupeWindow is how long a command id is remembered. A retry later
	// than this is treated as a new command.
	DedupeWindow time.Duration
	// MaxApplied caps the command ids remembered per SKU; the oldest are
	// forgotten first. 0 means no cap.
	MaxApplied int
	// CampaignRetention is how long an ended campaign is kept, so that a
	// CheckPrice for an order placed before the end but processed after it
	// still gets the campaign price.
	CampaignRetention time.Duration
	// MaxCampaigns caps the campaigns kept per SKU; see the package
	// comment for which go first. 0 means no cap.
	MaxCampaigns int
	// MaxCampaignDiscountBps limits a campaign's discount to this many
	// basis points of the base price, whatever the campaign asks: a shop's
	// rule such as "never more than 30 % off". 0 means no limit. Which
	// campaign applies is still decided by the discounts they ask for.
	MaxCampaignDiscountBps int64
	Demand                 DemandPolicy
}

// DemandPolicy is the demand rule; see the package comment.
type DemandPolicy struct {
	// Interval is the bucket width and the time between two steps of the
	// adjustment; <= 0 turns the demand adjustment off.
	Interval time.Duration
	// GainBps is the target adjustment for a pressure of 1, that is for as
	// many units reserved in one interval as there are left.
	GainBps int64
	// FloorBps and CeilingBps bound the target. A quiet SKU's adjustment
	// rests at max(FloorBps, 0): pressure is never negative.
	FloorBps, CeilingBps int64
	// MaxStepBps bounds how far the adjustment moves per interval; <= 0
	// lets it jump to the target at once.
	MaxStepBps int64
}

// DefaultPolicy keeps 100 changes, remembers commands for 15 minutes (up
// to 4096 per SKU), keeps ended campaigns for a day (at most 64 per SKU),
// and lets demand raise a price by up to 20 %, 2 % per minute: the
// ceiling is reached when a fifth of the stock left goes in one minute.
func DefaultPolicy() Policy {
	return Policy{
		HistoryLimit:      100,
		DedupeWindow:      15 * time.Minute,
		MaxApplied:        4096,
		CampaignRetention: 24 * time.Hour,
		MaxCampaigns:      64,
		Demand: DemandPolicy{
			Interval:   time.Minute,
			GainBps:    10_000,
			FloorBps:   0,
			CeilingBps: 2_000,
			MaxStepBps: 200,
		},
	}
}
