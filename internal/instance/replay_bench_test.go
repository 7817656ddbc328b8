package instance_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/schemas"
	"github.com/titan-commerce/titan/sdk"
	"github.com/titan-commerce/titan/topologies/inventorytopo"
	"github.com/titan-commerce/titan/topologies/orderstopo"
	"github.com/titan-commerce/titan/topologies/pricingtopo"
)

// BenchmarkReplayOrders measures titan replay of the order saga: the
// records of TITAN_BENCH_REPLAY_ORDERS orders (2,000 by default, of two
// lines each, placed 100 at a time) and of the prices and stock they were
// decided on, copied in time order while the shadow groups run. Its
// ceiling, measured in the same run, is the live deployment's rate on the
// same records: the time from the first order sent to the last outcome
// written, in which the live groups did the replay's work and more (fraud
// scoring and the inventory besides the saga and pricing).
//
//	TITAN_KAFKA_BROKERS=127.0.0.1:19092 go test -run '^$' -bench ReplayOrders -benchtime 1x ./internal/instance/
func BenchmarkReplayOrders(b *testing.B) {
	orders := 2000
	if v := os.Getenv("TITAN_BENCH_REPLAY_ORDERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("TITAN_BENCH_REPLAY_ORDERS=%q: want a positive number", v)
		}
		orders = n
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	f := start(ctx, b, instance.TopologyInventory, instance.TopologyOrders)
	f.waitReady(ctx)
	saga, prices, inv := orderstopo.NamesFor(f.ns), pricingtopo.NamesFor(f.ns), inventorytopo.NamesFor(f.ns)
	p, err := sdk.NewProducer(f.brokers, sdk.WithNamespace(f.ns), sdk.WithClientID("titan-bench-replay"))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	const skus = 20
	var setup []sdk.Input
	for i := range skus {
		sku := fmt.Sprintf("sku-%02d", i)
		setup = append(setup, sdk.SetPrice{IdempotencyKey: "price-" + sku, SKU: sku, PriceMinor: 1_000, Currency: "EUR"},
			sdk.Restock{IdempotencyKey: "restock-" + sku, SKU: sku, Qty: int64(orders)})
	}
	for _, in := range setup {
		if _, err := p.Send(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	for _, gt := range [][2]string{{string(prices.Group), string(prices.Commands)}, {string(inv.Group), string(inv.Commands)}} {
		if err := kafkatest.WaitCommitted(ctx, f.adm, gt[0], gt[1]); err != nil {
			b.Fatal(err)
		}
	}
	live := time.Now()
	for batch := 0; batch < orders; batch += 100 {
		errs := make(chan error, 100)
		n := min(100, orders-batch)
		for i := range n {
			id := fmt.Sprintf("o-%06d", batch+i)
			o := sdk.PlaceOrder{IdempotencyKey: id, OrderID: id, UserID: "user-" + id, DeviceID: "device-" + id, PaymentID: "card-" + id,
				Currency: "EUR", Lines: []sdk.OrderLine{
					{SKU: fmt.Sprintf("sku-%02d", (batch+i)%skus), Qty: 1, UnitPriceMinor: 1_000},
					{SKU: fmt.Sprintf("sku-%02d", (batch+i+7)%skus), Qty: 1, UnitPriceMinor: 1_000}}}
			p.SendAsync(ctx, o, func(_ sdk.Ack, err error) { errs <- err })
		}
		for range n {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
	}
	// Every order has its outcome, and every answer is read.
	err = kafkatest.WaitFor(ctx, "every order's outcome", func() (bool, string) {
		ends, err := kafkatest.EndOffsets(ctx, f.adm, string(saga.Outcomes))
		if err != nil {
			return false, err.Error()
		}
		var n int64
		for _, e := range ends {
			n += e
		}
		return n == int64(orders), fmt.Sprintf("%d of %d", n, orders)
	})
	if err != nil {
		b.Fatal(err)
	}
	// The live deployment's time stops at the last outcome, before the
	// confirmed orders' commits are all read: a ceiling rather high.
	liveElapsed := time.Since(live)
	// Every answer read: the confirmed orders' commits go to the inventory
	// and come back, so the chain of waits runs until a pass of it finds
	// nothing more written.
	total := func() int {
		n := 0
		for _, in := range []string{schemas.PricingCommands, schemas.PricingInternal, schemas.InventoryEvents,
			schemas.OrderEvents, schemas.OrderSaga, schemas.InventoryOrderEvents} {
			ends, err := kafkatest.EndOffsets(ctx, f.adm, schemas.Namespaced(f.ns, in))
			if err != nil {
				b.Fatal(err)
			}
			for _, e := range ends {
				n += int(e)
			}
		}
		return n
	}
	records := -1
	for n := total(); n != records; n = total() {
		records = n
		for _, gt := range [][2]string{{string(saga.Group), string(saga.Events)}, {string(saga.Group), string(saga.Saga)},
			{string(inv.Group), string(inv.Internal)}, {string(saga.Group), string(inv.OrderEvents)}, {string(prices.Group), string(inv.Events)}} {
			if err := kafkatest.WaitCommitted(ctx, f.adm, gt[0], gt[1]); err != nil {
				b.Fatal(err)
			}
		}
	}

	var (
		elapsed       time.Duration
		waits, copied int64
	)
	b.ResetTimer()
	for i := range b.N {
		shadow := fmt.Sprintf("bench-%d", i)
		start := time.Now()
		res, err := instance.Replay(ctx, instance.ReplayConfig{Brokers: f.brokers, Namespace: f.ns, Shadow: shadow,
			Topology: instance.ReplayableOrders, StateDir: b.TempDir(), Timeout: 20 * time.Minute,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		// The live pricing ticker may write more meanwhile.
		if res.Copied < int64(records) || res.DeadLetters != 0 {
			b.Fatalf("the replay copied %d records with %d dead letters, want %d or more and none", res.Copied, res.DeadLetters, records)
		}
		copied, waits = copied+res.Copied, waits+res.Waits
		b.StopTimer()
		if _, err := instance.DropShadowNamespace(ctx, f.brokers, f.ns, shadow); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	rate, ceiling := float64(copied)/elapsed.Seconds(), float64(records)/liveElapsed.Seconds()
	b.ReportMetric(rate, "records/s")
	b.ReportMetric(ceiling, "live-records/s")
	b.ReportMetric(100*rate/ceiling, "%-of-live")
	b.ReportMetric(float64(waits)/float64(b.N), "waits/op")
	b.ReportMetric(float64(copied)/float64(b.N), "records/op")
}
