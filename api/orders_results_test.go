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
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

func confirmedEvent(id string, total int64) *ordersv1.OrderEvent {
	return &ordersv1.OrderEvent{EventId: "titan:order:" + id + ":outcome", OrderId: id, TimestampMs: 1,
		Kind: &ordersv1.OrderEvent_Confirmed{Confirmed: &ordersv1.OrderConfirmed{TotalMinor: total}}}
}

// TestOrderOutcomesDeliver: every waiter of an order gets its outcome
// once; events that are not outcomes are skipped; a cancelled waiter
// leaves nothing behind.
func TestOrderOutcomesDeliver(t *testing.T) {
	o := newOrderOutcomes(nil, slog.New(slog.DiscardHandler))
	a, cancelA, _ := o.wait("o-1")
	defer cancelA()
	b, cancelB, _ := o.wait("o-1")
	defer cancelB()
	_, cancelC, _ := o.wait("o-2")
	cancelC()

	o.deliver(&ordersv1.OrderEvent{OrderId: "o-1", Kind: &ordersv1.OrderEvent_Placed{Placed: &ordersv1.OrderPlaced{}}})
	select {
	case ev := <-a:
		t.Fatalf("delivered a placed event: %v", ev)
	default:
	}
	want := confirmedEvent("o-1", 7)
	o.deliver(want)
	for _, ch := range []<-chan *ordersv1.OrderEvent{a, b} {
		select {
		case got := <-ch:
			if !proto.Equal(got, want) {
				t.Errorf("outcome %v, want %v", got, want)
			}
		default:
			t.Fatal("a waiter got no outcome")
		}
	}
	if n := o.waiters.keys(); n != 0 {
		t.Errorf("%d orders still have waiters", n)
	}
}

// TestOrderOutcomesOnBroker: the consumer starts at the end of the
// outcomes topic, so what was published before it is not delivered, and
// hands each later outcome to its order's waiter, on any partition.
func TestOrderOutcomesOnBroker(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topics(t, brokers, 3, "order-outcomes")["order-outcomes"]
	producer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(partition.Kgo()))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	publish := func(ev *ordersv1.OrderEvent) {
		t.Helper()
		b, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := producer.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(ev.GetOrderId()), Value: b}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	publish(confirmedEvent("o-0", 1))

	o, err := NewOrderOutcomes(ctx, brokers, topic, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- o.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()

	stale, cancelStale, _ := o.wait("o-0")
	defer cancelStale()
	type waiter struct {
		ev *ordersv1.OrderEvent
		ch <-chan *ordersv1.OrderEvent
	}
	var ws []waiter
	for i, id := range []string{"o-1", "o-2", "o-3", "o-4", "o-5", "o-6"} {
		ev := confirmedEvent(id, int64(i))
		if i%2 == 1 {
			ev.Kind = &ordersv1.OrderEvent_Rejected{Rejected: &ordersv1.OrderRejected{Reason: "out_of_stock", Detail: id}}
		}
		ch, cancel, _ := o.wait(id)
		defer cancel()
		ws = append(ws, waiter{ev, ch})
	}
	for _, w := range ws {
		// A checkout event under the order's key is no outcome.
		publish(&ordersv1.OrderEvent{EventId: "x", OrderId: w.ev.GetOrderId(), TimestampMs: 1,
			Kind: &ordersv1.OrderEvent_Placed{Placed: &ordersv1.OrderPlaced{UserId: "u"}}})
		publish(w.ev)
	}
	// A later outcome under the old key lands on its partition after it.
	sentinel := confirmedEvent("o-0", 2)
	ch, cancelSentinel, _ := o.wait("o-0")
	defer cancelSentinel()
	ws = append(ws, waiter{sentinel, ch})
	publish(sentinel)
	for _, w := range ws {
		select {
		case got := <-w.ch:
			if !proto.Equal(got, w.ev) {
				t.Errorf("outcome %v, want %v", got, w.ev)
			}
		case <-ctx.Done():
			t.Fatalf("no outcome for %s", w.ev.GetOrderId())
		}
	}
	select {
	case got := <-stale:
		if !proto.Equal(got, sentinel) {
			t.Errorf("delivered an outcome published before the consumer started: %v", got)
		}
	default:
	}
}
