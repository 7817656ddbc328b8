package api

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lovoo/goka/storage"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/processors/inventory"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	"github.com/titan-commerce/titan/topologies/flashsaletopo"
)

// fakeFlash is the FlashSaleSender (public and internal) and, behind it, a
// one-partition stand-in for the flash-sale topology: each message it takes
// gets the next offset and goes through the processors/flashsale Decide
// functions, and the messages they send between keys are looped until
// quiet, as the group's loop topic would carry them. The commands a sale
// key sends the inventory go through the inventory's decision logic
// against the env's stock table (inventory), and the events about the
// allocation come back to the sale key, as the allocations topic would
// carry them. States reach the sales view and results the purchase index
// and FlashSaleResults, waking the notifiers as the views' callbacks would.
// The modes below hold back parts of that to play a slow topology, a
// stalled inventory, a lagging replica or a lagging consumer.
type fakeFlash struct {
	router             *flashsale.Keys
	sales, purchases   *fakeTable
	salesN, purchasesN *Notifier
	results            *FlashSaleResults
	mem                storage.Storage
	// inventory applies one of Titan's commands to the SKU's stock and
	// returns its events; nil where no test creates a sale.
	inventory func(inventory.Command) []inventory.Event

	// run serialises processing, one record at a time as in a partition.
	run struct {
		sync.Mutex
		state   map[string]flashsale.State // what the processor holds
		records int64
	}
	mu struct {
		sync.Mutex
		// sent and sentInternal are what the public and the internal
		// sender took.
		sent, sentInternal []*flashsalev1.Message
		next               int64
		mode               fakeFlashMode
		// held are messages taken but not processed yet: client
		// messages under holdClient, internal ones under holdLoop.
		held []flashsale.Message
		// heldInventory are the sale keys' inventory commands the
		// inventory has not got to, under holdInventory.
		heldInventory []inventory.Command
		err           error
		// onSend is closed at the next send.
		onSend chan struct{}
	}
}

type fakeFlashMode struct {
	holdClient    bool // Kafka takes messages; the processor does not get to them
	holdLoop      bool // client messages are processed; what they send waits
	holdInventory bool // the inventory does not get to the sale keys' commands
	frozenView    bool // the sales view stops taking updates (replica lag)
	noIndex       bool // results do not reach the purchase index
	noEvents      bool // results do not reach FlashSaleResults
}

const fakePartitions = 8

func newFakeFlash() *fakeFlash {
	f := &fakeFlash{
		router: flashsale.NewKeys(fakePartitions),
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
		Router: f.router, Send: f.sendPublic, SendInternal: f.sendInternal, Results: f.results,
	}
}

func (f *fakeFlash) sendPublic(ctx context.Context, w *flashsalev1.Message) (int32, int64, error) {
	return f.send(ctx, w, false)
}

func (f *fakeFlash) sendInternal(ctx context.Context, w *flashsalev1.Message) (int32, int64, error) {
	return f.send(ctx, w, true)
}

func (f *fakeFlash) send(_ context.Context, w *flashsalev1.Message, internal bool) (int32, int64, error) {
	f.mu.Lock()
	if internal {
		f.mu.sentInternal = append(f.mu.sentInternal, proto.Clone(w).(*flashsalev1.Message))
	} else {
		f.mu.sent = append(f.mu.sent, proto.Clone(w).(*flashsalev1.Message))
	}
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

// fakeRecord is a flash-sale message or, for a sale key, one of the
// inventory's events about its allocation.
type fakeRecord struct {
	msg    flashsale.Message
	answer *inventory.Event
}

func (r fakeRecord) key() string {
	if r.answer != nil {
		return flashsaletopo.AllocationKey(r.answer.OrderID)
	}
	return r.msg.Key
}

// process applies m and everything it leads to.
func (f *fakeFlash) process(m flashsale.Message) { f.processRecord(fakeRecord{msg: m}) }

func (f *fakeFlash) processRecord(r fakeRecord) {
	f.run.Lock()
	defer f.run.Unlock()
	queue := []fakeRecord{r}
	for len(queue) > 0 {
		r := queue[0]
		queue = queue[1:]
		record := f.run.records
		f.run.records++
		msgs, cmds := f.decideLocked(r)
		for seq, o := range msgs {
			o.Internal = true
			o.Origin = flashsale.Origin{Stream: 1, Offset: record, Seq: int32(seq)}
			f.mu.Lock()
			hold := f.mu.mode.holdLoop
			if hold {
				f.mu.held = append(f.mu.held, o)
			}
			f.mu.Unlock()
			if !hold {
				queue = append(queue, fakeRecord{msg: o})
			}
		}
		for _, c := range cmds {
			f.mu.Lock()
			hold := f.mu.mode.holdInventory
			if hold {
				f.mu.heldInventory = append(f.mu.heldInventory, c)
			}
			f.mu.Unlock()
			if !hold {
				queue = append(queue, f.applyInventory(c)...)
			}
		}
	}
}

// applyInventory runs a sale key's command through the inventory and
// returns the events about allocations, as records for their sale keys.
func (f *fakeFlash) applyInventory(c inventory.Command) []fakeRecord {
	var out []fakeRecord
	for _, e := range f.inventory(c) {
		if strings.HasPrefix(e.OrderID, flashsale.AllocationPrefix) {
			out = append(out, fakeRecord{answer: &e})
		}
	}
	return out
}

// decideLocked runs one record through the key's decision function,
// publishes its results and returns the messages and inventory commands it
// sends.
func (f *fakeFlash) decideLocked(r fakeRecord) ([]flashsale.Message, []inventory.Command) {
	key := r.key()
	st, found := f.run.state[key]
	var out flashsale.Output
	switch key[0] {
	case 's':
		s := flashsale.SaleState{}
		if st.Sale != nil {
			s = *st.Sale
		}
		if r.answer != nil {
			s, out = flashsale.OnInventory(s, *r.answer, f.router)
		} else {
			s, out = flashsale.DecideSale(s, r.msg, f.router, flashsale.DefaultPolicy())
		}
		if out.Refused != "" || (!found && s.Phase == flashsale.PhaseNone) {
			// Set aside, or nothing created: no state, as the topology
			// keeps none.
			return nil, nil
		}
		st = flashsale.State{Sale: &s}
	case 'b':
		s := flashsale.BucketState{}
		if st.Bucket != nil {
			s = *st.Bucket
		}
		s, out = flashsale.DecideBucket(s, r.msg, f.router)
		st = flashsale.State{Bucket: &s}
	case 'u':
		s := flashsale.UserState{}
		if st.User != nil {
			s = *st.User
		}
		s, out = flashsale.DecideUser(s, r.msg, f.router)
		st = flashsale.State{User: &s}
	default:
		panic(fmt.Sprintf("fake flash: key %q", key))
	}
	f.run.state[key] = st
	f.mu.Lock()
	mode := f.mu.mode
	f.mu.Unlock()
	if !mode.frozenView {
		f.sales.set(key, st)
		notifyKey(f.salesN, f.mem, key)
	}
	for _, res := range out.Results {
		pkey := flashsale.PurchaseKey(res.SaleID, res.IdempotencyKey)
		// The index keeps an attempt's first result; a conflict is another
		// attempt's answer (see topologies/flashsaletopo indexer).
		if v, _ := f.purchases.Get(pkey); v == nil && !mode.noIndex && res.Reason != flashsale.ReasonIdempotencyConflict {
			f.purchases.set(pkey, res)
			notifyKey(f.purchasesN, f.mem, pkey)
		}
		if !mode.noEvents {
			f.results.deliver(res)
		}
	}
	return out.Messages, out.Inventory
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

// releaseInventory has the inventory get to the commands it held, in the
// order the sale keys sent them, and their answers reach the sale keys.
func (f *fakeFlash) releaseInventory() {
	f.mu.Lock()
	held := f.mu.heldInventory
	f.mu.heldInventory = nil
	f.mu.Unlock()
	for _, c := range held {
		for _, r := range f.applyInventory(c) {
			f.processRecord(r)
		}
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

// operator applies a command of Titan's to the inventory from outside the
// sale keys (an operator's, a bug's), and the sale keys get its events.
func (f *fakeFlash) operator(c inventory.Command) {
	for _, r := range f.applyInventory(c) {
		f.processRecord(r)
	}
}

// sent is what the public sender took: purchases.
func (f *fakeFlash) sent() []*flashsalev1.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*flashsalev1.Message(nil), f.mu.sent...)
}

// sentInternal is what the internal sender took: creations.
func (f *fakeFlash) sentInternal() []*flashsalev1.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*flashsalev1.Message(nil), f.mu.sentInternal...)
}

// define creates a sale straight on the topology, bypassing the API's
// checks, for windows the API would refuse (a sale already over): the SKU
// gets the sale's units and the Create is stamped a minute before the
// start, so the allocation fits.
func (f *fakeFlash) define(s flashsale.Sale) {
	f.inventory(inventory.Command{ID: "titan:test:restock:" + s.ID, Kind: inventory.KindRestock, SKU: s.SKU, Qty: s.Units,
		Time: s.Start.Add(-time.Minute)})
	f.process(flashsale.Message{Kind: flashsale.KindCreate, SaleID: s.ID, Key: f.router.Sale(s.ID), Time: s.Start.Add(-time.Minute), Sale: s})
}

// waiting counts the waiters registered with Results.
func (f *fakeFlash) waiting() int {
	return f.results.waiters.len()
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
	fs.inventory = e.applyInternal
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

// sentAll counts everything the API sent to Kafka: inventory commands and
// flash-sale messages on either topic.
func (e *flashEnv) sentAll() int {
	return len(e.k.sent()) + len(e.fs.sent()) + len(e.fs.sentInternal())
}

// applyInternal applies one of Titan's commands (from the internal topic)
// to the fake inventory, as the inventory topology would, updating both
// tables and waking their notifiers, and returns its events.
func (e *testEnv) applyInternal(c inventory.Command) []inventory.Event {
	k := e.k
	k.mu.Lock()
	c.Internal, c.Offset = true, k.mu.next
	k.mu.next++
	_, events := k.decideLocked(c)
	var changed []string
	for _, ev := range events {
		v, _ := k.orders.Get(ev.OrderID)
		x, _ := v.(inventory.OrderIndex)
		if x, ok := inventory.IndexEvent(x, ev); ok {
			k.orders.set(ev.OrderID, x)
			changed = append(changed, ev.OrderID)
		}
	}
	k.mu.Unlock()
	k.notify(k.stockN, c.SKU)
	for _, id := range changed {
		k.notify(k.ordersN, id)
	}
	return events
}

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
