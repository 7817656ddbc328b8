package analytics_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/titan-commerce/titan/analytics"
	"github.com/titan-commerce/titan/analytics/analyticstest"
	"github.com/titan-commerce/titan/internal/chdbtest"
	"github.com/titan-commerce/titan/internal/clickhousetest"
	"github.com/titan-commerce/titan/internal/schematest"
)

// t0 starts the hour the tests read; analyticstest.Seed writes its rows around it.
var t0 = time.Date(2026, 1, 10, 10, 0, 0, 0, time.UTC)

func window(t *testing.T, from, to time.Time) analytics.Window {
	t.Helper()
	w, err := analytics.NewWindow(from, to, to)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// same compares a view with what it should be through their JSON, which is what the API sends.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != string(w) {
		t.Errorf("%s:\ngot  %s\nwant %s", what, g, w)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func minute(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

func TestViews(t *testing.T) {
	conn, _ := clickhousetest.Database(t)
	analyticstest.Migrate(t, conn)
	analyticstest.Seed(t, conn, t0)
	q := analytics.NewQuerier(conn)
	w := window(t, t0, t0.Add(time.Hour))
	from, to := t0, t0.Add(time.Hour)

	t.Run("orders", func(t *testing.T) {
		got, err := q.Orders(ctx(t), w)
		if err != nil {
			t.Fatal(err)
		}
		same(t, "orders", got, analytics.Orders{From: from, To: to,
			Totals: analytics.OrderTotals{Orders: 6, Confirmed: 4, Rejected: 2, ByCurrency: []analytics.CurrencyGMV{
				{Currency: "EUR", Orders: 3, GMVMinor: 1350, Units: 4},
				{Currency: "USD", Orders: 1, GMVMinor: 500, Units: 1},
			}},
			Minutes: []analytics.OrderMinute{
				{Minute: minute(0), Orders: 4, Confirmed: 3, Rejected: 1, ByCurrency: []analytics.CurrencyGMV{
					{Currency: "EUR", Orders: 2, GMVMinor: 1250, Units: 3},
					{Currency: "USD", Orders: 1, GMVMinor: 500, Units: 1},
				}},
				{Minute: minute(2), Orders: 2, Confirmed: 1, Rejected: 1, ByCurrency: []analytics.CurrencyGMV{
					{Currency: "EUR", Orders: 1, GMVMinor: 100, Units: 1},
				}},
			}})
	})

	t.Run("flashsales", func(t *testing.T) {
		got, err := q.FlashSales(ctx(t), w)
		if err != nil {
			t.Fatal(err)
		}
		same(t, "flashsales", got, analytics.FlashSales{From: from, To: to, Sales: []analytics.FlashSale{
			// Redefined with 50 units; 5 sold before the window.
			{SaleID: "fs-a", SKU: "sku-a", Units: 50, Sold: 20, SellThrough: 0.4, Minutes: []analytics.FlashSaleMinute{
				{Minute: minute(1), Sold: 10, SellThrough: 0.2},
				{Minute: minute(4), Sold: 20, SellThrough: 0.4},
			}},
			// Open in the window, nothing sold.
			{SaleID: "fs-b", SKU: "sku-b", Units: 20, Minutes: []analytics.FlashSaleMinute{}},
			// Results without a definition.
			{SaleID: "fs-x", Sold: 1, Minutes: []analytics.FlashSaleMinute{{Minute: minute(6), Sold: 1}}},
		}})
	})

	t.Run("reservations", func(t *testing.T) {
		got, err := q.Reservations(ctx(t), w)
		if err != nil {
			t.Fatal(err)
		}
		same(t, "reservations", got, analytics.Reservations{From: from, To: to,
			Totals: analytics.ReservationCounts{Reserved: 4, Committed: 1, Released: 1, Expired: 1, Rejected: 3,
				ReservedUnits: 12, ConversionRate: 0.25, ExpiryRate: 0.25},
			Minutes: []analytics.ReservationMinute{
				{Minute: minute(0), ReservationCounts: analytics.ReservationCounts{Reserved: 3, Committed: 1, Rejected: 1,
					ReservedUnits: 11, ConversionRate: 1.0 / 3}},
				{Minute: minute(1), ReservationCounts: analytics.ReservationCounts{Reserved: 1, Expired: 1, Rejected: 2,
					ReservedUnits: 1, ExpiryRate: 1}},
				// Nothing reserved: the rates are 0.
				{Minute: minute(3), ReservationCounts: analytics.ReservationCounts{Released: 1}},
			}})
	})

	t.Run("fraud", func(t *testing.T) {
		got, err := q.Fraud(ctx(t), w)
		if err != nil {
			t.Fatal(err)
		}
		same(t, "fraud", got, analytics.Fraud{From: from, To: to, Decisions: 6,
			ByOutcome: []analytics.OutcomeCount{{"approve", 3}, {"reject", 1}, {"review", 2}},
			ByReason: []analytics.ReasonCount{
				{"velocity", "review", 2},
				{"high_amount", "reject", 1},
				{"new_device", "approve", 1},
				{"new_device", "review", 1},
				{"velocity", "reject", 1},
			},
			Minutes: []analytics.FraudMinute{
				{Minute: minute(0), Decisions: 3, ByOutcome: []analytics.OutcomeCount{{"approve", 2}, {"review", 1}}},
				{Minute: minute(5), Decisions: 3, ByOutcome: []analytics.OutcomeCount{{"approve", 1}, {"reject", 1}, {"review", 1}}},
			}})
	})

	t.Run("prices", func(t *testing.T) {
		got, err := q.Prices(ctx(t), w, 10)
		if err != nil {
			t.Fatal(err)
		}
		// sku-p1's last version is 4, written before version 3; sku-p2's price of 600 came
		// after the window.
		same(t, "prices", got, analytics.Prices{From: from, To: to, Limit: 10, SKUs: []analytics.SKUPrice{
			{SKU: "sku-p1", Changes: 3, PriceMinor: 95, Currency: "EUR", Version: 4},
			{SKU: "sku-p2", Changes: 1, PriceMinor: 500, Currency: "USD", Version: 1},
			{SKU: "sku-p3", Changes: 1, PriceMinor: 42, Currency: "EUR", Version: 7},
		}})
		got, err = q.Prices(ctx(t), w, 2)
		if err != nil {
			t.Fatal(err)
		}
		same(t, "prices limit 2", got.SKUs, got.SKUs[:2])
		if len(got.SKUs) != 2 || got.SKUs[1].SKU != "sku-p2" || got.SKUs[1].PriceMinor != 500 {
			t.Errorf("limit 2: %+v", got.SKUs)
		}
	})

	t.Run("top-skus", func(t *testing.T) {
		got, err := q.TopSKUs(ctx(t), w, analytics.ByUnits, 10)
		if err != nil {
			t.Fatal(err)
		}
		same(t, "by units", got, analytics.TopSKUs{From: from, To: to, By: analytics.ByUnits, Limit: 10, SKUs: []analytics.SKUSales{
			{SKU: "sku-a", Currency: "USD", Units: 5, RevenueMinor: 450, Orders: 1},
			{SKU: "sku-a", Currency: "EUR", Units: 3, RevenueMinor: 300, Orders: 2},
			{SKU: "sku-b", Currency: "EUR", Units: 1, RevenueMinor: 1000, Orders: 1},
		}})
		got, err = q.TopSKUs(ctx(t), w, analytics.ByRevenue, 2)
		if err != nil {
			t.Fatal(err)
		}
		same(t, "by revenue", got, analytics.TopSKUs{From: from, To: to, By: analytics.ByRevenue, Limit: 2, SKUs: []analytics.SKUSales{
			{SKU: "sku-b", Currency: "EUR", Units: 1, RevenueMinor: 1000, Orders: 1},
			{SKU: "sku-a", Currency: "USD", Units: 5, RevenueMinor: 450, Orders: 1},
		}})
	})

	t.Run("stockouts", func(t *testing.T) {
		got, err := q.Stockouts(ctx(t), w, 10)
		if err != nil {
			t.Fatal(err)
		}
		c := func(s, r uint64, ru int64) analytics.StockoutCounts {
			return analytics.StockoutCounts{Stockouts: s, Refusals: r, RefusedUnits: ru}
		}
		same(t, "stockouts", got, analytics.Stockouts{From: from, To: to, Limit: 10, Totals: c(2, 2, 7),
			SKUs: []analytics.SKUStockouts{{SKU: "sku-a", StockoutCounts: c(1, 1, 3)}, {SKU: "sku-b", StockoutCounts: c(1, 1, 4)}},
			Minutes: []analytics.StockoutMinute{
				{Minute: minute(0), StockoutCounts: c(1, 1, 3)},
				{Minute: minute(1), StockoutCounts: c(1, 1, 4)},
			}})
	})
}

// TestEmptyWindow: a window without rows reads as zeros and empty lists, not as errors or nulls.
func TestEmptyWindow(t *testing.T) {
	conn, _ := clickhousetest.Database(t)
	analyticstest.Migrate(t, conn)
	analyticstest.Seed(t, conn, t0)
	q := analytics.NewQuerier(conn)
	from := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(time.Hour)
	w := window(t, from, to)

	orders, err := q.Orders(ctx(t), w)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "orders", orders, analytics.Orders{From: from, To: to,
		Totals: analytics.OrderTotals{ByCurrency: []analytics.CurrencyGMV{}}, Minutes: []analytics.OrderMinute{}})
	sales, err := q.FlashSales(ctx(t), w)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "flashsales", sales, analytics.FlashSales{From: from, To: to, Sales: []analytics.FlashSale{}})
	res, err := q.Reservations(ctx(t), w)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "reservations", res, analytics.Reservations{From: from, To: to, Minutes: []analytics.ReservationMinute{}})
	fraud, err := q.Fraud(ctx(t), w)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "fraud", fraud, analytics.Fraud{From: from, To: to, ByOutcome: []analytics.OutcomeCount{},
		ByReason: []analytics.ReasonCount{}, Minutes: []analytics.FraudMinute{}})
	prices, err := q.Prices(ctx(t), w, 5)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "prices", prices, analytics.Prices{From: from, To: to, Limit: 5, SKUs: []analytics.SKUPrice{}})
	top, err := q.TopSKUs(ctx(t), w, analytics.ByRevenue, 5)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "top-skus", top, analytics.TopSKUs{From: from, To: to, By: analytics.ByRevenue, Limit: 5, SKUs: []analytics.SKUSales{}})
	st, err := q.Stockouts(ctx(t), w, 5)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "stockouts", st, analytics.Stockouts{From: from, To: to, Limit: 5,
		SKUs: []analytics.SKUStockouts{}, Minutes: []analytics.StockoutMinute{}})
}

// TestQueriesRun runs every statement Queries lists, on an empty schema and on the scenario.
func TestQueriesRun(t *testing.T) {
	conn, _ := clickhousetest.Database(t)
	analyticstest.Migrate(t, conn)
	w := window(t, t0, t0.Add(time.Hour))
	run := func() {
		for _, nq := range analytics.Queries(w) {
			rows, err := conn.Query(ctx(t), nq.SQL)
			if err != nil {
				t.Errorf("%s: %v\n%s", nq.Name, err, nq.SQL)
				continue
			}
			for rows.Next() {
			}
			if err := rows.Err(); err != nil {
				t.Errorf("%s: %v", nq.Name, err)
			}
			rows.Close()
		}
	}
	run()
	analyticstest.Seed(t, conn, t0)
	run()
}

// TestReadTimesOut: a read whose context ends fails with the context's error rather than hang.
func TestReadTimesOut(t *testing.T) {
	conn, _ := clickhousetest.Database(t)
	analyticstest.Migrate(t, conn)
	q := analytics.NewQuerier(conn)
	c, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := q.Orders(c, window(t, t0, t0.Add(time.Hour))); err == nil {
		t.Error("a read with a cancelled context succeeded")
	}
}

// Every query the dashboards run gives the same rows on 18.16 and on a current ClickHouse, over
// the same sample rows, and most give some.
func TestQueriesOnOldAndCurrentClickHouse(t *testing.T) {
	w, err := analytics.NewWindow(schematest.Start.Add(-time.Hour), schematest.Start.Add(time.Hour), schematest.Start)
	if err != nil {
		t.Fatal(err)
	}
	var qs []chdbtest.Query
	for _, q := range analytics.Queries(w) {
		qs = append(qs, chdbtest.Query(q))
	}
	counts := schematest.Check(t, qs)
	empty := 0
	for _, q := range qs {
		if counts.Old[q.Name] == 0 {
			empty++
		}
	}
	// flashsale_before reads the sales before the window, which the samples have none of.
	if empty > 1 {
		t.Fatalf("%d of %d queries found no rows in the samples: %v", empty, len(qs), counts.Old)
	}
}
