package api

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/lovoo/goka/storage"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/processors/flashsale"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	flashtopo "github.com/titan-commerce/titan/topologies/flashsale"
)

// fakeFlash is the FlashSaleSender and, behind it, a one-partition
// stand-in for the flash-sale topology: each message it takes gets the
// next offset and goes through the processors/flashsale Decide functions,
// and the messages they send between keys are looped until quiet, as the
// group's loop topic would carry them. States reach the sales view and
// results the purchase index and FlashSaleResults, waking the notifiers
// as the views' callbacks would. The modes below hold back parts of that
// to play a slow topology, a lagging replica or a lagging consumer.
type fakeFlash struct {
	router             *flashtopo.Router
	sales, purchases   *fakeTable
	salesN, purchasesN *Notifier
	results            *FlashSaleResults
	mem                storage.Storage

	// run serialises processing, one record at a time as in a partition.
	run struct {
		sync.Mutex
		state   map[string]flashsale.State // what the processor holds
		records int64
	}
	mu struct {
		sync.Mutex
		sent []*flashsalev1.Message
		next int64
		mode fakeFlashMode
		// held are messages taken but not processed yet: client
		// messages under holdClient, internal ones under holdLoop.
		held []flashsale.Message
		err  error
		// onSend is closed at the next send.
		onSend chan struct{}
	}
}

type fakeFlashMode struct {
	holdClient bool // Kafka takes messages; the processor does not get to them
	holdLoop   bool // client messages are processed; what they send waits
	frozenView bool // the sales view stops taking updates (replica lag)
	noIndex    bool // results do not reach the purchase index
	noEvents   bool // results do not reach FlashSaleResults
}

const fakePartitions = 8

func newFakeFlash() *fakeFlash {
	f := &fakeFlash{
		router: flashtopo.NewRouter(fakePartitions),
		sales:  newFakeTable(), purchases: newFakeTable(),
		salesN: NewNotifier(), purchasesN: NewNotifier(),
		results: newFlashSaleResults(nil, slog.New(slog.DiscardHandler)),
		mem:     storage.NewMemory(),
	}
	f.run.state = map[string]flashsale.State{}
	return f
}

func (f *fakeFlash) deps() *FlashSaleDeps {
	return &FlashSaleDeps{
		Sales: f.sales, SalesNotifier: f.salesN,
		Purchases: f.purchases, PurchasesNotifier: f.purchasesN,
		Router: f.router, Send: f.send, Results: f.results,
	}
}

func (f *fakeFlash) send(_ context.Context, w *flashsalev1.Message) (int32, int64, error) {
	f.mu.Lock()
	f.mu.sent = append(f.mu.sent, proto.Clone(w).(*flashsalev1.Message))
	if f.mu.onSend != nil {
		close(f.mu.onSend)
		f.mu.onSend = nil
	}
	if err := f.mu.err; err != nil {
		f.mu.Unlock()
		return 0, 0, err
	}
	offset := f.mu.next
	f.mu.next++
	m := flashsale.MessageFromWire(w)
	if f.mu.mode.holdClient {
		f.mu.held = append(f.mu.held, m)
		f.mu.Unlock()
		return 0, offset, nil
	}
	f.mu.Unlock()
	f.process(m)
	return 0, offset, nil
}

// process applies m and everything it leads to.
func (f *fakeFlash) process(m flashsale.Message) {
	f.run.Lock()
	defer f.run.Unlock()
	queue := []flashsale.Message{m}
	for len(queue) > 0 {
		m := queue[0]
		queue = queue[1:]
		record := f.run.records
		f.run.records++
		for seq, o := range f.decideLocked(m) {
			o.Internal = true
			o.Origin = flashsale.Origin{Stream: 1, Offset: record, Seq: int32(seq)}
			f.mu.Lock()
			hold := f.mu.mode.holdLoop
			if hold {
				f.mu.held = append(f.mu.held, o)
			}
			f.mu.Unlock()
			if !hold {
				queue = append(queue, o)
			}
		}
	}
}

// decideLocked runs one record through the key's Decide function,
// publishes its results and returns the messages it sends.
func (f *fakeFlash) decideLocked(m flashsale.Message) []flashsale.Message {
	st := f.run.state[m.Key]
	var out flashsale.Output
	switch m.Key[0] {
	case 's':
		s := flashsale.SaleState{}
		if st.Sale != nil {
			s = *st.Sale
		}
		s, out = flashsale.DecideSale(s, m, f.router)
		st = flashsale.State{Sale: &s}
	case 'b':
		s := flashsale.BucketState{}
		if st.Bucket != nil {
			s = *st.Bucket
		}
		s, out = flashsale.DecideBucket(s, m, f.router)
		st = flashsale.State{Bucket: &s}
	case 'u':
		s := flashsale.UserState{}
		if st.User != nil {
			s = *st.User
		}
		s, out = flashsale.DecideUser(s, m, f.router)
		st = flashsale.State{User: &s}
	default:
		panic(fmt.Sprintf("fake flash: key %q", m.Key))
	}
	f.run.state[m.Key] = st
	f.mu.Lock()
	mode := f.mu.mode
	f.mu.Unlock()
	if !mode.frozenView {
		f.sales.set(m.Key, st)
		notifyKey(f.salesN, f.mem, m.Key)
	}
	for _, res := range out.Results {
		key := flashtopo.PurchaseKey(res.SaleID, res.IdempotencyKey)
		if v, _ := f.purchases.Get(key); v == nil && !mode.noIndex {
			f.purchases.set(key, res)
			notifyKey(f.purchasesN, f.mem, key)
		}
		if !mode.noEvents {
			f.results.deliver(res)
		}
	}
	return out.Messages
}

// notifyKey reports an update of key through the callback a view calls.
func notifyKey(n *Notifier, mem storage.Storage, key string) {
	if err := n.Callback()(nil, mem, key, []byte{1}); err != nil {
		panic(err)
	}
}

func (f *fakeFlash) setMode(m fakeFlashMode) {
	f.mu.Lock()
	f.mu.mode = m
	f.mu.Unlock()
	if !m.frozenView {
		// The replica catches up.
		f.run.Lock()
		defer f.run.Unlock()
		for k, st := range f.run.state {
			f.sales.set(k, st)
			notifyKey(f.salesN, f.mem, k)
		}
	}
}

// release processes the held messages in the current mode.
func (f *fakeFlash) release() {
	f.mu.Lock()
	held := f.mu.held
	f.mu.held = nil
	f.mu.Unlock()
	for _, m := range held {
		f.process(m)
	}
}

// nextSend returns a channel closed when the next message is sent.
func (f *fakeFlash) nextSend() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.onSend = make(chan struct{})
	return f.mu.onSend
}

func (f *fakeFlash) failWith(err error) {
	f.mu.Lock()
	f.mu.err = err
	f.mu.Unlock()
}

func (f *fakeFlash) sent() []*flashsalev1.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*flashsalev1.Message(nil), f.mu.sent...)
}

// define defines a sale straight on the topology, bypassing the API's
// checks, for windows the API would refuse.
func (f *fakeFlash) define(s flashsale.Sale) {
	f.process(flashsale.Message{Kind: flashsale.KindDefine, SaleID: s.ID, Key: f.router.Sale(s.ID), Time: time.Now(), Sale: s})
}

// waiting counts the waiters registered with Results.
func (f *fakeFlash) waiting() int {
	r := f.results
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ws := range r.mu.waiters {
		n += len(ws)
	}
	return n
}

// flashEnv is a testEnv whose server also runs the flash-sale endpoints,
// over fakeFlash.
type flashEnv struct {
	*testEnv
	fs *fakeFlash
}

func newFlashEnv(t testing.TB, opts Options) *flashEnv {
	t.Helper()
	e := newEnv(t, opts)
	fs := newFakeFlash()
	deps := e.s.deps
	deps.FlashSales = fs.deps()
	o := e.s.opts
	e.reg = prometheus.NewRegistry()
	o.Registerer, o.Gatherer = e.reg, e.reg
	s, err := New(deps, o)
	if err != nil {
		t.Fatal(err)
	}
	e.s = s
	return &flashEnv{testEnv: e, fs: fs}
}

// sentAll counts everything sent to Kafka, inventory commands and
// flash-sale messages.
func (e *flashEnv) sentAll() int { return len(e.k.sent()) + len(e.fs.sent()) }

// setReady marks every view and the instance (not) recovered.
func (e *flashEnv) setReady(ready bool) {
	e.extReady.Store(ready)
	for _, t := range []*fakeTable{e.k.stock, e.k.orders, e.fs.sales, e.fs.purchases} {
		t.recovered.Store(ready)
	}
}

// saleSpec is a create request.
type saleSpec struct {
	id, sku      string
	units        int64
	start, end   time.Time
	limit, price int64
	buckets      int // 0 leaves the field out
}

func (s saleSpec) body() string {
	b := fmt.Sprintf(`{"id":%q,"sku":%q,"units":%d,"starts_at":%q,"ends_at":%q,"per_user_limit":%d,"price":%d`,
		s.id, s.sku, s.units, s.start.UTC().Format(time.RFC3339Nano), s.end.UTC().Format(time.RFC3339Nano), s.limit, s.price)
	if s.buckets != 0 {
		b += fmt.Sprintf(`,"buckets":%d`, s.buckets)
	}
	return b + "}"
}

// activeSale is a sale that started a minute ago and ends in an hour.
func activeSale(id, sku string, units, limit int64, buckets int) saleSpec {
	now := time.Now().Truncate(time.Millisecond)
	return saleSpec{id: id, sku: sku, units: units, start: now.Add(-time.Minute), end: now.Add(time.Hour),
		limit: limit, price: 1999, buckets: buckets}
}

// create restocks the SKU with the sale's units and creates the sale.
func (e *flashEnv) create(t testing.TB, s saleSpec) flashSaleJSON {
	t.Helper()
	e.restock(t, s.sku, int(s.units))
	return decode[flashSaleJSON](t, e.mustDo(t, "POST", "/v1/flash-sales", s.body(), 201))
}

func purchaseBody(user string, qty int64, key string) string {
	return fmt.Sprintf(`{"user_id":%q,"qty":%d,"idempotency_key":%q}`, user, qty, key)
}

func (e *flashEnv) buy(t testing.TB, sale, user string, qty int64, key string, status int) response {
	t.Helper()
	return e.mustDo(t, "POST", "/v1/flash-sales/"+sale+"/purchases", purchaseBody(user, qty, key), status)
}
