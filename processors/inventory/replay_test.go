package inventory

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// A record read again after a crash, from the very offset it was applied
// from, publishes again exactly what it published the first time,
// expiries included, and changes nothing: the topology sends events only
// once the state write is in the changelog, so a successor that finds the
// state moved may be the only one to publish them.
func TestDecideReplayPublishesTheSameEvents(t *testing.T) {
	p := DefaultPolicy()
	s := NewState()
	s, _ = Decide(s, restock("c1", 10, 0), p)
	s, _ = Decide(s, reserve("c2", "o1", 3, time.Second, 1), p)

	c := reserve("c3", "o2", 4, time.Minute, 10) // makes o1 due
	c.Partition, c.Offset = 2, 40
	s, first := Decide(s, c, p)
	if got := describe(first); !equalStrings(got, []string{"expired", "reserved"}) {
		t.Fatalf("first decision %v", got)
	}
	s, _ = Decide(s, restock("c4", 1, 11), p) // state moves on past the record

	again, replayed := Decide(s, c, p)
	if !reflect.DeepEqual(replayed, first) {
		t.Fatalf("replay published %+v, first %+v", replayed, first)
	}
	if !reflect.DeepEqual(again, s) {
		t.Fatalf("replay changed the state:\n got %+v\nwant %+v", again, s)
	}

	// The same command from another record is a client's retry: its
	// result alone, as before.
	retry := c
	retry.Offset, retry.Time = 41, at(12)
	_, answered := Decide(s, retry, p)
	if len(answered) != 1 || answered[0] != first[1] {
		t.Fatalf("retry answered %+v, want the first result %+v", answered, first[1])
	}
}

func TestDecideReplayOfAnExpire(t *testing.T) {
	p := DefaultPolicy()
	s := NewState()
	s, _ = Decide(s, restock("c1", 10, 0), p)
	s, _ = Decide(s, reserve("c2", "o1", 3, time.Second, 1), p)
	x := expire("x1", "o1", 5)
	x.Internal, x.Offset = true, 7
	s, first := Decide(s, x, p)
	if got := describe(first); !equalStrings(got, []string{"expired"}) {
		t.Fatalf("first expire %v", got)
	}
	if _, replayed := Decide(s, x, p); !reflect.DeepEqual(replayed, first) {
		t.Fatalf("replay of the expire published %+v, first %+v", replayed, first)
	}
	// The sweeper proposing the expiry again, in a new record, finds the
	// reservation ended.
	again := x
	again.Offset = 8
	if _, events := Decide(s, again, p); len(events) != 0 {
		t.Fatalf("a second proposal published %+v", events)
	}
	// An Expire's memory never answers for another command under its id.
	clash := restock("x1", 2, 6)
	clash.Offset = 9
	if _, events := Decide(s, clash, p); len(events) != 1 || events[0].Type != EventRestocked {
		t.Fatalf("a restock under an expire's id answered %+v", events)
	}
}

// Over random histories, any record still remembered, replayed at any
// later point, publishes what it first published and leaves the state as
// it is.
func TestDecideReplayProperty(t *testing.T) {
	p := DefaultPolicy()
	var replays, withExpiries int
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		s := NewState()
		clock := t0
		type record struct {
			c      Command
			events []Event
		}
		var log []record
		for i := range 300 {
			c := randomCommand(rng, i, clock)
			c.Internal = c.Kind == KindExpire
			c.Offset = int64(i)
			clock = clock.Add(time.Duration(rng.IntN(20_000)) * time.Millisecond)
			var events []Event
			s, events = Decide(s, c, p)
			log = append(log, record{c, events})
			if i%7 != 0 {
				continue
			}
			r := log[rng.IntN(len(log))]
			if _, remembered := s.Head().applied(s.Memory(), r.c); !remembered {
				continue
			}
			if a, ok := s.Head().applied(s.Memory(), r.c); ok && !a.replayedBy(r.c) {
				continue // the id now names a later record of the same command
			}
			next, replayed := Decide(s, r.c, p)
			replays++
			for _, e := range replayed {
				if e.Type == EventExpired {
					withExpiries++
					break
				}
			}
			if len(r.events) > 0 && !reflect.DeepEqual(replayed, r.events) {
				t.Fatalf("seed %d step %d: replay of offset %d published %+v, first %+v",
					seed, i, r.c.Offset, replayed, r.events)
			}
			if !reflect.DeepEqual(next, s) {
				t.Fatalf("seed %d step %d: replay of offset %d changed the state", seed, i, r.c.Offset)
			}
		}
	}
	if replays < 1000 || withExpiries < 50 {
		t.Fatalf("%d replays, %d with expiries: the histories exercise too little", replays, withExpiries)
	}
}
