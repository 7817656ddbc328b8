package analytics

import "time"

// The views, as the API sends them: JSON names in snake_case, money in integer minor units of its
// currency, times in UTC (RFC 3339 once encoded). Every list is non-nil, so it encodes as [].

// Orders is orders and GMV per minute.
type Orders struct {
	From    time.Time     `json:"from"`
	To      time.Time     `json:"to"`
	Totals  OrderTotals   `json:"totals"`
	Minutes []OrderMinute `json:"minutes"`
}

// OrderTotals are the window's orders, and what the confirmed ones sold in each currency.
type OrderTotals struct {
	Orders     uint64        `json:"orders"`
	Confirmed  uint64        `json:"confirmed"`
	Rejected   uint64        `json:"rejected"`
	ByCurrency []CurrencyGMV `json:"by_currency"`
}

// CurrencyGMV is what confirmed orders sold in one currency.
type CurrencyGMV struct {
	Currency string `json:"currency"`
	// Orders are the confirmed orders in the currency.
	Orders   uint64 `json:"orders"`
	GMVMinor int64  `json:"gmv_minor"`
	Units    int64  `json:"units"`
}

// OrderMinute is one minute's orders; ByCurrency, sorted by currency, leaves out currencies
// without a confirmed order.
type OrderMinute struct {
	Minute     time.Time     `json:"minute"`
	Orders     uint64        `json:"orders"`
	Confirmed  uint64        `json:"confirmed"`
	Rejected   uint64        `json:"rejected"`
	ByCurrency []CurrencyGMV `json:"by_currency"`
}

// FlashSales is the sell-through of the flash sales that ran during the window or had results in
// it, sorted by sale id.
type FlashSales struct {
	From  time.Time   `json:"from"`
	To    time.Time   `json:"to"`
	Sales []FlashSale `json:"sales"`
}

// FlashSale is one sale. Sold counts every unit sold up to the window's end, also before it: the
// sell-through is the sale's, not the window's. A sale with results but no definition known has
// no SKU and 0 units.
type FlashSale struct {
	SaleID      string  `json:"sale_id"`
	SKU         string  `json:"sku"`
	Units       int64   `json:"units"`
	Sold        int64   `json:"sold"`
	SellThrough float64 `json:"sell_through"`
	// Minutes are the minutes of the window in which the sale had results, with what it had sold
	// by each minute's end.
	Minutes []FlashSaleMinute `json:"minutes"`
}

// FlashSaleMinute is a sale's cumulative sales at the end of a minute.
type FlashSaleMinute struct {
	Minute      time.Time `json:"minute"`
	Sold        int64     `json:"sold"`
	SellThrough float64   `json:"sell_through"`
}

// Reservations is how reservations ended, per minute and in total.
type Reservations struct {
	From    time.Time           `json:"from"`
	To      time.Time           `json:"to"`
	Totals  ReservationCounts   `json:"totals"`
	Minutes []ReservationMinute `json:"minutes"`
}

// ReservationCounts count the inventory's reservation events. The rates are over the
// reservations made in the same span, 0 when none were; a commit in one minute may be of a
// reservation made in an earlier one.
type ReservationCounts struct {
	Reserved       uint64  `json:"reserved"`
	Committed      uint64  `json:"committed"`
	Released       uint64  `json:"released"`
	Expired        uint64  `json:"expired"`
	Rejected       uint64  `json:"rejected"`
	ReservedUnits  int64   `json:"reserved_units"`
	ConversionRate float64 `json:"conversion_rate"`
	ExpiryRate     float64 `json:"expiry_rate"`
}

// ReservationMinute is one minute's counts.
type ReservationMinute struct {
	Minute time.Time `json:"minute"`
	ReservationCounts
}

// Fraud is the fraud decisions of the window.
type Fraud struct {
	From      time.Time      `json:"from"`
	To        time.Time      `json:"to"`
	Decisions uint64         `json:"decisions"`
	ByOutcome []OutcomeCount `json:"by_outcome"`
	// ByReason is most given first: a decision counts once under each reason it gave.
	ByReason []ReasonCount `json:"by_reason"`
	Minutes  []FraudMinute `json:"minutes"`
}

// OutcomeCount is the decisions with one outcome (approve, review, reject).
type OutcomeCount struct {
	Outcome   string `json:"outcome"`
	Decisions uint64 `json:"decisions"`
}

// ReasonCount is the decisions with one outcome that gave one reason.
type ReasonCount struct {
	Reason    string `json:"reason"`
	Outcome   string `json:"outcome"`
	Decisions uint64 `json:"decisions"`
}

// FraudMinute is one minute's decisions by outcome, sorted by outcome.
type FraudMinute struct {
	Minute    time.Time      `json:"minute"`
	Decisions uint64         `json:"decisions"`
	ByOutcome []OutcomeCount `json:"by_outcome"`
}

// Prices is the SKUs whose price changed most often in the window, most first.
type Prices struct {
	From  time.Time  `json:"from"`
	To    time.Time  `json:"to"`
	Limit int        `json:"limit"`
	SKUs  []SKUPrice `json:"skus"`
}

// SKUPrice is a SKU's changes in the window and its last price before the window's end.
type SKUPrice struct {
	SKU        string `json:"sku"`
	Changes    uint64 `json:"changes"`
	PriceMinor int64  `json:"price_minor"`
	Currency   string `json:"currency"`
	Version    int64  `json:"version"`
}

// TopSKUs is the best-selling SKUs, by units or by revenue. A SKU sold in two currencies is two
// entries: revenues in different currencies do not add up.
type TopSKUs struct {
	From  time.Time  `json:"from"`
	To    time.Time  `json:"to"`
	By    By         `json:"by"`
	Limit int        `json:"limit"`
	SKUs  []SKUSales `json:"skus"`
}

// SKUSales is what a SKU sold in one currency; Orders counts the order lines.
type SKUSales struct {
	SKU          string `json:"sku"`
	Currency     string `json:"currency"`
	Units        int64  `json:"units"`
	RevenueMinor int64  `json:"revenue_minor"`
	Orders       uint64 `json:"orders"`
}

// Stockouts is the reservations that took a SKU's last unit and those refused for want of
// stock: totals, the SKUs with most (stock-outs first), and per minute.
type Stockouts struct {
	From    time.Time        `json:"from"`
	To      time.Time        `json:"to"`
	Limit   int              `json:"limit"`
	Totals  StockoutCounts   `json:"totals"`
	SKUs    []SKUStockouts   `json:"skus"`
	Minutes []StockoutMinute `json:"minutes"`
}

// StockoutCounts count stock-outs and refusals.
type StockoutCounts struct {
	Stockouts    uint64 `json:"stockouts"`
	Refusals     uint64 `json:"refusals"`
	RefusedUnits int64  `json:"refused_units"`
}

// SKUStockouts is one SKU's counts.
type SKUStockouts struct {
	SKU string `json:"sku"`
	StockoutCounts
}

// StockoutMinute is one minute's counts.
type StockoutMinute struct {
	Minute time.Time `json:"minute"`
	StockoutCounts
}

// ratio is n over d, 0 when d is 0.
func ratio[N int64 | uint64](n, d N) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// sellThrough is sold over units, within 0..1: a sale's results may reach the table before its
// definition does, or outlive a redefinition with fewer units.
func sellThrough(sold, units int64) float64 {
	return min(max(ratio(sold, units), 0), 1)
}
