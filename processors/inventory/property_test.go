package inventory

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestDecideProperties drives Decide with random command sequences, with
// retries, clock skew and expiries, and checks after every step what must
// hold whatever the sequence:
//   - the ledger: no counter below zero, reserved <= on hand, reserved equals
//     the open reservations, on hand + sold equals the distinct restocks;
//   - a retried command yields its first result and changes nothing;
//   - each reservation is made once and ends at most once.
func TestDecideProperties(t *testing.T) {
	p := Policy{DedupeWindow: 24 * time.Hour, MaxApplied: 1 << 20}
	for seed := range uint64(200) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			runProperty(t, rand.New(rand.NewPCG(seed, 42)), p, 400)
		})
	}
}

func runProperty(t *testing.T, rng *rand.Rand, p Policy, steps int) {
	s := NewState()
	var (
		sent      []Command
		results   = map[string]Event{}
		restocked = map[string]int64{}
		reserved  = map[string]int{} // order -> Reserved events
		ended     = map[string]int{} // order -> Committed/Released/Expired events
		clock     = t0
	)
	for i := range steps {
		var (
			c       Command
			collide bool
		)
		switch {
		case len(sent) > 0 && rng.IntN(5) == 0:
			c = sent[rng.IntN(len(sent))] // a retry, possibly much later
		case len(sent) > 0 && rng.IntN(12) == 0:
			// Another command under an id already used: it must be
			// refused, unless it happens to ask for the same thing.
			c = randomCommand(rng, i, clock)
			first := sent[rng.IntN(len(sent))]
			c.ID, c.Internal = first.ID, first.Internal
			collide = c.Fingerprint() != first.Fingerprint() && c.Kind != KindExpire
		default:
			c = randomCommand(rng, i, clock)
			sent = append(sent, c)
		}
		// Clocks of producers disagree: sometimes a command is from the past.
		clock = clock.Add(time.Duration(rng.IntN(20_000)-2_000) * time.Millisecond)
		c.Offset = int64(i)

		before := s
		var events []Event
		s, events = Decide(s, c, p)
		checkInvariants(t, s)

		for _, e := range events {
			switch e.Type {
			case EventReserved:
				if prev, dup := results[c.ID]; !dup || prev != e {
					reserved[e.OrderID]++
				}
			case EventCommitted, EventReleased, EventExpired:
				if prev, dup := results[c.ID]; !dup || prev != e {
					ended[e.OrderID]++
				}
			}
			if e.Type == EventRestocked {
				restocked[c.ID] = e.Qty
			}
			if reserved[e.OrderID] > 1 || ended[e.OrderID] > 1 || ended[e.OrderID] > reserved[e.OrderID] {
				t.Fatalf("step %d: order %s reserved %d times, ended %d times", i, e.OrderID, reserved[e.OrderID], ended[e.OrderID])
			}
		}

		if c.Kind == KindExpire {
			continue
		}
		if _, known := results[c.ID]; collide && known {
			if len(events) != 1 || events[0].Reason != ReasonCommandIDConflict || s.Stock != before.Stock ||
				s.Seq != before.Seq || len(s.Applied) != len(before.Applied) {
				t.Fatalf("step %d: colliding %s %s answered %+v, stock %+v -> %+v", i, c.Kind, c.ID, events, before.Stock, s.Stock)
			}
			continue
		}
		if !c.Internal && ownedByTitan(before, c.OrderID) && (c.Kind == KindCommit || c.Kind == KindRelease) {
			if e := events[len(events)-1]; e.Reason != ReasonReservedID {
				if _, dup := results[c.ID]; !dup {
					t.Fatalf("step %d: client %s of Titan's reservation %s answered %+v", i, c.Kind, c.OrderID, e)
				}
			}
		}
		var result []Event
		for _, e := range events {
			if e.IsResult() {
				result = append(result, e)
			}
		}
		if len(result) != 1 {
			t.Fatalf("step %d: %s %s gave %d results: %+v", i, c.Kind, c.ID, len(result), events)
		}
		if first, dup := results[c.ID]; dup {
			if result[0] != first {
				t.Fatalf("step %d: retry of %s answered %+v, first %+v", i, c.ID, result[0], first)
			}
			if s.Stock != before.Stock || len(events) != 1 {
				t.Fatalf("step %d: retry of %s changed stock %+v -> %+v", i, c.ID, before.Stock, s.Stock)
			}
		} else {
			results[c.ID] = result[0]
		}

		var total int64
		for _, q := range restocked {
			total += q
		}
		if s.Stock.OnHand+s.Stock.Sold != total {
			t.Fatalf("step %d: on hand %d + sold %d != restocked %d", i, s.Stock.OnHand, s.Stock.Sold, total)
		}
	}
}

// ownedByTitan reports whether the order holds a reservation an internal
// command made.
func ownedByTitan(s State, order string) bool {
	r, ok := s.Reservation(order)
	return ok && r.Internal
}

func randomCommand(rng *rand.Rand, i int, now time.Time) Command {
	c := Command{
		ID:      fmt.Sprintf("c%d", i),
		SKU:     "sku-1",
		OrderID: fmt.Sprintf("o%d", rng.IntN(40)),
		Time:    now,
	}
	if rng.IntN(4) == 0 {
		// Titan's own: the saga's lines use the client's order ids.
		c.ID, c.Internal = fmt.Sprintf("titan:c%d", i), true
	}
	switch n := rng.IntN(10); {
	case n < 2:
		c.Kind, c.Qty = KindRestock, int64(rng.IntN(5))
	case n < 6:
		c.Kind, c.Qty = KindReserve, int64(rng.IntN(6))
		c.TTL = time.Duration(rng.IntN(120)) * time.Second
	case n < 8:
		c.Kind = KindCommit
		if rng.IntN(3) == 0 {
			c.Qty = int64(rng.IntN(4)) // sometimes more than reserved
		}
	case n < 9:
		c.Kind = KindRelease
	default:
		c.Kind = KindExpire
	}
	return c
}
