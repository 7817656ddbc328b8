package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/browsertest"
	"github.com/titan-commerce/titan/internal/clickhousetest"
	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/sinks/clickhouse"
)

// startAnalyticsInstance runs one instance with every topology, the
// ClickHouse sink writing to a database of the test's own and the API's
// analytics reading it, on the real broker in a namespace of its own; it
// waits until the instance is ready and returns the database's connection.
func startAnalyticsInstance(t *testing.T) (*e2e, *clickhouse.Conn) {
	t.Helper()
	conn, db := clickhousetest.Database(t)
	c, _ := runInstance(t, instance.Config{
		Partitions: 2, CommandWait: 30 * time.Second, ReadWait: 30 * time.Second,
		// No sweeps within the test: the pricing ticker's demand steps
		// (a minute after the orders' reservations, then every minute as
		// the price decays) would change the prices the page shows while
		// it loads. The test lets no reservation expire.
		SweepInterval: time.Hour,
		ClickHouse:    clickhouse.Options{Addr: clickhousetest.Addr(t), Database: db, ReadTimeout: 10 * time.Second},
		Sink:          true,
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	return c, conn
}

// placed is what the test did through the API, as the API answered it.
type placed struct {
	confirmed, rejected int
	gmv                 int64            // EUR minor units, the confirmed orders' totals
	units               int64            // units of the confirmed orders
	skuUnits            map[string]int64 // units per SKU of the confirmed orders
	saleUnits, saleSold int64
	refusals            map[string]int64 // SKU: refused units of the orders that found too little stock
	priced              []string
}

// dashboardScenario drives the API: prices and stock for three SKUs,
// orders that confirm and ones rejected for stock and for price, and a
// flash sale bought out with one buyer too many.
func dashboardScenario(t *testing.T, c *e2e) placed {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	p := placed{skuUnits: map[string]int64{}, refusals: map[string]int64{}}
	prices := map[string]int64{"sku-dash-a": 1000, "sku-dash-b": 2500, "sku-dash-c": 700}
	stock := map[string]int64{"sku-dash-a": 10, "sku-dash-b": 3, "sku-dash-c": 1, "sku-dash-fs": 4}
	for _, sku := range []string{"sku-dash-a", "sku-dash-b", "sku-dash-c"} {
		c.do("POST", "/v1/prices/"+sku, fmt.Sprintf(`{"base_price":%d,"currency":"EUR","command_id":"price-%s"}`, prices[sku], sku), 202)
		p.priced = append(p.priced, sku)
	}
	for _, sku := range []string{"sku-dash-a", "sku-dash-b", "sku-dash-c"} {
		var got struct {
			Price int64 `json:"price"`
		}
		if err := poll(ctx, func() bool {
			status, b, err := c.try("GET", "/v1/prices/"+sku, "")
			return err == nil && status == 200 && json.Unmarshal(b, &got) == nil && got.Price == prices[sku]
		}); err != nil {
			t.Fatalf("price of %s never showed %d: %+v", sku, prices[sku], got)
		}
	}
	for _, sku := range []string{"sku-dash-a", "sku-dash-b", "sku-dash-c", "sku-dash-fs"} {
		c.command("/v1/inventory/"+sku+"/restock", "restock-"+sku, fmt.Sprintf(`"qty":%d`, stock[sku]), 200, nil)
	}

	type line struct {
		sku      string
		qty, at  int64
		overrate bool
	}
	type outcome struct {
		Status string `json:"status"`
		Total  int64  `json:"total"`
		Reason string `json:"reason"`
	}
	orders := []struct {
		id     string
		lines  []line
		status int
		reason string
	}{
		{"o-dash-1", []line{{sku: "sku-dash-a", qty: 2}}, 201, ""},
		// Takes sku-dash-b's last units: a stock-out.
		{"o-dash-2", []line{{sku: "sku-dash-b", qty: 3}}, 201, ""},
		// One unit of sku-dash-c left: refused for stock.
		{"o-dash-3", []line{{sku: "sku-dash-c", qty: 2}}, 409, "out_of_stock"},
		{"o-dash-4", []line{{sku: "sku-dash-a", qty: 3}, {sku: "sku-dash-c", qty: 1}}, 201, ""},
		{"o-dash-5", []line{{sku: "sku-dash-a", qty: 1, at: 500}}, 409, "price_mismatch"},
	}
	for _, o := range orders {
		// One shopper per order, so the fraud model sees no velocity.
		var ls []string
		var total, units int64
		for _, l := range o.lines {
			at := l.at
			if at == 0 {
				at = prices[l.sku]
			}
			ls = append(ls, fmt.Sprintf(`{"sku":%q,"qty":%d,"unit_price":%d}`, l.sku, l.qty, at))
			total += l.qty * at
			units += l.qty
		}
		body := fmt.Sprintf(`{"order_id":%q,"user_id":"u-%[1]s","device_id":"d-%[1]s","payment_id":"card-%[1]s","lines":[%s]}`,
			o.id, strings.Join(ls, ","))
		var got outcome
		decodeInto(t, c.do("POST", "/v1/orders", body, o.status), &got)
		if o.status == 201 {
			if got.Status != "confirmed" || got.Total != total {
				t.Fatalf("order %s: %+v, want confirmed for %d", o.id, got, total)
			}
			p.confirmed++
			p.gmv += got.Total
			p.units += units
			for _, l := range o.lines {
				p.skuUnits[l.sku] += l.qty
			}
			continue
		}
		if got.Status != "rejected" || got.Reason != o.reason {
			t.Fatalf("order %s: %+v, want rejected for %s", o.id, got, o.reason)
		}
		p.rejected++
		if o.reason == "out_of_stock" {
			for _, l := range o.lines {
				p.refusals[l.sku] += l.qty
			}
		}
	}

	const sale = "fs-dash"
	p.saleUnits = stock["sku-dash-fs"]
	c.do("POST", "/v1/flash-sales", saleBody(sale, "sku-dash-fs", p.saleUnits, time.Now().Add(10*time.Minute)), 201)
	for i := range p.saleUnits + 1 {
		status, b, err := c.try("POST", "/v1/flash-sales/"+sale+"/purchases", fmt.Sprintf(`{"user_id":"dash-buyer-%d","qty":1,"idempotency_key":"dash-%d"}`, i, i))
		switch {
		case err != nil:
			t.Fatal(err)
		case status == 201:
			p.saleSold++
		case status != 409 || !strings.Contains(string(b), "sold_out"):
			t.Fatalf("purchase %d: %d %s", i, status, b)
		}
	}
	if p.saleSold != p.saleUnits {
		t.Fatalf("bought %d of the sale's %d units", p.saleSold, p.saleUnits)
	}
	return p
}

// metricValues is, per dashboard panel, the value of every data-metric
// but the window's: numbers formatted as Go formats them, strings as is.
type metricValues map[string]map[string]string

func (m metricValues) set(view, name string, v any) {
	if m[view] == nil {
		m[view] = map[string]string{}
	}
	switch v := v.(type) {
	case int64:
		m[view][name] = strconv.FormatInt(v, 10)
	case uint64:
		m[view][name] = strconv.FormatUint(v, 10)
	case float64:
		m[view][name] = strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		m[view][name] = v
	default:
		panic(fmt.Sprintf("metric %s: %T", name, v))
	}
}

func (m metricValues) num(view, name string) float64 {
	f, err := strconv.ParseFloat(m[view][name], 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

// clickHouseMetrics reads every number the dashboard shows straight from
// the summary tables the sink's materialized views fill (and, for a sale's
// units and a SKU's last price, the raw tables), over everything the
// database holds: the database is the test's own, so that is the window.
func clickHouseMetrics(ctx context.Context, conn *clickhouse.Conn) (metricValues, error) {
	m := metricValues{}
	var sales int64
	queries := []struct {
		sql  string
		scan func(scan func(...any) error) error
	}{
		{`SELECT sum(orders), sum(confirmed), sum(rejected) FROM orders_per_minute`, func(scan func(...any) error) error {
			var orders, confirmed, rejected uint64
			if err := scan(&orders, &confirmed, &rejected); err != nil {
				return err
			}
			m.set("orders", "orders-total", orders)
			m.set("orders", "orders-confirmed", confirmed)
			m.set("orders", "orders-rejected", rejected)
			return nil
		}},
		{`SELECT currency, sum(confirmed), sum(gmv_minor), sum(units) FROM orders_per_minute GROUP BY currency`, func(scan func(...any) error) error {
			var cur string
			var confirmed uint64
			var gmv, units int64
			if err := scan(&cur, &confirmed, &gmv, &units); err != nil {
				return err
			}
			if confirmed != 0 || gmv != 0 || units != 0 {
				m.set("orders", "gmv-"+cur, gmv)
				m.set("orders", "units-"+cur, units)
				m.set("orders", "orders-"+cur, confirmed)
			}
			return nil
		}},
		{`SELECT s.sale_id, s.u, ifNull(r.sold, 0) FROM (SELECT sale_id, argMax(units, event_time) AS u FROM flashsale_sales GROUP BY sale_id) AS s
LEFT JOIN (SELECT sale_id, sum(purchased_units) AS sold FROM flashsale_per_minute GROUP BY sale_id) AS r USING sale_id`, func(scan func(...any) error) error {
			var id string
			var units, sold int64
			if err := scan(&id, &units, &sold); err != nil {
				return err
			}
			m.set("flashsales", "sale-units-"+id, units)
			m.set("flashsales", "sale-sold-"+id, sold)
			m.set("flashsales", "sale-sell-through-"+id, float64(sold)/float64(units))
			sales++
			m.set("flashsales", "sales-total", sales)
			return nil
		}},
		{`SELECT sum(reserved), sum(committed), sum(released), sum(expired), sum(rejected), sum(reserved_units) FROM reservations_per_minute`, func(scan func(...any) error) error {
			var reserved, committed, released, expired, rejected uint64
			var units int64
			if err := scan(&reserved, &committed, &released, &expired, &rejected, &units); err != nil {
				return err
			}
			for name, v := range map[string]uint64{"reserved-total": reserved, "committed-total": committed, "released-total": released,
				"expired-total": expired, "reservations-rejected-total": rejected} {
				m.set("reservations", name, v)
			}
			m.set("reservations", "reserved-units-total", units)
			var conversion, expiry float64
			if reserved > 0 {
				conversion, expiry = float64(committed)/float64(reserved), float64(expired)/float64(reserved)
			}
			m.set("reservations", "conversion-rate", conversion)
			m.set("reservations", "expiry-rate", expiry)
			return nil
		}},
		{`SELECT outcome, sum(decisions) FROM fraud_per_minute GROUP BY outcome`, func(scan func(...any) error) error {
			var outcome string
			var n uint64
			if err := scan(&outcome, &n); err != nil {
				return err
			}
			m.set("fraud", "fraud-outcome-"+outcome, n)
			total, _ := strconv.ParseUint(m["fraud"]["fraud-total"], 10, 64)
			m.set("fraud", "fraud-total", total+n)
			return nil
		}},
		{`SELECT reason, outcome, sum(decisions) FROM fraud_reasons_per_minute GROUP BY reason, outcome`, func(scan func(...any) error) error {
			var reason, outcome string
			var n uint64
			if err := scan(&reason, &outcome, &n); err != nil {
				return err
			}
			m.set("fraud", "fraud-"+reason+"-"+outcome, n)
			sum, _ := strconv.ParseUint(m["fraud"]["fraud-"+reason], 10, 64)
			m.set("fraud", "fraud-"+reason, sum+n)
			return nil
		}},
		{`SELECT c.sku, c.n, l.price, l.cur FROM (SELECT sku, sum(changes) AS n FROM price_changes_per_minute GROUP BY sku) AS c
LEFT JOIN (SELECT sku, argMax(price_minor, version) AS price, argMax(currency, version) AS cur FROM price_changes GROUP BY sku) AS l USING sku`, func(scan func(...any) error) error {
			var sku, cur string
			var n uint64
			var price int64
			if err := scan(&sku, &n, &price, &cur); err != nil {
				return err
			}
			m.set("prices", "price-changes-"+sku, n)
			m.set("prices", "price-"+sku, price)
			m.set("prices", "price-currency-"+sku, cur)
			return nil
		}},
		{`SELECT sku, currency, sum(units), sum(orders), sum(revenue_minor) FROM sku_sales_per_minute GROUP BY sku, currency`, func(scan func(...any) error) error {
			var sku, cur string
			var units, revenue int64
			var orders uint64
			if err := scan(&sku, &cur, &units, &orders, &revenue); err != nil {
				return err
			}
			u, _ := strconv.ParseInt(m["top-skus"]["sku-units-"+sku], 10, 64)
			o, _ := strconv.ParseUint(m["top-skus"]["sku-orders-"+sku], 10, 64)
			m.set("top-skus", "sku-units-"+sku, u+units)
			m.set("top-skus", "sku-orders-"+sku, o+orders)
			m.set("top-skus", "sku-revenue-"+sku+"-"+cur, revenue)
			return nil
		}},
		{`SELECT sku, sum(stockouts), sum(refusals), sum(refused_units) FROM stockouts_per_minute GROUP BY sku`, func(scan func(...any) error) error {
			var sku string
			var stockouts, refusals uint64
			var refused int64
			if err := scan(&sku, &stockouts, &refusals, &refused); err != nil {
				return err
			}
			s, _ := strconv.ParseUint(m["stockouts"]["stockouts-total"], 10, 64)
			r, _ := strconv.ParseUint(m["stockouts"]["refusals-total"], 10, 64)
			u, _ := strconv.ParseInt(m["stockouts"]["refused-units-total"], 10, 64)
			m.set("stockouts", "stockouts-total", s+stockouts)
			m.set("stockouts", "refusals-total", r+refusals)
			m.set("stockouts", "refused-units-total", u+refused)
			if stockouts > 0 || refusals > 0 {
				m.set("stockouts", "stockouts-"+sku, stockouts)
				m.set("stockouts", "refusals-"+sku, refusals)
				m.set("stockouts", "refused-units-"+sku, refused)
			}
			return nil
		}},
	}
	for _, q := range queries {
		rows, err := conn.Query(ctx, q.sql)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", q.sql, err)
		}
		for rows.Next() {
			if err := q.scan(rows.Scan); err != nil {
				rows.Close()
				return nil, fmt.Errorf("%s: %w", q.sql, err)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", q.sql, err)
		}
	}
	// Views with no rows still show their totals, as zeros.
	for view, names := range map[string][]string{
		"flashsales": {"sales-total"}, "fraud": {"fraud-total"},
		"stockouts": {"stockouts-total", "refusals-total", "refused-units-total"},
	} {
		for _, name := range names {
			if _, ok := m[view][name]; !ok {
				m.set(view, name, int64(0))
			}
		}
	}
	return m, nil
}

// holds reports whether ClickHouse shows what the test placed.
func (p placed) holds(m metricValues) error {
	want := map[[2]string]float64{
		{"orders", "orders-confirmed"}:              float64(p.confirmed),
		{"orders", "orders-rejected"}:               float64(p.rejected),
		{"orders", "orders-total"}:                  float64(p.confirmed + p.rejected),
		{"orders", "gmv-EUR"}:                       float64(p.gmv),
		{"orders", "units-EUR"}:                     float64(p.units),
		{"orders", "orders-EUR"}:                    float64(p.confirmed),
		{"flashsales", "sale-units-fs-dash"}:        float64(p.saleUnits),
		{"flashsales", "sale-sold-fs-dash"}:         float64(p.saleSold),
		{"flashsales", "sale-sell-through-fs-dash"}: float64(p.saleSold) / float64(p.saleUnits),
		// sku-dash-b and sku-dash-c sold out to orders, sku-dash-fs to the sale's allocation.
		{"stockouts", "stockouts-sku-dash-b"}:  1,
		{"stockouts", "stockouts-sku-dash-c"}:  1,
		{"stockouts", "stockouts-sku-dash-fs"}: 1,
	}
	for sku, n := range p.skuUnits {
		want[[2]string{"top-skus", "sku-units-" + sku}] = float64(n)
	}
	for sku, n := range p.refusals {
		want[[2]string{"stockouts", "refusals-" + sku}] = 1
		want[[2]string{"stockouts", "refused-units-" + sku}] = float64(n)
	}
	var wrong []string
	for k, v := range want {
		if got := m.num(k[0], k[1]); got != v {
			wrong = append(wrong, fmt.Sprintf("%s %s = %v, want %v", k[0], k[1], got, v))
		}
	}
	for _, sku := range p.priced {
		if m.num("prices", "price-changes-"+sku) < 1 {
			wrong = append(wrong, "no price change of "+sku)
		}
	}
	// Every order the fraud model scored; the one refused for its price
	// may not have reached it.
	if got := m.num("fraud", "fraud-total"); !(got >= float64(p.confirmed)) {
		wrong = append(wrong, fmt.Sprintf("fraud decisions %v, want at least %d", got, p.confirmed))
	}
	if len(wrong) > 0 {
		sort.Strings(wrong)
		return fmt.Errorf("%s", strings.Join(wrong, "; "))
	}
	return nil
}

// dashboardReport is what web/e2e/dashboard.mjs prints.
type dashboardReport struct {
	Screenshot     string   `json:"screenshot"`
	Status         int      `json:"status"`
	Error          string   `json:"error"`
	Blocked        []string `json:"blocked"`
	Console        []string `json:"console"`
	PageErrors     []string `json:"pageErrors"`
	FailedRequests []string `json:"failedRequests"`
	Page           struct {
		Loaded int    `json:"loaded"`
		Error  string `json:"error"`
		Panels map[string]struct {
			State   string `json:"state"`
			Chart   string `json:"chart"`
			Metrics map[string]struct {
				Text  string `json:"text"`
				Value string `json:"value"`
			} `json:"metrics"`
			Canvas *struct {
				Width   int            `json:"width"`
				Height  int            `json:"height"`
				Painted int            `json:"painted"`
				Colors  map[string]int `json:"colors"`
			} `json:"canvas"`
		} `json:"panels"`
	} `json:"page"`
}

// The panels of the dashboard, by their data-view.
var dashboardViews = []string{"orders", "flashsales", "reservations", "fraud", "prices", "top-skus", "stockouts"}

// TestDashboardInBrowser drives a real instance through its API, waits
// until the ClickHouse sink has written what it did, then loads the
// dashboard in headless chromium: every panel must load and draw, and
// every number the page shows must be the one ClickHouse holds, and the
// one the test placed. The page's screenshot is left in the artifacts
// folder.
func TestDashboardInBrowser(t *testing.T) {
	browser := browsertest.Env(t)
	c, conn := startAnalyticsInstance(t)
	start := time.Now()
	p := dashboardScenario(t, c)
	t.Logf("scenario placed in %v: %+v", time.Since(start).Round(time.Millisecond), p)
	want := settledMetrics(t, conn, p)
	t.Logf("ClickHouse holds the scenario %v after it was placed", time.Since(start).Round(time.Millisecond))

	r := loadDashboard(t, browser, c.base+"/dashboard?minutes=60")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	after, err := clickHouseMetrics(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after, want) {
		t.Fatalf("ClickHouse changed while the page loaded:\nbefore %v\nafter  %v", want, after)
	}
	for _, view := range dashboardViews {
		checkPanel(t, view, r, want[view])
	}
	// What the test placed, as the page shows it.
	if got := r.Page.Panels["orders"].Metrics["gmv-EUR"].Value; got != strconv.FormatInt(p.gmv, 10) {
		t.Errorf("gmv-EUR = %s, the confirmed orders' totals come to %d", got, p.gmv)
	}
	if err := p.holds(shownValues(r)); err != nil {
		t.Errorf("the page does not show what the test placed: %v", err)
	}
	// The sink inside the instance reports on the API's /metrics.
	metrics := string(c.do("GET", "/metrics", "", 200))
	for _, name := range []string{`titan_sink_rows_written_total{table="order_outcomes"}`, "titan_sink_batch_records_count",
		"titan_sink_batch_seconds_count", `titan_sink_consumer_lag_records{`, "titan_sink_retries_total", "titan_sink_buffered_records"} {
		if !strings.Contains(metrics, name) {
			t.Errorf("/metrics has no %s", name)
		}
	}
}

// settledMetrics waits until ClickHouse holds what the test placed, and
// then until nothing more arrives for a few flushes of the sink (fraud
// decisions and reservations the test does not count in advance), and
// returns what it then holds.
func settledMetrics(t *testing.T, conn *clickhouse.Conn, p placed) metricValues {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var (
		last    metricValues
		lastErr error
		same    int
	)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for same < 3 {
		select {
		case <-ctx.Done():
			t.Fatalf("ClickHouse never settled on what the test placed: %v; last read %v", lastErr, last)
		case <-tick.C:
		}
		got, err := clickHouseMetrics(ctx, conn)
		if err == nil {
			err = p.holds(got)
		}
		switch {
		case err != nil:
			lastErr, same = err, 0
		case reflect.DeepEqual(got, last):
			same++
		default:
			same = 0
		}
		last = got
	}
	return last
}

// loadDashboard runs web/e2e/dashboard.mjs on url and fails the test if
// the page did not load every panel, asked for anything off its origin or
// logged an error.
func loadDashboard(t *testing.T, browser browsertest.Browser, url string) dashboardReport {
	t.Helper()
	shot := filepath.Join(browsertest.Artifacts(t), "dashboard.png")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	out, runErr := browser.Run(ctx, t, "dashboard.mjs", url, shot, "60000")
	var r dashboardReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("dashboard.mjs: %v (%v): %s", err, runErr, out)
	}
	t.Logf("dashboard screenshot: %s", shot)
	if runErr != nil || r.Error != "" {
		t.Fatalf("dashboard.mjs: %v: %s; page: %s", runErr, r.Error, out)
	}
	if len(r.Blocked) > 0 {
		t.Errorf("the page asked for URLs off its origin: %v", r.Blocked)
	}
	if len(r.PageErrors) > 0 || len(r.Console) > 0 || len(r.FailedRequests) > 0 {
		t.Errorf("page errors %v, console %v, failed requests %v", r.PageErrors, r.Console, r.FailedRequests)
	}
	if r.Status != 200 || r.Page.Loaded < 1 || r.Page.Error != "" {
		t.Errorf("page status %d, loaded %d, error %q", r.Status, r.Page.Loaded, r.Page.Error)
	}
	return r
}

// checkPanel checks that the panel loaded and drew its chart, and shows
// exactly the metrics of want, with their values.
func checkPanel(t *testing.T, view string, r dashboardReport, want map[string]string) {
	t.Helper()
	panel, ok := r.Page.Panels[view]
	if !ok {
		t.Errorf("no panel %s", view)
		return
	}
	if panel.State != "ok" || panel.Chart != "ok" {
		t.Errorf("panel %s: data-state %q data-chart %q", view, panel.State, panel.Chart)
	}
	// A drawn chart paints its canvas, and a dataset's colour shows (in
	// its bars or lines, or at least its legend).
	if cv := panel.Canvas; cv == nil || cv.Width == 0 || cv.Height == 0 || cv.Painted == 0 || len(cv.Colors) == 0 {
		t.Errorf("panel %s: chart canvas not drawn: %+v", view, cv)
	} else {
		t.Logf("panel %s: canvas %dx%d, %d pixels painted, palette %v", view, cv.Width, cv.Height, cv.Painted, cv.Colors)
	}
	shown := map[string]string{}
	for name, v := range panel.Metrics {
		if name == "window-from" || name == "window-to" {
			if _, err := time.Parse(time.RFC3339, v.Value); err != nil {
				t.Errorf("panel %s: %s = %q: %v", view, name, v.Value, err)
			}
			continue
		}
		shown[name] = v.Value
		if !sameNumber(v.Text, v.Value, 5e-5) && v.Text != v.Value {
			t.Errorf("panel %s: %s shows %q, its data-value is %q", view, name, v.Text, v.Value)
		}
	}
	for name, w := range want {
		got, ok := shown[name]
		switch {
		case !ok:
			t.Errorf("panel %s: no %s; ClickHouse has %s", view, name, w)
		case !sameNumber(got, w, 1e-9) && got != w:
			t.Errorf("panel %s: %s = %s, ClickHouse has %s", view, name, got, w)
		}
	}
	for name, got := range shown {
		if _, ok := want[name]; !ok {
			t.Errorf("panel %s: shows %s = %s, which ClickHouse does not hold", view, name, got)
		}
	}
	for _, w := range []string{"window-from", "window-to"} {
		if _, ok := panel.Metrics[w]; !ok {
			t.Errorf("panel %s: no %s", view, w)
		}
	}
}

func shownValues(r dashboardReport) metricValues {
	m := metricValues{}
	for view, panel := range r.Page.Panels {
		for name, v := range panel.Metrics {
			m.set(view, name, v.Value)
		}
	}
	return m
}

// sameNumber reports whether a and b are numbers within tol of each other.
func sameNumber(a, b string, tol float64) bool {
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	return err1 == nil && err2 == nil && math.Abs(x-y) <= tol
}
