package clickhouse_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/schemas"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	"github.com/titan-commerce/titan/sinks/clickhouse"
)

// benchRecords is how many inventory events BenchmarkSinkRows writes: TITAN_BENCH_SINK_RECORDS,
// 200,000 by default.
func benchRecords(b *testing.B) int {
	if v := os.Getenv("TITAN_BENCH_SINK_RECORDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("TITAN_BENCH_SINK_RECORDS=%q", v)
		}
		return n
	}
	return 200_000
}

func inventoryEvent(i int, at time.Time) *inventoryv1.Event {
	sku := fmt.Sprintf("sku-%d", i%5000)
	return &inventoryv1.Event{Type: inventoryv1.EventType_EVENT_TYPE_RESERVED, Sku: sku, Qty: 1, OrderId: fmt.Sprintf("o%d", i),
		CommandId: fmt.Sprintf("c%d", i), Seq: int64(i), TimestampMs: ms(at), Stock: &inventoryv1.Stock{OnHand: 100, Reserved: 1}}
}

// BenchmarkSinkRows is the rows per second the sink writes from Kafka to ClickHouse, beside its
// ceiling: the same rows, converted in advance, written by bare clickhouse-go batch inserts of the
// sink's batch size, into a second database of the same server, in the same run. There are two
// ceilings: rows appended one by one (batch.Append, how clickhouse-go is mostly used), and whole
// columns appended at once (batch.Column(i).Append), its fastest insert.
func BenchmarkSinkRows(b *testing.B) {
	instance.ApplyGCPercent() // as titan run and titan sink run do
	n := benchRecords(b)
	for b.Loop() {
		benchSinkRows(b, n)
	}
}

func benchSinkRows(b *testing.B, n int) {
	w := newWorld(b, 4)
	at := time.Now()
	const batch = 10_000
	for start := 0; start < n; start += batch {
		recs := make([]*kgo.Record, min(batch, n-start))
		for i := range recs {
			e := inventoryEvent(start+i, at)
			recs[i] = rec(e.GetSku(), e)
		}
		w.send(schemas.InventoryEvents, recs...)
	}

	// The ceilings, before the sink runs and again after, the faster counting.
	rows, columns := bareInserts(b, n, batch, at, false), bareInserts(b, n, batch, at, true)
	// The sink's clock starts once its first batch is in: joining the group is not writing. Its
	// progress is read from its metrics, not from ClickHouse, so that counting does not load the
	// server the ceilings had to themselves.
	reg := prometheus.NewRegistry()
	w.sink(w.ns+".sink", clickhouse.NewMetrics(reg), func(o *clickhouse.SinkOptions) { o.BatchRecords = batch; o.FlushInterval = time.Second })
	written := func() int64 { return int64(metric(b, reg, "titan_sink_rows_written_total")) }
	var first int64
	for first == 0 {
		time.Sleep(time.Millisecond)
		first = written()
	}
	start := time.Now()
	for written() < int64(n) {
		time.Sleep(time.Millisecond)
	}
	sink := time.Since(start)
	if got := w.count("SELECT count() FROM inventory_events"); got != int64(n) {
		b.Fatalf("the sink wrote %d rows, want %d", got, n)
	}
	rows, columns = min(rows, bareInserts(b, n, batch, at, false)), min(columns, bareInserts(b, n, batch, at, true))
	sinkRate := float64(int64(n)-first) / sink.Seconds()
	rowsRate, columnsRate := float64(n)/rows.Seconds(), float64(n)/columns.Seconds()
	b.ReportMetric(sinkRate, "sink-rows/s")
	b.ReportMetric(rowsRate, "ceiling-rows/s")
	b.ReportMetric(100*sinkRate/rowsRate, "%-of-ceiling")
	b.ReportMetric(columnsRate, "column-ceiling-rows/s")
	b.ReportMetric(100*sinkRate/columnsRate, "%-of-column-ceiling")
	b.ReportMetric(0, "ns/op")
}

// bareInserts writes n inventory events to a database of their own with clickhouse-go batch
// inserts of batch rows, each batch built before the clock starts, and returns the time taken.
// The rows are appended one by one, or column by column when columns is true.
func bareInserts(b *testing.B, n, batch int, at time.Time, columns bool) time.Duration {
	w := newWorld(b, 4)
	topic := schemas.Namespaced(w.ns, schemas.InventoryEvents)
	ctx := context.Background()
	var took time.Duration
	rows := make([][]any, 0, batch)
	for first := 0; first < n; first += batch {
		rows = rows[:0]
		for i := first; i < min(first+batch, n); i++ {
			e := inventoryEvent(i, at)
			rows = append(rows, []any{topic, int32(i % 4), int64(i / 4), "reserved", e.GetCommandId(), e.GetOrderId(), e.GetSku(),
				e.GetQty(), "", e.GetSeq(), int64(100), int64(1), int64(0), at.Truncate(time.Second)})
		}
		var cols []any
		if columns {
			cols = transpose(rows)
		}
		start := time.Now()
		bt, err := w.conn.Batch(ctx, "INSERT INTO inventory_events (topic, partition, offset, type, command_id, order_id, sku, qty, reason, seq, on_hand, reserved, sold, event_time)")
		if err != nil {
			b.Fatal(err)
		}
		for i, c := range cols {
			if err := bt.Column(i).Append(c); err != nil {
				b.Fatal(err)
			}
		}
		for _, r := range rows {
			if columns {
				break
			}
			if err := bt.Append(r...); err != nil {
				b.Fatal(err)
			}
		}
		if err := bt.Send(); err != nil {
			b.Fatal(err)
		}
		took += time.Since(start)
	}
	if got := w.count("SELECT count() FROM inventory_events"); got != int64(n) {
		b.Fatalf("the bare inserts wrote %d rows, want %d", got, n)
	}
	return took
}

// transpose turns the rows of bareInserts into typed columns.
func transpose(rows [][]any) []any {
	cols := make([]any, len(rows[0]))
	for i, v := range rows[0] {
		switch v.(type) {
		case string:
			cols[i] = column[string](rows, i)
		case int32:
			cols[i] = column[int32](rows, i)
		case int64:
			cols[i] = column[int64](rows, i)
		case time.Time:
			cols[i] = column[time.Time](rows, i)
		default:
			panic(fmt.Sprintf("transpose: %T", v))
		}
	}
	return cols
}

func column[T any](rows [][]any, i int) []T {
	c := make([]T, len(rows))
	for j, r := range rows {
		c[j] = r[i].(T)
	}
	return c
}

// BenchmarkSinkDelay is the time from an order's outcome reaching Kafka to its row being
// queryable in ClickHouse, p50 and p99, with the sink's default flush interval (1 s) and a short
// one (100 ms). Outcomes arrive one at a time, as on a quiet shop, where the flush interval
// rather than the batch size decides.
func BenchmarkSinkDelay(b *testing.B) {
	for _, flush := range []time.Duration{100 * time.Millisecond, time.Second} {
		b.Run("flush="+flush.String(), func(b *testing.B) {
			for b.Loop() {
				benchSinkDelay(b, flush, 100)
			}
		})
	}
}

func benchSinkDelay(b *testing.B, flush time.Duration, samples int) {
	w := newWorld(b, 4)
	w.sink(w.ns+".sink", nil, func(o *clickhouse.SinkOptions) { o.FlushInterval = flush })
	// One outcome first, so the group has joined before the clock runs.
	sendOutcome(w, "warm")
	w.eventually(time.Minute, "SELECT count() FROM order_outcomes", 1)
	delays := make([]time.Duration, 0, samples)
	for i := range samples {
		id := fmt.Sprintf("o%d", i)
		sendOutcome(w, id)
		sent := time.Now()
		for w.count("SELECT count() FROM order_outcomes WHERE order_id = '"+id+"'") == 0 {
			time.Sleep(2 * time.Millisecond)
		}
		delays = append(delays, time.Since(sent))
		// Spread the outcomes over the flush interval, as unrelated arrivals are.
		time.Sleep(time.Duration(i%7) * flush / 7)
	}
	slices.Sort(delays)
	b.ReportMetric(float64(delays[len(delays)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(delays[len(delays)*99/100].Milliseconds()), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

func sendOutcome(w *world, id string) {
	w.send(schemas.OrderOutcomes, rec(id, &ordersv1.OrderEvent{EventId: "x" + id, OrderId: id, TimestampMs: ms(time.Now()),
		Kind: &ordersv1.OrderEvent_Confirmed{Confirmed: &ordersv1.OrderConfirmed{TotalMinor: 100, Currency: "EUR",
			Lines: []*ordersv1.OrderLine{{Sku: "a", Qty: 1, UnitPriceMinor: 100}}}}}))
}
