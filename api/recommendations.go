package api

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
)

// The recommendation endpoints read the item and user tables of the
// recommendations topology from their local replicas. The ranking itself
// is the topology's pure logic, injected, so the API and the processor
// read the decayed scores the same way. What is out of stock is left out
// before ranking, so a page still gets k items when there are enough.

const (
	defaultRecommendations = 10
	maxRecommendations     = 100
)

// Recommendation is one recommended item, as the ranking logic gives it.
type Recommendation struct {
	SKU string
	// Score is the blended score at the time asked for; ViewScore and
	// PurchaseScore are its parts, decayed to the same time.
	Score, ViewScore, PurchaseScore float64
	// Reason is "co-viewed" or "co-bought".
	Reason string
}

// RecommendationDeps are the parts of the recommendations topology the API
// stands on. Every field but Now, Stock and TimeWindow is required.
type RecommendationDeps struct {
	// Items is the item table (*recommendationsv1.ItemState per SKU).
	Items Table
	// Users is the user table (*recommendationsv1.UserHistory per user id).
	Users Table
	// TopItems returns up to k recommendations for an item at now,
	// skipping SKUs for which skip is true.
	TopItems func(s *recommendationsv1.ItemState, k int, now time.Time, skip func(sku string) bool) []Recommendation
	// ForUser blends the top items of the user's recent items, dropping
	// what the user bought; items reads the item table.
	ForUser func(h *recommendationsv1.UserHistory, items func(sku string) (*recommendationsv1.ItemState, bool), k int, now time.Time, skip func(sku string) bool) []Recommendation
	// Now is the clock the scores are decayed to; nil means time.Now.
	Now func() time.Time
	// Stock is the inventory table the out-of-stock filter reads
	// (inventory.Head per SKU), where it differs from Deps.Stock: a
	// recommendation asks about every neighbor it ranks, and a cache in
	// front of the view pays there. nil reads Deps.Stock.
	Stock Table
	// SendViews hands view events to the views topic, each keyed by its
	// user id as the user history processor reads them, and returns once
	// Kafka has acknowledged every one; an error wraps ErrOverloaded when
	// the producer cannot take them without queueing.
	SendViews func(ctx context.Context, views []*recommendationsv1.ViewEvent) error
	// TimeWindow bounds a view's timestamp_ms against Now, as the
	// processor bounds it against the time Kafka received it; the zero
	// value is schemas.DefaultTimeWindow.
	TimeWindow schemas.TimeWindow
}

func (d *RecommendationDeps) complete() bool {
	return d.Items != nil && d.Users != nil && d.TopItems != nil && d.ForUser != nil && d.SendViews != nil
}

func (d *RecommendationDeps) window() schemas.TimeWindow {
	if d.TimeWindow == (schemas.TimeWindow{}) {
		return schemas.DefaultTimeWindow()
	}
	return d.TimeWindow
}

func (d *RecommendationDeps) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

type recommendationJSON struct {
	SKU           string  `json:"sku"`
	Score         float64 `json:"score"`
	ViewScore     float64 `json:"view_score"`
	PurchaseScore float64 `json:"purchase_score"`
	Reason        string  `json:"reason"`
}

type itemRecommendationsJSON struct {
	SKU             string               `json:"sku"`
	K               int                  `json:"k"`
	Recommendations []recommendationJSON `json:"recommendations"`
}

type userRecommendationsJSON struct {
	UserID          string               `json:"user_id"`
	K               int                  `json:"k"`
	Recommendations []recommendationJSON `json:"recommendations"`
}

// recommendations returns the deps, or answers not_enabled.
func (s *Server) recommendations(ctx *fasthttp.RequestCtx) (*RecommendationDeps, bool) {
	if s.deps.Recommendations == nil {
		s.fail(ctx, errNotEnabled)
		return nil, false
	}
	return s.deps.Recommendations, true
}

// parseK reads the k query argument.
func parseK(ctx *fasthttp.RequestCtx) (int, bool) {
	raw := ctx.QueryArgs().Peek("k")
	if raw == nil {
		return defaultRecommendations, true
	}
	n, err := strconv.Atoi(string(raw))
	if err != nil || n < 1 || n > maxRecommendations {
		return 0, false
	}
	return n, true
}

func (s *Server) getItemRecommendations(ctx *fasthttp.RequestCtx, p []string) {
	rd, ok := s.recommendations(ctx)
	if !ok {
		return
	}
	sku := p[0]
	if e, ok := checkSKU(sku); !ok {
		s.fail(ctx, e)
		return
	}
	k, ok := parseK(ctx)
	if !ok {
		s.fail(ctx, errInvalidK)
		return
	}
	if !rd.Items.Recovered() || !s.deps.Stock.Recovered() {
		s.fail(ctx, errNotReady)
		return
	}
	st, err := readItem(rd, sku)
	if err != nil {
		s.opts.Logger.Error("read recommendation item", "sku", sku, "err", err)
		s.fail(ctx, errInternal)
		return
	}
	out := itemRecommendationsJSON{SKU: sku, K: k, Recommendations: []recommendationJSON{}}
	// An item nobody has looked at yet has no neighbours; the storefront
	// asks for every item page, so that is an empty list, not a 404.
	if st != nil {
		f := s.newStockFilter()
		recs := rd.TopItems(st, k, rd.now(), f.skip)
		if f.err != nil {
			s.opts.Logger.Error("read stock for recommendations", "sku", sku, "err", f.err)
			s.fail(ctx, errInternal)
			return
		}
		out.Recommendations = f.keep(recs, k)
	}
	writeJSON(ctx, fasthttp.StatusOK, out)
}

func (s *Server) getUserRecommendations(ctx *fasthttp.RequestCtx, p []string) {
	rd, ok := s.recommendations(ctx)
	if !ok {
		return
	}
	user := p[0]
	if !schemas.ValidID(user) {
		s.fail(ctx, errInvalidUserID)
		return
	}
	k, ok := parseK(ctx)
	if !ok {
		s.fail(ctx, errInvalidK)
		return
	}
	if !rd.Users.Recovered() || !rd.Items.Recovered() || !s.deps.Stock.Recovered() {
		s.fail(ctx, errNotReady)
		return
	}
	h, err := readUserHistory(rd, user)
	if err != nil {
		s.opts.Logger.Error("read recommendation user", "user_id", user, "err", err)
		s.fail(ctx, errInternal)
		return
	}
	out := userRecommendationsJSON{UserID: user, K: k, Recommendations: []recommendationJSON{}}
	if h != nil {
		f := s.newStockFilter()
		var itemErr error
		items := func(sku string) (*recommendationsv1.ItemState, bool) {
			st, err := readItem(rd, sku)
			if err != nil {
				if itemErr == nil {
					itemErr = err
				}
				return nil, false
			}
			return st, st != nil
		}
		recs := rd.ForUser(h, items, k, rd.now(), f.skip)
		if err := firstError(itemErr, f.err); err != nil {
			s.opts.Logger.Error("read items for recommendations", "user_id", user, "err", err)
			s.fail(ctx, errInternal)
			return
		}
		out.Recommendations = f.keep(recs, k)
	}
	writeJSON(ctx, fasthttp.StatusOK, out)
}

// stockFilter answers whether a SKU is out of stock, reading each SKU of
// the inventory table once per request: blending a user's items asks
// about the same neighbours many times. The first read error is kept,
// since skip cannot return it, and fails the request afterwards.
type stockFilter struct {
	stock Table
	seen  map[string]bool
	err   error
}

func (s *Server) newStockFilter() *stockFilter {
	stock := s.deps.Stock
	if r := s.deps.Recommendations; r != nil && r.Stock != nil {
		stock = r.Stock
	}
	return &stockFilter{stock: stock, seen: map[string]bool{}}
}

// skip is true for a SKU the inventory holds with nothing available. A SKU
// the inventory has never seen stays in: catalog items without stock
// tracking are recommended too.
func (f *stockFilter) skip(sku string) bool {
	if out, ok := f.seen[sku]; ok {
		return out
	}
	out := false
	v, err := f.stock.Get(sku)
	switch st, ok := v.(inventory.Head); {
	case err != nil:
		f.keepErr(err)
	case v == nil:
	case !ok:
		f.keepErr(errorf("stock table holds %T, want inventory.Head", v))
	default:
		out = st.Stock.Available() <= 0
	}
	f.seen[sku] = out
	return out
}

func (f *stockFilter) keepErr(err error) {
	if f.err == nil {
		f.err = err
	}
}

// keep turns the ranking's answer into the response: at most k items,
// none that skip refuses (the answer is the API's promise whatever the
// injected logic does; the lookups are cached, so this costs no reads).
func (f *stockFilter) keep(recs []Recommendation, k int) []recommendationJSON {
	out := make([]recommendationJSON, 0, min(len(recs), k))
	for _, r := range recs {
		if len(out) == k {
			break
		}
		if f.skip(r.SKU) {
			continue
		}
		out = append(out, recommendationJSON{SKU: r.SKU, Score: finite(r.Score), ViewScore: finite(r.ViewScore),
			PurchaseScore: finite(r.PurchaseScore), Reason: r.Reason})
	}
	return out
}

// finite keeps a score JSON can carry: a forward-decayed score overflows
// to +Inf if an item's epoch is left far behind, and one such neighbour
// must not turn the whole answer into a 500.
func finite(x float64) float64 {
	switch {
	case math.IsNaN(x):
		return 0
	case math.IsInf(x, 1):
		return math.MaxFloat64
	case math.IsInf(x, -1):
		return -math.MaxFloat64
	}
	return x
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// readItem reads a SKU of the item table; nil when it holds none.
func readItem(rd *RecommendationDeps, sku string) (*recommendationsv1.ItemState, error) {
	v, _, err := read[*recommendationsv1.ItemState](rd.Items, "item", sku)
	return v, err
}

// readUserHistory reads a user of the user table; nil when it holds none.
func readUserHistory(rd *RecommendationDeps, user string) (*recommendationsv1.UserHistory, error) {
	v, _, err := read[*recommendationsv1.UserHistory](rd.Users, "user", user)
	return v, err
}
