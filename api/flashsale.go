package api

import (
	"context"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/schemas"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
)

// The flash-sale endpoints. A sale is created by a Create on the
// topology's internal topic (see flashsale_create.go): the sale key reserves
// the sale's units from the SKU's inventory itself, as Titan's own command,
// and opens the sale once they are held; the topology settles it once it
// has ended. Purchases go to the buyer's key on the public topic and are
// answered by the result event.
//
// Admission: before sending a purchase, the API reads the sale's keys in
// its local view and rejects at once what cannot succeed: a sale not
// started or ended (the processor decides with the attempt's timestamp,
// which is the API's clock, so it would decide the same), a buyer whose
// purchases already reach the limit, and a quantity above what is left.
// A view can only lag: it under-counts what was sold and bought, never
// over-counts, so admission never rejects what the processor would accept,
// and the processor still decides everything it lets through. What a sale's
// buckets have sold is kept per sale between attempts (soldCounts), so a
// sold-out sale answers from that one count rather than from every bucket. An attempt
// that was sent before keeps its own answer: the purchase index and the
// buyer's key are read first. One window remains: a retry of an attempt
// still in flight, while this replica shows the buckets' sales but not yet
// the buyer's key, is answered by admission; the poll URL gives the
// attempt's own result once it lands.

// FlashSaleSender hands a message to a flash-sale topic, keyed by msg.Key,
// and returns its partition and offset once Kafka has acknowledged it.
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
	// flashsale.Result per flashsale.PurchaseKey), updates reported to
	// PurchasesNotifier.
	Purchases         Table
	PurchasesNotifier *Notifier
	// Router names the keys; it must be the topology's, built for the
	// same partition count. *flashsale.Keys is one.
	Router flashsale.Router
	// Send writes the public commands topic (Names.Commands): a buyer's
	// purchase is a client's message. SendInternal writes Titan's own
	// topic (Names.Internal): a sale's Create, which no client may send.
	Send, SendInternal FlashSaleSender
	Results            *FlashSaleResults
}

func (d *FlashSaleDeps) complete() bool {
	return d.Sales != nil && d.SalesNotifier != nil && d.Purchases != nil && d.PurchasesNotifier != nil &&
		d.Router != nil && d.Send != nil && d.SendInternal != nil && d.Results != nil
}

// Limits of a sale definition beyond those of the topology.
const (
	maxPerUserLimit = 1_000_000_000
	maxPriceMinor   = 1_000_000_000_000
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
	ID  string `json:"id"`
	SKU string `json:"sku"`
	// Status is creating, failed (Reason says why), scheduled, active,
	// sold_out or ended.
	Status string `json:"status"`
	Reason string `json:"reason"`
	// Allocated is what the inventory holds for the sale: 0 until the
	// allocation is confirmed, and for a sale whose creation failed.
	Allocated    int64  `json:"allocated"`
	Sold         int64  `json:"sold"`
	Remaining    int64  `json:"remaining"`
	StartsAt     string `json:"starts_at"`
	EndsAt       string `json:"ends_at"`
	PerUserLimit int64  `json:"per_user_limit"`
	Price        int64  `json:"price"`
	Settled      bool   `json:"settled"`
	// Settlement is none (the sale never held units), pending, settling,
	// settled or failed (SettlementReason says why: the allocation was gone,
	// so what the sale sold did not leave the SKU's stock).
	Settlement       string       `json:"settlement"`
	SettlementReason string       `json:"settlement_reason"`
	Buckets          []bucketJSON `json:"buckets"`
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
	st, _, err := read[flashsale.State](fs.Sales, "flash-sale", key)
	return st, err
}

// readSale reads a sale key; found means created (in any phase).
func readSale(fs *FlashSaleDeps, id string) (flashsale.SaleState, bool, error) {
	st, err := readKey(fs, fs.Router.Sale(id))
	if err != nil || st.Sale == nil {
		return flashsale.SaleState{}, false, err
	}
	return *st.Sale, st.Sale.Phase != flashsale.PhaseNone, nil
}

func readPurchase(fs *FlashSaleDeps, key string) (flashsale.Result, bool, error) {
	return read[flashsale.Result](fs.Purchases, "purchase", key)
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

func saleStatus(st flashsale.SaleState, sold int64, now time.Time) string {
	sale := st.Sale
	switch {
	case st.Phase == flashsale.PhaseFailed:
		return "failed"
	case !st.Defined():
		return "creating"
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

// settlement names where the sale's settlement stands, and why it failed.
func settlement(st flashsale.SaleState) (string, string) {
	switch st.Phase {
	case flashsale.PhaseAllocating, flashsale.PhaseOpen:
		return "pending", ""
	case flashsale.PhaseSettling:
		return "settling", ""
	case flashsale.PhaseSettled:
		return "settled", ""
	case flashsale.PhaseSettlementFailed:
		return "failed", st.Reason
	}
	return "none", ""
}

func saleOf(fs *FlashSaleDeps, st flashsale.SaleState, now time.Time) (flashSaleJSON, error) {
	sale := st.Sale
	out := flashSaleJSON{
		ID: sale.ID, SKU: sale.SKU, StartsAt: formatTime(sale.Start), EndsAt: formatTime(sale.End),
		PerUserLimit: sale.PerUserLimit, Price: sale.PriceMinor, Settled: st.Settled(), Buckets: []bucketJSON{},
	}
	out.Settlement, out.SettlementReason = settlement(st)
	if st.Phase == flashsale.PhaseFailed {
		out.Reason = st.Reason
	}
	if st.Defined() {
		// Only a sale whose units the inventory holds has buckets to show.
		bs, sold, err := buckets(fs, sale)
		if err != nil {
			return flashSaleJSON{}, err
		}
		out.Buckets, out.Allocated, out.Sold, out.Remaining = bs, sale.Units, sold, max(0, sale.Units-sold)
	}
	out.Status = saleStatus(st, out.Sold, now)
	return out, nil
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
	setFreshness(ctx, fs.Sales, fs.Router.Sale(id))
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

type purchaseRequest struct {
	UserID         string `json:"user_id"`
	Qty            int64  `json:"qty"`
	IdempotencyKey string `json:"idempotency_key"`
}

// check applies the rules the topology holds a client's purchase to
// (schemas.CheckPurchase).
func (req purchaseRequest) check(saleID string) (apiError, bool) {
	if err := schemas.CheckPurchase(saleID, req.UserID, req.IdempotencyKey, req.Qty, 0); err != nil {
		return purchaseErrors.of(err), false
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
	if e, ok := req.check(saleID); !ok {
		s.fail(ctx, e)
		return
	}
	if !s.flashReady(fs) {
		s.fail(ctx, errNotReady)
		return
	}
	st, _, err := readSale(fs, saleID)
	if err != nil {
		s.opts.Logger.Error("read flash sale", "sale", saleID, "err", err)
		s.fail(ctx, errInternal)
		return
	}
	if !st.Defined() {
		// Not created, still being created, or failed: nothing sells.
		s.fail(ctx, errSaleNotFound)
		return
	}
	sale := st.Sale
	// The attempt travels with this time to the millisecond, and the
	// bucket decides the window with it: admission uses the same.
	now := time.Now().Truncate(time.Millisecond)
	bucket := flashsale.BucketOf(req.UserID, sale.Buckets)
	known, reason, err := screen(fs, s.sold, sale, req, now)
	switch {
	case err != nil:
		s.opts.Logger.Error("read flash-sale purchase", "sale", saleID, "user", req.UserID, "err", err)
		s.fail(ctx, errInternal)
		return
	case known != nil:
		s.answerPurchase(ctx, *known, req)
		return
	case reason != "":
		s.flash.admissionRejected.WithLabelValues(reason).Inc()
		writeJSON(ctx, fasthttp.StatusConflict, purchaseJSON{Status: flashsale.StatusRejected.String(), Reason: reason,
			SaleID: saleID, UserID: req.UserID, Qty: req.Qty, IdempotencyKey: req.IdempotencyKey, Bucket: bucket})
		return
	}

	pkey := flashsale.PurchaseKey(saleID, req.IdempotencyKey)
	results, cancel, ok := fs.Results.wait(pkey, req.UserID, req.Qty)
	defer cancel()
	if !ok {
		s.overloaded(ctx)
		return
	}
	wait, stop := context.WithTimeout(ctx, s.opts.CommandWait)
	defer stop()
	msg := flashsale.Message{Kind: flashsale.KindPurchase, SaleID: saleID, Key: fs.Router.User(saleID, req.UserID), Time: now,
		IdempotencyKey: req.IdempotencyKey, UserID: req.UserID, Qty: req.Qty, Bucket: bucket}
	if _, _, err := fs.Send(wait, flashsale.MessageToWire(msg)); err != nil {
		s.opts.Logger.Warn("send flash-sale purchase", "sale", saleID, "user", req.UserID, "err", err)
		s.sendFailed(ctx, err)
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
		s.answerPurchase(ctx, res, req)
	}
}

// screen looks at what the views know of an attempt before it is sent. A
// result already there (in the index or, ahead of it, at the buyer's key)
// answers it. An attempt still in flight at the buyer's key is sent again
// (the key drops the copy) and waited for. Any other goes through
// admission, which names the reason to reject it without sending, or none.
func screen(fs *FlashSaleDeps, counts *soldCounts, sale flashsale.Sale, req purchaseRequest, now time.Time) (known *flashsale.Result, reason string, err error) {
	if res, found, err := readPurchase(fs, flashsale.PurchaseKey(sale.ID, req.IdempotencyKey)); err != nil || found {
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
			if m.Qty != req.Qty {
				// The key names the attempt in flight; answerPurchase
				// refuses this one.
				return &flashsale.Result{SaleID: sale.ID, IdempotencyKey: m.IdempotencyKey, UserID: m.UserID, Qty: m.Qty}, "", nil
			}
			return nil, "", nil
		}
	}
	reason, err = admit(fs, counts, sale, user, req.Qty, now)
	return nil, reason, err
}

// admit screens an attempt with flashsale.Admit: first against the sold
// count soldCounts keeps, then against the buckets' views. What a user has
// purchased and what buckets have sold only grow, so the views' counts are
// lower bounds, as Admit requires; pending attempts are left out, as they
// may yet fail.
func admit(fs *FlashSaleDeps, counts *soldCounts, sale flashsale.Sale, user flashsale.UserState, qty int64, now time.Time) (string, error) {
	if reason := flashsale.Admit(sale, user.Purchased, sale.Units-counts.left(sale), qty, now); reason != "" {
		return reason, nil
	}
	_, sold, err := buckets(fs, sale)
	if err != nil {
		return "", err
	}
	counts.saw(sale, sold, now)
	return flashsale.Admit(sale, user.Purchased, sold, qty, now), nil
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

// answerPurchase writes a result: 201 purchased, 409 rejected. An
// idempotency key names one attempt: results are indexed by sale and key
// alone, so the result of another buyer's attempt under the key, or of
// this buyer's with another qty, is a conflict rather than this request's
// answer.
func (s *Server) answerPurchase(ctx *fasthttp.RequestCtx, res flashsale.Result, req purchaseRequest) {
	switch {
	case res.UserID != req.UserID || res.Qty != req.Qty || res.Reason == flashsale.ReasonIdempotencyConflict:
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
	setFreshness(ctx, fs.Purchases, flashsale.PurchaseKey(saleID, key))
	res, found, err := readPurchase(fs, flashsale.PurchaseKey(saleID, key))
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
