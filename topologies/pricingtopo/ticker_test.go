package pricingtopo

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
	"github.com/lovoo/goka/tester"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/localindex"
	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/processors/pricing"
	"github.com/titan-commerce/titan/schemas"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
	"github.com/titan-commerce/titan/state"
)

var t0 = time.UnixMilli(1_700_000_000_000).UTC()

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func setBase(sku string, price int64, sec int) pricing.Command {
	return pricing.Command{ID: "base/" + sku, Kind: pricing.KindSetBase, SKU: sku, BasePrice: price, Currency: "EUR", Time: at(sec)}
}

func campaign(sku, id string, from, to, sec int) pricing.Command {
	return pricing.Command{ID: "campaign/" + sku + "/" + id, Kind: pricing.KindUpsertCampaign, SKU: sku, Time: at(sec),
		Campaign: pricing.Campaign{ID: id, Kind: pricing.CampaignPercent, PercentBps: 1000, Start: at(from), End: at(to)}}
}

func decide(t *testing.T, s pricing.State, cmds ...pricing.Command) pricing.State {
	t.Helper()
	for _, c := range cmds {
		s, _, _ = pricing.Apply(s, c, pricing.DefaultPolicy())
	}
	return s
}

// indexedMemory is goka's in-memory storage keeping the next-change
// index, as the processor's storages do.
func indexedMemory(t *testing.T) storage.Storage {
	t.Helper()
	mem := func(string, int32) (storage.Storage, error) { return storage.NewMemory(), nil }
	st, err := localindex.Builder(mem, "table", nextChangeIndex)("table", 0)
	if err == nil {
		err = st.Open()
	}
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func store(t *testing.T, st storage.Storage, s pricing.State) {
	t.Helper()
	b, err := StateCodec.Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Set(s.SKU, b); err != nil {
		t.Fatal(err)
	}
}

// recorder is a SendFunc that keeps what it was given and fails while err
// is set.
type recorder struct {
	sent  []*pricingv1.Command
	sizes []int
	err   error
}

func (r *recorder) send(_ context.Context, cmds []*pricingv1.Command) ([]int64, error) {
	r.sizes = append(r.sizes, len(cmds))
	offsets := make([]int64, len(cmds))
	for i := range offsets {
		offsets[i] = -1
		if r.err == nil {
			offsets[i] = int64(len(r.sent) + i)
		}
	}
	if r.err != nil {
		return offsets, r.err
	}
	r.sent = append(r.sent, cmds...)
	return offsets, nil
}

func (r *recorder) skus() []string {
	var out []string
	for _, c := range r.sent {
		out = append(out, c.GetSku())
	}
	return out
}

func newTicker(st storage.Storage, r *recorder, now *time.Time) *Ticker {
	tk := NewTicker(func() []storage.Storage { return []storage.Storage{st} }, r.send, time.Second, nil)
	tk.now = func() time.Time { return *now }
	return tk
}

func pass(t *testing.T, tk *Ticker) {
	t.Helper()
	if err := tk.Pass(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestTickerProposesDueSKUs(t *testing.T) {
	st := indexedMemory(t)
	p := pricing.DefaultPolicy()
	starting := decide(t, pricing.NewState(), setBase("starting", 10_000, 0), campaign("starting", "spring", 50, 100, 0))
	later := decide(t, pricing.NewState(), setBase("later", 10_000, 0), campaign("later", "summer", 100, 200, 0))
	unpriced := decide(t, pricing.NewState(), campaign("unpriced", "spring", 10, 20, 0))
	settled := decide(t, pricing.NewState(), setBase("settled", 10_000, 0))
	demand := decide(t, pricing.NewState(), setBase("demand", 10_000, 0))
	demand, _ = pricing.Observe(demand, pricing.InventorySignal{SKU: "demand", Time: at(1), Offset: 0, Available: 10, StockKnown: true}, p)
	demand, _ = pricing.Observe(demand, pricing.InventorySignal{SKU: "demand", Time: at(2), Offset: 1, Reserved: 5, Available: 5, StockKnown: true}, p)
	if due := pricing.NextChange(demand); due.IsZero() || due.After(at(60)) {
		t.Fatalf("demand fixture is due at %v", due)
	}
	for _, s := range []pricing.State{starting, later, unpriced, settled, demand} {
		store(t, st, s)
	}

	var r recorder
	now := at(60)
	tk := newTicker(st, &r, &now)
	pass(t, tk)
	if got, want := r.skus(), []string{"demand", "starting"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ticked %v, want %v", got, want)
	}
	for _, c := range r.sent {
		if err := schemas.ValidatePricingCommand(c); err != nil {
			t.Fatalf("tick %v is invalid: %v", c, err)
		}
		if c.GetTick() == nil || c.GetTimestampMs() != now.UnixMilli() {
			t.Fatalf("tick %v is not a tick at now", c)
		}
	}
	if got, want := r.sent[1].GetCommandId(), fmt.Sprintf("titan:tick:starting:%d", at(50).UnixMilli()); got != want {
		t.Fatalf("tick id %q, want %q", got, want)
	}

	// In flight until the state shows another due time, however many
	// passes the processor takes...
	for range 3 {
		now = now.Add(time.Second)
		pass(t, tk)
	}
	if len(r.sent) != 2 {
		t.Fatalf("re-proposed while in flight: %v", r.skus())
	}
	// ...and once applied, the SKU's next boundary is proposed when it
	// comes, not before.
	starting = decide(t, starting, pricing.CommandFromWire(r.sent[1]))
	store(t, st, starting)
	pass(t, tk)
	if len(r.sent) != 2 {
		t.Fatalf("proposed before the campaign ended: %v", r.skus())
	}
	// A tick still unprocessed after resendAfter is sent again, once.
	now = at(60).Add(resendAfter)
	pass(t, tk)
	pass(t, tk)
	if got, want := r.skus()[2:], []string{"demand"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ticked %v, want %v", got, want)
	}
	now = at(100)
	pass(t, tk)
	if got, want := r.skus()[3:], []string{"later", "starting"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ticked %v, want %v", got, want)
	}
}

func TestTickerRetriesFailedSends(t *testing.T) {
	st := indexedMemory(t)
	store(t, st, decide(t, pricing.NewState(), setBase("a", 100, 0), campaign("a", "c", 10, 20, 0)))
	r := recorder{err: errors.New("broker gone")}
	now := at(15)
	tk := newTicker(st, &r, &now)
	for range 2 {
		if err := tk.Pass(t.Context()); err == nil {
			t.Fatal("a failed send was not reported")
		}
	}
	r.err = nil
	pass(t, tk)
	if len(r.sizes) != 3 || len(r.sent) != 1 {
		t.Fatalf("a failed proposal was not retried: %d sends, %v", len(r.sizes), r.skus())
	}
}

func TestTickerPassesOverUndecodableStates(t *testing.T) {
	st := indexedMemory(t)
	if err := st.Set("broken", []byte{0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	store(t, st, decide(t, pricing.NewState(), setBase("ok", 100, 0), campaign("ok", "c", 10, 20, 0)))
	var r recorder
	now := at(15)
	pass(t, newTicker(st, &r, &now))
	if got := r.skus(); !reflect.DeepEqual(got, []string{"ok"}) {
		t.Fatalf("ticked %v", got)
	}
}

// nextChange leaves out only fields NextChange does not read, so it gives
// what decoding the whole state gives.
func TestNextChangeSkipsOnlyUnreadFields(t *testing.T) {
	fields := (&pricingv1.SkuPrice{}).ProtoReflect().Descriptor().Fields()
	var skipped []string
	for num := range skippedFields {
		skipped = append(skipped, string(fields.ByNumber(num).Name()))
	}
	for _, name := range []string{"current", "history", "applied"} {
		if !slices.Contains(skipped, name) {
			t.Fatalf("skipped fields %v lack %s", skipped, name)
		}
	}
	if len(skipped) != 3 {
		t.Fatalf("skipped fields %v", skipped)
	}

	p := pricing.DefaultPolicy()
	s := pricing.NewState()
	check := func(what string) {
		t.Helper()
		b, err := StateCodec.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := nextChange(b)
		if err != nil {
			t.Fatal(err)
		}
		if want := pricing.NextChange(s); !got.Equal(want) {
			t.Fatalf("%s: next change %v, want %v", what, got, want)
		}
	}
	check("new")
	s = decide(t, s, campaign("a", "early", 10, 20, 0))
	check("no base price")
	s = decide(t, s, setBase("a", 10_000, 1), campaign("a", "late", 100, 200, 2))
	check("campaigns")
	s, _ = pricing.Observe(s, pricing.InventorySignal{SKU: "a", Time: at(3), Offset: 0, Available: 10, StockKnown: true}, p)
	s, _ = pricing.Observe(s, pricing.InventorySignal{SKU: "a", Time: at(4), Offset: 1, Reserved: 5, Available: 5, StockKnown: true}, p)
	check("demand")
	for i := range 8 {
		s, _ = pricing.Tick(s, pricing.NextChange(s), p)
		check(fmt.Sprint("step ", i))
	}
	if _, err := nextChange([]byte{0xff}); err == nil {
		t.Fatal("garbage decoded")
	}
}

// The ticker and the group together on goka's in-memory tester: ticks go
// through the commands topic and publish the campaign's start and end with
// their own times; a SKU never priced gets no table entry from a tick.
func TestTickerThroughTheGroup(t *testing.T) {
	tt := tester.New(t)
	n := NamesFor("test")
	g := &group{names: n, peers: Peers{InventoryEvents: "test.inventory", Saga: "test.saga"}, policy: pricing.DefaultPolicy(),
		window: schemas.DefaultTimeWindow()}
	proc, err := goka.NewProcessor(nil, g.graph(observe.Decorator{}), goka.WithTester(tt),
		goka.WithStorageBuilder(localindex.Builder(tt.StorageBuilder(), string(n.Table()), nextChangeIndex)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = proc.Run(ctx) }()
	events := tt.NewQueueTracker(string(n.Events))

	// A client's commands are stamped by Kafka when it takes them; Titan's
	// ticks travel on the internal topic.
	consume := func(c *pricingv1.Command) {
		b, err := proto.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if c.GetTick() != nil {
			tt.Consume(string(n.Internal), c.GetSku(), b)
			return
		}
		tt.Consume(string(n.Commands), c.GetSku(), b, tester.WithTime(time.UnixMilli(c.GetTimestampMs())))
	}
	consume(pricing.CommandToWire(setBase("sku-1", 10_000, 0)))
	consume(pricing.CommandToWire(campaign("sku-1", "spring", 10, 20, 1)))
	consume(TickCommand("unpriced", at(0), at(1)))
	if v := tt.TableValue(n.Table(), "unpriced"); v != nil {
		t.Fatalf("a tick created a table entry: %+v", v)
	}

	table, err := tt.StorageBuilder()(string(n.Table()), 0)
	if err != nil {
		t.Fatal(err)
	}
	send := func(_ context.Context, cmds []*pricingv1.Command) ([]int64, error) {
		for _, c := range cmds {
			consume(c)
		}
		return make([]int64, len(cmds)), nil
	}
	tk := NewTicker(func() []storage.Storage { return []storage.Storage{table} }, send, time.Second, nil)
	var got []string
	for _, sec := range []int{5, 12, 13, 25} {
		tk.now = func() time.Time { return at(sec) }
		pass(t, tk)
		for {
			_, v, ok := events.NextRaw()
			if !ok {
				break
			}
			var pc pricingv1.PriceChanged
			if err := proto.Unmarshal(v, &pc); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s %d @%d", pc.GetCause(), pc.GetPriceMinor(),
				(pc.GetTimestampMs()-t0.UnixMilli())/1000))
		}
	}
	want := []string{"base_price 10000 @0", "campaign_started 9000 @10", "campaign_ended 10000 @20"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("published %q, want %q", got, want)
	}
}

// countingStorage counts the entries iterators read from it.
type countingStorage struct {
	storage.Storage
	read *int
}

func (c countingStorage) IteratorWithRange(start, limit []byte) (storage.Iterator, error) {
	it, err := c.Storage.IteratorWithRange(start, limit)
	return countingIterator{Iterator: it, read: c.read}, err
}

func (c countingStorage) Iterator() (storage.Iterator, error) {
	it, err := c.Storage.Iterator()
	return countingIterator{Iterator: it, read: c.read}, err
}

type countingIterator struct {
	storage.Iterator
	read *int
}

func (c countingIterator) Next() bool {
	ok := c.Iterator.Next()
	if ok {
		*c.read++
	}
	return ok
}

// TestTickerReadsWhatIsDue: a pass reads the SKUs whose change has come,
// not the partition's SKUs, and a campaign that moves its SKU's change
// moves its index entry with it.
func TestTickerReadsWhatIsDue(t *testing.T) {
	b, err := state.NewBuilder(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	raw, err := localindex.Builder(b.Build, "table", nextChangeIndex)("table", 0)
	if err == nil {
		err = raw.Open()
	}
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for i := range 3000 {
		sku := fmt.Sprintf("sku-%04d", i)
		// Every SKU has a campaign ahead; three start within the pass.
		from := 1000 + i
		if i%1000 == 7 {
			from = 10
		}
		store(t, raw, decide(t, pricing.NewState(), setBase(sku, 10_000, 0), campaign(sku, "c", from, from+50, 0)))
	}
	// One SKU's campaign is moved ahead: its old entry must not tick.
	store(t, raw, decide(t, pricing.NewState(), setBase("sku-0007", 10_000, 0), campaign("sku-0007", "c", 500, 550, 1)))
	read := 0
	var r recorder
	now := at(20)
	pass(t, newTicker(countingStorage{Storage: raw, read: &read}, &r, &now))
	if got := r.skus(); !reflect.DeepEqual(got, []string{"sku-1007", "sku-2007"}) {
		t.Fatalf("ticked %v", got)
	}
	// The two, and the key that names the index's rule.
	if read > 3 {
		t.Fatalf("a pass read %d entries for 2 due SKUs of 3,000", read)
	}
}

// BenchmarkTickerPass is one ticker pass over a partition of 100,000
// priced SKUs, each with a campaign ahead and none due, beside what the
// pass cost before the next-change index: reading and decoding every
// SKU's state (full-scan-ns).
func BenchmarkTickerPass(b *testing.B) {
	sb, err := state.NewBuilder(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close()
	st, err := localindex.Builder(sb.Build, "table", nextChangeIndex)("table", 0)
	if err == nil {
		err = st.Open()
	}
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	p := pricing.DefaultPolicy()
	for i := range 100_000 {
		sku := fmt.Sprintf("sku-%06d", i)
		s := pricing.NewState()
		for _, c := range []pricing.Command{setBase(sku, 10_000, 0), campaign(sku, "c", 1000+i, 2000+i, 0)} {
			s, _, _ = pricing.Apply(s, c, p)
		}
		v, err := StateCodec.Encode(s)
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Set(sku, v); err != nil {
			b.Fatal(err)
		}
	}
	var r recorder
	now := at(100)
	tk := NewTicker(func() []storage.Storage { return []storage.Storage{st} }, r.send, time.Second, nil)
	tk.now = func() time.Time { return now }

	scan := func() int {
		it, err := st.Iterator()
		if err != nil {
			b.Fatal(err)
		}
		defer it.Release()
		due := 0
		for it.Next() {
			v, _ := it.Value()
			if at, err := nextChange(v); err == nil && !at.IsZero() && !at.After(now) {
				due++
			}
		}
		return due
	}
	start := time.Now()
	if scan() != 0 {
		b.Fatal("a SKU is due")
	}
	full := time.Since(start)

	b.ResetTimer()
	for range b.N {
		if err := tk.Pass(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if len(r.sent) != 0 {
		b.Fatalf("ticked %d", len(r.sent))
	}
	b.ReportMetric(float64(full.Nanoseconds()), "full-scan-ns")
}
