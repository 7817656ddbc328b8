package analytics

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The statements. Each builder takes a valid Window and, where it has them, a limit and a By
// checked by checkLimit and ParseBy; it formats nothing else into the text. Aliases never repeat
// a column's name (18.16 reads `sum(x) AS x` as a cycle), and every count is summed again since
// a SummingMergeTree merges the rows of one key only eventually.

// NamedQuery is one statement the package runs, under the name of what it answers.
type NamedQuery struct {
	Name string `json:"name"`
	SQL  string `json:"sql"`
}

// Limits on the lists of SKUs.
const (
	DefaultLimit = 10
	MaxLimit     = 100
)

// ErrLimit is returned for a limit outside 1..MaxLimit.
var ErrLimit = errors.New("analytics: limit must be from 1 to 100")

func checkLimit(limit int) error {
	if limit < 1 || limit > MaxLimit {
		return ErrLimit
	}
	return nil
}

// By is what the top SKUs are ranked by.
type By string

// The rankings of the top SKUs.
const (
	ByUnits   By = "units"
	ByRevenue By = "revenue"
)

// ErrBy is returned for a ranking other than units or revenue.
var ErrBy = errors.New(`analytics: by must be "units" or "revenue"`)

// ParseBy reads a ranking; the empty string is ByUnits.
func ParseBy(s string) (By, error) {
	switch By(s) {
	case "", ByUnits:
		return ByUnits, nil
	case ByRevenue:
		return ByRevenue, nil
	}
	return "", ErrBy
}

// lookBack is how long before a window a flash sale running in it may have been defined, and
// sold: a sale ends at most 6 days after it is created.
const lookBack = 7 * 24 * time.Hour

func dateTime(t time.Time) string { return "toDateTime(" + strconv.FormatInt(t.Unix(), 10) + ")" }

// inWindow selects the summary rows of the minutes that start inside w.
func inWindow(w Window) string {
	return "minute >= " + dateTime(w.from) + " AND minute < " + dateTime(w.to)
}

func ordersSQL(w Window) string {
	return `SELECT toUInt32(minute) AS ts, currency,
    sum(orders), sum(confirmed), sum(rejected), sum(gmv_minor), sum(units)
FROM orders_per_minute
WHERE ` + inWindow(w) + `
GROUP BY ts, currency
ORDER BY ts, currency`
}

// flashSalesSQL lists the definitions of the sales that ran during w or had results in it, each as
// last defined before w ended.
func flashSalesSQL(w Window) string {
	return fmt.Sprintf(`SELECT sale_id,
    argMax(sku, event_time) AS sale_sku,
    argMax(units, event_time) AS sale_units,
    toUInt32(argMax(starts_at, event_time)) AS sale_start,
    toUInt32(argMax(ends_at, event_time)) AS sale_end
FROM flashsale_sales
WHERE event_time >= %s AND event_time < %s
GROUP BY sale_id
HAVING (sale_start < %d AND sale_end > %d)
    OR sale_id IN (SELECT sale_id FROM flashsale_per_minute WHERE %s)
ORDER BY sale_id`,
		dateTime(w.from.Add(-lookBack)), dateTime(w.to), w.to.Unix(), w.from.Unix(), inWindow(w))
}

// flashMinutesSQL is what each sale sold in each minute of w.
func flashMinutesSQL(w Window) string {
	return `SELECT toUInt32(minute) AS ts, sale_id, sum(purchased_units)
FROM flashsale_per_minute
WHERE ` + inWindow(w) + `
GROUP BY ts, sale_id
ORDER BY sale_id, ts`
}

// flashBeforeSQL is what each sale sold before w, for the sell-through at its start.
func flashBeforeSQL(w Window) string {
	return `SELECT sale_id, sum(purchased_units)
FROM flashsale_per_minute
WHERE minute >= ` + dateTime(w.from.Add(-lookBack)) + ` AND minute < ` + dateTime(w.from) + `
GROUP BY sale_id
ORDER BY sale_id`
}

func reservationsSQL(w Window) string {
	return `SELECT toUInt32(minute) AS ts,
    sum(reserved), sum(committed), sum(released), sum(expired), sum(rejected), sum(reserved_units)
FROM reservations_per_minute
WHERE ` + inWindow(w) + `
GROUP BY ts
ORDER BY ts`
}

func fraudMinutesSQL(w Window) string {
	return `SELECT toUInt32(minute) AS ts, outcome, sum(decisions)
FROM fraud_per_minute
WHERE ` + inWindow(w) + `
GROUP BY ts, outcome
ORDER BY ts, outcome`
}

func fraudReasonsSQL(w Window) string {
	return `SELECT reason, outcome, sum(decisions) AS n
FROM fraud_reasons_per_minute
WHERE ` + inWindow(w) + `
GROUP BY reason, outcome
ORDER BY n DESC, reason, outcome`
}

// priceChangesSQL ranks the SKUs by their price changes in w.
func priceChangesSQL(w Window, limit int) string {
	return `SELECT sku, sum(changes) AS n
FROM price_changes_per_minute
WHERE ` + inWindow(w) + `
GROUP BY sku
ORDER BY n DESC, sku
LIMIT ` + strconv.Itoa(limit)
}

// priceLastSQL is the last price, before w ended, of each SKU priceChangesSQL ranks; the raw
// table may hold a change twice, which argMax by version does not mind.
func priceLastSQL(w Window, limit int) string {
	return `SELECT sku, argMax(price_minor, version), argMax(currency, version), max(version)
FROM price_changes
WHERE event_time < ` + dateTime(w.to) + `
    AND sku IN (SELECT sku FROM (` + priceChangesSQL(w, limit) + `))
GROUP BY sku
ORDER BY sku`
}

func topSKUsSQL(w Window, by By, limit int) string {
	order := "u DESC, r DESC"
	if by == ByRevenue {
		order = "r DESC, u DESC"
	}
	return `SELECT sku, currency, sum(units) AS u, sum(revenue_minor) AS r, sum(orders)
FROM sku_sales_per_minute
WHERE ` + inWindow(w) + `
GROUP BY sku, currency
ORDER BY ` + order + `, sku, currency
LIMIT ` + strconv.Itoa(limit)
}

// The stock-out summary has a row for every reservation, most of them zeros.
func stockoutSKUsSQL(w Window, limit int) string {
	return `SELECT sku, sum(stockouts) AS s, sum(refusals) AS r, sum(refused_units)
FROM stockouts_per_minute
WHERE ` + inWindow(w) + `
GROUP BY sku
HAVING s > 0 OR r > 0
ORDER BY s DESC, r DESC, sku
LIMIT ` + strconv.Itoa(limit)
}

func stockoutMinutesSQL(w Window) string {
	return `SELECT toUInt32(minute) AS ts, sum(stockouts) AS s, sum(refusals) AS r, sum(refused_units)
FROM stockouts_per_minute
WHERE ` + inWindow(w) + `
GROUP BY ts
HAVING s > 0 OR r > 0
ORDER BY ts`
}

// Queries lists every statement the package can run for w, the limited ones at DefaultLimit and
// the top SKUs by each ranking, so that a test can run each on another server.
func Queries(w Window) []NamedQuery {
	return []NamedQuery{
		{"orders", ordersSQL(w)},
		{"flashsale_sales", flashSalesSQL(w)},
		{"flashsale_minutes", flashMinutesSQL(w)},
		{"flashsale_before", flashBeforeSQL(w)},
		{"reservations", reservationsSQL(w)},
		{"fraud_minutes", fraudMinutesSQL(w)},
		{"fraud_reasons", fraudReasonsSQL(w)},
		{"price_changes", priceChangesSQL(w, DefaultLimit)},
		{"price_last", priceLastSQL(w, DefaultLimit)},
		{"top_skus_by_units", topSKUsSQL(w, ByUnits, DefaultLimit)},
		{"top_skus_by_revenue", topSKUsSQL(w, ByRevenue, DefaultLimit)},
		{"stockout_skus", stockoutSKUsSQL(w, DefaultLimit)},
		{"stockout_minutes", stockoutMinutesSQL(w)},
	}
}
