package clickhouse_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/clickhousetest"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/schemas"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	fraudv1 "github.com/titan-commerce/titan/schemas/fraud/v1"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
	"github.com/titan-commerce/titan/sinks/clickhouse"
)

// world is one test's Kafka namespace, with the sink's topics, and ClickHouse database.
type world struct {
	t       testing.TB
	brokers []string
	ns      string
	conn    *clickhouse.Conn
	db      string
	addr    string
	cl      *kgo.Client
}

func newWorld(t testing.TB, partitions int32) *world {
	t.Helper()
	brokers := kafkatest.Brokers(t)
	conn, db := clickhousetest.Database(t)
	w := &world{t: t, brokers: brokers, ns: kafkatest.Prefix(t), conn: conn, db: db, addr: clickhousetest.Addr(t)}
	w.migrate()
	w.topics(partitions)
	return w
}

func (w *world) migrate() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := w.conn.Migrate(ctx, clickhouse.Migrations); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) topics(partitions int32) {
	adm := kafkatest.Admin(w.t, w.brokers)
	kafkatest.DeleteNamespace(w.t, adm, w.ns)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var names []string
	for _, st := range clickhouse.Streams {
		names = append(names, schemas.Namespaced(w.ns, st.Topic))
	}
	names = append(names, clickhouse.DeadLetterTopic(w.ns))
	resp, err := adm.CreateTopics(ctx, partitions, 1, nil, names...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		w.t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...), kgo.AllowAutoTopicCreation())
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(cl.Close)
	w.cl = cl
}

// send writes records to a topic of the namespace, keyed by key, and waits for Kafka to take them.
func (w *world) send(topic string, recs ...*kgo.Record) {
	w.t.Helper()
	for _, r := range recs {
		r.Topic = schemas.Namespaced(w.ns, topic)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		w.t.Fatal(err)
	}
}

func rec(key string, m proto.Message) *kgo.Record {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return &kgo.Record{Key: []byte(key), Value: b}
}

// sink runs a sink in the background until the test ends or stop is called.
func (w *world) sink(group string, m *clickhouse.Metrics, opts ...func(*clickhouse.SinkOptions)) (stop func()) {
	w.t.Helper()
	o := clickhouse.SinkOptions{Brokers: w.brokers, Namespace: w.ns, Group: group, BatchRecords: 500,
		FlushInterval: 100 * time.Millisecond, Metrics: m, MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	for _, f := range opts {
		f(&o)
	}
	s, err := clickhouse.NewSink(w.conn, o)
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			w.t.Error("the sink did not stop within 30 s")
		}
		s.Close()
	}
	w.t.Cleanup(stop)
	return stop
}

// count runs a query that returns one number.
func (w *world) count(q string) int64 {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int64
	if err := w.conn.QueryRow(ctx, "SELECT toInt64(("+q+"))").Scan(&n); err != nil {
		w.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// eventually waits up to d for q to return want.
func (w *world) eventually(d time.Duration, q string, want int64) {
	w.t.Helper()
	deadline := time.Now().Add(d)
	var got int64
	for {
		if got = w.count(q); got == want || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got != want {
		w.t.Fatalf("%s = %d after %v, want %d", q, got, d, want)
	}
}

var at = time.Date(2026, 12, 5, 10, 0, 30, 0, time.UTC)

func ms(t time.Time) int64 { return t.UnixMilli() }

// everyTopic writes records of every kind to every topic the sink reads, and three it cannot
// write; it returns how many rows each table should hold.
func everyTopic(w *world) map[string]int64 {
	w.send(schemas.InventoryEvents,
		rec("a", &inventoryv1.Event{Type: inventoryv1.EventType_EVENT_TYPE_RESTOCKED, Sku: "a", Qty: 5, TimestampMs: ms(at), Stock: &inventoryv1.Stock{OnHand: 5}}),
		rec("a", &inventoryv1.Event{Type: inventoryv1.EventType_EVENT_TYPE_RESERVED, Sku: "a", Qty: 5, OrderId: "o1", TimestampMs: ms(at), Stock: &inventoryv1.Stock{OnHand: 5, Reserved: 5}}),
		rec("a", &inventoryv1.Event{Type: inventoryv1.EventType_EVENT_TYPE_REJECTED, Sku: "a", Qty: 2, OrderId: "o2", Reason: "insufficient_stock", TimestampMs: ms(at), Stock: &inventoryv1.Stock{OnHand: 5, Reserved: 5}}),
		rec("a", &inventoryv1.Event{Type: inventoryv1.EventType_EVENT_TYPE_COMMITTED, Sku: "a", Qty: 5, OrderId: "o1", TimestampMs: ms(at.Add(time.Minute)), Stock: &inventoryv1.Stock{Sold: 5}}),
		&kgo.Record{Key: []byte("a"), Value: []byte("\xff\xff not a protobuf")},
	)
	lines := []*ordersv1.OrderLine{{Sku: "a", Qty: 2, UnitPriceMinor: 150}, {Sku: "b", Qty: 1, UnitPriceMinor: 1000}}
	w.send(schemas.OrderEvents,
		rec("o1", &ordersv1.OrderEvent{EventId: "e1", OrderId: "o1", TimestampMs: ms(at), Kind: &ordersv1.OrderEvent_Placed{Placed: &ordersv1.OrderPlaced{UserId: "u1", Currency: "EUR", Lines: lines}}}),
		rec("o1", &ordersv1.OrderEvent{EventId: "e2", OrderId: "o1", TimestampMs: ms(at), Kind: &ordersv1.OrderEvent_Paid{Paid: &ordersv1.OrderPaid{UserId: "u1", PaymentId: "card-1", AmountMinor: 1300, Currency: "EUR"}}}),
		rec("o3", &ordersv1.OrderEvent{EventId: "e3", OrderId: "o3", TimestampMs: ms(at)}), // no kind
	)
	w.send(schemas.OrderOutcomes,
		rec("o1", &ordersv1.OrderEvent{EventId: "x1", OrderId: "o1", TimestampMs: ms(at), Kind: &ordersv1.OrderEvent_Confirmed{Confirmed: &ordersv1.OrderConfirmed{TotalMinor: 1300, UserId: "u1", Currency: "EUR", Lines: lines}}}),
		rec("o2", &ordersv1.OrderEvent{EventId: "x2", OrderId: "o2", TimestampMs: ms(at), Kind: &ordersv1.OrderEvent_Rejected{Rejected: &ordersv1.OrderRejected{Reason: "out_of_stock"}}}),
		rec("o4", &ordersv1.OrderEvent{EventId: "x4", OrderId: "o4", TimestampMs: ms(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)), Kind: &ordersv1.OrderEvent_Rejected{Rejected: &ordersv1.OrderRejected{Reason: "x"}}}),
	)
	w.send(schemas.OrderSaga,
		rec("o1", &ordersv1.SagaMessage{OrderId: "o1", TimestampMs: ms(at), Kind: &ordersv1.SagaMessage_Fraud{Fraud: &fraudv1.Decision{OrderId: "o1", UserId: "u1",
			Outcome: fraudv1.Outcome_OUTCOME_REVIEW, Score: 0.6, Reasons: []*fraudv1.Reason{{Code: "new_device", Contribution: 0.4}, {Code: "high_amount", Contribution: 0.2}}}}}),
		rec("o1", &ordersv1.SagaMessage{OrderId: "o1", TimestampMs: ms(at), Kind: &ordersv1.SagaMessage_Quote{Quote: &pricingv1.Quote{OrderId: "o1", Sku: "a", Found: true, PriceMinor: 150, Currency: "EUR"}}}),
	)
	w.send(schemas.FlashSaleInternal,
		rec("s1", &flashsalev1.Message{Kind: flashsalev1.Kind_KIND_CREATE, SaleId: "s1", TimestampMs: ms(at), Sale: &flashsalev1.Sale{Id: "s1", Sku: "f", Units: 10,
			StartsAtMs: ms(at), EndsAtMs: ms(at.Add(time.Hour)), PriceMinor: 99, Buckets: 2}}),
		rec("s1", &flashsalev1.Message{Kind: flashsalev1.Kind_KIND_OPEN, SaleId: "s1", TimestampMs: ms(at)}), // not a row
	)
	w.send(schemas.FlashSaleEvents,
		rec("s1/k1", &flashsalev1.Result{SaleId: "s1", IdempotencyKey: "k1", UserId: "u1", Qty: 3, Status: flashsalev1.Status_STATUS_PURCHASED, TimestampMs: ms(at)}),
		rec("s1/k2", &flashsalev1.Result{SaleId: "s1", IdempotencyKey: "k2", UserId: "u2", Qty: 1, Status: flashsalev1.Status_STATUS_REJECTED, Reason: "sold_out", TimestampMs: ms(at)}),
	)
	w.send(schemas.PricingEvents,
		rec("a", &pricingv1.PriceChanged{Sku: "a", Currency: "EUR", BaseMinor: 200, PriceMinor: 150, Cause: "campaign", Version: 2, TimestampMs: ms(at),
			Contributions: []*pricingv1.Contribution{{Rule: "campaign:c1", AmountMinor: -50}}}),
	)
	w.send(schemas.RecommendationViews,
		rec("u1", &recommendationsv1.ViewEvent{EventId: "v1", UserId: "u1", Sku: "a", SessionId: "s", TimestampMs: ms(at)}),
	)
	return map[string]int64{
		"inventory_events": 4, "order_events": 2, "order_outcomes": 2, "order_lines": 2, "saga_events": 2,
		"fraud_decisions": 1, "fraud_decision_reasons": 2, "flashsale_sales": 1, "flashsale_results": 2,
		"price_changes": 1, "recommendation_views": 1,
	}
}

// summaries are the figures the materialized views (and a raw table) must hold after everyTopic, each
// counted once.
var summaries = map[string]int64{
	"SELECT sum(gmv_minor) FROM orders_per_minute WHERE currency = 'EUR'":  1300,
	"SELECT sum(orders) FROM orders_per_minute":                            2,
	"SELECT sum(rejected) FROM orders_per_minute":                          1,
	"SELECT sum(units) FROM sku_sales_per_minute WHERE sku = 'a'":          2,
	"SELECT sum(revenue_minor) FROM sku_sales_per_minute WHERE sku = 'b'":  1000,
	"SELECT sum(purchased_units) FROM flashsale_per_minute":                3,
	"SELECT sum(rejections) FROM flashsale_per_minute":                     1,
	"SELECT sum(reserved) FROM reservations_per_minute":                    1,
	"SELECT sum(committed) FROM reservations_per_minute":                   1,
	"SELECT sum(stockouts) FROM stockouts_per_minute WHERE sku = 'a'":      1,
	"SELECT sum(refused_units) FROM stockouts_per_minute WHERE sku = 'a'":  2,
	"SELECT sum(decisions) FROM fraud_reasons_per_minute":                  2,
	"SELECT sum(decisions) FROM fraud_per_minute WHERE outcome = 'review'": 1,
	"SELECT sum(changes) FROM price_changes_per_minute WHERE sku = 'a'":    1,
	"SELECT sum(amount_minor) FROM order_events WHERE kind = 'paid'":       1300,
}

// Every topic's records reach their tables once; the records the sink cannot write go to its
// dead-letter topic with their reasons; and a second sink that reads every topic again from the
// start, as one would after its offsets were lost, writes nothing twice.
func TestSinkWritesEveryTopicOnce(t *testing.T) {
	w := newWorld(t, 2)
	want := everyTopic(w)
	stop := w.sink(w.ns+".sink", nil)
	for table, n := range want {
		w.eventually(30*time.Second, "SELECT count() FROM "+table, n)
	}
	for q, n := range summaries {
		w.eventually(10*time.Second, q, n)
	}
	if got := w.count("SELECT sumIf(total_minor, status = 'confirmed') FROM order_outcomes"); got != 1300 {
		t.Fatalf("confirmed total %d, want 1300", got)
	}
	if got := w.count("SELECT countIf(reason = 'insufficient_stock' AND type = 'rejected') FROM inventory_events"); got != 1 {
		t.Fatalf("rejections %d", got)
	}

	// The dead letters name their record and reason.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dead, err := kafkatest.ReadAll(ctx, w.brokers, kafkatest.Admin(t, w.brokers), clickhouse.DeadLetterTopic(w.ns))
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, r := range dead {
		var dl observe.DeadLetter
		if err := json.Unmarshal(r.Value, &dl); err != nil {
			t.Fatalf("dead letter %q: %v", r.Value, err)
		}
		reasons[dl.Topic+"@"+dl.Reason] = dl.Error
	}
	for _, k := range []string{
		schemas.Namespaced(w.ns, schemas.InventoryEvents) + "@undecodable",
		schemas.Namespaced(w.ns, schemas.OrderEvents) + "@unknown_kind",
		schemas.Namespaced(w.ns, schemas.OrderOutcomes) + "@time_out_of_range",
	} {
		if _, ok := reasons[k]; !ok {
			t.Errorf("no dead letter %s among %v", k, reasons)
		}
	}
	if len(dead) != 3 {
		t.Errorf("%d dead letters, want 3: %v", len(dead), reasons)
	}
	stop()

	// A new group starts from the first offsets: every row is read again and dropped.
	reg := prometheus.NewRegistry()
	stopAgain := w.sink(w.ns+".again", clickhouse.NewMetrics(reg))
	var total int64
	for _, n := range want {
		total += n
	}
	deadline := time.Now().Add(30 * time.Second)
	for metric(t, reg, "titan_sink_rows_skipped_total") < float64(total) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if got := metric(t, reg, "titan_sink_rows_skipped_total"); got != float64(total) {
		t.Fatalf("the second sink skipped %v rows, want %d", got, total)
	}
	for table, n := range want {
		if got := w.count("SELECT count() FROM " + table); got != n {
			t.Errorf("%s holds %d rows after a second read, want %d", table, got, n)
		}
	}
	for q, n := range summaries {
		if got := w.count(q); got != n {
			t.Errorf("%s = %d after a second read, want %d", q, got, n)
		}
	}
	if got := metric(t, reg, "titan_sink_rows_written_total"); got != 0 {
		t.Errorf("the second sink wrote %v rows", got)
	}
	// A sink that leaves the group reports no lag for partitions that are no longer its own.
	if n := series(t, reg, "titan_sink_consumer_lag_records"); n == 0 {
		t.Error("no consumer lag reported while the sink ran")
	}
	stopAgain()
	if n := series(t, reg, "titan_sink_consumer_lag_records"); n != 0 {
		t.Errorf("%d partitions' lag still reported after the sink left the group", n)
	}
}

// series counts the series of a metric.
func series(t testing.TB, g prometheus.Gatherer, name string) int {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return len(f.GetMetric())
		}
	}
	return 0
}

// metric sums the series of a counter or gauge.
func metric(t testing.TB, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			n += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return n
}

// TestSinkSkipsAbortedTransactions: views a client writes in transactions
// reach ClickHouse when their transaction commits and never when it
// aborts.
func TestSinkSkipsAbortedTransactions(t *testing.T) {
	w := newWorld(t, 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...), kgo.TransactionalID(w.ns+".views"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	view := func(id string) *kgo.Record {
		r := rec("u1", &recommendationsv1.ViewEvent{EventId: id, UserId: "u1", Sku: "a", SessionId: "s", TimestampMs: ms(at)})
		r.Topic = schemas.Namespaced(w.ns, schemas.RecommendationViews)
		return r
	}
	for _, txn := range []struct {
		commit bool
		ids    []string
	}{{true, []string{"v1"}}, {false, []string{"aborted-1", "aborted-2"}}, {true, []string{"v2"}}} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, id := range txn.ids {
			if err := cl.ProduceSync(ctx, view(id)).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(txn.commit)); err != nil {
			t.Fatal(err)
		}
	}
	w.sink(w.ns+".sink", nil)
	// One partition, read in order: once v2 is written, the aborted views
	// have been passed over or written.
	w.eventually(30*time.Second, "SELECT count() FROM recommendation_views WHERE event_id = 'v2'", 1)
	if got := w.count("SELECT count() FROM recommendation_views"); got != 2 {
		t.Errorf("recommendation_views holds %d rows, want the 2 committed views", got)
	}
}
