package api

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
)

var (
	flashSaleFields = []string{"id", "sku", "status", "reason", "allocated", "sold", "remaining", "starts_at", "ends_at",
		"per_user_limit", "price", "settled", "settlement", "settlement_reason", "buckets"}
	purchaseFields = []string{"status", "reason", "sale_id", "user_id", "qty", "idempotency_key", "price", "bucket"}
)

func TestFlashSaleCreate(t *testing.T) {
	e := newFlashEnv(t, Options{})
	e.restock(t, "sku-1", 100)
	spec := activeSale("fs-1", "sku-1", 10, 2, 4)
	before := time.Now()
	r := e.mustDo(t, "POST", "/v1/flash-sales", spec.body(), 201)
	after := time.Now()
	checkFields(t, r, flashSaleFields)
	got := decode[flashSaleJSON](t, r)
	want := flashSaleJSON{
		ID: "fs-1", SKU: "sku-1", Status: "active", Allocated: 10, Remaining: 10,
		StartsAt: formatTime(spec.start), EndsAt: formatTime(spec.end), PerUserLimit: 2, Price: 1999,
		Settlement: "pending", Buckets: []bucketJSON{{0, 3, 0}, {1, 3, 0}, {2, 2, 0}, {3, 2, 0}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sale %+v, want %+v", got, want)
	}

	// The API sent one Create on the internal topic, and nothing to the
	// inventory or on the public topic.
	sent := e.fs.sentInternal()
	if len(sent) != 1 || len(e.fs.sent()) != 0 || len(e.k.sent()) != 1 {
		t.Fatalf("sent %d internal, %d public flash-sale messages, %d inventory commands; want 1, 0 and the restock",
			len(sent), len(e.fs.sent()), len(e.k.sent()))
	}
	m := flashsale.MessageFromWire(sent[0])
	wantSale := flashsale.Sale{ID: "fs-1", SKU: "sku-1", Units: 10, Start: spec.start.UTC(), End: spec.end.UTC(),
		PerUserLimit: 2, PriceMinor: 1999, Buckets: 4}
	if m.Kind != flashsale.KindCreate || m.Key != e.fs.router.Sale("fs-1") || m.SaleID != "fs-1" || !m.Sale.Equal(wantSale) ||
		m.Time.Before(before.Truncate(time.Millisecond)) || m.Time.After(after) || m.Internal {
		t.Errorf("creation %+v", m)
	}
	// The sale key reserved the units as Titan's own, under the sale's
	// order in Titan's namespace, until a grace after the end.
	if st := decode[stockJSON](t, e.mustDo(t, "GET", "/v1/inventory/sku-1", ``, 200)); st.Reserved != 10 || st.Available != 90 {
		t.Errorf("stock %+v", st)
	}
	alloc := decode[orderJSON](t, e.mustDo(t, "GET", "/v1/inventory/reservations/titan:flash-sale:fs-1", ``, 200))
	wantExpiry := formatTime(spec.end.Add(flashsale.DefaultPolicy().AllocationGrace))
	if len(alloc.Reservations) != 1 || alloc.Reservations[0].Status != "reserved" || alloc.Reservations[0].Qty != 10 ||
		alloc.Reservations[0].SKU != "sku-1" || alloc.Reservations[0].ExpiresAt != wantExpiry {
		t.Errorf("allocation %+v, want reserved 10 until %s", alloc, wantExpiry)
	}

	again := decode[flashSaleJSON](t, e.mustDo(t, "GET", "/v1/flash-sales/fs-1", ``, 200))
	if !reflect.DeepEqual(again, got) {
		t.Errorf("read %+v, created %+v", again, got)
	}
}

// TestFlashSaleCreateRetry: the same definition again answers 200 with
// the sale and sends nothing; another definition under the id is refused.
func TestFlashSaleCreateRetry(t *testing.T) {
	e := newFlashEnv(t, Options{})
	spec := activeSale("fs-1", "sku-1", 10, 1, 0)
	first := e.create(t, spec)
	if len(first.Buckets) != 1 || first.Buckets[0] != (bucketJSON{0, 10, 0}) {
		t.Errorf("buckets default to one: %+v", first.Buckets)
	}
	n := e.sentAll()
	again := decode[flashSaleJSON](t, e.mustDo(t, "POST", "/v1/flash-sales", spec.body(), 200))
	if !reflect.DeepEqual(again, first) {
		t.Errorf("retry %+v, first %+v", again, first)
	}
	// Explicit buckets equal to the default are the same definition.
	spec.buckets = 1
	e.mustDo(t, "POST", "/v1/flash-sales", spec.body(), 200)
	for _, change := range []func(*saleSpec){
		func(s *saleSpec) { s.units = 11 },
		func(s *saleSpec) { s.sku = "sku-2" },
		func(s *saleSpec) { s.price = 1 },
		func(s *saleSpec) { s.limit = 2 },
		func(s *saleSpec) { s.buckets = 2 },
		func(s *saleSpec) { s.end = s.end.Add(time.Millisecond) },
		func(s *saleSpec) { s.start = s.start.Add(-time.Second) },
	} {
		other := spec
		change(&other)
		checkError(t, e.do("POST", "/v1/flash-sales", other.body()), errSaleExists.Code)
	}
	if got := e.sentAll(); got != n {
		t.Errorf("%d messages sent for repeated definitions", got-n)
	}
	if st := decode[stockJSON](t, e.mustDo(t, "GET", "/v1/inventory/sku-1", ``, 200)); st.Reserved != 10 {
		t.Errorf("one allocation, whatever the retries: %+v", st)
	}
}

func TestFlashSaleCreateInsufficientStock(t *testing.T) {
	e := newFlashEnv(t, Options{})
	e.restock(t, "sku-1", 5)
	spec := activeSale("fs-1", "sku-1", 6, 1, 1)
	checkError(t, e.do("POST", "/v1/flash-sales", spec.body()), errInsufficientStock.Code)
	got := decode[flashSaleJSON](t, e.mustDo(t, "GET", "/v1/flash-sales/fs-1", ``, 200))
	if got.Status != "failed" || got.Reason != "insufficient_stock" || got.Allocated != 0 || got.Settlement != "none" ||
		len(got.Buckets) != 0 {
		t.Errorf("sale %+v", got)
	}
	if st := decode[stockJSON](t, e.mustDo(t, "GET", "/v1/inventory/sku-1", ``, 200)); st.Reserved != 0 {
		t.Errorf("stock %+v", st)
	}
	// The id stays taken: the same request gets the same answer, sends
	// nothing, and nothing sells.
	n := e.sentAll()
	checkError(t, e.do("POST", "/v1/flash-sales", spec.body()), errInsufficientStock.Code)
	checkError(t, e.do("POST", "/v1/flash-sales/fs-1/purchases", purchaseBody("u", 1, "k")), errSaleNotFound.Code)
	if e.sentAll() != n {
		t.Error("a failed sale's retry sent something")
	}
}

// TestFlashSaleIdsAreTitans: a sale's allocation lives in Titan's
// namespace. A client can neither block a sale by taking its ids first
// (its reservation under the old order name is just its own) nor use the
// ids, nor end the allocation to sell its units twice.
func TestFlashSaleIdsAreTitans(t *testing.T) {
	e := newFlashEnv(t, Options{})
	e.restock(t, "sku-1", 8)
	reserve := "/v1/inventory/sku-1/reservations"
	e.mustDo(t, "POST", reserve, `{"order_id":"flash-sale:fs-1","command_id":"flash-sale:fs-1:allocate","qty":3,"ttl_ms":600000}`, 201)
	for _, body := range []string{
		`{"order_id":"titan:flash-sale:fs-1","qty":1,"ttl_ms":600000}`,
		`{"order_id":"o-1","command_id":"titan:flash-sale:fs-1:allocate","qty":1,"ttl_ms":600000}`,
	} {
		checkError(t, e.do("POST", reserve, body), errReservedID.Code)
	}
	e.mustDo(t, "POST", "/v1/flash-sales", activeSale("fs-1", "sku-1", 5, 1, 1).body(), 201)

	n := len(e.k.sent())
	for _, op := range []string{"release", "commit"} {
		checkError(t, e.do("POST", "/v1/inventory/reservations/titan:flash-sale:fs-1/"+op, `{"command_id":"c-`+op+`"}`), errReservedID.Code)
	}
	if got := len(e.k.sent()); got != n {
		t.Errorf("%d commands on a reservation of Titan's reached Kafka", got-n)
	}
	if st := decode[stockJSON](t, e.mustDo(t, "GET", "/v1/inventory/sku-1", ``, 200)); st.Reserved != 8 || st.Available != 0 {
		t.Errorf("stock %+v", st)
	}
	r := decode[reservationJSON](t, e.mustDo(t, "POST", reserve, `{"order_id":"o-2","qty":1,"ttl_ms":600000}`, 409))
	if r.Reason != "insufficient_stock" {
		t.Errorf("the sale's units were sold to a normal reservation: %+v", r)
	}
}

// TestFlashSaleCreatePending: an allocation the inventory does not answer
// within the wait answers 202; a repeat waits again without sending, and
// once the inventory answers the sale opens.
func TestFlashSaleCreatePending(t *testing.T) {
	e := newFlashEnv(t, Options{CommandWait: 20 * time.Millisecond, ReadWait: 20 * time.Millisecond})
	spec := activeSale("fs-1", "sku-1", 4, 1, 2)
	e.restock(t, "sku-1", 4)

	e.fs.setMode(fakeFlashMode{holdInventory: true})
	r := e.mustDo(t, "POST", "/v1/flash-sales", spec.body(), 202)
	checkFields(t, r, []string{"status", "id", "poll"})
	if p := decode[flashSalePendingJSON](t, r); p != (flashSalePendingJSON{Status: "pending", ID: "fs-1", Poll: "/v1/flash-sales/fs-1"}) {
		t.Errorf("pending %+v", p)
	}
	got := decode[flashSaleJSON](t, e.mustDo(t, "GET", "/v1/flash-sales/fs-1", ``, 200))
	if got.Status != "creating" || got.Allocated != 0 || got.Settlement != "pending" || len(got.Buckets) != 0 {
		t.Errorf("creating sale %+v", got)
	}
	n := e.sentAll()
	e.mustDo(t, "POST", "/v1/flash-sales", spec.body(), 202)
	if e.sentAll() != n {
		t.Error("a repeat while allocating sent another creation")
	}
	// A different definition meanwhile is refused.
	other := spec
	other.units = 3
	checkError(t, e.do("POST", "/v1/flash-sales", other.body()), errSaleExists.Code)

	e.fs.setMode(fakeFlashMode{})
	e.fs.releaseInventory()
	got = decode[flashSaleJSON](t, e.mustDo(t, "GET", "/v1/flash-sales/fs-1", ``, 200))
	if got.Status != "active" || got.Allocated != 4 || len(got.Buckets) != 2 {
		t.Errorf("sale %+v", got)
	}
	e.mustDo(t, "POST", "/v1/flash-sales", spec.body(), 200)

	// A Create Kafka took but the sale key has not seen: the repeat
	// sends it again, and the sale key applies one.
	e.restock(t, "sku-2", 2)
	spec2 := activeSale("fs-2", "sku-2", 2, 1, 1)
	e.fs.setMode(fakeFlashMode{holdClient: true})
	e.mustDo(t, "POST", "/v1/flash-sales", spec2.body(), 202)
	checkError(t, e.do("GET", "/v1/flash-sales/fs-2", ``), errSaleNotFound.Code)
	e.mustDo(t, "POST", "/v1/flash-sales", spec2.body(), 202)
	e.fs.setMode(fakeFlashMode{})
	e.fs.release()
	e.mustDo(t, "POST", "/v1/flash-sales", spec2.body(), 200)
	if st := decode[stockJSON](t, e.mustDo(t, "GET", "/v1/inventory/sku-2", ``, 200)); st.Reserved != 2 {
		t.Errorf("one allocation for two Creates: %+v", st)
	}
}

// TestFlashSaleCreationTimesOut: the inventory never answers in time. Past
// the deadline the settler abandons the creation: the sale shows failed
// with the reason, a repeat gets sale_failed naming it, and once the
// inventory gets to the reserve and the release behind it the units are
// back.
func TestFlashSaleCreationTimesOut(t *testing.T) {
	e := newFlashEnv(t, Options{ReadWait: 20 * time.Millisecond})
	spec := activeSale("fs-1", "sku-1", 4, 1, 2)
	e.restock(t, "sku-1", 4)
	e.fs.setMode(fakeFlashMode{holdInventory: true})
	e.mustDo(t, "POST", "/v1/flash-sales", spec.body(), 202)

	// What the settler sends once the deadline has passed.
	created := flashsale.MessageFromWire(e.fs.sentInternal()[0]).Time
	e.fs.process(flashsale.Message{Kind: flashsale.KindAbandon, SaleID: "fs-1", Key: e.fs.router.Sale("fs-1"),
		Time: created.Add(flashsale.DefaultPolicy().CreationTimeout)})
	got := decode[flashSaleJSON](t, e.mustDo(t, "GET", "/v1/flash-sales/fs-1", ``, 200))
	if got.Status != "failed" || got.Reason != flashsale.ReasonCreationTimedOut || got.Allocated != 0 || got.Settled {
		t.Errorf("sale %+v", got)
	}
	r := e.do("POST", "/v1/flash-sales", spec.body())
	want := errSaleFailed
	want.Message += " (reason: creation_timed_out)"
	if r.status != want.status || !reflect.DeepEqual(decode[apiError](t, r), apiError{Code: want.Code, Message: want.Message}) {
		t.Errorf("repeat: %d %s, want %d %+v", r.status, r, want.status, want)
	}

	e.fs.setMode(fakeFlashMode{})
	e.fs.releaseInventory()
	if st := decode[stockJSON](t, e.mustDo(t, "GET", "/v1/inventory/sku-1", ``, 200)); st.Reserved != 0 || st.Available != 4 {
		t.Errorf("the abandoned allocation still holds: %+v", st)
	}
	if again := decode[flashSaleJSON](t, e.mustDo(t, "GET", "/v1/flash-sales/fs-1", ``, 200)); again.Status != "failed" {
		t.Errorf("the late answer moved the sale: %+v", again)
	}
}

// TestFlashSaleCreateLost: another definition landing first on the sale
// key wins.
func TestFlashSaleCreateLost(t *testing.T) {
	e := newFlashEnv(t, Options{})
	spec := activeSale("fs-1", "sku-1", 4, 1, 1)
	e.restock(t, "sku-1", 4)
	e.restock(t, "sku-9", 1)
	e.fs.setMode(fakeFlashMode{holdClient: true})
	winner := flashsale.Sale{ID: "fs-1", SKU: "sku-9", Units: 1, Start: spec.start, End: spec.end, PerUserLimit: 1, Buckets: 1}
	e.fs.mu.Lock()
	e.fs.mu.held = append(e.fs.mu.held, flashsale.Message{Kind: flashsale.KindCreate, SaleID: "fs-1", Key: e.fs.router.Sale("fs-1"),
		Time: time.Now().Truncate(time.Millisecond), Sale: winner})
	e.fs.mu.Unlock()
	sent := e.fs.nextSend()
	done := make(chan response, 1)
	go func() { done <- e.do("POST", "/v1/flash-sales", spec.body()) }()
	// Once the request has sent its creation, the winner's goes first.
	select {
	case r := <-done:
		t.Fatalf("answered before creating: %s", r)
	case <-sent:
	}
	e.fs.setMode(fakeFlashMode{})
	e.fs.release()
	checkError(t, <-done, errSaleExists.Code)
	if st := decode[stockJSON](t, e.mustDo(t, "GET", "/v1/inventory/sku-1", ``, 200)); st.Reserved != 0 {
		t.Errorf("the losing definition allocated: %+v", st)
	}
}

// TestFlashSaleSettlementFailureShows: a sale whose allocation was released
// under it (by an operator, a bug) shows its settlement failed, with the
// reason.
func TestFlashSaleSettlementFailureShows(t *testing.T) {
	e := newFlashEnv(t, Options{})
	e.create(t, activeSale("fs-1", "sku-1", 3, 1, 1))
	e.fs.operator(inventory.Command{ID: "titan:operator:1", Kind: inventory.KindRelease, OrderID: "titan:flash-sale:fs-1", SKU: "sku-1",
		Time: time.Now()})
	got := decode[flashSaleJSON](t, e.mustDo(t, "GET", "/v1/flash-sales/fs-1", ``, 200))
	if got.Settled || got.Settlement != "failed" || got.SettlementReason != "already_released" || got.Status != "active" {
		t.Errorf("sale %+v", got)
	}
}

func TestFlashSaleStatus(t *testing.T) {
	e := newFlashEnv(t, Options{})
	now := time.Now().Truncate(time.Millisecond)
	scheduled := saleSpec{id: "later", sku: "sku-1", units: 2, start: now.Add(time.Hour), end: now.Add(2 * time.Hour), limit: 1, price: 0}
	e.create(t, scheduled)
	if got := decode[flashSaleJSON](t, e.mustDo(t, "GET", "/v1/flash-sales/later", ``, 200)); got.Status != "scheduled" || got.Price != 0 {
		t.Errorf("scheduled sale %+v", got)
	}
	e.fs.define(flashsale.Sale{ID: "past", SKU: "sku-1", Units: 2, Start: now.Add(-2 * time.Hour), End: now.Add(-time.Hour), PerUserLimit: 1, Buckets: 3})
	got := decode[flashSaleJSON](t, e.mustDo(t, "GET", "/v1/flash-sales/past", ``, 200))
	if got.Status != "ended" || got.Remaining != 2 || len(got.Buckets) != 3 || got.Buckets[2] != (bucketJSON{2, 0, 0}) {
		t.Errorf("ended sale %+v", got)
	}
}

func TestPurchase(t *testing.T) {
	e := newFlashEnv(t, Options{})
	e.create(t, activeSale("fs-1", "sku-1", 3, 2, 2))
	n := len(e.fs.sent())
	before := time.Now()
	r := e.buy(t, "fs-1", "u-1", 1, "k-1", 201)
	after := time.Now()
	checkFields(t, r, purchaseFields)
	got := decode[purchaseJSON](t, r)
	bucket := flashsale.BucketOf("u-1", 2)
	want := purchaseJSON{Status: "purchased", SaleID: "fs-1", UserID: "u-1", Qty: 1, IdempotencyKey: "k-1", Price: 1999, Bucket: bucket}
	if got != want {
		t.Errorf("purchase %+v, want %+v", got, want)
	}
	sent := e.fs.sent()[n:]
	if len(sent) != 1 {
		t.Fatalf("%d messages sent, want 1", len(sent))
	}
	m := flashsale.MessageFromWire(sent[0])
	if m.Kind != flashsale.KindPurchase || m.Key != e.fs.router.User("fs-1", "u-1") || m.SaleID != "fs-1" || m.UserID != "u-1" ||
		m.Qty != 1 || m.IdempotencyKey != "k-1" || m.Bucket != bucket || m.Internal ||
		m.Time.Before(before.Truncate(time.Millisecond)) || m.Time.After(after) {
		t.Errorf("purchase sent %+v", m)
	}

	// A retry is answered from the index without sending.
	n = e.sentAll()
	if again := decode[purchaseJSON](t, e.buy(t, "fs-1", "u-1", 1, "k-1", 201)); again != got {
		t.Errorf("retry %+v, first %+v", again, got)
	}
	// Another qty under the key is another attempt: the key names the
	// first one, so this one is refused.
	checkError(t, e.do("POST", "/v1/flash-sales/fs-1/purchases", purchaseBody("u-1", 2, "k-1")), errIdempotencyKeyConflict.Code)
	if e.sentAll() != n {
		t.Errorf("a retry sent %d message(s)", e.sentAll()-n)
	}
	if polled := decode[purchaseJSON](t, e.mustDo(t, "GET", "/v1/flash-sales/fs-1/purchases/k-1", ``, 200)); polled != got {
		t.Errorf("poll %+v, purchase %+v", polled, got)
	}

	// Two units for a buyer of the other bucket: from its share and,
	// where that falls short, borrowed from the first bucket's.
	other := "u-2"
	for flashsale.BucketOf(other, 2) == bucket {
		other += "x"
	}
	if p := decode[purchaseJSON](t, e.buy(t, "fs-1", other, 2, "k-2", 201)); p.Qty != 2 || p.Status != "purchased" {
		t.Errorf("purchase with borrowing %+v", p)
	}
	sale := decode[flashSaleJSON](t, e.mustDo(t, "GET", "/v1/flash-sales/fs-1", ``, 200))
	if sale.Status != "sold_out" || sale.Sold != 3 || sale.Remaining != 0 {
		t.Errorf("sale %+v", sale)
	}
	var avail int64
	for _, b := range sale.Buckets {
		avail += b.Available
	}
	if avail != 0 {
		t.Errorf("buckets %+v", sale.Buckets)
	}
}

// metricValue reads one sample of the server's /metrics.
func (e *flashEnv) metricValue(t *testing.T, sample string) string {
	t.Helper()
	for _, line := range strings.Split(e.mustDo(t, "GET", "/metrics", ``, 200).String(), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			return v
		}
	}
	return ""
}

// TestAdmission: what the views show cannot succeed is rejected without
// sending anything, and counted.
func TestAdmission(t *testing.T) {
	e := newFlashEnv(t, Options{})
	now := time.Now().Truncate(time.Millisecond)
	e.create(t, activeSale("fs-1", "sku-1", 3, 2, 2))
	e.create(t, saleSpec{id: "later", sku: "sku-2", units: 1, start: now.Add(time.Hour), end: now.Add(2 * time.Hour), limit: 1})
	e.fs.define(flashsale.Sale{ID: "past", SKU: "sku-3", Units: 5, Start: now.Add(-2 * time.Hour), End: now.Add(-time.Hour), PerUserLimit: 1, Buckets: 2})
	e.buy(t, "fs-1", "u-1", 2, "k-1", 201)

	for _, c := range []struct {
		sale, user string
		qty        int64
		reason     string
	}{
		{"later", "u-1", 1, flashsale.ReasonNotStarted},
		{"past", "u-1", 1, flashsale.ReasonEnded},
		{"fs-1", "u-1", 1, flashsale.ReasonLimitExceeded},
		{"fs-1", "u-2", 2, flashsale.ReasonSoldOut}, // 1 left
	} {
		n := e.sentAll()
		r := e.buy(t, c.sale, c.user, c.qty, "k-new", 409)
		checkFields(t, r, purchaseFields)
		got := decode[purchaseJSON](t, r)
		want := purchaseJSON{Status: "rejected", Reason: c.reason, SaleID: c.sale, UserID: c.user, Qty: c.qty,
			IdempotencyKey: "k-new", Bucket: got.Bucket}
		if got != want {
			t.Errorf("%s: %+v, want %+v", c.reason, got, want)
		}
		if e.sentAll() != n {
			t.Errorf("%s: admission sent %d message(s)", c.reason, e.sentAll()-n)
		}
		if v := e.metricValue(t, `titan_flashsale_admission_rejected_total{reason="`+c.reason+`"}`); v != "1" {
			t.Errorf("%s: counter %q, want 1", c.reason, v)
		}
		// An admission rejection is not an attempt: nothing to poll.
		checkError(t, e.do("GET", "/v1/flash-sales/"+c.sale+"/purchases/k-new", ``), errPurchaseNotFound.Code)
	}
	// What is left still sells.
	e.buy(t, "fs-1", "u-2", 1, "k-2", 201)
}

// TestAdmissionUnderLag: a lagging replica under-counts, so admission lets
// attempts through and the processor rejects them; once it catches up,
// admission rejects them itself. Nothing oversells either way.
func TestAdmissionUnderLag(t *testing.T) {
	e := newFlashEnv(t, Options{})
	e.create(t, activeSale("fs-1", "sku-1", 2, 1, 1))
	e.fs.setMode(fakeFlashMode{frozenView: true})
	e.buy(t, "fs-1", "u-1", 1, "k-1", 201)
	e.buy(t, "fs-1", "u-2", 1, "k-2", 201)
	n := len(e.fs.sent())
	got := decode[purchaseJSON](t, e.buy(t, "fs-1", "u-3", 1, "k-3", 409))
	if got.Reason != flashsale.ReasonSoldOut || len(e.fs.sent()) != n+1 {
		t.Errorf("past the stale view: %+v, %d sent", got, len(e.fs.sent())-n)
	}
	// The buyer's own key lags too: the limit is the processor's call.
	got = decode[purchaseJSON](t, e.buy(t, "fs-1", "u-1", 1, "k-4", 409))
	if got.Reason != flashsale.ReasonLimitExceeded {
		t.Errorf("limit past the stale view: %+v", got)
	}
	if v := e.metricValue(t, `titan_flashsale_admission_rejected_total{reason="sold_out"}`); v != "0" {
		t.Errorf("admission counted %s rejections from a stale view", v)
	}

	e.fs.setMode(fakeFlashMode{})
	n = e.sentAll()
	e.buy(t, "fs-1", "u-5", 1, "k-5", 409)
	if e.sentAll() != n {
		t.Error("a caught-up view did not reject at admission")
	}
	sale := decode[flashSaleJSON](t, e.mustDo(t, "GET", "/v1/flash-sales/fs-1", ``, 200))
	if sale.Sold != 2 || sale.Status != "sold_out" {
		t.Errorf("sale %+v", sale)
	}
}

// TestPurchaseRetryKeepsItsResult: a retry gets the attempt's own result,
// even once the sale has sold out or ended, and even before the index has
// it (from the buyer's key).
func TestPurchaseRetryKeepsItsResult(t *testing.T) {
	e := newFlashEnv(t, Options{})
	e.create(t, activeSale("fs-1", "sku-1", 1, 1, 1))
	e.fs.setMode(fakeFlashMode{noIndex: true})
	first := decode[purchaseJSON](t, e.buy(t, "fs-1", "u-1", 1, "k-1", 201))
	checkError(t, e.do("GET", "/v1/flash-sales/fs-1/purchases/k-1", ``), errPurchaseNotFound.Code)
	n := e.sentAll()
	if again := decode[purchaseJSON](t, e.buy(t, "fs-1", "u-1", 1, "k-1", 201)); again != first {
		t.Errorf("retry from the buyer's key %+v, first %+v", again, first)
	}
	if e.sentAll() != n {
		t.Error("a retry answered by the buyer's key sent a message")
	}
	// An admission rejection is decided again on a retry, the same way.
	rejected := decode[purchaseJSON](t, e.buy(t, "fs-1", "u-2", 1, "k-2", 409))
	if rejected.Reason != flashsale.ReasonSoldOut {
		t.Fatalf("%+v", rejected)
	}
	if again := decode[purchaseJSON](t, e.buy(t, "fs-1", "u-2", 1, "k-2", 409)); again.Reason != flashsale.ReasonSoldOut {
		t.Errorf("retry of an admission rejection %+v", again)
	}
}

// TestPurchaseInFlight: a retry of an attempt the buyer's key still waits
// on skips admission, is sent again (the key drops the copy) and gets the
// attempt's result.
func TestPurchaseInFlight(t *testing.T) {
	e := newFlashEnv(t, Options{CommandWait: 20 * time.Millisecond})
	e.create(t, activeSale("fs-1", "sku-1", 1, 1, 1))
	e.fs.setMode(fakeFlashMode{holdLoop: true})
	r := e.buy(t, "fs-1", "u-1", 1, "k-1", 202)
	checkFields(t, r, []string{"status", "sale_id", "user_id", "qty", "idempotency_key", "poll"})
	p := decode[purchasePendingJSON](t, r)
	want := purchasePendingJSON{Status: "pending", SaleID: "fs-1", UserID: "u-1", Qty: 1, IdempotencyKey: "k-1", Poll: "/v1/flash-sales/fs-1/purchases/k-1"}
	if p != want {
		t.Errorf("pending %+v, want %+v", p, want)
	}
	checkError(t, e.do("GET", p.Poll, ``), errPurchaseNotFound.Code)

	// The retry finds the attempt pending at the buyer's key.
	n := len(e.fs.sent())
	e.buy(t, "fs-1", "u-1", 1, "k-1", 202)
	if len(e.fs.sent()) != n+1 {
		t.Errorf("the retry of an attempt in flight was not sent")
	}
	if w := e.fs.waiting(); w != 0 {
		t.Errorf("%d waiters left behind", w)
	}

	e.fs.setMode(fakeFlashMode{})
	e.fs.release()
	got := decode[purchaseJSON](t, e.mustDo(t, "GET", p.Poll, ``, 200))
	if got.Status != "purchased" || got.UserID != "u-1" {
		t.Errorf("polled %+v", got)
	}
	if again := decode[purchaseJSON](t, e.buy(t, "fs-1", "u-1", 1, "k-1", 201)); again != got {
		t.Errorf("retry %+v, polled %+v", again, got)
	}
	if s := decode[flashSaleJSON](t, e.mustDo(t, "GET", "/v1/flash-sales/fs-1", ``, 200)); s.Sold != 1 {
		t.Errorf("sale %+v", s)
	}
}

// TestPurchaseAnsweredByEitherPath: the result reaches the request from
// the results consumer or from the purchase index, whichever has it.
func TestPurchaseAnsweredByEitherPath(t *testing.T) {
	for _, mode := range []fakeFlashMode{{noIndex: true}, {noEvents: true}} {
		t.Run(fmt.Sprintf("%+v", mode), func(t *testing.T) {
			e := newFlashEnv(t, Options{})
			e.create(t, activeSale("fs-1", "sku-1", 1, 1, 1))
			e.fs.setMode(mode)
			e.buy(t, "fs-1", "u-1", 1, "k-1", 201)
			if w := e.fs.waiting(); w != 0 {
				t.Errorf("%d waiters left behind", w)
			}
		})
	}
}

func TestPurchaseIdempotencyKeyOfAnotherUser(t *testing.T) {
	e := newFlashEnv(t, Options{})
	e.create(t, activeSale("fs-1", "sku-1", 5, 1, 1))
	e.buy(t, "fs-1", "u-1", 1, "k-1", 201)
	n := e.sentAll()
	checkError(t, e.do("POST", "/v1/flash-sales/fs-1/purchases", purchaseBody("u-2", 1, "k-1")), errIdempotencyKeyConflict.Code)
	if e.sentAll() != n {
		t.Error("a conflicting idempotency key was sent")
	}
}

// TestPurchaseResultsByUser: results are keyed by sale and idempotency
// key; a waiter gets only its own buyer's.
func TestPurchaseResultsByUser(t *testing.T) {
	r := newFakeFlash().results
	key := flashsale.PurchaseKey("fs-1", "k")
	mine, cancel, _ := r.wait(key, "u-1", 3)
	defer cancel()
	r.deliver(flashsale.Result{SaleID: "fs-1", IdempotencyKey: "k", UserID: "u-2", Qty: 3})
	r.deliver(flashsale.Result{SaleID: "fs-2", IdempotencyKey: "k", UserID: "u-1", Qty: 3})
	// The answer to this buyer's other attempt under the key (a conflict)
	// is that attempt's.
	r.deliver(flashsale.Result{SaleID: "fs-1", IdempotencyKey: "k", UserID: "u-1", Qty: 1, Reason: flashsale.ReasonIdempotencyConflict})
	select {
	case res := <-mine:
		t.Fatalf("got another attempt's result %+v", res)
	default:
	}
	r.deliver(flashsale.Result{SaleID: "fs-1", IdempotencyKey: "k", UserID: "u-1", Qty: 3})
	if res := <-mine; res.Qty != 3 {
		t.Errorf("result %+v", res)
	}
	_, cancel2, _ := r.wait(key, "u-1", 1)
	cancel2()
	cancel()
	if n := r.waiters.len(); n != 0 {
		t.Errorf("%d waiters left", n)
	}
}

func TestFlashSaleNotFound(t *testing.T) {
	e := newFlashEnv(t, Options{})
	e.create(t, activeSale("fs-1", "sku-1", 1, 1, 1))
	n := e.sentAll()
	checkError(t, e.do("GET", "/v1/flash-sales/nope", ``), errSaleNotFound.Code)
	checkError(t, e.do("POST", "/v1/flash-sales/nope/purchases", purchaseBody("u", 1, "k")), errSaleNotFound.Code)
	checkError(t, e.do("GET", "/v1/flash-sales/fs-1/purchases/nope", ``), errPurchaseNotFound.Code)
	checkError(t, e.do("GET", "/v1/flash-sales/nope/purchases/nope", ``), errPurchaseNotFound.Code)
	if e.sentAll() != n {
		t.Error("a request about an unknown sale sent something")
	}
}

func TestFlashSaleNotEnabled(t *testing.T) {
	e := newEnv(t, Options{})
	for _, req := range [][3]string{
		{"POST", "/v1/flash-sales", activeSale("fs-1", "sku-1", 1, 1, 1).body()},
		{"GET", "/v1/flash-sales/fs-1", ``},
		{"POST", "/v1/flash-sales/fs-1/purchases", purchaseBody("u", 1, "k")},
		{"GET", "/v1/flash-sales/fs-1/purchases/k", ``},
		{"POST", "/v1/flash-sales", `{"bad"`},
	} {
		checkError(t, e.do(req[0], req[1], req[2]), errNotEnabled.Code)
	}
	if n := len(e.k.sent()); n != 0 {
		t.Errorf("%d commands sent", n)
	}
}

func TestFlashSaleNotReady(t *testing.T) {
	e := newFlashEnv(t, Options{})
	e.create(t, activeSale("fs-1", "sku-1", 1, 1, 1))
	e.setReady(false)
	n := e.sentAll()
	for _, req := range [][3]string{
		{"POST", "/v1/flash-sales", activeSale("fs-2", "sku-1", 1, 1, 1).body()},
		{"GET", "/v1/flash-sales/fs-1", ``},
		{"POST", "/v1/flash-sales/fs-1/purchases", purchaseBody("u", 1, "k")},
		{"GET", "/v1/flash-sales/fs-1/purchases/k", ``},
	} {
		checkError(t, e.do(req[0], req[1], req[2]), errNotReady.Code)
	}
	if e.sentAll() != n {
		t.Error("sent while not ready")
	}
}

func TestFlashSaleSendFailure(t *testing.T) {
	e := newFlashEnv(t, Options{})
	e.create(t, activeSale("fs-1", "sku-1", 1, 1, 1))
	e.restock(t, "sku-1", 1)
	e.fs.failWith(errors.New("broker gone"))
	checkError(t, e.do("POST", "/v1/flash-sales", activeSale("fs-2", "sku-1", 1, 1, 1).body()), errUnavailable.Code)
	checkError(t, e.do("POST", "/v1/flash-sales/fs-1/purchases", purchaseBody("u", 1, "k")), errUnavailable.Code)
	if w := e.fs.waiting(); w != 0 {
		t.Errorf("%d waiters left behind", w)
	}
	// Nothing was created; the retry creates the sale.
	e.fs.failWith(nil)
	e.mustDo(t, "POST", "/v1/flash-sales", activeSale("fs-2", "sku-1", 1, 1, 1).body(), 201)
}

func TestNewRequiresCompleteFlashSaleDeps(t *testing.T) {
	e := newEnv(t, Options{})
	deps := e.s.deps
	full := *newFakeFlash().deps()
	for _, drop := range []func(*FlashSaleDeps){
		func(d *FlashSaleDeps) { d.Sales = nil },
		func(d *FlashSaleDeps) { d.SalesNotifier = nil },
		func(d *FlashSaleDeps) { d.Purchases = nil },
		func(d *FlashSaleDeps) { d.PurchasesNotifier = nil },
		func(d *FlashSaleDeps) { d.Router = nil },
		func(d *FlashSaleDeps) { d.Send = nil },
		func(d *FlashSaleDeps) { d.SendInternal = nil },
		func(d *FlashSaleDeps) { d.Results = nil },
	} {
		fs := full
		drop(&fs)
		deps.FlashSales = &fs
		if _, err := New(deps, Options{}); err == nil {
			t.Errorf("New accepted %+v", fs)
		}
	}
}

// TestConcurrentPurchases: many buyers at once, with retries, never buy
// more than the sale allocated or a buyer more than the limit, and every
// retry gets its attempt's answer.
func TestConcurrentPurchases(t *testing.T) {
	const (
		units  = 40
		limit  = 3
		buyers = 30
	)
	e := newFlashEnv(t, Options{})
	e.create(t, activeSale("fs-1", "sku-1", units, limit, 4))
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		bought = map[string]int64{}
	)
	for b := range buyers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprintf("u-%d", b)
			for a := range 3 {
				key := fmt.Sprintf("k-%d-%d", b, a)
				body := purchaseBody(user, int64(1+(a+b)%2), key)
				first := e.do("POST", "/v1/flash-sales/fs-1/purchases", body)
				again := e.do("POST", "/v1/flash-sales/fs-1/purchases", body)
				if first.status != again.status || (first.status == 201 && first.String() != again.String()) {
					t.Errorf("%s: %d %s, retry %d %s", key, first.status, first, again.status, again)
				}
				switch first.status {
				case 201:
					p := decode[purchaseJSON](t, first)
					mu.Lock()
					bought[user] += p.Qty
					mu.Unlock()
				case 409:
				default:
					t.Errorf("%s: %d %s", key, first.status, first)
				}
			}
		}()
	}
	wg.Wait()
	var total int64
	for user, n := range bought {
		if n > limit {
			t.Errorf("%s bought %d, limit %d", user, n, limit)
		}
		total += n
	}
	sale := decode[flashSaleJSON](t, e.mustDo(t, "GET", "/v1/flash-sales/fs-1", ``, 200))
	if total > units || sale.Sold != total {
		t.Errorf("bought %d, sale shows %d sold of %d", total, sale.Sold, units)
	}
	if w := e.fs.waiting(); w != 0 {
		t.Errorf("%d waiters left behind", w)
	}
}

// TestPurchaseSendsValidClientMessages: what the API sends passes the
// checks the topology applies to client messages (see
// topologies/flashsaletopo validateClient), at the limits of every field.
func TestPurchaseSendsValidClientMessages(t *testing.T) {
	e := newFlashEnv(t, Options{})
	id := strings.Repeat("s", 64)
	e.create(t, activeSale(id, strings.Repeat("k", 128), 1000, 1000, 256))
	user, key := strings.Repeat("u", 128), strings.Repeat("i", 128)
	e.buy(t, id, user, 1000, key, 201)
	e.mustDo(t, "GET", "/v1/flash-sales/"+id+"/purchases/"+key, ``, 200)
	// The public topic gets purchases only; a creation goes to the
	// internal one.
	for _, w := range e.fs.sent() {
		m := flashsale.MessageFromWire(w)
		if m.Kind != flashsale.KindPurchase || m.Key != e.fs.router.User(m.SaleID, m.UserID) || m.Qty > schemas.MaxPurchaseQty ||
			m.Bucket >= flashsale.MaxBuckets || m.Time.IsZero() || schemas.Reserved(m.UserID) || schemas.Reserved(m.IdempotencyKey) {
			t.Errorf("purchase %+v", m)
		}
	}
	for _, w := range e.fs.sentInternal() {
		m := flashsale.MessageFromWire(w)
		if m.Kind != flashsale.KindCreate || !m.Sale.Valid() || m.Sale.ID != m.SaleID || m.Key != e.fs.router.Sale(m.SaleID) ||
			!flashsale.DefaultPolicy().Fits(m.Sale, m.Time) {
			t.Errorf("creation %+v", m)
		}
	}
	for _, w := range append(e.fs.sent(), e.fs.sentInternal()...) {
		if w.GetInternal() || w.GetOrigin() != nil {
			t.Errorf("a message from outside the group claims an origin: %v", w)
		}
	}
}

// TestPurchaseConflictInFlight: while an attempt is in flight, another qty
// under its key is refused at once, and the attempt keeps its result.
func TestPurchaseConflictInFlight(t *testing.T) {
	e := newFlashEnv(t, Options{CommandWait: 20 * time.Millisecond})
	e.create(t, activeSale("fs-1", "sku-1", 5, 5, 1))
	e.fs.setMode(fakeFlashMode{holdLoop: true})
	e.buy(t, "fs-1", "u-1", 1, "k-1", 202)
	n := e.sentAll()
	checkError(t, e.do("POST", "/v1/flash-sales/fs-1/purchases", purchaseBody("u-1", 2, "k-1")), errIdempotencyKeyConflict.Code)
	if e.sentAll() != n {
		t.Error("a conflicting attempt was sent")
	}
	e.fs.setMode(fakeFlashMode{})
	e.fs.release()
	if got := decode[purchaseJSON](t, e.mustDo(t, "GET", "/v1/flash-sales/fs-1/purchases/k-1", ``, 200)); got.Status != "purchased" || got.Qty != 1 {
		t.Errorf("polled %+v", got)
	}
}
