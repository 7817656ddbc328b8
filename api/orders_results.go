package api

import (
	"context"
	"fmt"
	"log/slog"

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
	client  *kgo.Client
	log     *slog.Logger
	waiters *pending[chan *ordersv1.OrderEvent]
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
	return &OrderOutcomes{client: client, log: log, waiters: newPending[chan *ordersv1.OrderEvent]()}
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
// the order; call cancel when done waiting. ok is false, and nothing
// registered, when the bound on waiting requests is reached.
func (o *OrderOutcomes) wait(orderID string) (<-chan *ordersv1.OrderEvent, func(), bool) {
	ch := make(chan *ordersv1.OrderEvent, 1)
	cancel, ok := o.waiters.add(orderID, ch)
	return ch, cancel, ok
}

// deliver hands a terminal event to the order's waiters; anything else on
// the topic is not an outcome and is skipped.
func (o *OrderOutcomes) deliver(ev *ordersv1.OrderEvent) {
	if ev.GetConfirmed() == nil && ev.GetRejected() == nil {
		return
	}
	for _, w := range o.waiters.take(ev.GetOrderId(), func(chan *ordersv1.OrderEvent) bool { return true }) {
		w <- ev // buffered, one outcome per waiter
	}
}
