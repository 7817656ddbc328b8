package inventorytopo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka/storage"

	"github.com/titan-commerce/titan/processors/inventory"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// reading counts the values a storage hands out, through Get and its
// iterators: the heads and memory entries a sweep reads.
type reading struct {
	storage.Storage
	reads int
}

func (r *reading) Get(key string) ([]byte, error) {
	r.reads++
	return r.Storage.Get(key)
}

func (r *reading) IteratorWithRange(start, limit []byte) (storage.Iterator, error) {
	it, err := r.Storage.IteratorWithRange(start, limit)
	return &readingIter{Iterator: it, r: r}, err
}

type readingIter struct {
	storage.Iterator
	r *reading
}

func (i *readingIter) Value() ([]byte, error) {
	i.r.reads++
	return i.Iterator.Value()
}

// sweepRig is a partition of many quiet SKUs, each holding a reservation
// due a day from now, and a sweeper over it that records what it sends.
type sweepRig struct {
	t    *testing.T
	st   *reading
	now  time.Time
	sw   *Sweeper
	sent []*inventoryv1.Command
}

func newSweepRig(t *testing.T, quiet int) *sweepRig {
	r := &sweepRig{t: t, st: &reading{Storage: pebble(t)}, now: time.UnixMilli(1_700_000_000_000)}
	for i := range quiet {
		tb := &table{t: t, st: r.st, sku: fmt.Sprintf("q-%05d", i), writer: 1}
		tb.apply(inventory.Command{ID: "r", Kind: inventory.KindRestock, SKU: tb.sku, Qty: 5, Time: r.now}, inventory.DefaultPolicy(), false)
		tb.apply(inventory.Command{ID: "s", Kind: inventory.KindReserve, SKU: tb.sku, OrderID: "later", Qty: 1, TTL: 24 * time.Hour, Time: r.now}, inventory.DefaultPolicy(), false)
	}
	r.sw = NewSweeper(func() []storage.Storage { return []storage.Storage{r.st} },
		func(_ context.Context, cmds []*inventoryv1.Command) ([]int64, error) {
			r.sent = append(r.sent, cmds...)
			return make([]int64, len(cmds)), nil
		}, time.Second, nil)
	r.sw.now = func() time.Time { return r.now.Add(time.Minute) }
	return r
}

// reserve reserves one unit of a new SKU for ttl; crash leaves only the
// head written, naming its other writes in its redo.
func (r *sweepRig) reserve(sku string, ttl time.Duration, crash bool) {
	tb := &table{t: r.t, st: r.st, sku: sku, writer: 1}
	tb.apply(inventory.Command{ID: "r", Kind: inventory.KindRestock, SKU: sku, Qty: 5, Time: r.now}, inventory.DefaultPolicy(), false)
	tb.apply(inventory.Command{ID: "s", Kind: inventory.KindReserve, SKU: sku, OrderID: "due", Qty: 1, TTL: ttl, Time: r.now}, inventory.DefaultPolicy(), crash)
}

func (r *sweepRig) sweep() {
	r.t.Helper()
	r.st.reads = 0
	if err := r.sw.Sweep(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

func (r *sweepRig) proposed() []string {
	if len(r.sent) > 10 {
		return []string{fmt.Sprintf("%d proposals, %s first", len(r.sent), r.sent[0].GetSku())}
	}
	var out []string
	for _, c := range r.sent {
		out = append(out, c.GetSku()+"/"+c.GetOrderId())
	}
	return out
}

// walkAll sweeps until the sweeper has walked every head of the rig's
// partition once, and returns how many ticks that took.
func (r *sweepRig) walkAll() int {
	r.t.Helper()
	ticks := 0
	for ps := r.sw.partitions[r.st]; ps == nil || !ps.walked; ps = r.sw.partitions[r.st] {
		r.sweep()
		if ticks++; ticks > 1000 {
			r.t.Fatal("the walk does not end")
		}
	}
	return ticks
}

// TestSweepFollowsWhatIsDue: once the sweeper has walked a partition, a
// tick finds a due reservation through the expiry index wherever its SKU
// sorts, and reads the heads of what is due, not every SKU.
func TestSweepFollowsWhatIsDue(t *testing.T) {
	const quiet = 3 * walkBudget
	r := newSweepRig(t, quiet)
	if ticks := r.walkAll(); ticks > quiet/walkBudget+1 {
		t.Errorf("the walk over %d heads took %d ticks at %d a tick", quiet, ticks, walkBudget)
	}
	if len(r.sent) != 0 {
		t.Fatalf("proposed %v with nothing due", r.proposed())
	}
	r.reserve("z-last", time.Second, false)
	r.sweep()
	if got := r.proposed(); !slices.Equal(got, []string{"z-last/due"}) {
		t.Fatalf("proposed %v, want z-last/due", got)
	}
	// The due SKU's head and a few entries of its memory.
	if r.st.reads > 10 {
		t.Errorf("a tick read %d values of a partition of %d SKUs", r.st.reads, quiet+1)
	}
}

// TestSweepWatchesWhatTheIndexCannotList: a reservation whose head names
// it in its redo, its own keys never written (the incarnation died between
// the two), is not in the index. The walk finds it when it is due, and
// otherwise watches its SKU until it is, or until a command makes the SKU
// ordinary again.
func TestSweepWatchesWhatTheIndexCannotList(t *testing.T) {
	for _, ttl := range []time.Duration{time.Second, 2 * time.Hour} {
		t.Run(ttl.String(), func(t *testing.T) {
			const quiet = 3 * walkBudget
			r := newSweepRig(t, quiet)
			r.reserve("z-last", ttl, true)
			r.walkAll()
			if ttl > time.Minute {
				if len(r.sent) != 0 {
					t.Fatalf("proposed %v before anything was due", r.proposed())
				}
				r.sw.now = func() time.Time { return r.now.Add(ttl + time.Second) }
				r.sweep()
			}
			if got := r.proposed(); !slices.Equal(got, []string{"z-last/due"}) {
				t.Fatalf("proposed %v, want z-last/due", got)
			}
			if !r.sw.partitions[r.st].watch["z-last"] {
				t.Fatal("the SKU is not watched")
			}
			// Its next command writes the redo's keys again: the index
			// lists the reservation, and the SKU is no longer watched.
			tb := &table{t: t, st: r.st, sku: "z-last", writer: 2}
			tb.apply(inventory.Command{ID: "t", Kind: inventory.KindRestock, SKU: "z-last", Qty: 1, Time: r.now}, inventory.DefaultPolicy(), false)
			r.sweep()
			if r.sw.partitions[r.st].watch["z-last"] {
				t.Error("the SKU is still watched after its redo was written")
			}
		})
	}
}

// TestSweepWalkFindsLayout1: a SKU still in layout 1 keeps its
// reservations inside its head, where the index cannot list them; the walk
// finds them.
func TestSweepWalkFindsLayout1(t *testing.T) {
	r := newSweepRig(t, walkBudget+10)
	s := inventory.NewState()
	s, _ = inventory.Decide(s, inventory.Command{ID: "r", Kind: inventory.KindRestock, SKU: "z-old", Qty: 5, Time: r.now}, inventory.DefaultPolicy())
	s, _ = inventory.Decide(s, inventory.Command{ID: "s", Kind: inventory.KindReserve, SKU: "z-old", OrderID: "due", Qty: 1, TTL: 2 * time.Hour, Time: r.now}, inventory.DefaultPolicy())
	putState(t, r.st, "z-old", s, true)
	r.walkAll()
	if len(r.sent) != 0 {
		t.Fatalf("proposed %v before anything was due", r.proposed())
	}
	r.sw.now = func() time.Time { return r.now.Add(3 * time.Hour) } // the quiet ones are due in a day
	r.sweep()
	var old []string
	for _, p := range r.proposed() {
		if strings.HasPrefix(p, "z-old/") {
			old = append(old, p)
		}
	}
	if !slices.Equal(old, []string{"z-old/due"}) {
		t.Fatalf("proposed %v for z-old, want z-old/due", old)
	}
}
