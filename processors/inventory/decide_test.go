package inventory

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func restock(id string, qty int64, sec int) Command {
	return Command{ID: id, Kind: KindRestock, SKU: "sku-1", Qty: qty, Time: at(sec)}
}

func reserve(id, order string, qty int64, ttl time.Duration, sec int) Command {
	return Command{ID: id, Kind: KindReserve, SKU: "sku-1", OrderID: order, Qty: qty, TTL: ttl, Time: at(sec)}
}

func commit(id, order string, sec int) Command {
	return Command{ID: id, Kind: KindCommit, SKU: "sku-1", OrderID: order, Time: at(sec)}
}

func commitQty(id, order string, qty int64, sec int) Command {
	c := commit(id, order, sec)
	c.Qty = qty
	return c
}

func release(id, order string, sec int) Command {
	return Command{ID: id, Kind: KindRelease, SKU: "sku-1", OrderID: order, Time: at(sec)}
}

func expire(id, order string, sec int) Command {
	return Command{ID: id, Kind: KindExpire, SKU: "sku-1", OrderID: order, Time: at(sec)}
}

// step is one command and what it must produce.
type step struct {
	cmd    Command
	want   []string // "type" or "type:reason" per event, in order
	stock  Stock
	orders map[string]ReservationStatus
}

func TestDecide(t *testing.T) {
	const ttl = time.Minute
	tests := []struct {
		name  string
		steps []step
	}{
		{"restock then reserve within stock", []step{
			{cmd: restock("c1", 10, 0), want: []string{"restocked"}, stock: Stock{OnHand: 10}},
			{cmd: reserve("c2", "o1", 4, ttl, 1), want: []string{"reserved"}, stock: Stock{OnHand: 10, Reserved: 4},
				orders: map[string]ReservationStatus{"o1": StatusOpen}},
		}},
		{"never reserve more than available", []step{
			{cmd: restock("c1", 5, 0), want: []string{"restocked"}, stock: Stock{OnHand: 5}},
			{cmd: reserve("c2", "o1", 3, ttl, 1), want: []string{"reserved"}, stock: Stock{OnHand: 5, Reserved: 3}},
			{cmd: reserve("c3", "o2", 3, ttl, 2), want: []string{"rejected:insufficient_stock"}, stock: Stock{OnHand: 5, Reserved: 3}},
			{cmd: reserve("c4", "o3", 2, ttl, 3), want: []string{"reserved"}, stock: Stock{OnHand: 5, Reserved: 5}},
			{cmd: reserve("c5", "o4", 1, ttl, 4), want: []string{"rejected:insufficient_stock"}, stock: Stock{OnHand: 5, Reserved: 5}},
		}},
		{"reserve on an empty sku", []step{
			{cmd: reserve("c1", "o1", 1, ttl, 0), want: []string{"rejected:insufficient_stock"}, stock: Stock{}},
		}},
		{"commit moves reserved units to sold", []step{
			{cmd: restock("c1", 10, 0), want: []string{"restocked"}, stock: Stock{OnHand: 10}},
			{cmd: reserve("c2", "o1", 4, ttl, 1), want: []string{"reserved"}, stock: Stock{OnHand: 10, Reserved: 4}},
			{cmd: commit("c3", "o1", 2), want: []string{"committed"}, stock: Stock{OnHand: 6, Sold: 4},
				orders: map[string]ReservationStatus{"o1": StatusCommitted}},
			{cmd: commit("c4", "o1", 3), want: []string{"rejected:already_committed"}, stock: Stock{OnHand: 6, Sold: 4}},
			{cmd: release("c5", "o1", 3), want: []string{"rejected:already_committed"}, stock: Stock{OnHand: 6, Sold: 4}},
		}},
		{"a partial commit sells part and returns the rest", []step{
			{cmd: restock("c1", 10, 0), want: []string{"restocked"}, stock: Stock{OnHand: 10}},
			{cmd: reserve("c2", "o1", 6, ttl, 1), want: []string{"reserved"}, stock: Stock{OnHand: 10, Reserved: 6}},
			{cmd: commitQty("c3", "o1", 7, 2), want: []string{"rejected:qty_exceeds_reservation"}, stock: Stock{OnHand: 10, Reserved: 6}},
			{cmd: commitQty("c4", "o1", 4, 3), want: []string{"committed"}, stock: Stock{OnHand: 6, Sold: 4},
				orders: map[string]ReservationStatus{"o1": StatusCommitted}},
		}},
		{"release gives units back", []step{
			{cmd: restock("c1", 10, 0), want: []string{"restocked"}, stock: Stock{OnHand: 10}},
			{cmd: reserve("c2", "o1", 4, ttl, 1), want: []string{"reserved"}, stock: Stock{OnHand: 10, Reserved: 4}},
			{cmd: release("c3", "o1", 2), want: []string{"released"}, stock: Stock{OnHand: 10},
				orders: map[string]ReservationStatus{"o1": StatusReleased}},
			{cmd: commit("c4", "o1", 3), want: []string{"rejected:already_released"}, stock: Stock{OnHand: 10}},
		}},
		{"commit or release of an unknown order", []step{
			{cmd: commit("c1", "nope", 0), want: []string{"rejected:reservation_not_found"}},
			{cmd: release("c2", "nope", 0), want: []string{"rejected:reservation_not_found"}},
		}},
		{"one reservation per order and sku", []step{
			{cmd: restock("c1", 10, 0), want: []string{"restocked"}, stock: Stock{OnHand: 10}},
			{cmd: reserve("c2", "o1", 1, ttl, 1), want: []string{"reserved"}, stock: Stock{OnHand: 10, Reserved: 1}},
			{cmd: reserve("c3", "o1", 1, ttl, 2), want: []string{"rejected:already_reserved"}, stock: Stock{OnHand: 10, Reserved: 1}},
		}},
		{"a repeated command changes nothing and answers the same", []step{
			{cmd: restock("c1", 10, 0), want: []string{"restocked"}, stock: Stock{OnHand: 10}},
			{cmd: restock("c1", 10, 1), want: []string{"restocked"}, stock: Stock{OnHand: 10}},
			{cmd: reserve("c2", "o1", 4, ttl, 2), want: []string{"reserved"}, stock: Stock{OnHand: 10, Reserved: 4}},
			{cmd: reserve("c2", "o1", 4, ttl, 3), want: []string{"reserved"}, stock: Stock{OnHand: 10, Reserved: 4}},
			{cmd: commit("c3", "o1", 4), want: []string{"committed"}, stock: Stock{OnHand: 6, Sold: 4}},
			{cmd: commit("c3", "o1", 5), want: []string{"committed"}, stock: Stock{OnHand: 6, Sold: 4}},
		}},
		{"a rejection is repeated too, even after stock arrives", []step{
			{cmd: reserve("c1", "o1", 4, ttl, 0), want: []string{"rejected:insufficient_stock"}},
			{cmd: restock("c2", 10, 1), want: []string{"restocked"}, stock: Stock{OnHand: 10}},
			{cmd: reserve("c1", "o1", 4, ttl, 2), want: []string{"rejected:insufficient_stock"}, stock: Stock{OnHand: 10}},
		}},
		{"a command past a deadline expires the reservation first", []step{
			{cmd: restock("c1", 5, 0), want: []string{"restocked"}, stock: Stock{OnHand: 5}},
			{cmd: reserve("c2", "o1", 5, ttl, 0), want: []string{"reserved"}, stock: Stock{OnHand: 5, Reserved: 5}},
			{cmd: reserve("c3", "o2", 5, ttl, 60), want: []string{"expired", "reserved"}, stock: Stock{OnHand: 5, Reserved: 5},
				orders: map[string]ReservationStatus{"o1": StatusExpired, "o2": StatusOpen}},
			{cmd: commit("c4", "o1", 61), want: []string{"rejected:reservation_expired"}, stock: Stock{OnHand: 5, Reserved: 5}},
		}},
		{"the deadline is inclusive and commit just before it wins", []step{
			{cmd: restock("c1", 5, 0), want: []string{"restocked"}, stock: Stock{OnHand: 5}},
			{cmd: reserve("c2", "o1", 2, ttl, 0), want: []string{"reserved"}, stock: Stock{OnHand: 5, Reserved: 2}},
			{cmd: reserve("c3", "o2", 2, ttl, 0), want: []string{"reserved"}, stock: Stock{OnHand: 5, Reserved: 4}},
			{cmd: commit("c4", "o1", 59), want: []string{"committed"}, stock: Stock{OnHand: 3, Reserved: 2, Sold: 2}},
			{cmd: commit("c5", "o2", 60), want: []string{"expired", "rejected:reservation_expired"}, stock: Stock{OnHand: 3, Sold: 2}},
		}},
		{"expire ends only due reservations and is repeatable", []step{
			{cmd: restock("c1", 5, 0), want: []string{"restocked"}, stock: Stock{OnHand: 5}},
			{cmd: reserve("c2", "o1", 2, ttl, 0), want: []string{"reserved"}, stock: Stock{OnHand: 5, Reserved: 2}},
			{cmd: expire("x1", "o1", 30), want: nil, stock: Stock{OnHand: 5, Reserved: 2}},
			{cmd: expire("x2", "o1", 60), want: []string{"expired"}, stock: Stock{OnHand: 5}},
			{cmd: expire("x2", "o1", 61), want: nil, stock: Stock{OnHand: 5}},
		}},
		{"the clock never goes back", []step{
			{cmd: restock("c1", 5, 100), want: []string{"restocked"}, stock: Stock{OnHand: 5}},
			{cmd: reserve("c2", "o1", 2, ttl, 0), want: []string{"reserved"}, stock: Stock{OnHand: 5, Reserved: 2}},
			// Decided at t=100, so it expires at t=160, not t=60.
			{cmd: expire("x1", "o1", 120), want: nil, stock: Stock{OnHand: 5, Reserved: 2}},
			{cmd: expire("x2", "o1", 160), want: []string{"expired"}, stock: Stock{OnHand: 5}},
		}},
		{"invalid commands are rejected without effect", []step{
			{cmd: restock("c1", 0, 0), want: []string{"rejected:invalid_command"}},
			{cmd: restock("c2", -3, 0), want: []string{"rejected:invalid_command"}},
			{cmd: reserve("c3", "o1", 1, 0, 0), want: []string{"rejected:invalid_command"}},
			{cmd: reserve("c4", "", 1, ttl, 0), want: []string{"rejected:invalid_command"}},
			{cmd: Command{ID: "c5", SKU: "sku-1", Time: at(0)}, want: []string{"rejected:invalid_command"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewState()
			for i, st := range tt.steps {
				st.cmd.Offset = int64(i)
				var events []Event
				s, events = Decide(s, st.cmd, DefaultPolicy())
				if got := describe(events); !equalStrings(got, st.want) {
					t.Fatalf("step %d (%s %s): events %v, want %v", i, st.cmd.Kind, st.cmd.ID, got, st.want)
				}
				if s.Stock != st.stock {
					t.Fatalf("step %d (%s %s): stock %+v, want %+v", i, st.cmd.Kind, st.cmd.ID, s.Stock, st.stock)
				}
				for order, want := range st.orders {
					r, ok := s.Reservation(order)
					if !ok || r.Status != want {
						t.Fatalf("step %d: reservation %s is %v (found %v), want %v", i, order, r.Status, ok, want)
					}
				}
				checkInvariants(t, s)
			}
		})
	}
}

func TestDecideDuplicateKeepsFirstResult(t *testing.T) {
	s := NewState()
	s, _ = Decide(s, restock("c1", 10, 0), DefaultPolicy())
	c := reserve("c2", "o1", 4, time.Minute, 1)
	c.Offset, c.Partition = 7, 3
	s, first := Decide(s, c, DefaultPolicy())
	c.Offset, c.Time = 9, at(2)
	s2, again := Decide(s, c, DefaultPolicy())
	if len(first) != 1 || len(again) != 1 || first[0] != again[0] {
		t.Fatalf("duplicate answered %+v, first was %+v", again, first)
	}
	if again[0].Offset != 7 || again[0].Partition != 3 {
		t.Fatalf("duplicate result lost its position: %+v", again[0])
	}
	if s2.Stock != s.Stock || len(s2.Reservations) != len(s.Reservations) || len(s2.Applied) != len(s.Applied) {
		t.Fatalf("duplicate changed state: %+v -> %+v", s, s2)
	}
	if s2.Offset != 9 {
		t.Fatalf("offset %d after duplicate at 9", s2.Offset)
	}
}

func TestDecideDoesNotModifyInput(t *testing.T) {
	s := NewState()
	s, _ = Decide(s, restock("c1", 10, 0), DefaultPolicy())
	s, _ = Decide(s, reserve("c2", "o1", 4, time.Minute, 1), DefaultPolicy())
	before := s.Reservations[0]
	_, _ = Decide(s, commit("c3", "o1", 2), DefaultPolicy())
	if s.Reservations[0] != before || len(s.Applied) != 2 {
		t.Fatalf("Decide wrote to its input: %+v", s.Reservations[0])
	}
}

func TestDecideForgetsAfterWindow(t *testing.T) {
	p := Policy{DedupeWindow: time.Minute, MaxApplied: 100}
	s := NewState()
	s, _ = Decide(s, restock("c1", 1, 0), p)
	s, _ = Decide(s, restock("c2", 1, 120), p)
	if len(s.Applied) != 1 || s.Applied[0].CommandID != "c2" {
		t.Fatalf("applied after window: %+v", s.Applied)
	}
	// Past the window the id is new again: this is the documented limit.
	s, ev := Decide(s, restock("c1", 1, 121), p)
	if s.Stock.OnHand != 3 || ev[0].Type != EventRestocked {
		t.Fatalf("stock %+v events %+v", s.Stock, ev)
	}
}

func TestDecideCapsApplied(t *testing.T) {
	p := Policy{DedupeWindow: time.Hour, MaxApplied: 3}
	s := NewState()
	for i := range 10 {
		s, _ = Decide(s, restock(string(rune('a'+i)), 1, i), p)
	}
	if len(s.Applied) != 3 || s.Applied[0].CommandID != "h" {
		t.Fatalf("applied %+v", s.Applied)
	}
}

// loggedReads counts the Logged reads Step makes of a Memory.
type loggedReads struct {
	Memory
	n int
}

func (m *loggedReads) Logged(seq int64) (Logged, bool) {
	m.n++
	return m.Memory.Logged(seq)
}

// TestStepKnowsTheWindowFromTheHead: a command on a SKU whose oldest
// remembered command is within the dedupe window, and that is not at its
// cap, reads none of the remembered commands: the head says when the
// oldest was. A head without that time (written before it was kept) reads
// the oldest as before, and both forget the same commands.
func TestStepKnowsTheWindowFromTheHead(t *testing.T) {
	p := Policy{DedupeWindow: time.Minute, MaxApplied: 100}
	s := NewState()
	for i := range 5 {
		s, _ = Decide(s, restock(fmt.Sprintf("c%d", i), 1, i), p)
	}
	h := s.Head()
	if !h.OldestAt.Equal(at(0)) {
		t.Fatalf("OldestAt %v, want %v", h.OldestAt, at(0))
	}
	m := &loggedReads{Memory: s.Memory()}
	h2, _, _ := Step(h, m, restock("c5", 1, 5), p)
	if m.n != 0 || !h2.OldestAt.Equal(at(0)) || h2.Oldest != 1 {
		t.Fatalf("within the window: %d Logged reads, oldest %d at %v", m.n, h2.Oldest, h2.OldestAt)
	}

	// Past the window: the first two are forgotten, whether the head
	// knows the oldest's time or not.
	late := restock("c6", 1, 62)
	for _, known := range []bool{true, false} {
		h := s.Head()
		if !known {
			h.OldestAt = time.Time{}
		}
		m := &loggedReads{Memory: s.Memory()}
		h2, ch, _ := Step(h, m, late, p)
		if h2.Oldest != 3 || !h2.OldestAt.Equal(at(2)) || len(ch.Forget) != 2 {
			t.Fatalf("known %v: oldest %d at %v, forgot %d", known, h2.Oldest, h2.OldestAt, len(ch.Forget))
		}
		if m.n != 3 {
			t.Fatalf("known %v: %d Logged reads, want 3 (two forgotten, one kept)", known, m.n)
		}
	}

	// Everything past the window: only the new command is left.
	m = &loggedReads{Memory: s.Memory()}
	h2, _, _ = Step(s.Head(), m, restock("c7", 1, 600), p)
	if h2.Oldest != h2.Seq || !h2.OldestAt.Equal(at(600)) {
		t.Fatalf("all forgotten: oldest %d of %d at %v", h2.Oldest, h2.Seq, h2.OldestAt)
	}
}

func describe(events []Event) []string {
	var out []string
	for _, e := range events {
		d := e.Type.String()
		if e.Reason != "" {
			d += ":" + e.Reason
		}
		out = append(out, d)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
