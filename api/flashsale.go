package api

import (
	"context"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	flashtopo "github.com/titan-commerce/titan/topologies/flashsale"
)

// The flash-sale endpoints. A sale is created by reserving its units from
// the SKU's inventory (order flashsale.AllocationOrder(id), settled by the
// topology once the sale has ended) and then defining it on its sale key;
// purchases go to the buyer's key and are answered by the result event.
//
// Admission: before sending a purchase, the API reads the sale's keys in
// its local view and rejects at once what cannot succeed: a sale not
// started or ended (the processor decides with the attempt's timestamp,
// which is the API's clock, so it would decide the same), a buyer whose
// purchases already reach the limit, and a quantity above what is left.
// A view can only lag: it under-counts what was sold and bought, never
// over-counts, so admission never rejects what the processor would accept,
// and the processor still decides everything it lets through. An attempt
// that was sent before keeps its own answer: the purchase index and the
// buyer's key are read first. One window remains: a retry of an attempt
// still in flight, while this replica shows the buckets' sales but not yet
// the buyer's key, is answered by admission; the poll URL gives the
// attempt's own result once it lands.

// FlashSaleSender hands a message to the flash-sale commands topic
// (topologies/flashsale Names.Commands), keyed by msg.Key, and returns its
// partition and offset once Kafka has acknowledged it.
type FlashSaleSender func(ctx context.Context, msg *flashsalev1.Message) (partition int32, offset int64, err error)

// FlashSaleDeps are the parts of the flash-sale topology the API stands
// on. Every field is required.
type FlashSaleDeps struct {
	// Sales is the flash-sale group's table (Names.Table(): a
	// flashsale.State per sale, bucket and user key), updates reported to
	// SalesNotifier.
	Sales         Table
	SalesNotifier *Notifier
	// Purchases is the purchase index (Names.PurchasesTable(): a
	// flashsale.Result per flashtopo.PurchaseKey), updates reported to
	// PurchasesNotifier.
	Purchases         Table
	PurchasesNotifier *Notifier
	// Router names the keys; it must be the topology's, built for the
	// same partition count. *flashtopo.Router is one.
	Router  flashsale.Router
	Send    FlashSaleSender
	Results *FlashSaleResults
}

func (d *FlashSaleDeps) complete() bool {
	return d.Sales != nil && d.SalesNotifier != nil && d.Purchases != nil && d.PurchasesNotifier != nil &&
		d.Router != nil && d.Send != nil && d.Results != nil
}

// Limits of a sale definition beyond those of the topology.
const (
	maxPerUserLimit = 1_000_000_000
	maxPriceMinor   = 1_000_000_000_000
	// allocationGrace keeps the allocation reserved past the end, so the
	// settlement finds it open even if it comes late.
	allocationGrace = 24 * time.Hour
	// maxSaleAhead is the furthest end the allocation's TTL can cover.
	maxSaleAhead = time.Duration(schemas.MaxReserveTTLMs)*time.Millisecond - allocationGrace
)

// Sale ids are record keys and part of the allocation's order and command
// ids; the alphabet keeps them readable and free of the ':' keys use.
var saleIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

type flashSaleMetrics struct {
	admissionRejected *prometheus.CounterVec
}

func newFlashSaleMetrics(reg prometheus.Registerer) (*flashSaleMetrics, error) {
	m := &flashSaleMetrics{admissionRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "titan", Subsystem: "flashsale", Name: "admission_rejected_total",
		Help: "Purchase attempts the API rejected from its views without sending them, by reason.",
	}, []string{"reason"})}
	if err := reg.Register(m.admissionRejected); err != nil {
		return nil, errorf("register flash-sale metrics: %w", err)
	}
	for _, r := range []string{flashsale.ReasonNotStarted, flashsale.ReasonEnded, flashsale.ReasonLimitExceeded, flashsale.ReasonSoldOut} {
		m.admissionRejected.WithLabelValues(r)
	}
	return m, nil
}

// flashSaleJSON is a sale as the API shows it.
type flashSaleJSON struct {
	ID           string       `json:"id"`
	SKU          string       `json:"sku"`
	Status       string       `json:"status"`
	Allocated    int64        `json:"allocated"`
	Sold         int64        `json:"sold"`
	Remaining    int64        `json:"remaining"`
	StartsAt     string       `json:"starts_at"`
	EndsAt       string       `json:"ends_at"`
	PerUserLimit int64        `json:"per_user_limit"`
	Price        int64        `json:"price"`
	Settled      bool         `json:"settled"`
	Buckets      []bucketJSON `json:"buckets"`
}

type bucketJSON struct {
	Bucket    int   `json:"bucket"`
	Available int64 `json:"available"`
	Sold      int64 `json:"sold"`
}

// flashSalePendingJSON answers a creation not confirmed within the wait.
type flashSalePendingJSON struct {
	Status string `json:"status"`
	ID     string `json:"id"`
	Poll   string `json:"poll"`
}

// purchaseJSON is an attempt's result.
type purchaseJSON struct {
	Status         string `json:"status"`
	Reason         string `json:"reason"`
	SaleID         string `json:"sale_id"`
	UserID         string `json:"user_id"`
	Qty            int64  `json:"qty"`
	IdempotencyKey string `json:"idempotency_key"`
	// Price is per unit, in minor units; 0 unless purchased.
	Price  int64 `json:"price"`
	Bucket int   `json:"bucket"`
}

func purchaseOf(r flashsale.Result) purchaseJSON {
	return purchaseJSON{Status: r.Status.String(), Reason: r.Reason, SaleID: r.SaleID, UserID: r.UserID, Qty: r.Qty,
		IdempotencyKey: r.IdempotencyKey, Price: r.PriceMinor, Bucket: r.Bucket}
}

// purchasePendingJSON answers an attempt whose result did not come within
// the wait.
type purchasePendingJSON struct {
	Status         string `json:"status"`
	SaleID         string `json:"sale_id"`
	UserID         string `json:"user_id"`
	Qty            int64  `json:"qty"`
	IdempotencyKey string `json:"idempotency_key"`
	Poll           string `json:"poll"`
}

func salePath(id string) string { return "/v1/flash-sales/" + pathEscape(id) }

func purchasePath(saleID, key string) string {
	return salePath(saleID) + "/purchases/" + pathEscape(key)
}

// flashSales returns the flash-sale deps, or answers not_enabled.
func (s *Server) flashSales(ctx *fasthttp.RequestCtx) (*FlashSaleDeps, bool) {
	if s.deps.FlashSales == nil {
		s.fail(ctx, errNotEnabled)
		return nil, false
	}
	return s.deps.FlashSales, true
}

func (s *Server) flashReady(fs *FlashSaleDeps) bool {
	return fs.Sales.Recovered() && fs.Purchases.Recovered() && (s.deps.Ready == nil || s.deps.Ready())
}

// readKey reads one key of the flash-sale table.
func readKey(fs *FlashSaleDeps, key string) (flashsale.State, error) {
	v, err := fs.Sales.Get(key)
	if err != nil || v == nil {
		return flashsale.State{}, err
	}
	return v.(flashsale.State), nil
}

// readSale reads a sale key; found means defined.
func readSale(fs *FlashSaleDeps, id string) (flashsale.SaleState, bool, error) {
	st, err := readKey(fs, fs.Router.Sale(id))
	if err != nil || st.Sale == nil {
		return flashsale.SaleState{}, false, err
	}
	return *st.Sale, st.Sale.Defined, nil
}

func readPurchase(fs *FlashSaleDeps, key string) (flashsale.Result, bool, error) {
	v, err := fs.Purchases.Get(key)
	if err != nil || v == nil {
		return flashsale.Result{}, false, err
	}
	return v.(flashsale.Result), true, nil
}

// buckets reads every bucket of a sale. A bucket not opened yet shows the
// share it opens with.
func buckets(fs *FlashSaleDeps, sale flashsale.Sale) ([]bucketJSON, int64, error) {
	out := make([]bucketJSON, sale.Buckets)
	var sold int64
	for b := range sale.Buckets {
		st, err := readKey(fs, fs.Router.Bucket(sale.ID, b))
		if err != nil {
			return nil, 0, err
		}
		out[b] = bucketJSON{Bucket: b, Available: sale.Share(b)}
		if st.Bucket != nil && st.Bucket.Opened {
			out[b].Available, out[b].Sold = st.Bucket.Available, st.Bucket.Sold
		}
		sold += out[b].Sold
	}
	return out, sold, nil
}

func saleStatus(sale flashsale.Sale, sold int64, now time.Time) string {
	switch {
	case !now.Before(sale.End):
		return "ended"
	case now.Before(sale.Start):
		return "scheduled"
	case sold >= sale.Units:
		return "sold_out"
	}
	return "active"
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func saleOf(fs *FlashSaleDeps, st flashsale.SaleState, now time.Time) (flashSaleJSON, error) {
	sale := st.Sale
	bs, sold, err := buckets(fs, sale)
	if err != nil {
		return flashSaleJSON{}, err
	}
	return flashSaleJSON{
		ID: sale.ID, SKU: sale.SKU, Status: saleStatus(sale, sold, now), Allocated: sale.Units, Sold: sold,
		Remaining: max(0, sale.Units-sold), StartsAt: formatTime(sale.Start), EndsAt: formatTime(sale.End),
		PerUserLimit: sale.PerUserLimit, Price: sale.PriceMinor, Settled: st.Settled, Buckets: bs,
	}, nil
}

func (s *Server) writeSale(ctx *fasthttp.RequestCtx, status int, fs *FlashSaleDeps, st flashsale.SaleState) {
	out, err := saleOf(fs, st, time.Now())
	if err != nil {
		s.opts.Logger.Error("read flash sale", "sale", st.Sale.ID, "err", err)
		s.fail(ctx, errInternal)
		return
	}
	writeJSON(ctx, status, out)
}

func (s *Server) getFlashSale(ctx *fasthttp.RequestCtx, p []string) {
	fs, ok := s.flashSales(ctx)
	if !ok {
		return
	}
	id := p[0]
	if !saleIDPattern.MatchString(id) {
		s.fail(ctx, errInvalidSaleID)
		return
	}
	if !fs.Sales.Recovered() {
		s.fail(ctx, errNotReady)
		return
	}
	st, found, err := readSale(fs, id)
	if err != nil {
		s.opts.Logger.Error("read flash sale", "sale", id, "err", err)
		s.fail(ctx, errInternal)
		return
	}
	if !found {
		s.fail(ctx, errSaleNotFound)
		return
	}
	s.writeSale(ctx, fasthttp.StatusOK, fs, st)
}

type flashSaleRequest struct {
	ID           string `json:"id"`
	SKU          string `json:"sku"`
	Units        int64  `json:"units"`
	StartsAt     string `json:"starts_at"`
	EndsAt       string `json:"ends_at"`
	PerUserLimit int64  `json:"per_user_limit"`
	Price        *int64 `json:"price"`
	Buckets      *int   `json:"buckets"`
}

// sale checks what does not depend on the clock and returns the sale as it
// reads back from the wire (times to the millisecond), so it compares
// equal to the definition in the table.
func (req flashSaleRequest) sale() (flashsale.Sale, apiError, bool) {
	if !saleIDPattern.MatchString(req.ID) {
		return flashsale.Sale{}, errInvalidSaleID, false
	}
	if e, ok := checkSKU(req.SKU); !ok {
		return flashsale.Sale{}, e, false
	}
	if req.Units < 1 || req.Units > schemas.MaxQty {
		return flashsale.Sale{}, errInvalidUnits, false
	}
	start, err := time.Parse(time.RFC3339, req.StartsAt)
	if err != nil {
		return flashsale.Sale{}, errInvalidStartsAt, false
	}
	end, err := time.Parse(time.RFC3339, req.EndsAt)
	if err != nil || !end.Truncate(time.Millisecond).After(start.Truncate(time.Millisecond)) {
		return flashsale.Sale{}, errInvalidEndsAt, false
	}
	if req.PerUserLimit < 1 || req.PerUserLimit > maxPerUserLimit {
		return flashsale.Sale{}, errInvalidPerUserLimit, false
	}
	if req.Price == nil || *req.Price < 0 || *req.Price > maxPriceMinor {
		return flashsale.Sale{}, errInvalidPrice, false
	}
	n := 1
	if req.Buckets != nil {
		n = *req.Buckets
	}
	if n < 1 || n > flashsale.MaxBuckets {
		return flashsale.Sale{}, errInvalidBuckets, false
	}
	sale := flashsale.Sale{ID: req.ID, SKU: req.SKU, Units: req.Units, Start: start, End: end,
		PerUserLimit: req.PerUserLimit, PriceMinor: *req.Price, Buckets: n}
	return flashsale.SaleFromWire(flashsale.SaleToWire(sale)), apiError{}, true
}

func sameSale(a, b flashsale.Sale) bool {
	return a.ID == b.ID && a.SKU == b.SKU && a.Units == b.Units && a.Start.Equal(b.Start) && a.End.Equal(b.End) &&
		a.PerUserLimit == b.PerUserLimit && a.PriceMinor == b.PriceMinor && a.Buckets == b.Buckets
}

// createFlashSale allocates the units, then defines the sale. Every step
// is idempotent (the allocation by its command id, the definition by the
// sale key), so a client repeats the same request after a 202 or a
// failure until it gets 200 or 201.
func (s *Server) createFlashSale(ctx *fasthttp.RequestCtx, _ []string) {
	fs, ok := s.flashSales(ctx)
	if !ok {
		return
	}
	var req flashSaleRequest
	if e, ok := s.decodeBody(ctx, &req); !ok {
		s.fail(ctx, e)
		return
	}
	sale, e, ok := req.sale()
	if !ok {
		s.fail(ctx, e)
		return
	}
	now := time.Now()
	// A sale that ended may be asked for again by a client repeating its
	// request; only a new sale must end in the window the allocation's
	// TTL covers. Not ready does not turn a bad new sale into a 503.
	window := sale.End.After(now) && !sale.End.After(now.Add(maxSaleAhead))
	if !s.flashReady(fs) {
		if !window {
			s.fail(ctx, errInvalidEndsAt)
		} else {
			s.fail(ctx, errNotReady)
		}
		return
	}
	cur, found, err := readSale(fs, sale.ID)
	switch {
	case err != nil:
		s.opts.Logger.Error("read flash sale", "sale", sale.ID, "err", err)
		s.fail(ctx, errInternal)
		return
	case found && sameSale(cur.Sale, sale):
		s.writeSale(ctx, fasthttp.StatusOK, fs, cur)
		return
	case found:
		s.fail(ctx, errSaleExists)
		return
	case !window:
		s.fail(ctx, errInvalidEndsAt)
		return
	}
	if !s.allocate(ctx, sale, now) {
		return
	}
	s.define(ctx, fs, sale, now)
}

// allocate reserves the sale's units from the SKU's inventory until a day
// after the end. It reports whether the units are held; when not, it has
// answered the request.
func (s *Server) allocate(ctx *fasthttp.RequestCtx, sale flashsale.Sale, now time.Time) bool {
	id := "flash-sale:" + sale.ID + ":allocate"
	order := flashsale.AllocationOrder(sale.ID)
	// The TTL is a constant so that a repeated request repeats the same
	// command; maxSaleAhead keeps every sale's end, plus the grace, inside it.
	cmd := inventory.Command{Kind: inventory.KindReserve, SKU: sale.SKU, OrderID: order, Qty: sale.Units,
		TTL: time.Duration(schemas.MaxReserveTTLMs) * time.Millisecond}
	res, _, ok := s.run(ctx, cmd, &id)
	switch {
	case !ok:
		return false
	case res == nil:
		writeJSON(ctx, fasthttp.StatusAccepted, flashSalePendingJSON{Status: "pending", ID: sale.ID, Poll: salePath(sale.ID)})
		return false
	case res.Type == inventory.EventReserved && res.Qty == sale.Units:
		return true
	case res.Type == inventory.EventReserved:
		// The first result of the same command id: another definition
		// of this sale allocated first.
		s.fail(ctx, errSaleExists)
		return false
	case res.Reason == inventory.ReasonCommandIDConflict:
		// The allocation command of another definition of this sale
		// came first.
		s.fail(ctx, errSaleExists)
		return false
	case res.Reason == inventory.ReasonInsufficientStock:
		s.fail(ctx, errInsufficientStock)
		return false
	case res.Reason == inventory.ReasonAlreadyReserved:
		// The inventory forgot the command id (its dedupe window) but
		// holds the order: ours, if it is open with the sale's units.
		st, err := s.readState(sale.SKU)
		if err != nil {
			s.opts.Logger.Error("read stock", "sku", sale.SKU, "err", err)
			s.fail(ctx, errInternal)
			return false
		}
		if r, ok := st.Reservation(order); ok && r.Status == inventory.StatusOpen && r.Qty == sale.Units {
			return true
		}
	}
	s.fail(ctx, errAllocationConflict)
	return false
}

// define sends the definition and waits for the local view to show the
// sale defined.
func (s *Server) define(ctx *fasthttp.RequestCtx, fs *FlashSaleDeps, sale flashsale.Sale, now time.Time) {
	key := fs.Router.Sale(sale.ID)
	msg := flashsale.Message{Kind: flashsale.KindDefine, SaleID: sale.ID, Key: key, Time: now, Sale: sale}
	send, stop := context.WithTimeout(ctx, s.opts.CommandWait)
	_, _, err := fs.Send(send, flashsale.MessageToWire(msg))
	stop()
	if err != nil {
		s.opts.Logger.Warn("send flash-sale definition", "sale", sale.ID, "err", err)
		s.fail(ctx, errUnavailable)
		return
	}
	wait, cancel := context.WithTimeout(ctx, s.opts.ReadWait)
	defer cancel()
	cur, defined, err := until(wait, fs.SalesNotifier, key,
		func() (flashsale.SaleState, error) {
			st, _, err := readSale(fs, sale.ID)
			return st, err
		},
		func(st flashsale.SaleState) bool { return st.Defined })
	switch {
	case err != nil:
		s.opts.Logger.Error("read flash sale", "sale", sale.ID, "err", err)
		s.fail(ctx, errInternal)
	case !defined:
		writeJSON(ctx, fasthttp.StatusAccepted, flashSalePendingJSON{Status: "pending", ID: sale.ID, Poll: salePath(sale.ID)})
	case !sameSale(cur.Sale, sale):
		// Another definition of the id landed first. On the same SKU
		// the allocation command answered with its reservation, which
		// the sale now uses; on another SKU ours goes back to stock
		// when its TTL runs out.
		s.fail(ctx, errSaleExists)
	case !s.bucketsOpen(wait, fs, sale):
		// The sale key opens its buckets through the loop topic; a buyer
		// told 201 must not meet a bucket that says not_started.
		writeJSON(ctx, fasthttp.StatusAccepted, flashSalePendingJSON{Status: "pending", ID: sale.ID, Poll: salePath(sale.ID)})
	default:
		s.writeSale(ctx, fasthttp.StatusCreated, fs, cur)
	}
}

// bucketsOpen waits, within ctx, until every bucket of the sale shows open
// in the view.
func (s *Server) bucketsOpen(ctx context.Context, fs *FlashSaleDeps, sale flashsale.Sale) bool {
	for b := range sale.Buckets {
		key := fs.Router.Bucket(sale.ID, b)
		_, open, err := until(ctx, fs.SalesNotifier, key,
			func() (flashsale.State, error) { return readKey(fs, key) },
			func(st flashsale.State) bool { return st.Bucket != nil && st.Bucket.Opened })
		if err != nil || !open {
			return false
		}
	}
	return true
}

type purchaseRequest struct {
	UserID         string `json:"user_id"`
	Qty            int64  `json:"qty"`
	IdempotencyKey string `json:"idempotency_key"`
}

func (req purchaseRequest) check() (apiError, bool) {
	switch {
	case !schemas.ValidID(req.UserID):
		return errInvalidUserID, false
	case req.Qty < 1 || req.Qty > flashtopo.MaxQty:
		return errInvalidPurchaseQty, false
	case !schemas.ValidID(req.IdempotencyKey):
		return errInvalidIdempotencyKey, false
	}
	return apiError{}, true
}

func (s *Server) purchase(ctx *fasthttp.RequestCtx, p []string) {
	fs, ok := s.flashSales(ctx)
	if !ok {
		return
	}
	saleID := p[0]
	if !saleIDPattern.MatchString(saleID) {
		s.fail(ctx, errInvalidSaleID)
		return
	}
	var req purchaseRequest
	if e, ok := s.decodeBody(ctx, &req); !ok {
		s.fail(ctx, e)
		return
	}
	if e, ok := req.check(); !ok {
		s.fail(ctx, e)
		return
	}
	if !s.flashReady(fs) {
		s.fail(ctx, errNotReady)
		return
	}
	st, found, err := readSale(fs, saleID)
	if err != nil {
		s.opts.Logger.Error("read flash sale", "sale", saleID, "err", err)
		s.fail(ctx, errInternal)
		return
	}
	if !found {
		s.fail(ctx, errSaleNotFound)
		return
	}
	sale := st.Sale
	// The attempt travels with this time to the millisecond, and the
	// bucket decides the window with it: admission uses the same.
	now := time.Now().Truncate(time.Millisecond)
	bucket := flashtopo.BucketOf(req.UserID, sale.Buckets)
	known, reason, err := screen(fs, sale, req, now)
	switch {
	case err != nil:
		s.opts.Logger.Error("read flash-sale purchase", "sale", saleID, "user", req.UserID, "err", err)
		s.fail(ctx, errInternal)
		return
	case known != nil:
		s.answerPurchase(ctx, *known, req.UserID)
		return
	case reason != "":
		s.flash.admissionRejected.WithLabelValues(reason).Inc()
		writeJSON(ctx, fasthttp.StatusConflict, purchaseJSON{Status: flashsale.StatusRejected.String(), Reason: reason,
			SaleID: saleID, UserID: req.UserID, Qty: req.Qty, IdempotencyKey: req.IdempotencyKey, Bucket: bucket})
		return
	}

	pkey := flashtopo.PurchaseKey(saleID, req.IdempotencyKey)
	results, cancel := fs.Results.wait(pkey, req.UserID)
	defer cancel()
	wait, stop := context.WithTimeout(ctx, s.opts.CommandWait)
	defer stop()
	msg := flashsale.Message{Kind: flashsale.KindPurchase, SaleID: saleID, Key: fs.Router.User(saleID, req.UserID), Time: now,
		IdempotencyKey: req.IdempotencyKey, UserID: req.UserID, Qty: req.Qty, Bucket: bucket}
	if _, _, err := fs.Send(wait, flashsale.MessageToWire(msg)); err != nil {
		s.opts.Logger.Warn("send flash-sale purchase", "sale", saleID, "user", req.UserID, "err", err)
		s.fail(ctx, errUnavailable)
		return
	}
	res, ok, err := awaitPurchase(wait, fs, pkey, req.UserID, results)
	switch {
	case err != nil:
		s.opts.Logger.Error("read flash-sale purchase", "sale", saleID, "user", req.UserID, "err", err)
		s.fail(ctx, errInternal)
	case !ok:
		writeJSON(ctx, fasthttp.StatusAccepted, purchasePendingJSON{Status: "pending", SaleID: saleID, UserID: req.UserID,
			Qty: req.Qty, IdempotencyKey: req.IdempotencyKey, Poll: purchasePath(saleID, req.IdempotencyKey)})
	default:
		s.answerPurchase(ctx, res, req.UserID)
	}
}

// screen looks at what the views know of an attempt before it is sent. A
// result already there (in the index or, ahead of it, at the buyer's key)
// answers it. An attempt still in flight at the buyer's key is sent again
// (the key drops the copy) and waited for. Any other goes through
// admission, which names the reason to reject it without sending, or none.
func screen(fs *FlashSaleDeps, sale flashsale.Sale, req purchaseRequest, now time.Time) (known *flashsale.Result, reason string, err error) {
	if res, found, err := readPurchase(fs, flashtopo.PurchaseKey(sale.ID, req.IdempotencyKey)); err != nil || found {
		return &res, "", err
	}
	st, err := readKey(fs, fs.Router.User(sale.ID, req.UserID))
	if err != nil {
		return nil, "", err
	}
	var user flashsale.UserState
	if st.User != nil {
		user = *st.User
	}
	for _, r := range user.Results {
		if r.IdempotencyKey == req.IdempotencyKey {
			return &r, "", nil
		}
	}
	for _, m := range user.Pending {
		if m.IdempotencyKey == req.IdempotencyKey {
			return nil, "", nil
		}
	}
	reason, err = admit(fs, sale, user, req.Qty, now)
	return nil, reason, err
}

// admit names the reason the processor would surely reject the attempt
// for, checked in the processor's order, or returns "". What a user has
// purchased and what buckets have sold only grow, so the view's counts are
// lower bounds; pending attempts are left out, as they may yet fail.
func admit(fs *FlashSaleDeps, sale flashsale.Sale, user flashsale.UserState, qty int64, now time.Time) (string, error) {
	switch {
	case now.Before(sale.Start):
		return flashsale.ReasonNotStarted, nil
	case !now.Before(sale.End):
		return flashsale.ReasonEnded, nil
	case user.Purchased+qty > sale.PerUserLimit:
		return flashsale.ReasonLimitExceeded, nil
	}
	_, sold, err := buckets(fs, sale)
	if err != nil {
		return "", err
	}
	if sale.Units-sold < qty {
		return flashsale.ReasonSoldOut, nil
	}
	return "", nil
}

// awaitPurchase waits for the attempt's result from the results consumer
// or the purchase index, whichever has it first: two independent paths, so
// a lagging consumer does not turn an indexed result into a 202.
func awaitPurchase(ctx context.Context, fs *FlashSaleDeps, pkey, user string, results <-chan flashsale.Result) (flashsale.Result, bool, error) {
	for {
		changed, release := fs.PurchasesNotifier.changed(pkey)
		res, found, err := readPurchase(fs, pkey)
		if err != nil || (found && res.UserID == user) {
			release()
			return res, err == nil, err
		}
		select {
		case res := <-results:
			release()
			return res, true, nil
		case <-changed:
			release()
		case <-ctx.Done():
			release()
			return flashsale.Result{}, false, nil
		}
	}
}

// answerPurchase writes a result: 201 purchased, 409 rejected. Results are
// indexed by sale and idempotency key alone, so a key another buyer used
// first is a conflict rather than their result.
func (s *Server) answerPurchase(ctx *fasthttp.RequestCtx, res flashsale.Result, user string) {
	switch {
	case res.UserID != user:
		s.fail(ctx, errIdempotencyKeyConflict)
	case res.Status == flashsale.StatusPurchased:
		writeJSON(ctx, fasthttp.StatusCreated, purchaseOf(res))
	default:
		writeJSON(ctx, fasthttp.StatusConflict, purchaseOf(res))
	}
}

func (s *Server) getPurchase(ctx *fasthttp.RequestCtx, p []string) {
	fs, ok := s.flashSales(ctx)
	if !ok {
		return
	}
	saleID, key := p[0], p[1]
	if !saleIDPattern.MatchString(saleID) {
		s.fail(ctx, errInvalidSaleID)
		return
	}
	if !schemas.ValidID(key) {
		s.fail(ctx, errInvalidIdempotencyKey)
		return
	}
	if !fs.Purchases.Recovered() {
		s.fail(ctx, errNotReady)
		return
	}
	res, found, err := readPurchase(fs, flashtopo.PurchaseKey(saleID, key))
	if err != nil {
		s.opts.Logger.Error("read flash-sale purchase", "sale", saleID, "idempotency_key", key, "err", err)
		s.fail(ctx, errInternal)
		return
	}
	if !found {
		s.fail(ctx, errPurchaseNotFound)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, purchaseOf(res))
}
