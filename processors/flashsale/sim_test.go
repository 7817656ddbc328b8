package flashsale

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/partition"
)

// sim runs a sale's keys over simulated partitions the way goka does: each
// partition is a log processed in order, one record at a time; messages
// between keys are appended to the destination's partition with their
// origin; and a partition can crash, replaying records since its last
// commit, either with the state writes since then kept (they reached the
// changelog) or lost (they did not), while everything it sent stays sent.
type sim struct {
	t      *testing.T
	rng    *rand.Rand
	parts  []*simPartition
	states map[string]any
	router testRouter
	sale   Sale
	// results holds every published result per idempotency key.
	results     map[string][]Result
	settlements []Settlement
}

type simRecord struct {
	msg Message
	// undo is the state of msg.Key before the record was applied.
	undo     any
	hadState bool
}

type simPartition struct {
	log       []simRecord
	next      int // offset of the next record to process
	committed int
}

func newSim(t *testing.T, seed uint64, s Sale, partitions int) *sim {
	x := &sim{t: t, rng: rand.New(rand.NewPCG(seed, 7)), states: map[string]any{}, sale: s, results: map[string][]Result{}}
	for range partitions {
		x.parts = append(x.parts, &simPartition{})
	}
	return x
}

func (x *sim) partitionOf(key string) int {
	return int(partition.Partition([]byte(key), int32(len(x.parts))))
}

func (x *sim) send(m Message) {
	p := x.parts[x.partitionOf(m.Key)]
	p.log = append(p.log, simRecord{msg: m})
}

// step processes one record of a random partition with work; it reports
// whether there was any.
func (x *sim) step() bool {
	var ready []int
	for i, p := range x.parts {
		if p.next < len(p.log) {
			ready = append(ready, i)
		}
	}
	if len(ready) == 0 {
		return false
	}
	pi := ready[x.rng.IntN(len(ready))]
	p := x.parts[pi]
	rec := &p.log[p.next]
	m := rec.msg
	prev, had := x.states[m.Key]
	rec.undo, rec.hadState = prev, had

	var out Output
	switch {
	case m.Key == x.router.Sale(m.SaleID):
		s, _ := prev.(SaleState)
		s, out = DecideSale(s, m, x.router)
		x.states[m.Key] = s
	case strings.Contains(m.Key, "#"):
		s, _ := prev.(BucketState)
		s, out = DecideBucket(s, m, x.router)
		x.states[m.Key] = s
	default:
		s, _ := prev.(UserState)
		s, out = DecideUser(s, m, x.router)
		x.states[m.Key] = s
	}
	for seq, o := range out.Messages {
		o.Internal = true
		o.Origin = Origin{Partition: int32(pi), Offset: int64(p.next), Seq: int32(seq)}
		x.send(o)
	}
	for _, r := range out.Results {
		x.results[r.IdempotencyKey] = append(x.results[r.IdempotencyKey], r)
	}
	if out.Settle != nil {
		x.settlements = append(x.settlements, *out.Settle)
	}
	p.next++
	if x.rng.IntN(10) == 0 {
		p.committed = p.next
	}
	return true
}

// crash replays a random partition from its last commit. With lose, the
// state writes since the commit are lost too.
func (x *sim) crash(lose bool) {
	pi := x.rng.IntN(len(x.parts))
	p := x.parts[pi]
	if lose {
		for o := p.next - 1; o >= p.committed; o-- {
			rec := p.log[o]
			if rec.hadState {
				x.states[rec.msg.Key] = rec.undo
			} else {
				delete(x.states, rec.msg.Key)
			}
		}
	}
	p.next = p.committed
}

func TestSimulatedSale(t *testing.T) {
	cases := []struct {
		units   int64
		buckets int
		users   int
		tries   int
	}{
		{units: 500, buckets: 8, users: 2000, tries: 6000},
		{units: 50, buckets: 8, users: 100, tries: 2000},
		{units: 300, buckets: 1, users: 400, tries: 1500},
		{units: 1000, buckets: 4, users: 300, tries: 1500}, // demand below supply
	}
	for _, c := range cases {
		for seed := range uint64(6) {
			t.Run(fmt.Sprintf("units=%d buckets=%d seed=%d", c.units, c.buckets, seed), func(t *testing.T) {
				runSim(t, seed, c.units, c.buckets, c.users, c.tries)
			})
		}
	}
}

func runSim(t *testing.T, seed uint64, units int64, buckets, users, tries int) {
	s := sale(units, buckets)
	x := newSim(t, seed, s, 8)
	x.send(Message{Kind: KindDefine, SaleID: s.ID, Key: x.router.Sale(s.ID), Sale: s, Time: t0})

	var sent []Message
	bucketOf := func(user string) int { return int(partition.Partition([]byte(user), int32(buckets))) }
	for i := 0; i < tries; i++ {
		var m Message
		if len(sent) > 0 && x.rng.IntN(10) == 0 {
			m = sent[x.rng.IntN(len(sent))] // a client retry
		} else {
			user := fmt.Sprintf("u%d", x.rng.IntN(users))
			m = Message{Kind: KindPurchase, SaleID: s.ID, Key: x.router.User(s.ID, user), UserID: user,
				IdempotencyKey: fmt.Sprintf("k%d", i), Qty: int64(1 + x.rng.IntN(2)), Bucket: bucketOf(user),
				Time: t0.Add(time.Duration(i) * time.Millisecond)}
			sent = append(sent, m)
		}
		x.send(m)
		for range x.rng.IntN(6) {
			x.step()
		}
		if x.rng.IntN(200) == 0 {
			x.crash(x.rng.IntN(2) == 0)
		}
	}
	for x.step() {
	}
	// The sale ends; the settler closes every bucket, once or twice.
	for b := range buckets {
		for range 1 + x.rng.IntN(2) {
			x.send(Message{Kind: KindClose, SaleID: s.ID, Key: x.router.Bucket(s.ID, b), Bucket: b, Time: s.End})
		}
	}
	for x.step() {
	}

	// Every attempt has exactly one result, repeated identically.
	var purchased int64
	perUser := map[string]int64{}
	for _, m := range sent {
		rs := x.results[m.IdempotencyKey]
		if len(rs) == 0 {
			t.Fatalf("attempt %s has no result", m.IdempotencyKey)
		}
		for _, r := range rs[1:] {
			if r != rs[0] {
				t.Fatalf("attempt %s has two results: %+v and %+v", m.IdempotencyKey, rs[0], r)
			}
		}
		if rs[0].Status == StatusPurchased {
			purchased += rs[0].Qty
			perUser[rs[0].UserID] += rs[0].Qty
		}
	}
	for u, n := range perUser {
		if n > s.PerUserLimit {
			t.Fatalf("user %s bought %d, limit %d", u, n, s.PerUserLimit)
		}
	}

	// The ledger: every unit is sold or available in exactly one bucket.
	var sold, available int64
	for b := range buckets {
		st := x.states[x.router.Bucket(s.ID, b)].(BucketState)
		if st.Sale.Share(b)+st.Received-st.Given != st.Available+st.Sold {
			t.Fatalf("bucket %d does not balance: %+v", b, st)
		}
		if len(st.Parked) != 0 || st.Borrowing {
			t.Fatalf("bucket %d still borrowing at quiescence: %+v", b, st)
		}
		sold += st.Sold
		available += st.Available
	}
	if sold+available != units || sold != purchased {
		t.Fatalf("sold %d + available %d != %d units; purchased %d", sold, available, units, purchased)
	}
	if st := x.states[x.router.Sale(s.ID)].(SaleState); !st.Settled || len(x.settlements) == 0 {
		t.Fatalf("not settled: %+v", st)
	}
	for _, st := range x.settlements {
		if st.Sold != sold {
			t.Fatalf("settled %d sold, buckets sold %d", st.Sold, sold)
		}
	}
	// With buyers asking for far more than there is, nothing is left over:
	// a bucket that runs dry borrows what others hold.
	if int64(users)*s.PerUserLimit >= 2*units && tries >= 4*int(units) && available != 0 {
		t.Fatalf("sale not sold out: %d of %d units left", available, units)
	}
	t.Logf("attempts=%d sold=%d available=%d buyers=%d", len(sent), sold, available, len(perUser))
}
