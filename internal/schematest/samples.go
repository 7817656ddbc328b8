package schematest

import "time"

// Start is the minute the sample rows begin at; they span its first few minutes. A dashboard
// query checked against the samples takes a time range around it.
var Start = time.Date(2026, time.January, 15, 10, 0, 0, 0, time.UTC)

// Sample is sample rows for one raw table, each row holding one Go value per column of the types
// clickhouse-go appends to them: String string, Int32 int32, Int64 int64, UInt32 uint32, UInt8
// uint8, Float64 float64, Array(String) []string, DateTime time.Time.
type Sample struct {
	Table   string
	Columns []string
	Rows    [][]any
}

// at is the sample time sec seconds after Start.
func at(sec int) time.Time { return Start.Add(time.Duration(sec) * time.Second) }

// Samples returns rows for every raw table of the schema, chosen so that every materialized view
// writes at least one row, through every branch of its countIf and sumIf where a row can: a
// confirmed and a rejected order, a reservation that took the last unit, a refusal for want of
// stock, purchases and a refusal in a flash sale, and so on. Their timestamps fall in the first
// three minutes after Start.
func Samples() []Sample {
	return []Sample{
		{
			Table:   "inventory_events",
			Columns: []string{"topic", "partition", "offset", "type", "command_id", "order_id", "sku", "qty", "reason", "seq", "on_hand", "reserved", "sold", "event_time"},
			Rows: [][]any{
				{"inventory-events", int32(0), int64(1), "reserved", "cmd-1", "ord-1", "sku-a", int64(2), "", int64(1), int64(10), int64(2), int64(0), at(5)},
				{"inventory-events", int32(0), int64(2), "reserved", "cmd-2", "ord-2", "sku-b", int64(1), "", int64(1), int64(1), int64(1), int64(0), at(20)},
				{"inventory-events", int32(0), int64(3), "rejected", "cmd-3", "ord-3", "sku-b", int64(4), "insufficient_stock", int64(2), int64(1), int64(1), int64(0), at(30)},
				{"inventory-events", int32(1), int64(1), "committed", "cmd-4", "ord-1", "sku-a", int64(2), "", int64(2), int64(8), int64(0), int64(2), at(65)},
				{"inventory-events", int32(1), int64(2), "released", "cmd-5", "ord-4", "sku-c", int64(1), "cancelled", int64(1), int64(5), int64(0), int64(0), at(70)},
				{"inventory-events", int32(1), int64(3), "expired", "cmd-6", "ord-2", "sku-b", int64(1), "ttl", int64(3), int64(1), int64(0), int64(0), at(130)},
			},
		},
		{
			Table:   "order_events",
			Columns: []string{"topic", "partition", "offset", "event_id", "order_id", "kind", "user_id", "currency", "lines", "units", "amount_minor", "reason", "event_time"},
			Rows: [][]any{
				{"order-events", int32(0), int64(1), "ev-1", "ord-1", "placed", "user-1", "EUR", uint32(1), int64(2), int64(2400), "", at(4)},
				{"order-events", int32(0), int64(2), "ev-2", "ord-5", "rejected", "user-2", "", uint32(0), int64(0), int64(0), "fraud", at(50)},
			},
		},
		{
			Table:   "order_outcomes",
			Columns: []string{"topic", "partition", "offset", "event_id", "order_id", "status", "user_id", "currency", "total_minor", "units", "lines", "review", "review_reasons", "reason", "detail", "event_time"},
			Rows: [][]any{
				{"order-outcomes", int32(0), int64(1), "ev-10", "ord-1", "confirmed", "user-1", "EUR", int64(2400), int64(2), uint32(1), uint8(0), []string{}, "", "", at(10)},
				{"order-outcomes", int32(0), int64(2), "ev-11", "ord-6", "confirmed", "user-3", "USD", int64(999), int64(1), uint32(1), uint8(1), []string{"new_account", "high_value"}, "", "", at(15)},
				{"order-outcomes", int32(1), int64(1), "ev-12", "ord-5", "rejected", "user-2", "", int64(0), int64(0), uint32(0), uint8(0), []string{}, "fraud", "the model's score was 0.97", at(75)},
			},
		},
		{
			Table:   "order_lines",
			Columns: []string{"topic", "partition", "offset", "line", "order_id", "sku", "qty", "unit_price_minor", "revenue_minor", "currency", "event_time"},
			Rows: [][]any{
				{"order-outcomes", int32(0), int64(1), uint32(0), "ord-1", "sku-a", int64(2), int64(1200), int64(2400), "EUR", at(10)},
				{"order-outcomes", int32(0), int64(2), uint32(0), "ord-6", "sku-b", int64(1), int64(999), int64(999), "USD", at(15)},
			},
		},
		{
			Table:   "saga_events",
			Columns: []string{"topic", "partition", "offset", "order_id", "kind", "sku", "line", "found", "price_minor", "currency", "steps", "event_time"},
			Rows: [][]any{
				{"order-saga", int32(0), int64(1), "ord-1", "priced", "sku-a", int32(0), uint8(1), int64(1200), "EUR", int64(2), at(6)},
			},
		},
		{
			Table:   "fraud_decisions",
			Columns: []string{"topic", "partition", "offset", "order_id", "user_id", "outcome", "score", "reasons", "model_version", "event_time"},
			Rows: [][]any{
				{"fraud-decisions", int32(0), int64(1), "ord-1", "user-1", "approve", 0.12, []string{}, "v3", at(8)},
				{"fraud-decisions", int32(0), int64(2), "ord-6", "user-3", "review", 0.61, []string{"new_account", "high_value"}, "v3", at(14)},
				{"fraud-decisions", int32(0), int64(3), "ord-5", "user-2", "reject", 0.97, []string{"velocity"}, "v3", at(74)},
			},
		},
		{
			Table:   "fraud_decision_reasons",
			Columns: []string{"topic", "partition", "offset", "line", "order_id", "outcome", "reason", "contribution", "event_time"},
			Rows: [][]any{
				{"fraud-decisions", int32(0), int64(2), uint32(0), "ord-6", "review", "new_account", 0.3, at(14)},
				{"fraud-decisions", int32(0), int64(2), uint32(1), "ord-6", "review", "high_value", 0.2, at(14)},
				{"fraud-decisions", int32(0), int64(3), uint32(0), "ord-5", "reject", "velocity", 0.8, at(74)},
			},
		},
		{
			Table:   "flashsale_sales",
			Columns: []string{"topic", "partition", "offset", "sale_id", "sku", "units", "price_minor", "per_user_limit", "buckets", "starts_at", "ends_at", "event_time"},
			Rows: [][]any{
				{"flashsale-sales", int32(0), int64(1), "sale-1", "sku-d", int64(10), int64(500), int64(2), int32(4), at(0), at(600), at(0)},
			},
		},
		{
			Table:   "flashsale_results",
			Columns: []string{"topic", "partition", "offset", "sale_id", "idempotency_key", "user_id", "qty", "status", "reason", "bucket", "price_minor", "event_time"},
			Rows: [][]any{
				{"flashsale-results", int32(0), int64(1), "sale-1", "idem-1", "user-1", int64(2), "purchased", "", int32(0), int64(500), at(12)},
				{"flashsale-results", int32(0), int64(2), "sale-1", "idem-2", "user-2", int64(1), "purchased", "", int32(1), int64(500), at(68)},
				{"flashsale-results", int32(0), int64(3), "sale-1", "idem-3", "user-1", int64(1), "rejected", "per_user_limit", int32(0), int64(500), at(69)},
			},
		},
		{
			Table:   "price_changes",
			Columns: []string{"topic", "partition", "offset", "sku", "currency", "base_minor", "price_minor", "cause", "version", "command_id", "rules", "event_time"},
			Rows: [][]any{
				{"price-changes", int32(0), int64(1), "sku-a", "EUR", int64(1200), int64(1100), "rule", int64(2), "cmd-p1", []string{"weekend"}, at(40)},
				{"price-changes", int32(0), int64(2), "sku-a", "EUR", int64(1200), int64(1200), "rule", int64(3), "cmd-p2", []string{}, at(100)},
			},
		},
		{
			Table:   "recommendation_views",
			Columns: []string{"topic", "partition", "offset", "event_id", "user_id", "sku", "session_id", "event_time"},
			Rows: [][]any{
				{"recommendation-views", int32(0), int64(1), "ev-v1", "user-1", "sku-a", "sess-1", at(2)},
			},
		},
	}
}
