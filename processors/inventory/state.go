package inventory

import (
	"slices"
	"time"
)

// State is a whole SKU in memory: its head and everything it remembers,
// in the order it was made. The processor keeps a SKU's memory under keys
// of its own and never holds a State; tests, replays and the layout that
// kept a SKU in one value (see StateFromWire) do, and Decide runs the same
// Step on it.
type State struct {
	Stock Stock
	// Offset is the offset of the last command applied from the public
	// commands topic, in the SKU's partition; -1 before the first.
	Offset int64
	// InternalOffset is the same for the internal commands topic.
	InternalOffset int64
	// Seq counts the commands applied to the SKU, from either topic.
	Seq int64
	// Clock is the latest command time seen.
	Clock time.Time
	// Reservations are the open ones and the ended ones still remembered,
	// in the order they were made.
	Reservations []Reservation
	// Applied are the commands remembered, oldest first, one for each Seq
	// from the oldest remembered to Seq.
	Applied []Applied
}

// NewState is the state of a SKU never seen.
func NewState() State { return State{Offset: -1, InternalOffset: -1} }

// Decide applies one command to a SKU's state with Step and returns the
// new state and the events to publish. The input state is not modified.
func Decide(s State, c Command, p Policy) (State, []Event) {
	h, ch, events := Step(s.Head(), s.Memory(), c, p)
	return s.With(h, ch), events
}

// Head is the state's head.
func (s State) Head() Head {
	h := Head{
		Stock: s.Stock, Offset: s.Offset, InternalOffset: s.InternalOffset, Seq: s.Seq, Clock: s.Clock,
		Oldest: s.Seq - int64(len(s.Applied)) + 1,
	}
	if len(s.Applied) > 0 {
		h.OldestAt = s.Applied[0].At
	}
	var first Reservation
	s.Open(Reservation{}, func(r Reservation) bool { first = r; return false })
	h.NextExpiry, h.NextOrder = first.ExpiresAt, first.OrderID
	return h
}

// With returns the state with head h and changes ch made; s is not
// modified.
func (s State) With(h Head, ch Changes) State {
	s.Stock, s.Offset, s.InternalOffset, s.Seq, s.Clock = h.Stock, h.Offset, h.InternalOffset, h.Seq, h.Clock
	if ch.Empty() {
		return s
	}
	s.Reservations = slices.Clone(s.Reservations)
	s.Applied = slices.Clone(s.Applied)
	for _, f := range ch.Forget {
		s.Applied = slices.DeleteFunc(s.Applied, func(a Applied) bool { return a.Seq == f.Seq })
		s.Reservations = slices.DeleteFunc(s.Reservations, func(r Reservation) bool {
			return r.Status != StatusOpen && slices.Contains(f.Ended, r.OrderID)
		})
	}
	for _, r := range ch.Reservations {
		if i := s.reservationIndex(r.OrderID); i >= 0 {
			s.Reservations[i] = r
		} else {
			s.Reservations = append(s.Reservations, r)
		}
	}
	if ch.Remembers() {
		s.Applied = append(s.Applied, ch.Remember)
	}
	return s
}

// Reservation returns the SKU's reservation for orderID, if any.
func (s State) Reservation(orderID string) (Reservation, bool) {
	if i := s.reservationIndex(orderID); i >= 0 {
		return s.Reservations[i], true
	}
	return Reservation{}, false
}

func (s State) reservationIndex(orderID string) int {
	for i := range s.Reservations {
		if s.Reservations[i].OrderID == orderID {
			return i
		}
	}
	return -1
}

// Memory reads what the state remembers.
func (s State) Memory() Memory { return stateMemory{s} }

// stateMemory is a State read as a Memory.
type stateMemory struct{ s State }

func (m stateMemory) Reservation(orderID string) (Reservation, bool) { return m.s.Reservation(orderID) }

func (m stateMemory) Open(from Reservation, yield func(Reservation) bool) { m.s.Open(from, yield) }

func (m stateMemory) Applied(id string, expire bool) (Applied, bool) {
	s := m.s
	for i := len(s.Applied) - 1; i >= 0; i-- {
		a := s.Applied[i]
		if a.CommandID == id && (a.Result.Type == EventUnknown) == expire {
			return a, true
		}
	}
	return Applied{}, false
}

func (m stateMemory) Logged(seq int64) (Logged, bool) {
	s := m.s
	i := len(s.Applied) - 1 - int(s.Seq-seq)
	if i < 0 || i >= len(s.Applied) {
		return Logged{}, false
	}
	return s.Applied[i].logged(), true
}

// Open yields the open reservations from from on, earliest deadline
// first.
func (s State) Open(from Reservation, yield func(Reservation) bool) {
	var open []Reservation
	for _, r := range s.Reservations {
		if r.Status == StatusOpen && atOrAfter(r, from) {
			open = append(open, r)
		}
	}
	slices.SortFunc(open, byDeadline)
	for _, r := range open {
		if !yield(r) {
			return
		}
	}
}

// Due lists the open reservations whose deadline is at or before now.
func (s State) Due(now time.Time) []Reservation { return DueIn(s.Head(), s.Memory(), now) }

// NextExpiry is the earliest deadline of an open reservation, zero when
// none is open.
func (s State) NextExpiry() time.Time {
	var next time.Time
	for _, r := range s.Reservations {
		if r.Status == StatusOpen && (next.IsZero() || r.ExpiresAt.Before(next)) {
			next = r.ExpiresAt
		}
	}
	return next
}
