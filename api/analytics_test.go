package api

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/titan-commerce/titan/analytics"
)

// analyticsNow is the clock of the analytics tests.
var analyticsNow = time.Date(2026, 1, 10, 11, 0, 0, 0, time.UTC)

// fakeAnalytics records what each view was asked and answers with what the test set: an error,
// a wait for the context, or (block) a wait that ignores it.
type fakeAnalytics struct {
	mu struct {
		sync.Mutex
		calls []analyticsCall
	}
	err   error
	wait  bool
	block chan struct{}
	panic bool
}

type analyticsCall struct {
	view  string
	w     analytics.Window
	limit int
	by    analytics.By
}

func (f *fakeAnalytics) record(ctx context.Context, c analyticsCall) error {
	f.mu.Lock()
	f.mu.calls = append(f.mu.calls, c)
	f.mu.Unlock()
	switch {
	case f.panic:
		panic("fake analytics")
	case f.block != nil:
		<-f.block
		return errors.New("unblocked")
	case f.wait:
		<-ctx.Done()
		return ctx.Err()
	}
	return f.err
}

func (f *fakeAnalytics) last(t *testing.T) analyticsCall {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.mu.calls) == 0 {
		t.Fatal("no view was asked")
	}
	return f.mu.calls[len(f.mu.calls)-1]
}

func (f *fakeAnalytics) Orders(ctx context.Context, w analytics.Window) (analytics.Orders, error) {
	return analytics.Orders{From: w.From(), To: w.To(), Totals: analytics.OrderTotals{Orders: 3, Confirmed: 2, Rejected: 1,
		ByCurrency: []analytics.CurrencyGMV{{Currency: "EUR", Orders: 2, GMVMinor: 1250, Units: 3}}},
		Minutes: []analytics.OrderMinute{{Minute: w.From(), Orders: 3, Confirmed: 2, Rejected: 1,
			ByCurrency: []analytics.CurrencyGMV{{Currency: "EUR", Orders: 2, GMVMinor: 1250, Units: 3}}}},
	}, f.record(ctx, analyticsCall{view: "orders", w: w})
}

func (f *fakeAnalytics) FlashSales(ctx context.Context, w analytics.Window) (analytics.FlashSales, error) {
	return analytics.FlashSales{From: w.From(), To: w.To(), Sales: []analytics.FlashSale{}},
		f.record(ctx, analyticsCall{view: "flashsales", w: w})
}

func (f *fakeAnalytics) Reservations(ctx context.Context, w analytics.Window) (analytics.Reservations, error) {
	return analytics.Reservations{From: w.From(), To: w.To(), Minutes: []analytics.ReservationMinute{}},
		f.record(ctx, analyticsCall{view: "reservations", w: w})
}

func (f *fakeAnalytics) Fraud(ctx context.Context, w analytics.Window) (analytics.Fraud, error) {
	return analytics.Fraud{From: w.From(), To: w.To(), ByOutcome: []analytics.OutcomeCount{}, ByReason: []analytics.ReasonCount{},
		Minutes: []analytics.FraudMinute{}}, f.record(ctx, analyticsCall{view: "fraud", w: w})
}

func (f *fakeAnalytics) Prices(ctx context.Context, w analytics.Window, limit int) (analytics.Prices, error) {
	return analytics.Prices{From: w.From(), To: w.To(), Limit: limit, SKUs: []analytics.SKUPrice{}},
		f.record(ctx, analyticsCall{view: "prices", w: w, limit: limit})
}

func (f *fakeAnalytics) TopSKUs(ctx context.Context, w analytics.Window, by analytics.By, limit int) (analytics.TopSKUs, error) {
	return analytics.TopSKUs{From: w.From(), To: w.To(), By: by, Limit: limit, SKUs: []analytics.SKUSales{}},
		f.record(ctx, analyticsCall{view: "top-skus", w: w, limit: limit, by: by})
}

func (f *fakeAnalytics) Stockouts(ctx context.Context, w analytics.Window, limit int) (analytics.Stockouts, error) {
	return analytics.Stockouts{From: w.From(), To: w.To(), Limit: limit, SKUs: []analytics.SKUStockouts{},
		Minutes: []analytics.StockoutMinute{}}, f.record(ctx, analyticsCall{view: "stockouts", w: w, limit: limit})
}

// analyticsViews are the views' paths under /v1/analytics, as the fake names them.
var analyticsViews = []string{"orders", "flashsales", "reservations", "fraud", "prices", "top-skus", "stockouts"}

func newAnalyticsEnv(t *testing.T, a Analytics, opts Options) *testEnv {
	t.Helper()
	opts.Now = func() time.Time { return analyticsNow }
	e := newEnv(t, opts)
	if a != nil {
		e.s.deps.Analytics = a
	}
	return e
}

func TestAnalyticsUnavailable(t *testing.T) {
	e := newAnalyticsEnv(t, nil, Options{})
	for _, v := range analyticsViews {
		checkError(t, e.do("GET", "/v1/analytics/"+v, ""), errAnalyticsUnavailable.Code)
	}
}

func TestAnalyticsWindow(t *testing.T) {
	f := &fakeAnalytics{}
	e := newAnalyticsEnv(t, f, Options{})
	hour := analyticsNow.Add(-time.Hour)
	for _, c := range []struct {
		query    string
		from, to time.Time
		code     Code
	}{
		{"", hour, analyticsNow, ""},
		{"minutes=15", analyticsNow.Add(-15 * time.Minute), analyticsNow, ""},
		{"minutes=10080", analyticsNow.Add(-7 * 24 * time.Hour), analyticsNow, ""},
		{"from=2026-01-10T10:00:00Z&to=2026-01-10T10:30:00Z", hour, hour.Add(30 * time.Minute), ""},
		{"from=2026-01-10T10:00:00Z", hour, analyticsNow, ""},
		{"from=2026-01-10T11:00:00%2B01:00&to=2026-01-10T10:30:00Z", hour, hour.Add(30 * time.Minute), ""},
		// An unescaped '+' reaches the server as a space.
		{"from=2026-01-10T11:00:00+01:00&to=2026-01-10T10:30:00Z", hour, hour.Add(30 * time.Minute), ""},
		{"from=2026-01-10T10:00:00.9Z&to=2026-01-10T10:00:01Z", hour, hour.Add(time.Second), ""},
		{"minutes=0", time.Time{}, time.Time{}, errInvalidMinutes.Code},
		{"minutes=-5", time.Time{}, time.Time{}, errInvalidMinutes.Code},
		{"minutes=10081", time.Time{}, time.Time{}, errInvalidMinutes.Code},
		{"minutes=1.5", time.Time{}, time.Time{}, errInvalidMinutes.Code},
		{"minutes=", time.Time{}, time.Time{}, errInvalidMinutes.Code},
		{"minutes=+5", time.Time{}, time.Time{}, errInvalidMinutes.Code},
		{"minutes=99999999999999999999", time.Time{}, time.Time{}, errInvalidMinutes.Code},
		{"minutes=5&from=2026-01-10T10:00:00Z", time.Time{}, time.Time{}, errInvalidMinutes.Code},
		{"minutes=5&to=2026-01-10T10:00:00Z", time.Time{}, time.Time{}, errInvalidMinutes.Code},
		{"to=2026-01-10T10:00:00Z", time.Time{}, time.Time{}, errInvalidFrom.Code},
		{"from=yesterday", time.Time{}, time.Time{}, errInvalidFrom.Code},
		{"from=2026-01-10", time.Time{}, time.Time{}, errInvalidFrom.Code},
		{"from=1999-12-31T23:00:00Z&to=2000-01-01T01:00:00Z", time.Time{}, time.Time{}, errInvalidFrom.Code},
		{"from=2026-01-01T00:00:00Z&to=2026-01-10T00:00:00Z", time.Time{}, time.Time{}, errInvalidFrom.Code},
		{"from=2026-01-10T10:00:00Z&to=soon", time.Time{}, time.Time{}, errInvalidTo.Code},
		{"from=2026-01-10T10:00:00Z&to=2026-01-10T10:00:00Z", time.Time{}, time.Time{}, errInvalidTo.Code},
		{"from=2026-01-10T10:00:00Z&to=2026-01-10T09:00:00Z", time.Time{}, time.Time{}, errInvalidTo.Code},
		{"from=2026-01-11T10:00:00Z&to=2026-01-11T12:00:00Z", time.Time{}, time.Time{}, errInvalidTo.Code},
		{"from=2026-01-12T10:00:00Z&to=2026-01-12T12:00:00Z", time.Time{}, time.Time{}, errInvalidFrom.Code},
	} {
		for _, v := range analyticsViews {
			r := e.do("GET", "/v1/analytics/"+v+"?"+c.query, "")
			if c.code != "" {
				checkError(t, r, c.code)
				continue
			}
			if r.status != 200 {
				t.Errorf("%s?%s: %d %s", v, c.query, r.status, r)
				continue
			}
			got := f.last(t)
			if got.view != v || !got.w.From().Equal(c.from) || !got.w.To().Equal(c.to) {
				t.Errorf("%s?%s asked %s for %v..%v, want %v..%v", v, c.query, got.view, got.w.From(), got.w.To(), c.from, c.to)
			}
		}
	}
}

func TestAnalyticsLimitAndBy(t *testing.T) {
	f := &fakeAnalytics{}
	e := newAnalyticsEnv(t, f, Options{})
	for _, v := range []string{"prices", "top-skus", "stockouts"} {
		e.mustDo(t, "GET", "/v1/analytics/"+v, "", 200)
		if got := f.last(t); got.limit != analytics.DefaultLimit {
			t.Errorf("%s: limit %d by default", v, got.limit)
		}
		e.mustDo(t, "GET", "/v1/analytics/"+v+"?limit=100", "", 200)
		if got := f.last(t); got.limit != 100 {
			t.Errorf("%s: limit %d, want 100", v, got.limit)
		}
		for _, bad := range []string{"0", "101", "x", "", "-1", "1e2"} {
			checkError(t, e.do("GET", "/v1/analytics/"+v+"?limit="+bad, ""), errInvalidLimit.Code)
		}
	}
	// Views without a limit ignore one, as other reads ignore parameters they do not take.
	e.mustDo(t, "GET", "/v1/analytics/orders?limit=0&by=x", "", 200)
	e.mustDo(t, "GET", "/v1/analytics/top-skus", "", 200)
	if got := f.last(t); got.by != analytics.ByUnits {
		t.Errorf("by %q by default", got.by)
	}
	e.mustDo(t, "GET", "/v1/analytics/top-skus?by=revenue&limit=3", "", 200)
	if got := f.last(t); got.by != analytics.ByRevenue || got.limit != 3 {
		t.Errorf("by=revenue&limit=3 asked %+v", got)
	}
	for _, bad := range []string{"price", "", "UNITS", "units,revenue"} {
		checkError(t, e.do("GET", "/v1/analytics/top-skus?by="+bad, ""), errInvalidBy.Code)
	}
}

func TestAnalyticsBody(t *testing.T) {
	e := newAnalyticsEnv(t, &fakeAnalytics{}, Options{})
	r := e.mustDo(t, "GET", "/v1/analytics/orders?minutes=1", "", 200)
	want := `{"from":"2026-01-10T10:59:00Z","to":"2026-01-10T11:00:00Z",` +
		`"totals":{"orders":3,"confirmed":2,"rejected":1,"by_currency":[{"currency":"EUR","orders":2,"gmv_minor":1250,"units":3}]},` +
		`"minutes":[{"minute":"2026-01-10T10:59:00Z","orders":3,"confirmed":2,"rejected":1,` +
		`"by_currency":[{"currency":"EUR","orders":2,"gmv_minor":1250,"units":3}]}]}`
	if string(r.body) != want || r.ctype != "application/json" {
		t.Errorf("%s %s\nwant %s", r.ctype, r.body, want)
	}
	for _, v := range analyticsViews {
		r := e.mustDo(t, "GET", "/v1/analytics/"+v, "", 200)
		var body map[string]any
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if body["from"] != "2026-01-10T10:00:00Z" || body["to"] != "2026-01-10T11:00:00Z" {
			t.Errorf("%s: %s", v, r.body)
		}
		if strings.Contains(string(r.body), "null") {
			t.Errorf("%s: a list is null: %s", v, r.body)
		}
	}
}

func TestAnalyticsFailures(t *testing.T) {
	t.Run("failed", func(t *testing.T) {
		e := newAnalyticsEnv(t, &fakeAnalytics{err: errors.New("connection refused")}, Options{})
		for _, v := range analyticsViews {
			checkError(t, e.do("GET", "/v1/analytics/"+v, ""), errAnalyticsFailed.Code)
		}
	})
	t.Run("panicked", func(t *testing.T) {
		e := newAnalyticsEnv(t, &fakeAnalytics{panic: true}, Options{})
		checkError(t, e.do("GET", "/v1/analytics/orders", ""), errAnalyticsFailed.Code)
	})
	t.Run("timed out", func(t *testing.T) {
		e := newAnalyticsEnv(t, &fakeAnalytics{wait: true}, Options{AnalyticsTimeout: 20 * time.Millisecond})
		for _, v := range analyticsViews {
			checkError(t, e.do("GET", "/v1/analytics/"+v, ""), errAnalyticsTimeout.Code)
		}
	})
	t.Run("deaf to its context", func(t *testing.T) {
		block := make(chan struct{})
		t.Cleanup(func() { close(block) })
		e := newAnalyticsEnv(t, &fakeAnalytics{block: block}, Options{AnalyticsTimeout: 20 * time.Millisecond})
		start := time.Now()
		checkError(t, e.do("GET", "/v1/analytics/fraud", ""), errAnalyticsTimeout.Code)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("answered after %v", d)
		}
	})
	t.Run("window refused by the view", func(t *testing.T) {
		e := newAnalyticsEnv(t, &fakeAnalytics{err: &analytics.WindowError{Field: "to", Reason: "x"}}, Options{})
		checkError(t, e.do("GET", "/v1/analytics/orders", ""), errInvalidTo.Code)
	})
}

func TestDashboard(t *testing.T) {
	e := newAnalyticsEnv(t, nil, Options{Access: Access{Tokens: writeTokens(t, testTokensFile), ReadAuth: true}})
	page := e.mustDo(t, "GET", "/dashboard", "", 200)
	if page.ctype != "text/html; charset=utf-8" {
		t.Errorf("page content type %q", page.ctype)
	}
	for _, v := range analyticsViews {
		if !strings.Contains(string(page.body), `data-view="`+v+`"`) {
			t.Errorf("the page has no panel for %s", v)
		}
	}
	// Nothing from elsewhere: every script and stylesheet is the dashboard's own.
	for _, ref := range []string{`src="`, `href="`} {
		for _, part := range strings.Split(string(page.body), ref)[1:] {
			if !strings.HasPrefix(part, "/dashboard/") {
				t.Errorf("the page loads %s%s", ref, part[:min(len(part), 40)])
			}
		}
	}
	js := e.mustDo(t, "GET", "/dashboard/app.js", "", 200)
	if js.ctype != "text/javascript; charset=utf-8" || len(js.body) < 10000 {
		t.Errorf("app.js: %q, %d bytes", js.ctype, len(js.body))
	}
	// The bundle reads every view.
	for _, v := range analyticsViews {
		if !strings.Contains(string(js.body), `"`+v+`"`) {
			t.Errorf("app.js does not name the view %s", v)
		}
	}
	e.mustDo(t, "GET", "/dashboard/app.css", "", 200)
	for _, name := range []string{"nope.js", "index.html", ".hidden.js", "app", "..%2Fopenapi.yaml", "%2e%2e%2fdashboard.go"} {
		checkError(t, e.do("GET", "/dashboard/"+name, ""), errNotFound.Code)
	}
}
