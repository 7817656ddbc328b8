package inventory

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"time"

	"github.com/titan-commerce/titan/internal/millis"
	"github.com/titan-commerce/titan/schemas"
)

// Decide applies one command to a SKU's state. It returns the new state and
// the events to publish, in order: expiries the command's clock made due,
// then the command's result. The input state is not modified.
//
// A client command (restock, reserve, commit, release) yields exactly one
// result event. A command id seen within the dedupe window yields its first
// result again and changes nothing when the command is the same (same
// Fingerprint); when it is another command it yields a rejection,
// ReasonCommandIDConflict, and changes nothing either. Expire(order) yields
// only expiries: those due at its clock when the order's reservation is
// open and due, and otherwise nothing, changing nothing but the offset.
func Decide(s State, c Command, p Policy) (State, []Event) {
	c = c.bounded()
	if !c.Internal && (schemas.Reserved(c.ID) || schemas.Reserved(c.OrderID)) {
		// The topology sets such commands aside before they get here; this
		// keeps the rule for any caller of Decide.
		s.advance(c)
		return s, []Event{s.refuse(c, ReasonReservedID)}
	}
	prev, seen := s.applied(c)
	if seen && prev.replayedBy(c) {
		// The very record that was applied, read again: its state write
		// reached the changelog and its events may not have (the
		// topology sends events only after the state write, and a crash
		// can fall in between). Its events go out again, as they were.
		return s, prev.Events()
	}
	if seen && c.Kind != KindExpire {
		// Only the read-your-write position moves: the duplicate is in the
		// log, so a reader waiting on its offset must not wait forever.
		s.advance(c)
		if prev.Fingerprint != 0 && prev.Fingerprint != c.Fingerprint() {
			return s, []Event{s.refuse(c, ReasonCommandIDConflict)}
		}
		return s, []Event{prev.Result}
	}

	now := c.Time
	if now.Before(s.Clock) {
		now = s.Clock
	}
	if c.Kind == KindExpire {
		if r, ok := s.Reservation(c.OrderID); !ok || r.Status != StatusOpen || r.ExpiresAt.After(now) {
			// The reservation the sweeper saw due has ended meanwhile:
			// nothing to do, and nothing changes, not even the clock. Only
			// the named reservation decides this, never the clock, so an
			// idle Expire is idle wherever it falls among the SKU's other
			// commands.
			s.advance(c)
			return s, nil
		}
	}
	s = s.clone()
	s.Clock = now
	s.advance(c)
	s.Seq++
	s.prune(now, p)

	events := slices.Clip(s.expireDue(c, now))
	if c.Kind == KindExpire {
		// Remembered only for a replay of this record: another Expire
		// under the id is the sweeper proposing it again, and finds the
		// reservation ended.
		s.remember(Applied{CommandID: c.ID, Fingerprint: c.Fingerprint(), Expired: events, At: now}, p)
		return s, events
	}

	result := s.apply(c, now)
	result.CommandID = c.ID
	result.SKU = c.SKU
	result.Time = now
	result.Partition = c.Partition
	result.Offset = c.Offset
	result.Internal = c.Internal
	result.Seq = s.Seq
	result.Stock = s.Stock
	s.remember(Applied{CommandID: c.ID, Fingerprint: c.Fingerprint(), Result: result, Expired: events, At: now}, p)
	return s, append(events, result)
}

// advance moves the offset of the command's topic.
func (s *State) advance(c Command) {
	if c.Internal {
		s.InternalOffset = max(s.InternalOffset, c.Offset)
	} else {
		s.Offset = max(s.Offset, c.Offset)
	}
}

// refuse answers a command refused for what it is rather than decided: its
// id names another command, or it is a client's in Titan's namespace. The
// refusal is not remembered, so the id keeps naming what it named.
func (s State) refuse(c Command, reason string) Event {
	return Event{
		Type: EventRejected, CommandID: c.ID, OrderID: c.OrderID, SKU: c.SKU, Qty: c.Qty,
		Time: s.Clock, Reason: reason, Partition: c.Partition, Offset: c.Offset,
		Internal: c.Internal, Seq: s.Seq, Stock: s.Stock,
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
func (s *State) apply(c Command, now time.Time) Event {
	if !c.valid() {
		return Event{Type: EventRejected, OrderID: c.OrderID, Qty: c.Qty, Reason: ReasonInvalidCommand}
	}
	switch c.Kind {
	case KindRestock:
		s.Stock.OnHand += c.Qty
		return Event{Type: EventRestocked, Qty: c.Qty}
	case KindReserve:
		return s.reserve(c, now)
	case KindCommit, KindRelease:
		return s.close(c, now)
	}
	return Event{Type: EventRejected, OrderID: c.OrderID, Qty: c.Qty, Reason: ReasonInvalidCommand}
}

func (s *State) reserve(c Command, now time.Time) Event {
	rejected := Event{Type: EventRejected, OrderID: c.OrderID, Qty: c.Qty}
	if _, ok := s.Reservation(c.OrderID); ok {
		rejected.Reason = ReasonAlreadyReserved
		return rejected
	}
	if c.Qty > s.Stock.Available() {
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
	s.Reservations = append(s.Reservations, r)
	s.Stock.Reserved += c.Qty
	return Event{Type: EventReserved, OrderID: c.OrderID, Qty: c.Qty, ExpiresAt: r.ExpiresAt}
}

// close commits or releases the order's open reservation.
func (s *State) close(c Command, now time.Time) Event {
	i := s.reservationIndex(c.OrderID)
	if i < 0 {
		return Event{Type: EventRejected, OrderID: c.OrderID, Reason: ReasonNotFound}
	}
	r := &s.Reservations[i]
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
	s.Stock.Reserved -= r.Qty
	r.ClosedAt = now
	if c.Kind == KindCommit {
		// A partial commit sells c.Qty units and returns the rest.
		sold := r.Qty
		if c.Qty > 0 {
			sold = c.Qty
		}
		s.Stock.OnHand -= sold
		s.Stock.Sold += sold
		r.Status = StatusCommitted
		ev.Type, ev.Qty = EventCommitted, sold
	} else {
		r.Status = StatusReleased
		ev.Type = EventReleased
	}
	return ev
}

// expireDue ends every open reservation past its deadline at now.
func (s *State) expireDue(c Command, now time.Time) []Event {
	var events []Event
	for i := range s.Reservations {
		r := &s.Reservations[i]
		if r.Status != StatusOpen || r.ExpiresAt.After(now) {
			continue
		}
		r.Status = StatusExpired
		r.ClosedAt = now
		s.Stock.Reserved -= r.Qty
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
			Stock:            s.Stock,
			ReserveCommandID: r.CommandID,
			Seq:              s.Seq,
			Internal:         c.Internal,
		})
	}
	return events
}

// prune forgets ended reservations and command ids older than the window.
func (s *State) prune(now time.Time, p Policy) {
	horizon := now.Add(-p.DedupeWindow)
	s.Reservations = slices.DeleteFunc(s.Reservations, func(r Reservation) bool {
		return r.Status != StatusOpen && r.ClosedAt.Before(horizon)
	})
	s.Applied = slices.DeleteFunc(s.Applied, func(a Applied) bool {
		return a.At.Before(horizon)
	})
}

func (s *State) remember(a Applied, p Policy) {
	s.Applied = append(s.Applied, a)
	if p.MaxApplied > 0 && len(s.Applied) > p.MaxApplied {
		s.Applied = slices.Delete(s.Applied, 0, len(s.Applied)-p.MaxApplied)
	}
}

// applied finds what the SKU remembers of c's id. An Expire's memory
// serves only replays of Expires, so it never stands for another command
// under the id.
func (s State) applied(c Command) (Applied, bool) {
	if c.ID == "" {
		return Applied{}, false
	}
	expire := c.Kind == KindExpire
	for i := len(s.Applied) - 1; i >= 0; i-- {
		a := s.Applied[i]
		if a.CommandID == c.ID && (a.Result.Type == EventUnknown) == expire {
			return a, true
		}
	}
	return Applied{}, false
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

// clone copies the slices so Decide never writes to its caller's state.
func (s State) clone() State {
	s.Reservations = slices.Clone(s.Reservations)
	s.Applied = slices.Clone(s.Applied)
	return s
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
