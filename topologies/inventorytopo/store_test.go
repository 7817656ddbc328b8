package inventorytopo

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka/storage"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/localindex"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/state"
)

// pebble opens a table partition's storage as the processor does, with
// the expiry index.
func pebble(t testing.TB) storage.Storage {
	t.Helper()
	b, err := state.NewBuilder(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := localindex.Builder(b.Build, "test-table", expiryIndex)("test-table", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(); _ = b.Close() })
	return st
}

func set(t testing.TB, st storage.Storage, w write) {
	t.Helper()
	var err error
	if w.value == nil {
		err = st.Delete(w.key)
	} else {
		err = st.Set(w.key, w.value)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// table is a SKU in a partition's storage, driven as the callback drives
// it; crash drops the writes after the head, as a process killed between
// them and a changelog cut there would.
type table struct {
	t      testing.TB
	st     storage.Storage
	sku    string
	writer uint64
}

func (tb *table) value() stored {
	b, err := tb.st.Get(tb.sku)
	if err != nil {
		tb.t.Fatal(err)
	}
	if b == nil {
		return newStored()
	}
	v, err := decodeStored(b)
	if err != nil {
		tb.t.Fatal(err)
	}
	return v
}

func (tb *table) apply(c inventory.Command, p inventory.Policy, crash bool) []inventory.Event {
	tb.t.Helper()
	o, err := step(tb.value(), tb.st, tb.sku, c, p, tb.writer)
	if err != nil {
		tb.t.Fatal(err)
	}
	for _, w := range o.redo {
		set(tb.t, tb.st, w)
	}
	b, err := encodeStored(o.next)
	if err != nil {
		tb.t.Fatal(err)
	}
	set(tb.t, tb.st, write{key: tb.sku, value: b})
	if crash {
		// A successor is another incarnation.
		tb.writer++
		return o.events
	}
	for _, w := range o.next.redo {
		set(tb.t, tb.st, w)
	}
	return o.events
}

func sortedState(s inventory.State) inventory.State {
	s.Reservations = slices.Clone(s.Reservations)
	slices.SortFunc(s.Reservations, func(a, b inventory.Reservation) int { return strings.Compare(a.OrderID, b.OrderID) })
	return s
}

// TestStoreDecidesAsTheModel drives random commands through the table
// layout and through Decide on a whole State, and checks that they answer
// the same and hold the same SKU after every step, also when a step's
// writes after its head are lost and a successor picks up.
func TestStoreDecidesAsTheModel(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			p := inventory.Policy{DedupeWindow: time.Duration(1+rng.IntN(300)) * time.Second, MaxApplied: 1 + rng.IntN(40)}
			tb := &table{t: t, st: pebble(t), sku: "sku-1", writer: 1}
			model := inventory.NewState()
			clock := time.UnixMilli(1_700_000_000_000)
			var sent []inventory.Command
			for i := range 300 {
				c := command(rng, i, clock)
				if len(sent) > 0 && rng.IntN(5) == 0 {
					c = sent[rng.IntN(len(sent))]
				} else {
					sent = append(sent, c)
				}
				clock = clock.Add(time.Duration(rng.IntN(5_000)) * time.Millisecond)
				c.Offset = int64(i)
				var want []inventory.Event
				model, want = inventory.Decide(model, c, p)
				got := tb.apply(c, p, rng.IntN(10) == 0)
				if !slices.Equal(got, want) {
					t.Fatalf("step %d %+v:\n table %+v\n model %+v", i, c, got, want)
				}
				s, err := LoadState(tb.st, tb.sku)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				g, _ := proto.Marshal(inventory.StateToWire(s))
				w, _ := proto.Marshal(inventory.StateToWire(sortedState(model)))
				if string(g) != string(w) {
					t.Fatalf("step %d %+v:\n table %+v\n model %+v", i, c, s, sortedState(model))
				}
				if h := tb.value().head; h != model.Head() {
					t.Fatalf("step %d: head %+v, model's %+v", i, h, model.Head())
				}
			}
		})
	}
}

func command(rng *rand.Rand, i int, now time.Time) inventory.Command {
	c := inventory.Command{ID: fmt.Sprintf("c%d", i), SKU: "sku-1", OrderID: fmt.Sprintf("o%d", rng.IntN(30)), Time: now}
	if rng.IntN(4) == 0 {
		c.ID, c.Internal = fmt.Sprintf("titan:c%d", i), true
	}
	switch n := rng.IntN(10); {
	case n < 2:
		c.Kind, c.Qty = inventory.KindRestock, int64(1+rng.IntN(5))
	case n < 6:
		c.Kind, c.Qty, c.TTL = inventory.KindReserve, int64(1+rng.IntN(4)), time.Duration(1+rng.IntN(60))*time.Second
	case n < 8:
		c.Kind = inventory.KindCommit
	case n < 9:
		c.Kind = inventory.KindRelease
	default:
		c.Kind = inventory.KindExpire
	}
	return c
}

// TestStoreMigratesLayout1 starts from a value that holds the whole SKU,
// as the table did before its memory had keys of its own: the next
// command moves it, and the SKU goes on as the model does.
func TestStoreMigratesLayout1(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	p := inventory.DefaultPolicy()
	model := inventory.NewState()
	clock := time.UnixMilli(1_700_000_000_000)
	for i := range 200 {
		model, _ = inventory.Decide(model, command(rng, i, clock), p)
		clock = clock.Add(time.Second)
	}
	tb := &table{t: t, st: pebble(t), sku: "sku-1", writer: 1}
	old, err := proto.Marshal(inventory.StateToWire(model))
	if err != nil {
		t.Fatal(err)
	}
	set(t, tb.st, write{key: tb.sku, value: old})
	if v := tb.value(); v.legacy == nil || v.head != model.Head() {
		t.Fatalf("layout 1 read as %+v", v)
	}
	for i := 200; i < 400; i++ {
		c := command(rng, i, clock)
		clock = clock.Add(time.Second)
		var want []inventory.Event
		model, want = inventory.Decide(model, c, p)
		if got := tb.apply(c, p, false); !slices.Equal(got, want) {
			t.Fatalf("step %d: table %+v, model %+v", i, got, want)
		}
		if v := tb.value(); v.legacy != nil {
			t.Fatalf("step %d: still layout 1", i)
		}
	}
	s, err := LoadState(tb.st, tb.sku)
	if err != nil {
		t.Fatal(err)
	}
	if s.Stock != model.Stock || s.Seq != model.Seq || len(s.Applied) != len(model.Applied) {
		t.Fatalf("migrated SKU %+v, model %+v", s, model)
	}
}

// TestBusySKUWritesFollowTheChange: a command on a SKU that remembers
// thousands of commands and holds a hundred open reservations writes what
// it changes, not what the SKU remembers.
func TestBusySKUWritesFollowTheChange(t *testing.T) {
	p := inventory.DefaultPolicy()
	tb := &table{t: t, st: pebble(t), sku: "sku-1", writer: 1}
	clock := time.UnixMilli(1_700_000_000_000)
	tb.apply(inventory.Command{ID: "r", Kind: inventory.KindRestock, SKU: "sku-1", Qty: 1_000_000, Time: clock}, p, false)
	for i := range 4_000 {
		c := inventory.Command{ID: fmt.Sprintf("c%d", i), Kind: inventory.KindReserve, SKU: "sku-1", OrderID: fmt.Sprintf("o%d", i), Qty: 1, TTL: time.Hour, Time: clock}
		if i >= 100 {
			c = inventory.Command{ID: fmt.Sprintf("c%d", i), Kind: inventory.KindRelease, SKU: "sku-1", OrderID: fmt.Sprintf("o%d", i-100), Time: clock}
			tb.apply(inventory.Command{ID: fmt.Sprintf("n%d", i), Kind: inventory.KindReserve, SKU: "sku-1", OrderID: fmt.Sprintf("o%d", i), Qty: 1, TTL: time.Hour, Time: clock}, p, false)
		}
		tb.apply(c, p, false)
	}
	o, err := step(tb.value(), tb.st, tb.sku, inventory.Command{ID: "last", Kind: inventory.KindReserve, SKU: "sku-1", OrderID: "new", Qty: 1, TTL: time.Hour, Time: clock}, p, tb.writer)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := encodeStored(o.next)
	size := len(head)
	for _, w := range o.next.redo {
		size += len(w.key) + len(w.value)
	}
	if len(o.next.redo) > 8 || size > 2_000 {
		t.Fatalf("a reserve on a busy SKU writes %d records, %d bytes", len(o.next.redo)+1, size)
	}
}

// BenchmarkStep times one command as the processor runs it on a SKU in
// Pebble: the step (reads of the entries it concerns), the head's encoding
// and its writes. Each iteration reserves for a new order and releases the
// oldest open one. "fresh" starts from a SKU restocked once, "busy" from
// one with 100 open reservations and 4,000 remembered commands; what the
// layout promises is that the two cost about the same.
func BenchmarkStep(b *testing.B) {
	for _, busy := range []bool{false, true} {
		name := "fresh"
		if busy {
			name = "busy"
		}
		b.Run(name, func(b *testing.B) {
			bs, err := state.NewBuilder(b.TempDir(), state.WithSync(state.SyncNone))
			if err != nil {
				b.Fatal(err)
			}
			st, err := bs.Build("bench-table", 0)
			if err != nil {
				b.Fatal(err)
			}
			if err := st.Open(); err != nil {
				b.Fatal(err)
			}
			defer func() { _ = st.Close(); _ = bs.Close() }()
			tb := &table{t: b, st: st, sku: "sku-1", writer: 1}
			p := inventory.DefaultPolicy()
			clock := time.UnixMilli(1_700_000_000_000)
			tb.apply(inventory.Command{ID: "r", Kind: inventory.KindRestock, SKU: "sku-1", Qty: 1 << 40, Time: clock}, p, false)
			hold := 1
			if busy {
				hold = 100
			}
			open, next := 0, 0
			cmd := func() {
				id := fmt.Sprintf("c%d", next)
				if open < hold || next%2 == 0 {
					tb.apply(inventory.Command{ID: id, Kind: inventory.KindReserve, SKU: "sku-1", OrderID: fmt.Sprintf("o%d", next/2), Qty: 1, TTL: time.Hour, Time: clock}, p, false)
					open++
				} else {
					tb.apply(inventory.Command{ID: id, Kind: inventory.KindRelease, SKU: "sku-1", OrderID: fmt.Sprintf("o%d", next/2-hold), Time: clock}, p, false)
					open--
				}
				next++
			}
			for open < hold || (busy && next < 4_000) {
				cmd()
			}
			b.ResetTimer()
			for b.Loop() {
				cmd()
			}
		})
	}
}

// FuzzStoredValue: no bytes under a SKU's own key crash the processor's
// codec, the sweeper's peek or a step on what they decode to.
func FuzzStoredValue(f *testing.F) {
	now := time.UnixMilli(1_700_000_000_000)
	s := inventory.NewState()
	for _, c := range []inventory.Command{
		{ID: "c1", Kind: inventory.KindRestock, SKU: "a", Qty: 10, Time: now},
		{ID: "c2", Kind: inventory.KindReserve, SKU: "a", OrderID: "o", Qty: 1, TTL: time.Second, Time: now},
	} {
		s, _ = inventory.Decide(s, c, inventory.DefaultPolicy())
	}
	layout1, _ := proto.Marshal(inventory.StateToWire(s))
	writes, _ := explode("a", s)
	layout2, _ := encodeStored(stored{head: s.Head(), redo: writes, writer: 3})
	f.Add(layout1)
	f.Add(layout2)
	short, _ := encodeStored(stored{head: s.Head(), redo: []write{{key: sideKey("a", tagExpiry, "\xff"), value: present}}, writer: 3})
	f.Add(short)
	f.Add([]byte{0xff})
	st := pebble(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = nextExpiry(b)
		v, err := decodeStored(b)
		if err != nil {
			return
		}
		c := inventory.Command{ID: "c9", Kind: inventory.KindReserve, SKU: "a", OrderID: "o9", Qty: 1, TTL: time.Minute, Time: now.Add(time.Hour)}
		_, _ = step(v, st, "a", c, inventory.DefaultPolicy(), 1)
		if v.legacy == nil {
			again, err := encodeStored(v)
			if err != nil {
				t.Fatal(err)
			}
			if w, err := decodeStored(again); err != nil || w.head != v.head || len(w.redo) != len(v.redo) {
				t.Fatalf("round trip: %+v -> %+v (%v)", v, w, err)
			}
		}
	})
}

// TestIsResultKey: of a SKU's keys, exactly those of its remembered
// results, commands' and Expires', hold an AppliedCommand.
func TestIsResultKey(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_000)
	for key, want := range map[string]bool{
		appliedKey("sku-1", "c-1", false):    true,
		appliedKey("sku-1", "x-1", true):     true,
		"sku-1":                              false,
		reservationKey("sku-1", "o-1"):       false,
		expiryKey("sku-1", at, "o-1"):        false,
		logKey("sku-1", 7):                   false,
		sideKey("sku-1", tagApplied, "")[:6]: false, // the NUL, no tag
	} {
		if got := IsResultKey(key); got != want {
			t.Errorf("IsResultKey(%q) = %v, want %v", key, got, want)
		}
	}
}
