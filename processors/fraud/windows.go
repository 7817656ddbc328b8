package fraud

import (
	"sort"
	"time"
)

// Bucket counts what happened in [Start, Start+width) of its tier.
type Bucket struct {
	Start  time.Time
	Orders int64
	// Amount sums the orders' amounts in minor units; currencies are not
	// converted (a shop's traffic is mostly in one).
	Amount int64
	Failed int64
}

// tier is one width of bucket and how long such buckets are kept.
type tier struct {
	width, retain int64 // milliseconds
}

var (
	fineTier   = tier{width: 10_000, retain: 60_000}
	minuteTier = tier{width: 60_000, retain: 3_600_000}
	hourTier   = tier{width: 3_600_000, retain: 86_400_000}
)

// Windows, by the tier that answers them.
const (
	window1m  = 60_000
	window1h  = 3_600_000
	window24h = 86_400_000
)

// MaxBuckets is the most buckets an entity holds: each tier keeps the
// buckets overlapping its retention, which is retain/width whole buckets
// plus the partial oldest one.
const MaxBuckets = (60/10 + 1) + (60 + 1) + (24 + 1)

func (tr tier) start(ms int64) int64 { return ms - ms%tr.width }

// retained reports whether the bucket starting at start still overlaps
// (clock-retain, clock].
func (tr tier) retained(start, clock int64) bool { return start+tr.width > clock-tr.retain }

// add counts one event in tier buckets, oldest first; false when the
// event's bucket is no longer retained at clock.
func (tr tier) add(bs []Bucket, ms, clock int64, kind Kind, amount int64) ([]Bucket, bool) {
	start := tr.start(ms)
	if !tr.retained(start, clock) {
		return bs, false
	}
	i := sort.Search(len(bs), func(i int) bool { return bs[i].Start.UnixMilli() >= start })
	if i == len(bs) || bs[i].Start.UnixMilli() != start {
		bs = append(bs, Bucket{})
		copy(bs[i+1:], bs[i:])
		bs[i] = Bucket{Start: time.UnixMilli(start).UTC()}
	}
	switch kind {
	case KindOrder:
		bs[i].Orders++
		bs[i].Amount += amount
	case KindPaymentFailed:
		bs[i].Failed++
	}
	return bs, true
}

// prune drops the buckets no longer retained at clock. Buckets are sorted,
// so they go from the front.
func (tr tier) prune(bs []Bucket, clock int64) []Bucket {
	n := 0
	for n < len(bs) && !tr.retained(bs[n].Start.UnixMilli(), clock) {
		n++
	}
	if n == 0 {
		return bs
	}
	return append(bs[:0:0], bs[n:]...)
}

// counts is one window's sums.
type counts struct {
	orders, amount, failed int64
}

// sum adds the buckets overlapping (now-w, now]: a bucket counts whole as
// soon as any of it is inside, so the window reaches back between w and
// w+width. Buckets that start after now are left out.
func (tr tier) sum(bs []Bucket, now, w int64) counts {
	var c counts
	for _, b := range bs {
		s := b.Start.UnixMilli()
		if s+tr.width <= now-w || s > now {
			continue
		}
		c.orders += b.Orders
		c.amount += b.Amount
		c.failed += b.Failed
	}
	return c
}

// Member is another entity seen with this one: a user's device, a device's
// or a card's user.
type Member struct {
	ID        string
	FirstSeen time.Time
	LastSeen  time.Time
}

// memberRetain is how long a member is remembered after it was last seen.
const memberRetain = window24h

// pruneMembers drops the members last seen at or before clock-24h.
func pruneMembers(ms []Member, clock int64) []Member {
	out := ms[:0:0]
	for _, m := range ms {
		if m.LastSeen.UnixMilli() > clock-memberRetain {
			out = append(out, m)
		}
	}
	return out
}

func memberIndex(ms []Member, id string) int {
	for i := range ms {
		if ms[i].ID == id {
			return i
		}
	}
	return -1
}

// touchMember records id seen at t, keeping at most max members by
// dropping the least recently seen (ties: the smallest id, so replays agree).
// The slice is copied, never changed in place: the caller's entity may
// share it.
func touchMember(ms []Member, id string, t time.Time, max int) []Member {
	out := append([]Member(nil), ms...)
	if i := memberIndex(out, id); i >= 0 {
		if t.After(out[i].LastSeen) {
			out[i].LastSeen = t
		}
		if t.Before(out[i].FirstSeen) {
			out[i].FirstSeen = t
		}
		return out
	}
	out = append(out, Member{ID: id, FirstSeen: t, LastSeen: t})
	for len(out) > max {
		drop := 0
		for i := 1; i < len(out); i++ {
			a, b := out[i], out[drop]
			if a.LastSeen.Before(b.LastSeen) || (a.LastSeen.Equal(b.LastSeen) && a.ID < b.ID) {
				drop = i
			}
		}
		out = append(out[:drop], out[drop+1:]...)
	}
	return out
}

// distinct counts the members seen in (now-w, now] that were known by now.
func distinct(ms []Member, now, w int64) int {
	n := 0
	for _, m := range ms {
		if m.LastSeen.UnixMilli() > now-w && m.FirstSeen.UnixMilli() <= now {
			n++
		}
	}
	return n
}

// arrived counts the members first seen in (now-w, now] after since: new
// devices of a user that already had history.
func arrived(ms []Member, now, w, since int64) int {
	n := 0
	for _, m := range ms {
		f := m.FirstSeen.UnixMilli()
		if f > now-w && f <= now && f > since {
			n++
		}
	}
	return n
}
