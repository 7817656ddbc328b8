package api

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/schemas/codec"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

// OrderOutcomes hands each order's outcome to the requests waiting for
// it, as Results does for inventory commands: every API instance reads the
// whole outcomes topic from where it stood when the instance started and
// picks out the orders it waits for. The saga publishes exactly one
// outcome per order, confirmed or rejected.
type OrderOutcomes struct {
	client *kgo.Client
	log    *slog.Logger
	mu     struct {
		sync.Mutex
		waiters map[string][]chan *ordersv1.OrderEvent
	}
}

// NewOrderOutcomes positions a consumer at the current end of every
// partition of topic (the saga's outcomes topic, schemas.OrderOutcomes in
// its namespace), so no outcome of an order placed after it returns can be
// missed.
func NewOrderOutcomes(ctx context.Context, brokers []string, topic string, log *slog.Logger, opts ...kgo.Opt) (*OrderOutcomes, error) {
	client, err := tail(ctx, brokers, topic, opts...)
	if err != nil {
		return nil, fmt.Errorf("api: order outcomes: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	return newOrderOutcomes(client, log), nil
}

func newOrderOutcomes(client *kgo.Client, log *slog.Logger) *OrderOutcomes {
	o := &OrderOutcomes{client: client, log: log}
	o.mu.waiters = map[string][]chan *ordersv1.OrderEvent{}
	return o
}

// Run dispatches outcomes until ctx ends, then closes the consumer.
func (o *OrderOutcomes) Run(ctx context.Context) error {
	defer o.client.Close()
	dec := codec.OrderEvent()
	for {
		fetches := o.client.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			o.log.Warn("order outcomes: fetch", "topic", topic, "partition", p, "err", err)
		})
		fetches.EachRecord(func(rec *kgo.Record) {
			ev, err := dec.DecodeMessage(rec.Value)
			if err != nil {
				o.log.Warn("order outcomes: undecodable event", "partition", rec.Partition, "offset", rec.Offset, "err", err)
				return
			}
			o.deliver(ev)
		})
	}
}

// wait registers interest in an order's outcome. Call it before placing
// the order; call cancel when done waiting.
func (o *OrderOutcomes) wait(orderID string) (<-chan *ordersv1.OrderEvent, func()) {
	ch := make(chan *ordersv1.OrderEvent, 1)
	o.mu.Lock()
	o.mu.waiters[orderID] = append(o.mu.waiters[orderID], ch)
	o.mu.Unlock()
	return ch, func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		ws := o.mu.waiters[orderID]
		for i, w := range ws {
			if w == ch {
				ws = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(o.mu.waiters, orderID)
		} else {
			o.mu.waiters[orderID] = ws
		}
	}
}

// deliver hands a terminal event to the order's waiters; anything else on
// the topic is not an outcome and is skipped.
func (o *OrderOutcomes) deliver(ev *ordersv1.OrderEvent) {
	if ev.GetConfirmed() == nil && ev.GetRejected() == nil {
		return
	}
	o.mu.Lock()
	ws := o.mu.waiters[ev.GetOrderId()]
	delete(o.mu.waiters, ev.GetOrderId())
	o.mu.Unlock()
	for _, w := range ws {
		w <- ev // buffered, one outcome per waiter
	}
}
