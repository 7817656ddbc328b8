package pricing

import (
	"math"
	"math/bits"
	"slices"
	"strconv"
	"time"
)

// Observe takes one inventory signal into the SKU's demand and returns the
// new state and the price changes to publish. Like Apply it first moves
// the clock to the signal's time, publishing what was crossed on the way.
// A reservation is counted only if its offset is above every offset
// counted before, so a redelivered or re-answered event counts once; the
// stock is taken from the newest offset only, so an old event never brings
// back an old stock level.
func Observe(s State, sig InventorySignal, p Policy) (State, []PriceChanged) {
	s = s.clone()
	p = p.normalized()
	if s.SKU == "" {
		s.SKU = sig.SKU
	}
	changes := s.advance(sig.Time, p)
	d := &s.Demand
	if p.Demand.Interval > 0 && d.AdjustedAt.IsZero() {
		// The first signal starts the intervals: the one it falls in is
		// the first to be closed.
		d.AdjustedAt = s.Clock.Truncate(p.Demand.Interval).Add(-p.Demand.Interval)
	}
	if sig.StockKnown && sig.Offset >= d.StockOffset {
		d.Available, d.StockKnown, d.StockOffset = sig.Available, true, sig.Offset
	}
	if sig.Reserved > 0 && sig.Offset > d.Offset {
		d.Offset = sig.Offset
		if p.Demand.Interval > 0 {
			d.add(s.Clock.Truncate(p.Demand.Interval), sig.Reserved)
		}
	}
	d.Due = d.due(p.Demand)
	return s, s.publish(changes, "", p)
}

// add counts reserved units in the bucket starting at start. A late event
// lands in the bucket of the clock, not of its own time: closed intervals
// are never reopened, so a replay closes them exactly as the first run did.
func (d *Demand) add(start time.Time, qty int64) {
	if n := len(d.Buckets); n > 0 && d.Buckets[n-1].Start.Equal(start) {
		d.Buckets[n-1].Reserved = addSat(d.Buckets[n-1].Reserved, qty)
		return
	}
	d.Buckets = append(d.Buckets, DemandBucket{Start: start, Reserved: qty})
}

// close closes every interval that ended at or before now: each moves the
// adjustment one step toward the target its reservations give. A run of
// empty intervals is taken at once (k steps toward the resting target), so
// a SKU quiet for a year costs no more than one quiet for a minute.
// Closed buckets are dropped, which keeps them bounded: only the open
// interval has one.
func (d *Demand) close(now time.Time, p DemandPolicy) {
	if p.Interval <= 0 {
		d.Buckets, d.AdjustmentBps, d.Due = nil, 0, time.Time{}
		return
	}
	if d.AdjustedAt.IsZero() {
		return
	}
	open := d.AdjustedAt.Add(p.Interval)
	for end := open.Add(p.Interval); !end.After(now); end = open.Add(p.Interval) {
		r, next := d.reservedIn(open, end)
		k := int64(1)
		if r == 0 {
			limit := now
			if !next.IsZero() && next.Before(limit) {
				limit = next
			}
			k = int64(limit.Sub(open) / p.Interval)
		}
		if d.StockKnown {
			d.AdjustmentBps = p.step(d.AdjustmentBps, p.target(r, d.Available), k)
		}
		open = open.Add(time.Duration(k) * p.Interval)
	}
	d.AdjustedAt = open.Add(-p.Interval)
	d.Buckets = slices.DeleteFunc(d.Buckets, func(b DemandBucket) bool { return b.Start.Before(open) })
	d.Due = d.due(p)
}

// due is the end of the first interval whose close moves the adjustment:
// the open one if its reservations move it (or a bucket lies beyond it),
// else the next, which, empty, moves it toward rest unless it is there.
func (d *Demand) due(p DemandPolicy) time.Time {
	if p.Interval <= 0 || !d.StockKnown || d.AdjustedAt.IsZero() {
		return time.Time{}
	}
	open := d.AdjustedAt.Add(p.Interval)
	end := open.Add(p.Interval)
	r, next := d.reservedIn(open, end)
	a := p.step(d.AdjustmentBps, p.target(r, d.Available), 1)
	switch {
	case a != d.AdjustmentBps || !next.IsZero():
		return end
	case a != p.rest():
		return end.Add(p.Interval)
	}
	return time.Time{}
}

// reservedIn sums the buckets starting in [from, to) and gives the start
// of the first bucket at or after to, zero if none.
func (d *Demand) reservedIn(from, to time.Time) (int64, time.Time) {
	var (
		sum  int64
		next time.Time
	)
	for _, b := range d.Buckets {
		switch {
		case b.Start.Before(from):
		case b.Start.Before(to):
			sum = addSat(sum, b.Reserved)
		case next.IsZero() || b.Start.Before(next):
			next = b.Start
		}
	}
	return sum, next
}

// target is GainBps * pressure, pressure being the units reserved in one
// interval over the units left (at least 1), within floor and ceiling.
func (p DemandPolicy) target(reserved, available int64) int64 {
	t := mulDivSat(max(reserved, 0), p.GainBps, max(available, 1), false)
	return min(max(t, p.FloorBps), p.CeilingBps)
}

// rest is where the adjustment settles when nothing is reserved.
func (p DemandPolicy) rest() int64 { return p.target(0, 1) }

// step moves adj toward target by at most k * MaxStepBps.
func (p DemandPolicy) step(adj, target, k int64) int64 {
	diff := target - adj
	if p.MaxStepBps > 0 {
		limit := p.MaxStepBps
		if k > 1 {
			limit = mulDivSat(p.MaxStepBps, k, 1, false)
		}
		diff = min(max(diff, -limit), limit)
	}
	return adj + diff
}

// Bounds on the policy's basis points: a demand adjustment never takes
// more than the whole base price off, nor adds more than 100 times it, so
// base * bps stays far inside int64 for every valid base price.
const (
	minDemandBps = -10_000
	maxDemandBps = 1_000_000
)

func (p Policy) normalized() Policy {
	d := &p.Demand
	d.FloorBps = min(max(d.FloorBps, minDemandBps), maxDemandBps)
	d.CeilingBps = min(max(d.CeilingBps, d.FloorBps), maxDemandBps)
	d.GainBps = max(d.GainBps, 0)
	return p
}

// bpsOf is amount * bps / 10000, rounded half away from zero, saturating
// instead of wrapping.
func bpsOf(amount, bps int64) int64 {
	neg := (amount < 0) != (bps < 0)
	q := mulDivSat(abs(amount), abs(bps), 10_000, true)
	if neg {
		return -q
	}
	return q
}

// mulDivSat is a * b / c for a, b >= 0 and c > 0, rounded half up if
// round, else down, saturating at MaxInt64.
func mulDivSat(a, b, c int64, round bool) int64 {
	if a < 0 || b < 0 || c <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi >= uint64(c) {
		return math.MaxInt64
	}
	q, r := bits.Div64(hi, lo, uint64(c))
	if round && r >= uint64(c)-r {
		q++
	}
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(q)
}

func abs(x int64) int64 {
	if x < 0 {
		if x == math.MinInt64 {
			return math.MaxInt64
		}
		return -x
	}
	return x
}

func addSat(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func demandDetail(adj int64) string {
	sign := ""
	if adj > 0 {
		sign = "+"
	}
	return sign + itoa(adj) + " bps of the base price"
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func pad2(n int64) string {
	if n < 10 {
		return "0" + itoa(n)
	}
	return itoa(n)
}
