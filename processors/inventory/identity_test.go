package inventory

import (
	"math"
	"testing"
	"time"
)

// A command id names one command: the same command again answers its first
// result; another command under the id is refused and changes nothing.
func TestCommandIdentity(t *testing.T) {
	const ttl = time.Minute
	p := DefaultPolicy()
	base := NewState()
	base, _ = Decide(base, restock("r1", 10, 0), p)
	base, _ = Decide(base, reserve("v1", "o1", 2, ttl, 1), p)

	for _, tc := range []struct {
		name string
		cmd  Command
		want string // "first" or a reason
	}{
		{"the same restock later", restock("r1", 10, 30), "first"},
		{"the same reserve later", reserve("v1", "o1", 2, ttl, 30), "first"},
		{"a reserve under a restock's id", reserve("r1", "o2", 1, ttl, 2), ReasonCommandIDConflict},
		{"a restock under a reserve's id", restock("v1", 5, 2), ReasonCommandIDConflict},
		{"a commit under a reserve's id", commit("v1", "o1", 2), ReasonCommandIDConflict},
		{"another qty", reserve("v1", "o1", 3, ttl, 2), ReasonCommandIDConflict},
		{"another order", reserve("v1", "o9", 2, ttl, 2), ReasonCommandIDConflict},
		{"another ttl", reserve("v1", "o1", 2, 2*ttl, 2), ReasonCommandIDConflict},
		{"another restock qty", restock("r1", 11, 2), ReasonCommandIDConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, events := Decide(base, tc.cmd, p)
			if len(events) != 1 {
				t.Fatalf("events %+v", events)
			}
			e := events[0]
			if tc.want == "first" {
				first, _ := base.Head().applied(base.Memory(), tc.cmd)
				if e != first.Result {
					t.Fatalf("answered %+v, first result %+v", e, first.Result)
				}
			} else if e.Type != EventRejected || e.Reason != tc.want || e.CommandID != tc.cmd.ID {
				t.Fatalf("answered %+v, want rejected:%s", e, tc.want)
			}
			if next.Stock != base.Stock || len(next.Reservations) != len(base.Reservations) ||
				len(next.Applied) != len(base.Applied) || next.Seq != base.Seq {
				t.Fatalf("state changed: %+v -> %+v", base, next)
			}
			// The id still names the first command.
			if _, again := Decide(next, base.Applied[len(base.Applied)-1].command(), p); len(again) != 1 {
				t.Fatal("no answer")
			}
		})
	}
}

// command rebuilds the command an Applied entry remembers, for the test
// above: only the fields the fingerprint covers.
func (a Applied) command() Command {
	return Command{ID: a.CommandID}
}

// Reservations Titan makes (internal commands) are ended only by Titan; a
// client's commands on them, or under Titan's ids, change nothing.
func TestReservedForTitan(t *testing.T) {
	p := DefaultPolicy()
	internal := func(c Command) Command { c.Internal = true; return c }
	s := NewState()
	s, _ = Decide(s, restock("r1", 10, 0), p)
	s, _ = Decide(s, internal(reserve("titan:order:o1:sku-1:reserve", "o1", 4, time.Hour, 1)), p)
	s, _ = Decide(s, internal(reserve("titan:flash-sale:s1:allocate", "titan:flash-sale:s1", 5, time.Hour, 1)), p)
	before := s

	for _, c := range []Command{
		release("c1", "o1", 2),
		commit("c2", "o1", 2),
		release("c3", "titan:flash-sale:s1", 2),
		commitQty("c4", "titan:flash-sale:s1", 1, 2),
		reserve("c5", "titan:flash-sale:s2", 1, time.Minute, 2),
		restock("titan:order:o1:sku-1:reserve", 3, 2),
		reserve("titan:order:o2:sku-1:reserve", "o2", 1, time.Minute, 2),
	} {
		next, events := Decide(s, c, p)
		res := events[len(events)-1]
		if res.Type != EventRejected || res.Reason != ReasonReservedID {
			t.Fatalf("%s %s on %s: %+v, want rejected:%s", c.Kind, c.ID, c.OrderID, res, ReasonReservedID)
		}
		if next.Stock != before.Stock {
			t.Fatalf("%s %s changed stock %+v -> %+v", c.Kind, c.ID, before.Stock, next.Stock)
		}
		for _, r := range next.Reservations {
			if r.Status != StatusOpen {
				t.Fatalf("%s %s ended %+v", c.Kind, c.ID, r)
			}
		}
	}

	// Titan's own commands end them.
	next, events := Decide(s, internal(commitQty("titan:flash-sale:s1:settle", "titan:flash-sale:s1", 3, 3)), p)
	if res := events[len(events)-1]; res.Type != EventCommitted || res.Qty != 3 {
		t.Fatalf("settlement: %+v", res)
	}
	if next.Stock != (Stock{OnHand: 7, Reserved: 4, Sold: 3}) {
		t.Fatalf("after settlement %+v", next.Stock)
	}
	// A client's reservation stays the client's to end.
	s2, _ := Decide(s, reserve("c6", "o7", 1, time.Minute, 2), p)
	if _, ev := Decide(s2, release("c7", "o7", 3), p); ev[len(ev)-1].Type != EventReleased {
		t.Fatalf("client release of its own reservation: %+v", ev)
	}
}

// Any time and TTL a record can carry leaves a state that reads back as it
// was written, deadlines in the years 1 to 9999, and the ledger intact.
func TestExtremeTimes(t *testing.T) {
	p := DefaultPolicy()
	for _, ms := range []int64{math.MaxInt64, math.MaxInt64 - 1, math.MinInt64, -1, 1, 253402300799999} {
		s := NewState()
		s, _ = Decide(s, restock("r1", 10, 0), p)
		c := reserve("v1", "o1", 2, time.Minute, 0)
		c.Time = time.UnixMilli(ms)
		s, _ = Decide(s, c, p)
		s, _ = Decide(s, reserve("v2", "o2", 2, time.Minute, 5), p)
		checkInvariants(t, s)
		back := StateFromWire(StateToWire(s))
		for i, r := range back.Reservations {
			if !r.ExpiresAt.Equal(s.Reservations[i].ExpiresAt) || r.ExpiresAt.Year() < 1 || r.ExpiresAt.Year() > 10000 {
				t.Fatalf("ms %d: reservation %+v reads back as %+v", ms, s.Reservations[i], r)
			}
		}
	}
	for _, ttl := range []time.Duration{math.MaxInt64, -1, maxTTL + time.Millisecond} {
		s := NewState()
		s, _ = Decide(s, restock("r1", 10, 0), p)
		_, events := Decide(s, reserve("v1", "o1", 2, ttl, 1), p)
		if e := events[0]; e.Type != EventRejected || e.Reason != ReasonInvalidCommand {
			t.Fatalf("ttl %v: %+v", ttl, e)
		}
	}
}
