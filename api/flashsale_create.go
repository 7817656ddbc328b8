package api

import (
	"context"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
)

// Creating a flash sale. The API only asks: it sends a Create on the
// topology's internal topic, and the sale key does the rest as a saga. It
// reserves the sale's units from the SKU's inventory as Titan's own command
// (so no client can end that reservation or sell its units twice), opens
// the sale once the inventory answers, fails it with the inventory's
// reason, or gives up after the creation's deadline and releases whatever
// the reservation holds. The request waits for that outcome within the
// read wait and otherwise answers 202 with the sale's URL to poll.
//
// The sale key applies one Create per id: the same request repeated (after
// a 202, a timeout, a crash) changes nothing and gets the outcome, another
// definition under the id gets sale_exists.

type flashSaleRequest struct {
	ID           string `json:"id"`
	SKU          string `json:"sku"`
	Units        int64  `json:"units"`
	StartsAt     string `json:"starts_at"`
	EndsAt       string `json:"ends_at"`
	PerUserLimit int64  `json:"per_user_limit"`
	Price        *int64 `json:"price" units:"minor"`
	Buckets      *int   `json:"buckets"`
}

// sale checks what does not depend on the clock and returns the sale as it
// reads back from the wire (times to the millisecond), so it compares
// equal to the definition in the table.
func (req flashSaleRequest) sale() (flashsale.Sale, apiError, bool) {
	if !saleIDPattern.MatchString(req.ID) || !schemas.ValidID(req.ID) {
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

// createFlashSale answers 201 once the sale is open, 200 for a sale already
// open with this definition, 409 for another definition under the id or a
// creation that failed, and 202 while the creation is under way.
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
	// The Create travels with this time to the millisecond; the sale key
	// computes the allocation's TTL and the creation's deadline from it.
	now := time.Now().Truncate(time.Millisecond)
	// A sale that ended may be asked for again by a client repeating its
	// request; only a new sale must fit the window its allocation's TTL
	// covers (the sale key refuses it otherwise, with the default policy
	// every instance runs). Not ready does not turn a bad new sale into a
	// 503.
	fits := flashsale.DefaultPolicy().Fits(sale, now)
	if !s.flashReady(fs) {
		if !fits {
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
	case found && !cur.Sale.Equal(sale):
		s.fail(ctx, errSaleExists)
		return
	case found && cur.Defined():
		s.writeSale(ctx, fasthttp.StatusOK, fs, cur)
		return
	case found && cur.Phase == flashsale.PhaseFailed:
		s.fail(ctx, creationFailure(cur.Reason))
		return
	case !found && !fits:
		s.fail(ctx, errInvalidEndsAt)
		return
	case !found:
		if !s.sendCreate(ctx, fs, sale, now) {
			return
		}
	}
	// Created by this request, or by an earlier one still allocating.
	wait, cancel := context.WithTimeout(ctx, s.opts.ReadWait)
	defer cancel()
	cur, err = s.awaitCreation(wait, fs, sale)
	switch {
	case err != nil:
		s.opts.Logger.Error("read flash sale", "sale", sale.ID, "err", err)
		s.fail(ctx, errInternal)
	case cur.Phase != flashsale.PhaseNone && !cur.Sale.Equal(sale):
		// Another definition's Create reached the sale key first.
		s.fail(ctx, errSaleExists)
	case cur.Phase == flashsale.PhaseFailed:
		s.fail(ctx, creationFailure(cur.Reason))
	case !cur.Defined() || !s.bucketsOpen(wait, fs, sale):
		// The sale key opens its buckets through the loop topic; a buyer
		// told 201 must not meet a bucket that says not_started.
		writeJSON(ctx, fasthttp.StatusAccepted, flashSalePendingJSON{Status: "pending", ID: sale.ID, Poll: salePath(sale.ID)})
	default:
		s.writeSale(ctx, fasthttp.StatusCreated, fs, cur)
	}
}

// sendCreate hands the sale's Create to the internal topic. It reports
// whether Kafka took it; when not, it has answered the request.
func (s *Server) sendCreate(ctx *fasthttp.RequestCtx, fs *FlashSaleDeps, sale flashsale.Sale, now time.Time) bool {
	msg := flashsale.Message{Kind: flashsale.KindCreate, SaleID: sale.ID, Key: fs.Router.Sale(sale.ID), Time: now, Sale: sale}
	send, stop := context.WithTimeout(ctx, s.opts.CommandWait)
	defer stop()
	if _, _, err := fs.SendInternal(send, flashsale.MessageToWire(msg)); err != nil {
		s.opts.Logger.Warn("send flash-sale creation", "sale", sale.ID, "err", err)
		s.sendFailed(ctx, err)
		return false
	}
	return true
}

// awaitCreation waits, within ctx, until the local view shows the sale's
// creation decided: open, failed, or taken by another definition.
func (s *Server) awaitCreation(ctx context.Context, fs *FlashSaleDeps, sale flashsale.Sale) (flashsale.SaleState, error) {
	cur, _, err := until(ctx, fs.SalesNotifier, fs.Router.Sale(sale.ID),
		func() (flashsale.SaleState, error) {
			st, _, err := readSale(fs, sale.ID)
			return st, err
		},
		func(st flashsale.SaleState) bool {
			return st.Phase != flashsale.PhaseNone && (st.Phase != flashsale.PhaseAllocating || !st.Sale.Equal(sale))
		})
	return cur, err
}

// creationFailure is the answer to a sale whose creation failed: the
// inventory's insufficient_stock has its own code, as it always had; any
// other reason (creation_timed_out, ...) is sale_failed, naming it.
func creationFailure(reason string) apiError {
	if reason == inventory.ReasonInsufficientStock {
		return errInsufficientStock
	}
	e := errSaleFailed
	e.Message += " (reason: " + reason + ")"
	return e
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
