package clickhouse_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/internal/clickhousetest"
	"github.com/titan-commerce/titan/schemas"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	"github.com/titan-commerce/titan/sinks/clickhouse"
)

// server is a ClickHouse server of the test's own, which it may stop and start: the shared one
// serves the other tests.
type server struct {
	t   *testing.T
	env []string
}

const script = "../../deploy/clickhouse/clickhouse.sh"

func ownServer(t *testing.T, port int) *server {
	clickhousetest.Addr(t) // the same gate: the server is installed and may run here
	s := &server{t: t, env: append(os.Environ(), fmt.Sprintf("TITAN_CLICKHOUSE_PORT=%d", port),
		fmt.Sprintf("TITAN_CLICKHOUSE_HTTP_PORT=%d", port+1), "TITAN_CLICKHOUSE_RUN="+filepath.Join(t.TempDir(), "clickhouse"))}
	s.do("up")
	t.Cleanup(func() { s.do("down") })
	return s
}

// ownWorld is a world of partitions on a ClickHouse server of its own on port, whose tables the
// sink's migrations made: what a test that stops the server runs on.
func ownWorld(t *testing.T, port int, partitions int32) (*server, *world) {
	srv := ownServer(t, port)
	w := newWorld(t, partitions)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := clickhouse.Open(ctx, clickhouse.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), ReadTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	w.conn = conn
	w.migrate()
	return srv, w
}

func (s *server) do(verb string) {
	s.t.Helper()
	cmd := exec.Command("bash", script, verb)
	cmd.Env = s.env
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("clickhouse.sh %s: %v\n%s", verb, err, out)
	}
}

// ClickHouse stops for 20 s while events keep coming: the sink holds one batch meanwhile, retries,
// and once the server is back writes every event once.
func TestSinkRidesOutClickHouseStop(t *testing.T) {
	const port = 19300
	srv, w := ownWorld(t, port, 4)
	reg := prometheus.NewRegistry()
	const batch = 500
	w.sink(w.ns+".sink", clickhouse.NewMetrics(reg), func(o *clickhouse.SinkOptions) {
		o.BatchRecords, o.InsertTimeout = batch, 5*time.Second
	})

	sent := 0
	send := func(n int) {
		recs := make([]*kgo.Record, n)
		for i := range recs {
			sku := fmt.Sprintf("sku-%d", (sent+i)%97)
			recs[i] = rec(sku, &inventoryv1.Event{Type: inventoryv1.EventType_EVENT_TYPE_RESERVED, Sku: sku, Qty: 1,
				CommandId: fmt.Sprintf("c%d", sent+i), TimestampMs: ms(time.Now()), Stock: &inventoryv1.Stock{OnHand: 100, Reserved: 1}})
		}
		w.send(schemas.InventoryEvents, recs...)
		sent += n
	}
	send(5000)
	w.eventually(60*time.Second, "SELECT count() FROM inventory_events", int64(sent))

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	srv.do("stop")
	stopped := time.Now()
	// Watch the sink's memory while the server is down and events keep coming.
	var mu sync.Mutex
	var peakHeld float64
	var peakHeap uint64
	watch, unwatch := context.WithCancel(context.Background())
	var watched sync.WaitGroup
	watched.Add(1)
	go func() {
		defer watched.Done()
		for watch.Err() == nil {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			held := metric(t, reg, "titan_sink_buffered_records")
			mu.Lock()
			peakHeld, peakHeap = max(peakHeld, held), max(peakHeap, m.HeapInuse)
			mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
	}()
	for time.Since(stopped) < 20*time.Second {
		send(1000)
		time.Sleep(time.Second)
	}
	unwatch()
	watched.Wait()
	srv.do("start")
	send(5000)
	w.eventually(2*time.Minute, "SELECT count() FROM inventory_events", int64(sent))
	if got := w.count("SELECT uniqExact(topic, partition, offset) FROM inventory_events"); got != int64(sent) {
		t.Fatalf("%d distinct records, want %d", got, sent)
	}
	if got := w.count("SELECT sum(reserved) FROM reservations_per_minute"); got != int64(sent) {
		t.Fatalf("the summary counts %d reservations, want %d", got, sent)
	}
	if retries := metric(t, reg, "titan_sink_retries_total"); retries == 0 {
		t.Fatal("no retries while ClickHouse was down")
	}
	t.Logf("while down: at most %v records held, heap in use %d MiB at most (%d MiB before); %d records in all",
		peakHeld, peakHeap>>20, before.HeapInuse>>20, sent)
	if peakHeld > 2*batch {
		t.Fatalf("the sink held %v records while ClickHouse was down, more than two batches of %d", peakHeld, batch)
	}
	// 20,000 records came while the server was down; the sink must not have held them. The
	// bound leaves room for the client's fetch buffer and the test's own producer.
	if peakHeap > before.HeapInuse+64<<20 {
		t.Fatalf("heap in use grew from %d MiB to %d MiB while ClickHouse was down", before.HeapInuse>>20, peakHeap>>20)
	}
}

// A sink process killed with SIGKILL again and again while it writes, and started again each
// time, leaves one row per event: no row lost, none doubled, in the raw tables and the summaries.
func TestSinkKilledMidBatch(t *testing.T) {
	w := newWorld(t, 4)
	bin := filepath.Join(t.TempDir(), "titan")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/titan").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const orders = 20_000
	for start := 0; start < orders; start += 2000 {
		recs := make([]*kgo.Record, 2000)
		for i := range recs {
			id := fmt.Sprintf("o%d", start+i)
			recs[i] = rec(id, &ordersv1.OrderEvent{EventId: "x" + id, OrderId: id, TimestampMs: ms(at),
				Kind: &ordersv1.OrderEvent_Confirmed{Confirmed: &ordersv1.OrderConfirmed{TotalMinor: 300, Currency: "EUR", UserId: "u",
					Lines: []*ordersv1.OrderLine{{Sku: "a", Qty: 1, UnitPriceMinor: 100}, {Sku: "b", Qty: 2, UnitPriceMinor: 100}}}}})
		}
		w.send(schemas.OrderOutcomes, recs...)
	}
	logs := filepath.Join(t.TempDir(), "sink.log")
	logFile, err := os.Create(logs)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "sink", "run", "--brokers", w.brokers[0], "--namespace", w.ns,
			"--clickhouse-addr", w.addr, "--clickhouse-database", w.db, "--batch-records", "300",
			"--flush-interval", "20ms", "--metrics-addr", "", "--partitions", "4", "--log-level", "warn",
			"--instance-id", "sink-1")
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	kills := 0
	for kills < 5 {
		before := w.count("SELECT count() FROM order_outcomes")
		if before == orders {
			break
		}
		cmd := start()
		// Kill it as soon as it has written something more: most likely between two inserts of a
		// batch, or between the inserts and the commit of its offsets.
		deadline := time.Now().Add(time.Minute)
		for w.count("SELECT count() FROM order_outcomes") == before && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		kills++
		t.Logf("kill %d: %d outcomes and %d lines written", kills, w.count("SELECT count() FROM order_outcomes"),
			w.count("SELECT count() FROM order_lines"))
	}
	cmd := start()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	w.eventually(2*time.Minute, "SELECT count() FROM order_outcomes", orders)
	w.eventually(30*time.Second, "SELECT count() FROM order_lines", 2*orders)
	for q, want := range map[string]int64{
		"SELECT uniqExact(order_id) FROM order_outcomes":                    orders,
		"SELECT uniqExact(topic, partition, offset, line) FROM order_lines": 2 * orders,
		"SELECT sum(orders) FROM orders_per_minute":                         orders,
		"SELECT sum(gmv_minor) FROM orders_per_minute":                      300 * orders,
		"SELECT sum(units) FROM sku_sales_per_minute WHERE sku = 'b'":       2 * orders,
	} {
		if got := w.count(q); got != want {
			out, _ := os.ReadFile(logs)
			t.Fatalf("after %d kills, %s = %d, want %d\nsink log:\n%s", kills, q, got, want, out)
		}
	}
	t.Logf("%d kills", kills)
}

// A sink told to stop while ClickHouse is down stops, with its batches unwritten and its offsets
// uncommitted, and the next sink writes them.
func TestSinkStopsWhileClickHouseIsDown(t *testing.T) {
	const port = 19310
	srv, w := ownWorld(t, port, 2)
	send := func(from, n int) {
		recs := make([]*kgo.Record, n)
		for i := range recs {
			e := inventoryEvent(from+i, time.Now())
			recs[i] = rec(e.GetSku(), e)
		}
		w.send(schemas.InventoryEvents, recs...)
	}
	send(0, 100)
	reg := prometheus.NewRegistry()
	stop := w.sink(w.ns+".sink", clickhouse.NewMetrics(reg), func(o *clickhouse.SinkOptions) { o.BatchRecords = 50 })
	w.eventually(30*time.Second, "SELECT count() FROM inventory_events", 100)

	srv.do("stop")
	send(100, 300) // six batches: one in flight, one read, the rest waiting in Kafka
	deadline := time.Now().Add(30 * time.Second)
	for metric(t, reg, "titan_sink_retries_total") == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if metric(t, reg, "titan_sink_retries_total") == 0 {
		t.Fatal("the sink never retried while ClickHouse was down")
	}
	stopped := time.Now()
	stop() // fails the test if the sink does not stop within 30 s
	t.Logf("stopped in %v with ClickHouse down", time.Since(stopped).Round(time.Millisecond))

	srv.do("start")
	w.sink(w.ns+".sink", nil)
	w.eventually(time.Minute, "SELECT count() FROM inventory_events", 400)
	if got := w.count("SELECT uniqExact(topic, partition, offset) FROM inventory_events"); got != 400 {
		t.Fatalf("%d distinct records, want 400", got)
	}
}
