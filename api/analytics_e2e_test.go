package api

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/titan-commerce/titan/analytics"
	"github.com/titan-commerce/titan/analytics/analyticstest"
	"github.com/titan-commerce/titan/internal/clickhousetest"
)

// TestAnalyticsOnClickHouse serves every view from the real server over the scenario of
// analyticstest.Seed, and checks the numbers the dashboard shows first.
func TestAnalyticsOnClickHouse(t *testing.T) {
	conn, _ := clickhousetest.Database(t)
	analyticstest.Migrate(t, conn)
	t0 := analyticsNow.Add(-time.Hour)
	analyticstest.Seed(t, conn, t0)
	e := newAnalyticsEnv(t, analytics.NewQuerier(conn), Options{})

	get := func(path string, v any) {
		t.Helper()
		r := e.mustDo(t, "GET", "/v1/analytics/"+path, "", 200)
		if err := json.Unmarshal(r.body, v); err != nil {
			t.Fatalf("%s: %v: %s", path, err, r.body)
		}
	}
	var orders analytics.Orders
	get("orders", &orders)
	if o := orders.Totals; o.Orders != 6 || o.Confirmed != 4 || o.Rejected != 2 || len(o.ByCurrency) != 2 ||
		o.ByCurrency[0] != (analytics.CurrencyGMV{Currency: "EUR", Orders: 3, GMVMinor: 1350, Units: 4}) {
		t.Errorf("orders: %+v", o)
	}
	var sales analytics.FlashSales
	get("flashsales?from=2026-01-10T10:00:00Z&to=2026-01-10T11:00:00Z", &sales)
	if len(sales.Sales) != 3 || sales.Sales[0].Sold != 20 || sales.Sales[0].SellThrough != 0.4 || sales.Sales[1].Sold != 0 {
		t.Errorf("flashsales: %+v", sales.Sales)
	}
	var res analytics.Reservations
	get("reservations?minutes=60", &res)
	if res.Totals.Reserved != 4 || res.Totals.ConversionRate != 0.25 || res.Totals.ExpiryRate != 0.25 {
		t.Errorf("reservations: %+v", res.Totals)
	}
	var fraud analytics.Fraud
	get("fraud", &fraud)
	if fraud.Decisions != 6 || len(fraud.ByReason) != 5 || fraud.ByReason[0] != (analytics.ReasonCount{Reason: "velocity", Outcome: "review", Decisions: 2}) {
		t.Errorf("fraud: %+v", fraud)
	}
	var prices analytics.Prices
	get("prices?limit=1", &prices)
	if len(prices.SKUs) != 1 || prices.SKUs[0] != (analytics.SKUPrice{SKU: "sku-p1", Changes: 3, PriceMinor: 95, Currency: "EUR", Version: 4}) {
		t.Errorf("prices: %+v", prices.SKUs)
	}
	var top analytics.TopSKUs
	get("top-skus?by=revenue", &top)
	if len(top.SKUs) != 3 || top.SKUs[0].SKU != "sku-b" || top.SKUs[0].RevenueMinor != 1000 {
		t.Errorf("top-skus: %+v", top.SKUs)
	}
	var st analytics.Stockouts
	get("stockouts", &st)
	if st.Totals != (analytics.StockoutCounts{Stockouts: 2, Refusals: 2, RefusedUnits: 7}) || len(st.SKUs) != 2 {
		t.Errorf("stockouts: %+v", st)
	}
	// An empty window answers zeros, not an error.
	var empty analytics.Reservations
	get("reservations?from=2001-01-01T00:00:00Z&to=2001-01-01T01:00:00Z", &empty)
	if empty.Totals != (analytics.ReservationCounts{}) || len(empty.Minutes) != 0 {
		t.Errorf("empty window: %+v", empty)
	}
}

// TestAnalyticsClickHouseDown: a server that is gone or too slow is a JSON 503 or 504, at once.
func TestAnalyticsClickHouseDown(t *testing.T) {
	conn, _ := clickhousetest.Database(t)
	analyticstest.Migrate(t, conn)
	q := analytics.NewQuerier(conn)

	slow := newAnalyticsEnv(t, q, Options{AnalyticsTimeout: time.Nanosecond})
	checkError(t, slow.do("GET", "/v1/analytics/orders", ""), errAnalyticsTimeout.Code)

	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	gone := newAnalyticsEnv(t, q, Options{AnalyticsTimeout: 5 * time.Second})
	for _, v := range analyticsViews {
		start := time.Now()
		checkError(t, gone.do("GET", "/v1/analytics/"+v, ""), errAnalyticsFailed.Code)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s answered after %v", v, d)
		}
	}
}
