package inventory

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"time"

	"github.com/titan-commerce/titan/internal/millis"
	"github.com/titan-commerce/titan/schemas"
)

// Step applies one command to a SKU: its head, and its memory read through
// m. It returns the new head, what changes in the memory, and the events
// to publish, in order: expiries the command's clock made due, then the
// command's result. It reads only the entries the command concerns, so
// its cost follows what the command changes, not what the SKU remembers.
//
// A client command (restock, reserve, commit, release) yields exactly one
// result event. A command id seen within the dedupe window yields its first
// result again and changes nothing when the command is the same (same
// Fingerprint); when it is another command it yields a rejection,
// ReasonCommandIDConflict, and changes nothing either. Expire(order) yields
// only expiries: those due at its clock when the order's reservation is
// open and due, and otherwise nothing, changing nothing but the offset.
func Step(h Head, m Memory, c Command, p Policy) (Head, Changes, []Event) {
	c = c.bounded()
	if !c.Internal && (schemas.Reserved(c.ID) || schemas.Reserved(c.OrderID)) {
		// The topology sets such commands aside before they get here; this
		// keeps the rule for any caller.
		h.advance(c)
		return h, Changes{}, []Event{h.refuse(c, ReasonReservedID)}
	}
	prev, seen := h.applied(m, c)
	if seen && prev.replayedBy(c) {
		// The very record that was applied, read again: its state write
		// reached the changelog and its events may not have (the
		// topology sends events only after the state write, and a crash
		// can fall in between). Its events go out again, as they were.
		return h, Changes{}, prev.Events()
	}
	if seen && c.Kind != KindExpire {
		// Only the read-your-write position moves: the duplicate is in the
		// log, so a reader waiting on its offset must not wait forever.
		h.advance(c)
		if prev.Fingerprint != 0 && prev.Fingerprint != c.Fingerprint() {
			return h, Changes{}, []Event{h.refuse(c, ReasonCommandIDConflict)}
		}
		return h, Changes{}, []Event{prev.Result}
	}

	now := c.Time
	if now.Before(h.Clock) {
		now = h.Clock
	}
	if c.Kind == KindExpire {
		if r, ok := m.Reservation(c.OrderID); !ok || r.Status != StatusOpen || r.ExpiresAt.After(now) {
			// The reservation the sweeper saw due has ended meanwhile:
			// nothing to do, and nothing changes, not even the clock. Only
			// the named reservation decides this, never the clock, so an
			// idle Expire is idle wherever it falls among the SKU's other
			// commands.
			h.advance(c)
			return h, Changes{}, nil
		}
	}
	before := h.first()
	h.Clock = now
	h.advance(c)
	h.Seq++
	t := newTxn(m)
	h.prune(t, now, p)

	events := h.expireDue(t, before, c, now)
	var result Event
	if c.Kind != KindExpire {
		result = h.apply(t, c, now)
		result.CommandID = c.ID
		result.SKU = c.SKU
		result.Time = now
		result.Partition = c.Partition
		result.Offset = c.Offset
		result.Internal = c.Internal
		result.Seq = h.Seq
		result.Stock = h.Stock
	}
	// An Expire is remembered only for a replay of its record: another
	// Expire under the id is the sweeper proposing it again, and finds the
	// reservation ended.
	t.ch.Remember = Applied{CommandID: c.ID, Fingerprint: c.Fingerprint(), Result: result, Expired: slices.Clip(events),
		At: now, Seq: h.Seq}
	t.ch.Log = t.ch.Remember.logged()
	first := t.first(before)
	h.NextExpiry, h.NextOrder = first.ExpiresAt, first.OrderID
	if c.Kind == KindExpire {
		return h, t.ch, events
	}
	return h, t.ch, append(events, result)
}

// advance moves the offset of the command's topic.
func (h *Head) advance(c Command) {
	if c.Internal {
		h.InternalOffset = max(h.InternalOffset, c.Offset)
	} else {
		h.Offset = max(h.Offset, c.Offset)
	}
}

// refuse answers a command refused for what it is rather than decided: its
// id names another command, or it is a client's in Titan's namespace. The
// refusal is not remembered, so the id keeps naming what it named.
func (h Head) refuse(c Command, reason string) Event {
	return Event{
		Type: EventRejected, CommandID: c.ID, OrderID: c.OrderID, SKU: c.SKU, Qty: c.Qty,
		Time: h.Clock, Reason: reason, Partition: c.Partition, Offset: c.Offset,
		Internal: c.Internal, Seq: h.Seq, Stock: h.Stock,
	}
}

// Fingerprint identifies what a command asks for, apart from its id, its
// time and where it travelled: kind, order, quantity and TTL. The SKU is
// the state's own. It is the first 64 bits of a SHA-256, so no client can
// craft a different command that passes for another's.
func (c Command) Fingerprint() uint64 {
	var b [8]byte
	h := sha256.New()
	h.Write([]byte{byte(c.Kind)})
	binary.BigEndian.PutUint64(b[:], uint64(len(c.OrderID)))
	h.Write(b[:])
	h.Write([]byte(c.OrderID))
	binary.BigEndian.PutUint64(b[:], uint64(c.Qty))
	h.Write(b[:])
	binary.BigEndian.PutUint64(b[:], uint64(c.TTL.Milliseconds()))
	h.Write(b[:])
	fp := binary.BigEndian.Uint64(h.Sum(nil))
	if fp == 0 {
		// Zero stands for "not known" in remembered commands.
		fp = 1
	}
	return fp
}

// bounded keeps Decide total on any Command: a time outside the years 1 to
// 9999 is clamped (millis), and so is every time derived from it; a TTL
// outside what the schema allows makes the command invalid rather than
// overflow a deadline.
func (c Command) bounded() Command {
	c.Time = millis.Bound(c.Time)
	if c.TTL > maxTTL {
		c.TTL = -1
	}
	return c
}

const maxTTL = time.Duration(schemas.MaxReserveTTLMs) * time.Millisecond

// apply decides a client command; the caller fills in the common fields.
func (h *Head) apply(t *txn, c Command, now time.Time) Event {
	if !c.valid() {
		return Event{Type: EventRejected, OrderID: c.OrderID, Qty: c.Qty, Reason: ReasonInvalidCommand}
	}
	switch c.Kind {
	case KindRestock:
		h.Stock.OnHand += c.Qty
		return Event{Type: EventRestocked, Qty: c.Qty}
	case KindReserve:
		return h.reserve(t, c, now)
	case KindCommit, KindRelease:
		return h.close(t, c, now)
	}
	return Event{Type: EventRejected, OrderID: c.OrderID, Qty: c.Qty, Reason: ReasonInvalidCommand}
}

func (h *Head) reserve(t *txn, c Command, now time.Time) Event {
	rejected := Event{Type: EventRejected, OrderID: c.OrderID, Qty: c.Qty}
	if _, ok := t.reservation(c.OrderID); ok {
		rejected.Reason = ReasonAlreadyReserved
		return rejected
	}
	if c.Qty > h.Stock.Available() {
		rejected.Reason = ReasonInsufficientStock
		return rejected
	}
	r := Reservation{
		OrderID:   c.OrderID,
		CommandID: c.ID,
		Qty:       c.Qty,
		ExpiresAt: millis.Bound(now.Add(c.TTL)),
		Status:    StatusOpen,
		Internal:  c.Internal,
	}
	t.write(r)
	h.Stock.Reserved += c.Qty
	return Event{Type: EventReserved, OrderID: c.OrderID, Qty: c.Qty, ExpiresAt: r.ExpiresAt}
}

// close commits or releases the order's open reservation.
func (h *Head) close(t *txn, c Command, now time.Time) Event {
	r, ok := t.reservation(c.OrderID)
	if !ok {
		return Event{Type: EventRejected, OrderID: c.OrderID, Reason: ReasonNotFound}
	}
	ev := Event{OrderID: r.OrderID, Qty: r.Qty, ExpiresAt: r.ExpiresAt}
	if r.Internal && !c.Internal {
		// An order's or a flash sale's reservation ends by Titan's own
		// commands: a client that could end it could sell its units twice.
		ev.Type, ev.Reason = EventRejected, ReasonReservedID
		return ev
	}
	switch r.Status {
	case StatusOpen:
	case StatusCommitted:
		ev.Type, ev.Reason = EventRejected, ReasonAlreadyCommitted
		return ev
	case StatusReleased:
		ev.Type, ev.Reason = EventRejected, ReasonAlreadyReleased
		return ev
	default:
		ev.Type, ev.Reason = EventRejected, ReasonExpired
		return ev
	}
	if c.Kind == KindCommit && c.Qty > r.Qty {
		ev.Type, ev.Reason, ev.Qty = EventRejected, ReasonQtyExceeds, c.Qty
		return ev
	}
	h.Stock.Reserved -= r.Qty
	r.ClosedAt = now
	if c.Kind == KindCommit {
		// A partial commit sells c.Qty units and returns the rest.
		sold := r.Qty
		if c.Qty > 0 {
			sold = c.Qty
		}
		h.Stock.OnHand -= sold
		h.Stock.Sold += sold
		r.Status = StatusCommitted
		ev.Type, ev.Qty = EventCommitted, sold
	} else {
		r.Status = StatusReleased
		ev.Type = EventReleased
	}
	t.write(r)
	return ev
}

// expireDue ends every open reservation past its deadline at now.
func (h *Head) expireDue(t *txn, from Reservation, c Command, now time.Time) []Event {
	if h.NextExpiry.IsZero() || h.NextExpiry.After(now) {
		return nil
	}
	var events []Event
	for _, r := range t.due(from, now) {
		r.Status = StatusExpired
		r.ClosedAt = now
		t.write(r)
		h.Stock.Reserved -= r.Qty
		events = append(events, Event{
			Type:             EventExpired,
			CommandID:        c.ID,
			OrderID:          r.OrderID,
			SKU:              c.SKU,
			Qty:              r.Qty,
			Time:             now,
			ExpiresAt:        r.ExpiresAt,
			Partition:        c.Partition,
			Offset:           c.Offset,
			Stock:            h.Stock,
			ReserveCommandID: r.CommandID,
			Seq:              h.Seq,
			Internal:         c.Internal,
		})
	}
	return events
}

// prune forgets, oldest first, the commands older than the window and
// those past the cap once the new one is remembered, and with each the
// reservations it ended.
func (h *Head) prune(t *txn, now time.Time, p Policy) {
	horizon := now.Add(-p.DedupeWindow)
	for h.Oldest < h.Seq {
		full := p.MaxApplied > 0 && h.Seq-h.Oldest >= int64(p.MaxApplied)
		if !full && !h.OldestAt.IsZero() && !h.OldestAt.Before(horizon) {
			return
		}
		l, ok := t.m.Logged(h.Oldest)
		if !ok {
			// Every seq from Oldest on is remembered; a memory without it
			// is damaged, and what it lost below Seq cannot be read back.
			h.Oldest = h.Seq
			break
		}
		if !full && !l.At.Before(horizon) {
			h.OldestAt = l.At
			return
		}
		t.forget(l)
		h.Oldest++
		h.OldestAt = time.Time{}
	}
	// Only the command being applied is left, remembered at Seq and now.
	h.OldestAt = now
}

// applied finds what the SKU remembers of c's id.
func (h Head) applied(m Memory, c Command) (Applied, bool) {
	if c.ID == "" {
		return Applied{}, false
	}
	a, ok := m.Applied(c.ID, c.Kind == KindExpire)
	if !ok || (a.Seq != 0 && (a.Seq < h.Oldest || a.Seq > h.Seq)) {
		// Outside what the head remembers: forgotten, or written by a
		// command whose head never landed.
		return Applied{}, false
	}
	return a, true
}

// replayedBy reports whether c is the record a was applied from, read
// again, rather than another record under the same id.
func (a Applied) replayedBy(c Command) bool {
	from := a.Result
	if from.Type == EventUnknown && len(a.Expired) > 0 {
		from = a.Expired[0]
	}
	return from.Type != EventUnknown && from.Partition == c.Partition && from.Offset == c.Offset &&
		from.Internal == c.Internal && a.Fingerprint == c.Fingerprint()
}

// valid repeats the checks the schema layer makes on the wire, so Decide
// is total on any Command value, however it was built.
func (c Command) valid() bool {
	// Quantities are bounded so that no number of them summed into a
	// ledger comes near overflow.
	switch c.Kind {
	case KindRestock:
		return c.Qty > 0 && c.Qty <= schemas.MaxQty
	case KindReserve:
		return c.Qty > 0 && c.Qty <= schemas.MaxQty && c.TTL > 0 && c.TTL <= maxTTL && c.OrderID != ""
	case KindCommit:
		return c.OrderID != "" && c.Qty >= 0 && c.Qty <= schemas.MaxQty
	case KindRelease:
		return c.OrderID != ""
	}
	return false
}
