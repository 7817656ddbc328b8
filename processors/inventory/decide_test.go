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

// The step tables of Decide are scenario files: see TestDecideScenarios.

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
