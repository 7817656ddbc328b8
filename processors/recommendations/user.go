package recommendations

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strconv"
	"time"

	"github.com/titan-commerce/titan/internal/millis"
	"github.com/titan-commerce/titan/schemas"
)

// ViewConflicts reports whether v's event id names another view the
// history remembers: one of another SKU, session or time. View changes
// nothing for it, as for any remembered id; the topology sets it aside as
// command_id_conflict, the rule every Titan topology holds ids to.
func ViewConflicts(h UserHistory, v ViewEvent) bool {
	i := slices.Index(h.EventIDs, v.EventID)
	if i < 0 || v.EventID == "" {
		return false
	}
	// Prints are aligned with the newest ids.
	j := i - (len(h.EventIDs) - len(h.EventPrints))
	return j >= 0 && h.EventPrints[j] != 0 && h.EventPrints[j] != v.Fingerprint()
}

// Fingerprint identifies what a view says, apart from its id: the first 64
// bits of a SHA-256 of its user, SKU, session and time.
func (v ViewEvent) Fingerprint() uint64 {
	h := sha256.New()
	var b [8]byte
	for _, s := range []string{v.UserID, v.SKU, v.SessionID} {
		binary.BigEndian.PutUint64(b[:], uint64(len(s)))
		h.Write(b[:])
		h.Write([]byte(s))
	}
	binary.BigEndian.PutUint64(b[:], uint64(millis.Of(v.Time)))
	h.Write(b[:])
	fp := binary.BigEndian.Uint64(h.Sum(nil))
	if fp == 0 {
		fp = 1
	}
	return fp
}

// gapSession prefixes the session ids View makes up for views without one.
// It is in Titan's namespace, which schemas.ValidateViewEvent refuses in session ids, so
// a made-up id never equals a storefront's.
const gapSession = schemas.ReservedPrefix + "gap:"

// View applies a view to its user's history and returns the pairs to emit,
// unstamped (see Stamp). A view whose event id the history remembers
// changes nothing. A view of an item the current session already holds
// emits nothing and only refreshes the item's place and time; a new item
// is paired, both ways, with the session's other distinct items, the most
// recent first, at most p.MaxPairsPerEvent of them.
func View(h UserHistory, v ViewEvent, p Policy) (UserHistory, []Pair) {
	p = p.WithDefaults()
	if v.SKU == "" || slices.Contains(h.EventIDs, v.EventID) {
		return h, nil
	}
	h = h.clone()
	if h.UserID == "" {
		h.UserID = v.UserID
	}
	if v.EventID != "" {
		// Prints stay in step with the ids; a history from before prints
		// were kept gets zeros, which match any event.
		for len(h.EventPrints) < len(h.EventIDs) {
			h.EventPrints = append([]uint64{0}, h.EventPrints...)
		}
		h.EventIDs = appendBounded(h.EventIDs, v.EventID, p.MaxEventIDs)
		h.EventPrints = appendBounded(h.EventPrints, v.Fingerprint(), p.MaxEventIDs)
	}
	if v.Time.After(h.Clock) {
		h.Clock = v.Time
	}

	session := sessionOf(h, v, p)
	var others []string
	repeat := -1
	for i := len(h.Recent) - 1; i >= 0; i-- {
		e := h.Recent[i]
		if e.SessionID != session {
			continue
		}
		if e.SKU == v.SKU {
			repeat = i
			break
		}
		if len(others) < p.MaxPairsPerEvent && !slices.Contains(others, e.SKU) {
			others = append(others, e.SKU)
		}
	}
	at := v.Time
	if repeat >= 0 {
		if prev := h.Recent[repeat].At; prev.After(at) {
			at = prev
		}
		h.Recent = slices.Delete(h.Recent, repeat, repeat+1)
		others = nil
	}
	h.Recent = appendBounded(h.Recent, Seen{SKU: v.SKU, At: at, SessionID: session, Signal: SignalView}, p.MaxRecent)
	return h, pairsWith(v.SKU, others, SignalView, v.Time)
}

// sessionOf names the session a view belongs to: its own session id, or
// the made-up session of the user's latest view without one when the two
// are less than p.SessionGap apart, or a new made-up session.
func sessionOf(h UserHistory, v ViewEvent, p Policy) string {
	if v.SessionID != "" {
		return v.SessionID
	}
	for i := len(h.Recent) - 1; i >= 0; i-- {
		e := h.Recent[i]
		if len(e.SessionID) < len(gapSession) || e.SessionID[:len(gapSession)] != gapSession {
			continue
		}
		if d := v.Time.Sub(e.At); d < p.SessionGap && d > -p.SessionGap {
			return e.SessionID
		}
		break
	}
	return gapSession + strconv.FormatInt(millis.Of(v.Time), 10)
}

// Bought applies one bought SKU (an inventory Committed event) to its
// order's basket and returns the pairs to emit, unstamped: a SKU new to the
// order is paired, both ways, with the SKUs already in it, the latest
// first, at most p.MaxPairsPerEvent of them; a SKU already in it emits
// nothing.
func Bought(b Basket, sku, userID string, at time.Time, p Policy) (Basket, []Pair) {
	p = p.WithDefaults()
	if sku == "" || slices.Contains(b.SKUs, sku) {
		return b, nil
	}
	if b.UserID == "" {
		b.UserID = userID
	}
	others := make([]string, 0, min(len(b.SKUs), p.MaxPairsPerEvent))
	for i := len(b.SKUs) - 1; i >= 0 && len(others) < p.MaxPairsPerEvent; i-- {
		others = append(others, b.SKUs[i])
	}
	b.SKUs = append(slices.Clip(b.SKUs), sku)
	return b, pairsWith(sku, others, SignalPurchase, at)
}

// UserBought records a bought SKU in the user's history, so ForUser stops
// recommending it; buying it again moves it to the end.
func UserBought(h UserHistory, sku string, at time.Time, p Policy) UserHistory {
	p = p.WithDefaults()
	if sku == "" {
		return h
	}
	h = h.clone()
	if i := slices.IndexFunc(h.Bought, func(s Seen) bool { return s.SKU == sku }); i >= 0 {
		if prev := h.Bought[i].At; prev.After(at) {
			at = prev
		}
		h.Bought = slices.Delete(h.Bought, i, i+1)
	}
	h.Bought = appendBounded(h.Bought, Seen{SKU: sku, At: at, Signal: SignalPurchase}, p.MaxBought)
	if at.After(h.Clock) {
		h.Clock = at
	}
	return h
}

// pairsWith pairs item with each of others in both directions, keeping the
// order of others, so a replay numbers the pairs the same.
func pairsWith(item string, others []string, sig Signal, at time.Time) []Pair {
	if len(others) == 0 {
		return nil
	}
	out := make([]Pair, 0, 2*len(others))
	for _, o := range others {
		out = append(out,
			Pair{Item: item, Other: o, Signal: sig, Time: at},
			Pair{Item: o, Other: item, Signal: sig, Time: at})
	}
	return out
}

// appendBounded appends v and drops the oldest elements past max, without
// writing into the backing array of s.
func appendBounded[T any](s []T, v T, max int) []T {
	if drop := len(s) + 1 - max; drop > 0 {
		s = s[drop:]
	}
	out := make([]T, len(s), len(s)+1)
	copy(out, s)
	return append(out, v)
}

func (h UserHistory) clone() UserHistory {
	h.Recent = slices.Clone(h.Recent)
	h.Bought = slices.Clone(h.Bought)
	h.EventIDs = slices.Clone(h.EventIDs)
	h.EventPrints = slices.Clone(h.EventPrints)
	return h
}
