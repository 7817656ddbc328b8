package api

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/processors/flashsale"
)

// TestFlashSaleResultsOnBroker: the consumer starts at the end of the
// events topic, so what was published before it is not delivered, and
// hands each later result to its buyer's waiter, on any partition.
func TestFlashSaleResultsOnBroker(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topics(t, brokers, 3, "flashsale-events")["flashsale-events"]
	producer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(partition.Kgo()))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	publish := func(res flashsale.Result) {
		t.Helper()
		b, err := proto.Marshal(flashsale.ResultToWire(res))
		if err != nil {
			t.Fatal(err)
		}
		rec := &kgo.Record{Topic: topic, Key: []byte(flashsale.PurchaseKey(res.SaleID, res.IdempotencyKey)), Value: b}
		if err := producer.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	old := flashsale.Result{SaleID: "fs-1", IdempotencyKey: "k-0", UserID: "u-0", Qty: 1, Status: flashsale.StatusPurchased}
	publish(old)

	r, err := NewFlashSaleResults(ctx, brokers, topic, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()

	stale, cancelStale, _ := r.wait(flashsale.PurchaseKey(old.SaleID, old.IdempotencyKey), old.UserID, old.Qty)
	defer cancelStale()
	type waiter struct {
		res flashsale.Result
		ch  <-chan flashsale.Result
	}
	var ws []waiter
	for _, k := range []string{"k-1", "k-2", "k-3", "k-4", "k-5", "k-6"} {
		res := flashsale.Result{SaleID: "fs-1", IdempotencyKey: k, UserID: "u-" + k, Qty: 2, Status: flashsale.StatusRejected,
			Reason: flashsale.ReasonSoldOut, Bucket: 3, Time: time.UnixMilli(1_700_000_000_000).UTC()}
		ch, cancel, _ := r.wait(flashsale.PurchaseKey(res.SaleID, k), res.UserID, res.Qty)
		defer cancel()
		ws = append(ws, waiter{res, ch})
	}
	// A later result under the old key lands on its partition after it.
	sentinel := old
	sentinel.UserID = "u-sentinel"
	ch, cancelSentinel, _ := r.wait(flashsale.PurchaseKey(old.SaleID, old.IdempotencyKey), sentinel.UserID, sentinel.Qty)
	defer cancelSentinel()
	ws = append(ws, waiter{sentinel, ch})
	publish(sentinel)
	for _, w := range ws[:len(ws)-1] {
		// Another buyer's attempt under the same key comes first and
		// must not be taken for it.
		other := w.res
		other.UserID += "-other"
		publish(other)
		publish(w.res)
	}
	for _, w := range ws {
		select {
		case got := <-w.ch:
			if got != w.res {
				t.Errorf("result %+v, want %+v", got, w.res)
			}
		case <-ctx.Done():
			t.Fatalf("no result for %s", w.res.IdempotencyKey)
		}
	}
	select {
	case got := <-stale:
		t.Errorf("delivered a result published before the consumer started: %+v", got)
	default:
	}
}
