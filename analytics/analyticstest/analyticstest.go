// Package analyticstest fills a test database with raw rows, as Titan's ClickHouse sink writes
// them, so that the materialized views fill the summaries the analytics read. Seed writes one
// scenario whose every number the tests of analytics and api check.
package analyticstest

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/titan-commerce/titan/sinks/clickhouse"
)

// The columns of the raw tables, as the sink names them in its batch INSERTs.
var columns = map[string][]string{
	"order_outcomes": {"topic", "partition", "offset", "event_id", "order_id", "status", "user_id", "currency",
		"total_minor", "units", "lines", "review", "review_reasons", "reason", "detail", "event_time"},
	"order_lines": {"topic", "partition", "offset", "line", "order_id", "sku", "qty", "unit_price_minor",
		"revenue_minor", "currency", "event_time"},
	"inventory_events": {"topic", "partition", "offset", "type", "command_id", "order_id", "sku", "qty", "reason",
		"seq", "on_hand", "reserved", "sold", "event_time"},
	"flashsale_sales": {"topic", "partition", "offset", "sale_id", "sku", "units", "price_minor", "per_user_limit",
		"buckets", "starts_at", "ends_at", "event_time"},
	"flashsale_results": {"topic", "partition", "offset", "sale_id", "idempotency_key", "user_id", "qty", "status",
		"reason", "bucket", "price_minor", "event_time"},
	"fraud_decisions": {"topic", "partition", "offset", "order_id", "user_id", "outcome", "score", "reasons",
		"model_version", "event_time"},
	"fraud_decision_reasons": {"topic", "partition", "offset", "line", "order_id", "outcome", "reason",
		"contribution", "event_time"},
	"price_changes": {"topic", "partition", "offset", "sku", "currency", "base_minor", "price_minor", "cause",
		"version", "command_id", "rules", "event_time"},
}

var offsets atomic.Int64

// Insert writes rows into a raw table, each row the values after (topic, partition, offset),
// which it fills with a new offset per row. Each row goes in its own INSERT, so the summaries get
// a row per insert and a reader has to sum them again.
func Insert(t testing.TB, conn *clickhouse.Conn, table string, rows ...[]any) {
	t.Helper()
	cols, ok := columns[table]
	if !ok {
		t.Fatalf("analyticstest: no table %s", table)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, row := range rows {
		if len(row) != len(cols)-3 {
			t.Fatalf("analyticstest: %s takes %d values, got %d: %v", table, len(cols)-3, len(row), row)
		}
		b, err := conn.Batch(ctx, fmt.Sprintf("INSERT INTO %s (%s)", table, strings.Join(cols, ", ")))
		if err != nil {
			t.Fatal(err)
		}
		values := append([]any{table, int32(0), offsets.Add(1)}, row...)
		if err := b.Append(values...); err != nil {
			t.Fatalf("analyticstest: %s %v: %v", table, row, err)
		}
		if err := b.Send(); err != nil {
			t.Fatalf("analyticstest: %s: %v", table, err)
		}
	}
}

// Migrate applies the schema to the test's database.
func Migrate(t testing.TB, conn *clickhouse.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := conn.Migrate(ctx, clickhouse.Migrations); err != nil {
		t.Fatal(err)
	}
}

// Seed writes the scenario around t0, the start of the hour-long window [t0, t0+1h) the tests
// read; some rows fall just outside it. What each view should say of it is in the tests.
func Seed(t testing.TB, conn *clickhouse.Conn, t0 time.Time) {
	t.Helper()
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	const m = time.Minute
	none := []string{}

	outcome := func(d time.Duration, status, currency string, total, units int64) []any {
		return []any{"e", "o", status, "u", currency, total, units, uint32(1), uint8(0), none, "", "", at(d)}
	}
	Insert(t, conn, "order_outcomes",
		outcome(10*time.Second, "confirmed", "EUR", 1000, 2),
		outcome(20*time.Second, "confirmed", "USD", 500, 1),
		outcome(25*time.Second, "rejected", "", 0, 0),
		outcome(30*time.Second, "confirmed", "EUR", 250, 1),
		outcome(2*m+5*time.Second, "rejected", "", 0, 0),
		outcome(2*m+6*time.Second, "confirmed", "EUR", 100, 1),
		outcome(-30*time.Second, "confirmed", "EUR", 9999, 9),
		outcome(60*m, "confirmed", "EUR", 7777, 7),
	)

	line := func(d time.Duration, order, sku string, qty, revenue int64, currency string) []any {
		return []any{uint32(0), order, sku, qty, revenue / qty, revenue, currency, at(d)}
	}
	Insert(t, conn, "order_lines",
		line(5*time.Second, "o1", "sku-a", 2, 200, "EUR"),
		line(5*time.Second, "o1", "sku-b", 1, 1000, "EUR"),
		line(3*m, "o2", "sku-a", 1, 100, "EUR"),
		line(m+1*time.Second, "o3", "sku-a", 5, 450, "USD"),
		line(-m, "o0", "sku-c", 10, 10, "EUR"),
	)

	inv := func(d time.Duration, typ, sku string, qty int64, reason string, onHand, reserved int64) []any {
		return []any{typ, "c", "o", sku, qty, reason, int64(1), onHand, reserved, int64(0), at(d)}
	}
	Insert(t, conn, "inventory_events",
		inv(1*time.Second, "restocked", "sku-a", 10, "", 10, 0),
		inv(2*time.Second, "reserved", "sku-a", 2, "", 10, 2),
		inv(3*time.Second, "reserved", "sku-a", 8, "", 10, 10),
		inv(4*time.Second, "rejected", "sku-a", 3, "insufficient_stock", 10, 10),
		inv(5*time.Second, "committed", "sku-a", 2, "", 8, 8),
		inv(6*time.Second, "reserved", "sku-d", 1, "", 5, 1),
		inv(m+1*time.Second, "expired", "sku-a", 8, "", 8, 0),
		inv(m+2*time.Second, "reserved", "sku-b", 1, "", 1, 1),
		inv(m+3*time.Second, "rejected", "sku-b", 4, "insufficient_stock", 1, 1),
		inv(m+4*time.Second, "rejected", "sku-c", 1, "invalid", 0, 0),
		inv(3*m, "released", "sku-b", 1, "", 1, 0),
		inv(-time.Second, "reserved", "sku-a", 1, "", 1, 1),
	)

	sale := func(d time.Duration, id, sku string, units int64, starts, ends time.Duration) []any {
		return []any{id, sku, units, int64(100), int64(5), int32(4), at(starts), at(ends), at(d)}
	}
	Insert(t, conn, "flashsale_sales",
		sale(-60*m, "fs-a", "sku-a", 100, -30*m, 120*m),
		sale(-50*m, "fs-a", "sku-a", 50, -30*m, 120*m),
		sale(5*m, "fs-b", "sku-b", 20, 10*m, 180*m),
		sale(-72*60*m, "fs-old", "sku-c", 5, -72*60*m, -48*60*m),
		sale(30*m, "fs-c", "sku-c", 5, 120*m, 180*m),
	)
	result := func(d time.Duration, id string, qty int64, status string) []any {
		return []any{id, "k", "u", qty, status, "", int32(0), int64(100), at(d)}
	}
	Insert(t, conn, "flashsale_results",
		result(-10*m, "fs-a", 5, "purchased"),
		result(m+10*time.Second, "fs-a", 3, "purchased"),
		result(m+40*time.Second, "fs-a", 2, "purchased"),
		result(m+50*time.Second, "fs-a", 1, "rejected"),
		result(4*m, "fs-a", 10, "purchased"),
		result(61*m, "fs-a", 7, "purchased"),
		result(6*m, "fs-x", 1, "purchased"),
	)

	decision := func(d time.Duration, order, outcome string, reasons ...string) {
		Insert(t, conn, "fraud_decisions", []any{order, "u", outcome, 0.5, append([]string{}, reasons...), "m1", at(d)})
		for i, r := range reasons {
			Insert(t, conn, "fraud_decision_reasons", []any{uint32(i), order, outcome, r, 0.1, at(d)})
		}
	}
	decision(1*time.Second, "f1", "approve")
	decision(2*time.Second, "f2", "approve", "new_device")
	decision(3*time.Second, "f3", "review", "velocity", "new_device")
	decision(5*m, "f4", "reject", "velocity", "high_amount")
	decision(5*m+1*time.Second, "f5", "approve")
	decision(5*m+2*time.Second, "f6", "review", "velocity")
	decision(-m, "f0", "reject", "velocity")

	price := func(d time.Duration, sku, currency string, price, version int64) []any {
		return []any{sku, currency, price, price, "base_price", version, "c", none, at(d)}
	}
	Insert(t, conn, "price_changes",
		price(-60*m, "sku-p1", "EUR", 100, 1),
		price(m, "sku-p1", "EUR", 120, 2),
		price(2*m+50*time.Second, "sku-p1", "EUR", 90, 3),
		price(2*m+30*time.Second, "sku-p1", "EUR", 95, 4),
		price(5*m, "sku-p2", "USD", 500, 1),
		price(65*m, "sku-p2", "USD", 600, 2),
		price(7*m, "sku-p3", "EUR", 42, 7),
	)
}
