package analytics

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/titan-commerce/titan/sinks/clickhouse"
)

// Querier answers the views from a ClickHouse database that holds the schema of
// clickhouse.Migrations. Its methods are safe for concurrent use; each read is bounded by the
// context's deadline and the connection's ReadTimeout.
type Querier struct {
	conn *clickhouse.Conn
}

// NewQuerier reads through conn.
func NewQuerier(conn *clickhouse.Conn) *Querier { return &Querier{conn: conn} }

// query runs one statement and calls scan for each row.
func (q *Querier) query(ctx context.Context, name, sql string, scan func(driver.Rows) error) error {
	rows, err := q.conn.Query(ctx, sql)
	if err != nil {
		return fmt.Errorf("analytics: %s: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("analytics: %s: scan: %w", name, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("analytics: %s: %w", name, err)
	}
	return nil
}

func checkWindow(w Window) error {
	if w.IsZero() {
		return &WindowError{"from", "is not set"}
	}
	return nil
}

func minuteOf(ts uint32) time.Time { return time.Unix(int64(ts), 0).UTC() }

// Orders is orders and GMV per minute of w.
func (q *Querier) Orders(ctx context.Context, w Window) (Orders, error) {
	out := Orders{From: w.from, To: w.to, Minutes: []OrderMinute{}}
	out.Totals.ByCurrency = []CurrencyGMV{}
	if err := checkWindow(w); err != nil {
		return out, err
	}
	totals := map[string]*CurrencyGMV{}
	err := q.query(ctx, "orders", ordersSQL(w), func(r driver.Rows) error {
		var (
			ts                         uint32
			currency                   string
			orders, confirmed, rejectd uint64
			gmv, units                 int64
		)
		if err := r.Scan(&ts, &currency, &orders, &confirmed, &rejectd, &gmv, &units); err != nil {
			return err
		}
		minute := minuteOf(ts)
		if n := len(out.Minutes); n == 0 || !out.Minutes[n-1].Minute.Equal(minute) {
			out.Minutes = append(out.Minutes, OrderMinute{Minute: minute, ByCurrency: []CurrencyGMV{}})
		}
		m := &out.Minutes[len(out.Minutes)-1]
		m.Orders += orders
		m.Confirmed += confirmed
		m.Rejected += rejectd
		out.Totals.Orders += orders
		out.Totals.Confirmed += confirmed
		out.Totals.Rejected += rejectd
		if confirmed == 0 && gmv == 0 && units == 0 {
			return nil
		}
		m.ByCurrency = append(m.ByCurrency, CurrencyGMV{Currency: currency, Orders: confirmed, GMVMinor: gmv, Units: units})
		t := totals[currency]
		if t == nil {
			t = &CurrencyGMV{Currency: currency}
			totals[currency] = t
		}
		t.Orders += confirmed
		t.GMVMinor += gmv
		t.Units += units
		return nil
	})
	if err != nil {
		return out, err
	}
	for _, t := range totals {
		out.Totals.ByCurrency = append(out.Totals.ByCurrency, *t)
	}
	slices.SortFunc(out.Totals.ByCurrency, func(a, b CurrencyGMV) int { return strings.Compare(a.Currency, b.Currency) })
	return out, nil
}

// FlashSales is the sell-through of the sales that ran during w or had results in it.
func (q *Querier) FlashSales(ctx context.Context, w Window) (FlashSales, error) {
	out := FlashSales{From: w.from, To: w.to, Sales: []FlashSale{}}
	if err := checkWindow(w); err != nil {
		return out, err
	}
	sales := map[string]*FlashSale{}
	sale := func(id string) *FlashSale {
		s := sales[id]
		if s == nil {
			s = &FlashSale{SaleID: id, Minutes: []FlashSaleMinute{}}
			sales[id] = s
		}
		return s
	}
	err := q.query(ctx, "flashsale_sales", flashSalesSQL(w), func(r driver.Rows) error {
		var (
			id, sku    string
			units      int64
			start, end uint32
		)
		if err := r.Scan(&id, &sku, &units, &start, &end); err != nil {
			return err
		}
		s := sale(id)
		s.SKU, s.Units = sku, units
		return nil
	})
	if err != nil {
		return out, err
	}
	before := map[string]int64{}
	err = q.query(ctx, "flashsale_before", flashBeforeSQL(w), func(r driver.Rows) error {
		var (
			id   string
			sold int64
		)
		if err := r.Scan(&id, &sold); err != nil {
			return err
		}
		before[id] = sold
		return nil
	})
	if err != nil {
		return out, err
	}
	for id, s := range sales {
		s.Sold = before[id]
	}
	// Rows come by sale, then minute, so each sale's running sum grows in order.
	err = q.query(ctx, "flashsale_minutes", flashMinutesSQL(w), func(r driver.Rows) error {
		var (
			ts   uint32
			id   string
			sold int64
		)
		if err := r.Scan(&ts, &id, &sold); err != nil {
			return err
		}
		s, known := sales[id]
		if !known {
			s = sale(id)
			s.Sold = before[id]
		}
		s.Sold += sold
		s.Minutes = append(s.Minutes, FlashSaleMinute{Minute: minuteOf(ts), Sold: s.Sold})
		return nil
	})
	if err != nil {
		return out, err
	}
	for _, s := range sales {
		s.SellThrough = sellThrough(s.Sold, s.Units)
		for i := range s.Minutes {
			s.Minutes[i].SellThrough = sellThrough(s.Minutes[i].Sold, s.Units)
		}
		out.Sales = append(out.Sales, *s)
	}
	slices.SortFunc(out.Sales, func(a, b FlashSale) int { return strings.Compare(a.SaleID, b.SaleID) })
	return out, nil
}

// Reservations is how the reservations of w ended.
func (q *Querier) Reservations(ctx context.Context, w Window) (Reservations, error) {
	out := Reservations{From: w.from, To: w.to, Minutes: []ReservationMinute{}}
	if err := checkWindow(w); err != nil {
		return out, err
	}
	err := q.query(ctx, "reservations", reservationsSQL(w), func(r driver.Rows) error {
		var (
			ts uint32
			c  ReservationCounts
		)
		if err := r.Scan(&ts, &c.Reserved, &c.Committed, &c.Released, &c.Expired, &c.Rejected, &c.ReservedUnits); err != nil {
			return err
		}
		c.rates()
		out.Minutes = append(out.Minutes, ReservationMinute{Minute: minuteOf(ts), ReservationCounts: c})
		t := &out.Totals
		t.Reserved += c.Reserved
		t.Committed += c.Committed
		t.Released += c.Released
		t.Expired += c.Expired
		t.Rejected += c.Rejected
		t.ReservedUnits += c.ReservedUnits
		return nil
	})
	out.Totals.rates()
	return out, err
}

func (c *ReservationCounts) rates() {
	c.ConversionRate = ratio(c.Committed, c.Reserved)
	c.ExpiryRate = ratio(c.Expired, c.Reserved)
}

// Fraud is the fraud decisions of w, by outcome, by reason and per minute.
func (q *Querier) Fraud(ctx context.Context, w Window) (Fraud, error) {
	out := Fraud{From: w.from, To: w.to, ByOutcome: []OutcomeCount{}, ByReason: []ReasonCount{}, Minutes: []FraudMinute{}}
	if err := checkWindow(w); err != nil {
		return out, err
	}
	outcomes := map[string]uint64{}
	err := q.query(ctx, "fraud_minutes", fraudMinutesSQL(w), func(r driver.Rows) error {
		var (
			ts      uint32
			outcome string
			n       uint64
		)
		if err := r.Scan(&ts, &outcome, &n); err != nil {
			return err
		}
		minute := minuteOf(ts)
		if k := len(out.Minutes); k == 0 || !out.Minutes[k-1].Minute.Equal(minute) {
			out.Minutes = append(out.Minutes, FraudMinute{Minute: minute, ByOutcome: []OutcomeCount{}})
		}
		m := &out.Minutes[len(out.Minutes)-1]
		m.Decisions += n
		m.ByOutcome = append(m.ByOutcome, OutcomeCount{Outcome: outcome, Decisions: n})
		out.Decisions += n
		outcomes[outcome] += n
		return nil
	})
	if err != nil {
		return out, err
	}
	for o, n := range outcomes {
		out.ByOutcome = append(out.ByOutcome, OutcomeCount{Outcome: o, Decisions: n})
	}
	slices.SortFunc(out.ByOutcome, func(a, b OutcomeCount) int { return strings.Compare(a.Outcome, b.Outcome) })
	err = q.query(ctx, "fraud_reasons", fraudReasonsSQL(w), func(r driver.Rows) error {
		var c ReasonCount
		if err := r.Scan(&c.Reason, &c.Outcome, &c.Decisions); err != nil {
			return err
		}
		out.ByReason = append(out.ByReason, c)
		return nil
	})
	return out, err
}

// Prices is the limit SKUs whose price changed most often in w, with their last price.
func (q *Querier) Prices(ctx context.Context, w Window, limit int) (Prices, error) {
	out := Prices{From: w.from, To: w.to, Limit: limit, SKUs: []SKUPrice{}}
	if err := checkWindow(w); err != nil {
		return out, err
	}
	if err := checkLimit(limit); err != nil {
		return out, err
	}
	err := q.query(ctx, "price_changes", priceChangesSQL(w, limit), func(r driver.Rows) error {
		var p SKUPrice
		if err := r.Scan(&p.SKU, &p.Changes); err != nil {
			return err
		}
		out.SKUs = append(out.SKUs, p)
		return nil
	})
	if err != nil || len(out.SKUs) == 0 {
		return out, err
	}
	last := map[string]SKUPrice{}
	err = q.query(ctx, "price_last", priceLastSQL(w, limit), func(r driver.Rows) error {
		var p SKUPrice
		if err := r.Scan(&p.SKU, &p.PriceMinor, &p.Currency, &p.Version); err != nil {
			return err
		}
		last[p.SKU] = p
		return nil
	})
	for i := range out.SKUs {
		p := &out.SKUs[i]
		l := last[p.SKU]
		p.PriceMinor, p.Currency, p.Version = l.PriceMinor, l.Currency, l.Version
	}
	return out, err
}

// TopSKUs is the limit best-selling SKUs of w, by units or by revenue.
func (q *Querier) TopSKUs(ctx context.Context, w Window, by By, limit int) (TopSKUs, error) {
	out := TopSKUs{From: w.from, To: w.to, By: by, Limit: limit, SKUs: []SKUSales{}}
	if err := checkWindow(w); err != nil {
		return out, err
	}
	if err := checkLimit(limit); err != nil {
		return out, err
	}
	if by != ByUnits && by != ByRevenue {
		return out, ErrBy
	}
	err := q.query(ctx, "top_skus_by_"+string(by), topSKUsSQL(w, by, limit), func(r driver.Rows) error {
		var s SKUSales
		if err := r.Scan(&s.SKU, &s.Currency, &s.Units, &s.RevenueMinor, &s.Orders); err != nil {
			return err
		}
		out.SKUs = append(out.SKUs, s)
		return nil
	})
	return out, err
}

// Stockouts is the stock-outs and refusals of w: totals, the limit SKUs with most, per minute.
func (q *Querier) Stockouts(ctx context.Context, w Window, limit int) (Stockouts, error) {
	out := Stockouts{From: w.from, To: w.to, Limit: limit, SKUs: []SKUStockouts{}, Minutes: []StockoutMinute{}}
	if err := checkWindow(w); err != nil {
		return out, err
	}
	if err := checkLimit(limit); err != nil {
		return out, err
	}
	err := q.query(ctx, "stockout_minutes", stockoutMinutesSQL(w), func(r driver.Rows) error {
		var (
			ts uint32
			c  StockoutCounts
		)
		if err := r.Scan(&ts, &c.Stockouts, &c.Refusals, &c.RefusedUnits); err != nil {
			return err
		}
		out.Minutes = append(out.Minutes, StockoutMinute{Minute: minuteOf(ts), StockoutCounts: c})
		out.Totals.Stockouts += c.Stockouts
		out.Totals.Refusals += c.Refusals
		out.Totals.RefusedUnits += c.RefusedUnits
		return nil
	})
	if err != nil {
		return out, err
	}
	err = q.query(ctx, "stockout_skus", stockoutSKUsSQL(w, limit), func(r driver.Rows) error {
		var s SKUStockouts
		if err := r.Scan(&s.SKU, &s.Stockouts, &s.Refusals, &s.RefusedUnits); err != nil {
			return err
		}
		out.SKUs = append(out.SKUs, s)
		return nil
	})
	return out, err
}
