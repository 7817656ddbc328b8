package flashsale

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/processors/inventory"
)

// sim runs a sale's keys, and the inventory of its SKU, over simulated
// partitions the way goka does: each partition is a log processed in
// order, one record at a time; messages between keys are appended to the
// destination's partition with their origin; the sale key's inventory
// commands go to the SKU's partition and the inventory's events about the
// allocation come back to the sale key's; and a partition can crash,
// replaying records since its last commit, either with the state writes
// since then kept (they reached the changelog) or lost (they did not),
// while everything it sent stays sent.
type sim struct {
	t      *testing.T
	rng    *rand.Rand
	parts  []*simPartition
	states map[string]any
	router testRouter
	sale   Sale
	// results holds every published result per idempotency key.
	results map[string][]Result
	// settlements are the settle commands the sale key sent.
	settlements []inventory.Command
}

// A record is a flash-sale message, an inventory command (keyed by its
// SKU's state key) or an inventory event for the sale key.
type simRecord struct {
	msg    Message
	cmd    *inventory.Command
	answer *inventory.Event
	// undo is the state of the record's key before it was applied.
	undo     any
	hadState bool
}

// invKey is the inventory state's key of a SKU in the sim.
func invKey(sku string) string { return "inv/" + sku }

func (r simRecord) key() string {
	switch {
	case r.cmd != nil:
		return invKey(r.cmd.SKU)
	case r.answer != nil:
		return testRouter{}.Sale(strings.TrimPrefix(r.answer.OrderID, AllocationPrefix))
	}
	return r.msg.Key
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

func (x *sim) send(m Message) { x.append(simRecord{msg: m}) }

func (x *sim) append(r simRecord) {
	p := x.parts[x.partitionOf(r.key())]
	p.log = append(p.log, r)
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
	key := rec.key()
	prev, had := x.states[key]
	rec.undo, rec.hadState = prev, had

	var out Output
	switch {
	case rec.cmd != nil:
		x.applyInventory(key, prev, *rec.cmd, int64(p.next))
	case rec.answer != nil:
		s, _ := prev.(SaleState)
		s, out = OnInventory(s, *rec.answer, x.router)
		x.states[key] = s
	case m.Key == x.router.Sale(m.SaleID):
		s, _ := prev.(SaleState)
		s, out = DecideSale(s, m, x.router, DefaultPolicy())
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
	for _, c := range out.Inventory {
		if c.ID == SettleCommandID(x.sale.ID) {
			x.settlements = append(x.settlements, c)
		}
		x.append(simRecord{cmd: &c})
	}
	p.next++
	if x.rng.IntN(10) == 0 {
		p.committed = p.next
	}
	return true
}

// applyInventory runs a command through the SKU's decision logic, as the
// inventory's internal topic delivers it, and sends the events about the
// sale's allocation back to the sale key.
func (x *sim) applyInventory(key string, prev any, c inventory.Command, offset int64) {
	st, ok := prev.(inventory.State)
	if !ok {
		st = inventory.NewState()
	}
	c.Internal, c.Offset = true, offset
	st, events := inventory.Decide(st, c, inventory.DefaultPolicy())
	if err := inventory.CheckState(st); err != nil {
		x.t.Fatal(err)
	}
	x.states[key] = st
	for _, e := range events {
		if strings.HasPrefix(e.OrderID, AllocationPrefix) {
			x.append(simRecord{answer: &e})
		}
	}
}

// quiesce processes records until none is left.
func (x *sim) quiesce() {
	for x.step() {
	}
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
				x.states[rec.key()] = rec.undo
			} else {
				delete(x.states, rec.key())
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
	// The SKU holds more than the sale allocates; the sale is created, and
	// (as the API waits for it) is open before buyers come, crashes or not.
	const restocked = 5000
	x.applyInventory(invKey(s.SKU), nil, inventory.Command{ID: "titan:restock", Kind: inventory.KindRestock, SKU: s.SKU,
		Qty: restocked, Time: t0}, 0)
	x.send(Message{Kind: KindCreate, SaleID: s.ID, Key: x.router.Sale(s.ID), Sale: s, Time: t0.Add(-time.Minute)})
	for range 3 {
		x.crash(x.rng.IntN(2) == 0)
		x.quiesce()
	}
	if st := x.states[x.router.Sale(s.ID)].(SaleState); st.Phase != PhaseOpen {
		t.Fatalf("sale not open: %+v", st)
	}

	var sent []Message
	// refused holds the attempts admission would have answered without
	// sending, with its reason; they are sent all the same, and none may
	// be sold.
	refused := map[string]string{}
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
			if reason := x.admit(m); reason != "" {
				refused[m.IdempotencyKey] = reason
			}
		}
		x.send(m)
		for range x.rng.IntN(6) {
			x.step()
		}
		if x.rng.IntN(200) == 0 {
			x.crash(x.rng.IntN(2) == 0)
		}
	}
	x.quiesce()
	// The sale ends; the settler closes every bucket, once or twice.
	for b := range buckets {
		for range 1 + x.rng.IntN(2) {
			x.send(Message{Kind: KindClose, SaleID: s.ID, Key: x.router.Bucket(s.ID, b), Bucket: b, Time: s.End})
		}
	}
	x.crash(x.rng.IntN(2) == 0)
	x.quiesce()

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
	for _, m := range sent {
		if reason, ok := refused[m.IdempotencyKey]; ok && x.results[m.IdempotencyKey][0].Status == StatusPurchased {
			t.Fatalf("admission refused attempt %s (%s), and the sale sold it: %+v", m.IdempotencyKey, reason, x.results[m.IdempotencyKey][0])
		}
	}
	if int64(users)*s.PerUserLimit >= 2*units && tries >= 4*int(units) && len(refused) == 0 {
		t.Fatalf("admission refused nothing in a sale asked for far more than it holds")
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
	if st := x.states[x.router.Sale(s.ID)].(SaleState); !st.Settled() || len(x.settlements) == 0 {
		t.Fatalf("not settled: %+v", st)
	}
	for _, c := range x.settlements {
		if c.Qty != sold {
			t.Fatalf("settled %d sold, buckets sold %d", c.Qty, sold)
		}
	}
	// The SKU's ledger: the units sold left the stock once, the rest of
	// the allocation came back, nothing is held.
	inv := x.states[invKey(s.SKU)].(inventory.State)
	if want := (inventory.Stock{OnHand: restocked - sold, Sold: sold}); inv.Stock != want {
		t.Fatalf("stock %+v, want %+v", inv.Stock, want)
	}
	// With buyers asking for far more than there is, nothing is left over:
	// a bucket that runs dry borrows what others hold.
	if int64(users)*s.PerUserLimit >= 2*units && tries >= 4*int(units) && available != 0 {
		t.Fatalf("sale not sold out: %d of %d units left", available, units)
	}
	t.Logf("attempts=%d sold=%d available=%d buyers=%d", len(sent), sold, available, len(perUser))
}

// admit is what the API's admission answers m with, from what the states
// hold when m is sent: the buyer's purchases and the buckets' sold counts,
// which only grow and so bound from below what the keys see when m
// reaches them.
func (x *sim) admit(m Message) string {
	var purchased int64
	if u, ok := x.states[m.Key].(UserState); ok {
		purchased = u.Purchased
	}
	var sold int64
	for b := range x.sale.Buckets {
		if st, ok := x.states[x.router.Bucket(x.sale.ID, b)].(BucketState); ok {
			sold += st.Sold
		}
	}
	return Admit(x.sale, purchased, sold, m.Qty, m.Time)
}
