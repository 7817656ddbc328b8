package pricing

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strings"
	"time"
)

// capNote starts the part of a campaign's detail that tells its discount
// was capped to keep the price from going below 0.
const capNote = ", capped at "

// limitNote starts the part of a campaign's detail that tells its discount
// was limited by Policy.MaxCampaignDiscountBps.
const limitNote = ", limited by the rules to "

// Apply applies one command to a SKU's state and returns the new state, the
// price changes to publish, in time order, and, for KindCheck, the Quote.
// The input state is not modified.
//
// Before acting, the state's clock moves to the command's time (never
// back), and every campaign boundary and demand step crossed on the way is
// published at its own time, as Tick would have. A command id seen within
// the dedupe window, and a command that breaks the rules the schema layer
// enforces, change nothing and yield nothing (an invalid check yields no
// quote either). A check is never deduplicated: it only reads. Nor is a
// tick, which is Tick at the command's time: a repeated one finds nothing
// left to publish, and remembering its id would only crowd out the ids
// that dedupe exists for.
func Apply(s State, c Command, p Policy) (State, []PriceChanged, *Quote) {
	if !c.valid() {
		return s, nil, nil
	}
	if c.Kind == KindTick {
		next, changes := Tick(s, c.Time, p)
		return next, changes, nil
	}
	if c.Kind != KindCheck && s.applied(c.ID, c.Time, p) {
		return s, nil, nil
	}
	s = s.clone()
	p = p.normalized()
	if s.SKU == "" {
		s.SKU = c.SKU
	}
	changes := s.advance(c.Time, p)
	now := s.Clock

	switch c.Kind {
	case KindSetBase:
		s.Base, s.Currency = c.BasePrice, c.Currency
	case KindUpsertCampaign:
		s.upsertCampaign(c.Campaign, p)
	case KindEndCampaign:
		s.endCampaign(c.CampaignID, now)
	case KindCheck:
		changes = s.publish(changes, "", p)
		q, _ := PriceAt(s, c.Time, p)
		q.OrderID, q.SKU, q.Line = c.OrderID, c.SKU, c.Line
		return s, changes, &q
	}
	changes = s.publish(changes, c.ID, p)
	s.remember(Applied{CommandID: c.ID, At: now, Fingerprint: c.Fingerprint()}, p)
	return s, changes, nil
}

// Conflicts reports whether c's id names another command the SKU
// remembers: one of another kind or with another body. Apply changes
// nothing for it, as for any remembered id; the topology sets it aside with
// the reason, as processors/inventory answers it.
func Conflicts(s State, c Command, p Policy) bool {
	if c.ID == "" || c.Kind == KindCheck || c.Kind == KindTick {
		return false
	}
	horizon := maxTime(s.Clock, c.Time).Add(-p.DedupeWindow)
	fp := c.Fingerprint()
	return slices.ContainsFunc(s.Applied, func(a Applied) bool {
		return a.CommandID == c.ID && !a.At.Before(horizon) && a.Fingerprint != 0 && a.Fingerprint != fp
	})
}

// Fingerprint identifies what a command asks for, apart from its id and
// time: the first 64 bits of a SHA-256 of its kind and the fields the kind
// reads.
func (c Command) Fingerprint() uint64 {
	h := sha256.New()
	var b [8]byte
	num := func(v int64) {
		binary.BigEndian.PutUint64(b[:], uint64(v))
		h.Write(b[:])
	}
	str := func(v string) {
		num(int64(len(v)))
		h.Write([]byte(v))
	}
	num(int64(c.Kind))
	switch c.Kind {
	case KindSetBase:
		num(c.BasePrice)
		str(c.Currency)
	case KindUpsertCampaign:
		str(c.Campaign.ID)
		num(int64(c.Campaign.Kind))
		num(c.Campaign.PercentBps)
		num(c.Campaign.Amount)
		num(c.Campaign.Start.UnixMilli())
		num(c.Campaign.End.UnixMilli())
	case KindEndCampaign:
		str(c.CampaignID)
	}
	fp := binary.BigEndian.Uint64(h.Sum(nil))
	if fp == 0 {
		fp = 1
	}
	return fp
}

// Tick moves the SKU's clock to now and publishes what time alone changed:
// campaigns that started or ended, and demand steps, each at its own time.
// The ticker sends a KindTick command, which Apply maps here, for SKUs
// whose NextChange has come.
func Tick(s State, now time.Time, p Policy) (State, []PriceChanged) {
	s = s.clone()
	p = p.normalized()
	changes := s.advance(now, p)
	return s, s.publish(changes, "", p)
}

// NextChange is the earliest time after the clock at which time alone may
// change the SKU's published price: a campaign start or end, or the close
// of a demand interval that moves the adjustment. Zero when there is none,
// or when the SKU has no base price (nothing is published then, and the
// next command catches up exactly).
func NextChange(s State) time.Time {
	if s.Currency == "" {
		return time.Time{}
	}
	return s.nextBoundary()
}

// PriceAt is the SKU's price at t: the current base price, the demand
// adjustment as of the state's clock, and the campaign that applies at t.
// It is false, with Found unset, when the SKU has no base price. A reader
// of a stored state that wants the price now should Tick it to now first,
// so demand intervals that closed since are taken into account. p's
// MaxCampaignDiscountBps limits the campaign's discount.
func PriceAt(s State, t time.Time, p Policy) (Quote, bool) {
	q := Quote{SKU: s.SKU, Time: t}
	if s.Currency == "" {
		return q, false
	}
	q.Found, q.Currency = true, s.Currency
	q.Price, q.Contributions = s.evaluate(t, p.MaxCampaignDiscountBps)
	return q, true
}

// evaluate applies the rules to the base price in a fixed order, demand
// then campaign, and caps each so the running price never drops below 0;
// the price is therefore always the base plus the listed amounts. A
// campaign's discount is limited to maxDiscountBps of the base first, when
// that is positive.
func (s State) evaluate(t time.Time, maxDiscountBps int64) (int64, []Contribution) {
	price := s.Base
	var out []Contribution
	if adj := s.Demand.AdjustmentBps; s.Demand.StockKnown && adj != 0 {
		d := bpsOf(s.Base, adj)
		if price+d < 0 {
			d = -price
		}
		price += d
		out = append(out, Contribution{Rule: RuleDemand, Amount: d, Detail: demandDetail(adj)})
	}
	if c, ok := s.bestCampaign(t); ok {
		off, detail := c.discount(s.Base), c.describe()
		if limit := bpsOf(s.Base, min(maxDiscountBps, maxPercentBps)); maxDiscountBps > 0 && off > limit {
			off = max(limit, 0)
			detail += limitNote + itoa(off)
		}
		if off > price {
			off = max(price, 0)
			detail += capNote + itoa(off)
		}
		price -= off
		out = append(out, Contribution{Rule: RuleCampaignPrefix + c.ID, Amount: -off, Detail: detail})
	}
	return price, out
}

// bestCampaign picks the one campaign that applies at t: the largest
// discount on the base price, ties to the smallest id so the choice does
// not depend on the order campaigns arrived in.
func (s State) bestCampaign(t time.Time) (Campaign, bool) {
	var (
		best  Campaign
		off   int64
		found bool
	)
	for _, c := range s.Campaigns {
		if c.Kind == CampaignUnknown || !c.ActiveAt(t) {
			continue
		}
		d := c.discount(s.Base)
		if !found || d > off || (d == off && c.ID < best.ID) {
			best, off, found = c, d, true
		}
	}
	return best, found
}

func (c Campaign) discount(base int64) int64 {
	switch c.Kind {
	case CampaignPercent:
		return max(bpsOf(base, min(c.PercentBps, maxPercentBps)), 0)
	case CampaignFixed:
		return max(c.Amount, 0)
	}
	return 0
}

func (c Campaign) describe() string {
	if c.Kind == CampaignPercent {
		return itoa(c.PercentBps/100) + "." + pad2(c.PercentBps%100) + "% off"
	}
	return itoa(c.Amount) + " off"
}

// advance moves the clock to now. Campaign boundaries and demand steps
// strictly before now are published at their own times, so the history
// shows, say, a campaign that started and ended while the SKU was quiet;
// those at now are left for the caller's single publish, together with
// whatever the input itself changes.
func (s *State) advance(now time.Time, p Policy) []PriceChanged {
	var changes []PriceChanged
	for {
		b := s.nextBoundary()
		if b.IsZero() || !b.Before(now) {
			break
		}
		s.Clock = b
		s.Demand.close(b, p.Demand)
		changes = s.publish(changes, "", p)
	}
	if now.After(s.Clock) {
		s.Clock = now
	}
	s.Demand.close(s.Clock, p.Demand)
	s.prune(p)
	return changes
}

// nextBoundary is the earliest campaign start or end, or demand step,
// after the clock.
func (s State) nextBoundary() time.Time {
	next := s.Demand.Due
	if !next.After(s.Clock) {
		next = time.Time{}
	}
	for _, c := range s.Campaigns {
		for _, b := range [2]time.Time{c.Start, c.End} {
			if b.After(s.Clock) && (next.IsZero() || b.Before(next)) {
				next = b
			}
		}
	}
	return next
}

// publish appends a PriceChanged, stamped with the clock, if the price at
// the clock differs from the last one published in base, currency, price
// or any contribution.
func (s *State) publish(changes []PriceChanged, commandID string, p Policy) []PriceChanged {
	q, ok := PriceAt(*s, s.Clock, p)
	if !ok {
		return changes
	}
	prev, had := s.Current()
	if had && prev.Base == s.Base && prev.Currency == s.Currency && prev.Price == q.Price &&
		slices.Equal(prev.Contributions, q.Contributions) {
		return changes
	}
	pc := PriceChanged{
		SKU:           s.SKU,
		Currency:      s.Currency,
		Base:          s.Base,
		Price:         q.Price,
		Contributions: q.Contributions,
		Cause:         cause(prev, had, s.Base, s.Currency, q.Contributions),
		Time:          s.Clock,
		Version:       prev.Version + 1,
		CommandID:     commandID,
	}
	s.Latest = pc
	s.Changes = append(s.Changes, pc)
	if over := len(s.Changes) - max(p.HistoryLimit, 0); over > 0 {
		s.Changes = slices.Delete(s.Changes, 0, over)
	}
	return append(changes, pc)
}

// cause names the most fundamental difference from the previous price:
// the base first, then the campaign, then demand.
func cause(prev PriceChanged, had bool, base int64, currency string, now []Contribution) string {
	if !had || prev.Base != base || prev.Currency != currency {
		return CauseBasePrice
	}
	before, wasOn := campaignOf(prev.Contributions)
	after, isOn := campaignOf(now)
	switch {
	case !wasOn && isOn:
		return CauseCampaignStarted
	case wasOn && !isOn:
		return CauseCampaignEnded
	case before != after:
		return CauseCampaignUpdated
	}
	return CauseDemand
}

// campaignOf identifies the applied campaign by its rule and its terms.
// The cap is left out: a discount capped differently because demand moved
// the price is a demand change, not a campaign one.
func campaignOf(cs []Contribution) (string, bool) {
	for _, c := range cs {
		if strings.HasPrefix(c.Rule, RuleCampaignPrefix) {
			terms, _, _ := strings.Cut(c.Detail, capNote)
			return c.Rule + "\x00" + terms, true
		}
	}
	return "", false
}

// upsertCampaign adds or replaces a campaign. Past MaxCampaigns the ones
// that end first go: ended campaigns before running ones, and a running
// campaign before one that has not started.
func (s *State) upsertCampaign(c Campaign, p Policy) {
	if i := s.campaignIndex(c.ID); i >= 0 {
		s.Campaigns[i] = c
	} else {
		s.Campaigns = append(s.Campaigns, c)
	}
	if p.MaxCampaigns <= 0 || len(s.Campaigns) <= p.MaxCampaigns {
		return
	}
	slices.SortStableFunc(s.Campaigns, func(a, b Campaign) int { return a.End.Compare(b.End) })
	s.Campaigns = slices.Delete(s.Campaigns, 0, len(s.Campaigns)-p.MaxCampaigns)
}

// endCampaign cuts a campaign short at now rather than deleting it, so a
// late check for an order placed while it ran still gets its price. One
// that has not started is dropped.
func (s *State) endCampaign(id string, now time.Time) {
	i := s.campaignIndex(id)
	if i < 0 {
		return
	}
	c := &s.Campaigns[i]
	if now.Before(c.End) {
		c.End = now
	}
	if !c.Start.Before(c.End) {
		s.Campaigns = slices.Delete(s.Campaigns, i, i+1)
	}
}

// prune forgets command ids older than the dedupe window and campaigns
// ended longer than the retention ago. Neither can change a price at or
// after the clock.
func (s *State) prune(p Policy) {
	horizon := s.Clock.Add(-p.DedupeWindow)
	s.Applied = slices.DeleteFunc(s.Applied, func(a Applied) bool { return a.At.Before(horizon) })
	gone := s.Clock.Add(-p.CampaignRetention)
	s.Campaigns = slices.DeleteFunc(s.Campaigns, func(c Campaign) bool { return c.End.Before(gone) })
}

func (s *State) remember(a Applied, p Policy) {
	s.Applied = append(s.Applied, a)
	if p.MaxApplied > 0 && len(s.Applied) > p.MaxApplied {
		s.Applied = slices.Delete(s.Applied, 0, len(s.Applied)-p.MaxApplied)
	}
}

// applied reports whether id is remembered at the time the command would
// be decided, so a retry past the window counts as new whether or not
// another input has pruned the id yet.
func (s State) applied(id string, t time.Time, p Policy) bool {
	if id == "" {
		return false
	}
	horizon := maxTime(s.Clock, t).Add(-p.DedupeWindow)
	return slices.ContainsFunc(s.Applied, func(a Applied) bool {
		return a.CommandID == id && !a.At.Before(horizon)
	})
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// clone copies the slices so no function here writes to its caller's
// state. Contributions are never written in place, so they are shared.
func (s State) clone() State {
	s.Campaigns = slices.Clone(s.Campaigns)
	s.Demand.Buckets = slices.Clone(s.Demand.Buckets)
	s.Changes = slices.Clone(s.Changes)
	s.Applied = slices.Clone(s.Applied)
	return s
}

// Limits Apply enforces itself, equal to those in schemas, so that Apply is
// total on any Command value however it was built and the arithmetic stays
// far from int64 overflow.
const (
	maxPrice      = 1_000_000_000_000
	maxIDBytes    = 128
	maxPercentBps = 10_000
)

func (c Command) valid() bool {
	if c.Time.IsZero() {
		return false
	}
	switch c.Kind {
	case KindSetBase:
		return c.BasePrice >= 0 && c.BasePrice <= maxPrice && validCurrency(c.Currency)
	case KindUpsertCampaign:
		return c.Campaign.valid()
	case KindEndCampaign:
		return c.CampaignID != "" && len(c.CampaignID) <= maxIDBytes
	case KindCheck:
		return c.OrderID != "" && c.Line >= 0
	case KindTick:
		return true
	}
	return false
}

func (c Campaign) valid() bool {
	if c.ID == "" || len(c.ID) > maxIDBytes || !c.Start.Before(c.End) {
		return false
	}
	switch c.Kind {
	case CampaignPercent:
		return c.PercentBps >= 1 && c.PercentBps <= maxPercentBps
	case CampaignFixed:
		return c.Amount >= 1 && c.Amount <= maxPrice
	}
	return false
}

func validCurrency(cur string) bool {
	if len(cur) != 3 {
		return false
	}
	for i := range len(cur) {
		if cur[i] < 'A' || cur[i] > 'Z' {
			return false
		}
	}
	return true
}
