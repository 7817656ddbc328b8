package inventory

import "time"

// Head is the part of a SKU's state that every command reads and writes:
// its ledger, where it stands in its two topics, and the bounds of what it
// remembers. What it remembers, its reservations and the commands it
// applied, is read through a Memory one entry at a time, and a command
// returns the entries it changes (Changes): so a command costs what it
// changes, however much the SKU remembers.
type Head struct {
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
	// NextExpiry is the earliest deadline of an open reservation, zero
	// when none is open, and NextOrder its order (the least order id among
	// those due then): where a walk of the open reservations starts, past
	// the many that ended before it.
	NextExpiry time.Time
	NextOrder  string
	// Oldest is the Seq of the oldest command remembered, Seq+1 when none:
	// every command applied since is remembered, one per Seq.
	Oldest int64
	// OldestAt is the time of the command at Oldest, zero when not known.
	// With it a command finds that no remembered one has left the dedupe
	// window without reading the oldest from the Memory, which is most of
	// what a step reads on a SKU not at its cap.
	OldestAt time.Time
}

// NewHead is the head of a SKU never seen.
func NewHead() Head { return Head{Offset: -1, InternalOffset: -1, Oldest: 1} }

// Memory is what a SKU remembers beyond its head. Implementations read
// the SKU's entries from wherever they are kept; Step never writes to it.
type Memory interface {
	// Reservation is the SKU's reservation for an order, open or ended.
	Reservation(orderID string) (Reservation, bool)
	// Applied is the command remembered under an id. An Expire's memory
	// (expire) is kept apart from a result's, so that it never stands for
	// another command under the id.
	Applied(commandID string, expire bool) (Applied, bool)
	// Logged is the command remembered at seq.
	Logged(seq int64) (Logged, bool)
	// Open calls yield with the open reservations from the one at from's
	// deadline and order id on, earliest deadline first and then by order
	// id, until yield returns false. A zero from starts at the first.
	Open(from Reservation, yield func(Reservation) bool)
}

// Logged is a remembered command's place in the SKU's memory, in the
// order the commands were applied: what forgetting it takes.
type Logged struct {
	Seq       int64
	CommandID string
	Expire    bool
	At        time.Time
	// Ended are the orders whose reservations the command ended: an ended
	// reservation is remembered as long as the command that ended it.
	Ended []string
}

// Changes is what one command changes in a SKU's memory, in the order to
// apply them.
type Changes struct {
	// Forget lists the commands forgotten, oldest first, each with the
	// reservations it ended that are forgotten with it.
	Forget []Logged
	// Reservations are written, each under its order id: made or ended.
	Reservations []Reservation
	// Remember is the command remembered at Remember.Seq, and Log its
	// place; both are zero when the command changed nothing.
	Remember Applied
	Log      Logged
}

// Remembers reports whether the command is remembered.
func (c Changes) Remembers() bool { return c.Log.Seq != 0 }

// Empty reports whether nothing changes.
func (c Changes) Empty() bool {
	return len(c.Forget) == 0 && len(c.Reservations) == 0 && !c.Remembers()
}

// ended lists the orders whose reservations a remembered command ended.
func (a Applied) ended() []string {
	var out []string
	for _, e := range a.Expired {
		out = append(out, e.OrderID)
	}
	if t := a.Result.Type; t == EventCommitted || t == EventReleased {
		out = append(out, a.Result.OrderID)
	}
	return out
}

// logged is a's place in the memory.
func (a Applied) logged() Logged {
	return Logged{Seq: a.Seq, CommandID: a.CommandID, Expire: a.Result.Type == EventUnknown, At: a.At, Ended: a.ended()}
}

// txn is a Memory as one command sees it while deciding: the SKU's memory
// under what the command has changed so far.
type txn struct {
	m       Memory
	ch      Changes
	written map[string]int // order id -> index in ch.Reservations
	gone    map[string]bool
}

func newTxn(m Memory) *txn { return &txn{m: m} }

func (t *txn) reservation(orderID string) (Reservation, bool) {
	if i, ok := t.written[orderID]; ok {
		return t.ch.Reservations[i], true
	}
	if t.gone[orderID] {
		return Reservation{}, false
	}
	return t.m.Reservation(orderID)
}

func (t *txn) write(r Reservation) {
	if t.written == nil {
		t.written = map[string]int{}
	}
	if i, ok := t.written[r.OrderID]; ok {
		t.ch.Reservations[i] = r
		return
	}
	t.written[r.OrderID] = len(t.ch.Reservations)
	t.ch.Reservations = append(t.ch.Reservations, r)
}

func (t *txn) forget(l Logged) {
	var gone []string
	for _, o := range l.Ended {
		if r, ok := t.reservation(o); !ok || r.Status == StatusOpen {
			// Gone already, or not this command's any more: the order
			// reserved again.
			continue
		}
		if t.gone == nil {
			t.gone = map[string]bool{}
		}
		t.gone[o] = true
		gone = append(gone, o)
	}
	l.Ended = gone
	t.ch.Forget = append(t.ch.Forget, l)
}

// due lists the open reservations whose deadline is at or before now,
// earliest first, walking from the earliest open one, from.
func (t *txn) due(from Reservation, now time.Time) []Reservation {
	var out []Reservation
	t.m.Open(from, func(r Reservation) bool {
		if r.ExpiresAt.After(now) {
			return false
		}
		if cur, ok := t.reservation(r.OrderID); ok && cur.Status == StatusOpen {
			out = append(out, cur)
		}
		return true
	})
	return out
}

// first is the earliest open reservation once the command's changes are
// made, given the one before them; zero when none is open.
func (t *txn) first(before Reservation) Reservation {
	first := before
	recount := false
	for _, r := range t.ch.Reservations {
		switch {
		case r.Status == StatusOpen && (first.ExpiresAt.IsZero() || byDeadline(r, first) < 0):
			first = r
		case r.Status != StatusOpen && !first.ExpiresAt.IsZero() && byDeadline(r, first) <= 0:
			// The earliest has ended: look again, from it on.
			recount = true
		}
	}
	if !recount {
		return Reservation{OrderID: first.OrderID, ExpiresAt: first.ExpiresAt}
	}
	first = Reservation{}
	t.m.Open(before, func(r Reservation) bool {
		if cur, ok := t.reservation(r.OrderID); ok && cur.Status == StatusOpen {
			first = r
			return false
		}
		return true
	})
	for _, r := range t.ch.Reservations {
		if r.Status == StatusOpen && (first.ExpiresAt.IsZero() || byDeadline(r, first) < 0) {
			first = r
		}
	}
	return Reservation{OrderID: first.OrderID, ExpiresAt: first.ExpiresAt}
}

// DueIn lists the open reservations of a SKU whose deadline is at or
// before now, earliest first: what the expiry sweeper proposes to end.
func DueIn(h Head, m Memory, now time.Time) []Reservation {
	var out []Reservation
	m.Open(h.first(), func(r Reservation) bool {
		if r.ExpiresAt.After(now) {
			return false
		}
		out = append(out, r)
		return true
	})
	return out
}

// first is where the head says its open reservations start.
func (h Head) first() Reservation { return Reservation{ExpiresAt: h.NextExpiry, OrderID: h.NextOrder} }

// atOrAfter reports whether r is at or after from in Open's order.
func atOrAfter(r, from Reservation) bool { return from.ExpiresAt.IsZero() || byDeadline(r, from) >= 0 }

// byDeadline orders open reservations as Memory.Open yields them.
func byDeadline(a, b Reservation) int {
	if c := a.ExpiresAt.Compare(b.ExpiresAt); c != 0 {
		return c
	}
	switch {
	case a.OrderID < b.OrderID:
		return -1
	case a.OrderID > b.OrderID:
		return 1
	}
	return 0
}
