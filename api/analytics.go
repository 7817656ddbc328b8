package api

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/titan-commerce/titan/analytics"
)

// The analytics endpoints answer the dashboard's views from ClickHouse, through Deps.Analytics.
// Each request gets its own deadline (Options.AnalyticsTimeout): a database that does not answer
// in time is a 504 analytics_timeout, one that fails a 503 analytics_failed, and an instance
// without the database answers 503 analytics_unavailable, so the dashboard says what is wrong
// instead of hanging.

// Analytics answers the dashboard's views; *analytics.Querier implements it. Every method must
// return once its context is done.
type Analytics interface {
	Orders(ctx context.Context, w analytics.Window) (analytics.Orders, error)
	FlashSales(ctx context.Context, w analytics.Window) (analytics.FlashSales, error)
	Reservations(ctx context.Context, w analytics.Window) (analytics.Reservations, error)
	Fraud(ctx context.Context, w analytics.Window) (analytics.Fraud, error)
	Prices(ctx context.Context, w analytics.Window, limit int) (analytics.Prices, error)
	TopSKUs(ctx context.Context, w analytics.Window, by analytics.By, limit int) (analytics.TopSKUs, error)
	Stockouts(ctx context.Context, w analytics.Window, limit int) (analytics.Stockouts, error)
}

var _ Analytics = (*analytics.Querier)(nil)

// defaultAnalyticsMinutes is the window of a request that names none: the last hour.
const defaultAnalyticsMinutes = 60

// viewQuery is what a request asks of a view.
type viewQuery struct {
	window analytics.Window
	limit  int
	by     analytics.By
}

// view runs one analytics view: the query parameters (a window always; limit and by when the
// view takes them), then the view under the request's deadline.
type view struct {
	limit, by bool
	run       func(ctx context.Context, a Analytics, q viewQuery) (any, error)
}

var (
	ordersView = view{run: func(ctx context.Context, a Analytics, q viewQuery) (any, error) {
		return a.Orders(ctx, q.window)
	}}
	flashSalesView = view{run: func(ctx context.Context, a Analytics, q viewQuery) (any, error) {
		return a.FlashSales(ctx, q.window)
	}}
	reservationsView = view{run: func(ctx context.Context, a Analytics, q viewQuery) (any, error) {
		return a.Reservations(ctx, q.window)
	}}
	fraudView = view{run: func(ctx context.Context, a Analytics, q viewQuery) (any, error) {
		return a.Fraud(ctx, q.window)
	}}
	pricesView = view{limit: true, run: func(ctx context.Context, a Analytics, q viewQuery) (any, error) {
		return a.Prices(ctx, q.window, q.limit)
	}}
	topSKUsView = view{limit: true, by: true, run: func(ctx context.Context, a Analytics, q viewQuery) (any, error) {
		return a.TopSKUs(ctx, q.window, q.by, q.limit)
	}}
	stockoutsView = view{limit: true, run: func(ctx context.Context, a Analytics, q viewQuery) (any, error) {
		return a.Stockouts(ctx, q.window, q.limit)
	}}
)

func (s *Server) analyticsOrders(ctx *fasthttp.RequestCtx, _ []string) { s.serveView(ctx, ordersView) }
func (s *Server) analyticsFlashSales(ctx *fasthttp.RequestCtx, _ []string) {
	s.serveView(ctx, flashSalesView)
}
func (s *Server) analyticsReservations(ctx *fasthttp.RequestCtx, _ []string) {
	s.serveView(ctx, reservationsView)
}
func (s *Server) analyticsFraud(ctx *fasthttp.RequestCtx, _ []string)  { s.serveView(ctx, fraudView) }
func (s *Server) analyticsPrices(ctx *fasthttp.RequestCtx, _ []string) { s.serveView(ctx, pricesView) }
func (s *Server) analyticsTopSKUs(ctx *fasthttp.RequestCtx, _ []string) {
	s.serveView(ctx, topSKUsView)
}
func (s *Server) analyticsStockouts(ctx *fasthttp.RequestCtx, _ []string) {
	s.serveView(ctx, stockoutsView)
}

func (s *Server) serveView(ctx *fasthttp.RequestCtx, v view) {
	a := s.deps.Analytics
	if a == nil {
		s.fail(ctx, errAnalyticsUnavailable)
		return
	}
	q, e, ok := parseViewQuery(ctx.QueryArgs(), v, s.now())
	if !ok {
		s.fail(ctx, e)
		return
	}
	c, cancel := context.WithTimeout(context.Background(), s.opts.AnalyticsTimeout)
	defer cancel()
	body, err := runView(c, a, v, q)
	if err != nil {
		s.viewFailed(ctx, c, err)
		return
	}
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	writeJSON(ctx, fasthttp.StatusOK, body)
}

// runView runs the view in a goroutine of its own, so that an Analytics that does not heed its
// context still leaves the request answered at the deadline; the goroutine ends when the view
// does. A panic in the view is an error of this request, not the end of the process.
func runView(ctx context.Context, a Analytics, v view, q viewQuery) (any, error) {
	type result struct {
		body any
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("api: analytics view panicked: %v", p)}
			}
		}()
		body, err := v.run(ctx, a, q)
		done <- result{body, err}
	}()
	select {
	case r := <-done:
		return r.body, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// viewFailed answers a view that returned err: a refusal of the query's parameters is the
// client's (the handler checks them first, so only a mismatch of rules gets here), a deadline
// passed is 504, anything else 503.
func (s *Server) viewFailed(ctx *fasthttp.RequestCtx, c context.Context, err error) {
	var we *analytics.WindowError
	switch {
	case errors.As(err, &we):
		s.fail(ctx, windowErrors[we.Field])
	case errors.Is(err, analytics.ErrLimit):
		s.fail(ctx, errInvalidLimit)
	case errors.Is(err, analytics.ErrBy):
		s.fail(ctx, errInvalidBy)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(c.Err(), context.DeadlineExceeded):
		s.opts.Logger.Warn("analytics view timed out", "path", string(ctx.Path()), "err", err)
		s.fail(ctx, errAnalyticsTimeout)
	default:
		s.opts.Logger.Error("analytics view failed", "path", string(ctx.Path()), "err", err)
		s.fail(ctx, errAnalyticsFailed)
	}
}

// windowErrors are the API errors of the fields a WindowError names.
var windowErrors = map[string]apiError{
	"from":    errInvalidFrom,
	"to":      errInvalidTo,
	"minutes": errInvalidMinutes,
}

// parseViewQuery reads the window (minutes, or from with an optional to), and the limit and by
// of a view that takes them. It ignores parameters the view does not take, as the other reads do.
func parseViewQuery(args *fasthttp.Args, v view, now time.Time) (viewQuery, apiError, bool) {
	var q viewQuery
	minutes, from, to := args.Peek("minutes"), args.Peek("from"), args.Peek("to")
	var err error
	switch {
	case minutes != nil && (from != nil || to != nil):
		return q, errInvalidMinutes, false
	case from == nil && to != nil:
		return q, errInvalidFrom, false
	case from != nil:
		f, ok := parseTime(from)
		if !ok {
			return q, errInvalidFrom, false
		}
		t := now
		if to != nil {
			if t, ok = parseTime(to); !ok {
				return q, errInvalidTo, false
			}
		}
		q.window, err = analytics.NewWindow(f, t, now)
	default:
		n := defaultAnalyticsMinutes
		if minutes != nil {
			var ok bool
			if n, ok = parseInt(minutes); !ok {
				return q, errInvalidMinutes, false
			}
		}
		q.window, err = analytics.LastMinutes(n, now)
	}
	if err != nil {
		var we *analytics.WindowError
		if errors.As(err, &we) {
			return q, windowErrors[we.Field], false
		}
		return q, errInvalidFrom, false
	}
	if v.limit {
		q.limit = analytics.DefaultLimit
		if raw := args.Peek("limit"); raw != nil {
			n, ok := parseInt(raw)
			if !ok || n < 1 || n > analytics.MaxLimit {
				return q, errInvalidLimit, false
			}
			q.limit = n
		}
	}
	if v.by {
		by, err := analytics.ParseBy(string(args.Peek("by")))
		if err != nil || (args.Has("by") && len(args.Peek("by")) == 0) {
			return q, errInvalidBy, false
		}
		q.by = by
	}
	return q, apiError{}, true
}

// parseInt reads a decimal integer of at most 9 digits, no sign or spaces.
func parseInt(raw []byte) (int, bool) {
	if len(raw) == 0 || len(raw) > 9 {
		return 0, false
	}
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(string(raw))
	return n, err == nil
}

// parseTime reads an RFC 3339 time. A query string turns an unescaped '+' into a space, and no
// RFC 3339 time holds a space, so one is read as the '+' of an offset the client did not escape.
func parseTime(raw []byte) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, strings.ReplaceAll(string(raw), " ", "+"))
	return t, err == nil
}
