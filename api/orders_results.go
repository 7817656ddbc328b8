package api

import (
	"context"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/schemas/codec"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

// OrderOutcomes hands each order's outcome to the requests waiting for
// it, by order id: a tailer of the saga's outcomes topic
// (schemas.OrderOutcomes in its namespace). The saga publishes exactly one
// outcome per order, confirmed or rejected.
type OrderOutcomes struct {
	*tailer[*ordersv1.OrderEvent]
}

// NewOrderOutcomes positions a consumer at the current end of every
// partition of topic, so no outcome of an order placed after it returns
// can be missed.
func NewOrderOutcomes(ctx context.Context, brokers []string, topic string, log *slog.Logger, opts ...kgo.Opt) (*OrderOutcomes, error) {
	t, err := startTailer(ctx, brokers, topic, "order outcomes", log, codec.OrderEvent().DecodeMessage, outcomeKey, opts...)
	if err != nil {
		return nil, err
	}
	return &OrderOutcomes{t}, nil
}

func newOrderOutcomes(client *kgo.Client, log *slog.Logger) *OrderOutcomes {
	return &OrderOutcomes{newTailer("order outcomes", client, log, codec.OrderEvent().DecodeMessage, outcomeKey)}
}

// outcomeKey is the order a terminal event is about; anything else on the
// topic is not an outcome.
func outcomeKey(ev *ordersv1.OrderEvent) (string, bool) {
	return ev.GetOrderId(), ev.GetConfirmed() != nil || ev.GetRejected() != nil
}

// wait registers interest in an order's outcome (tailer.wait).
func (o *OrderOutcomes) wait(orderID string) (<-chan *ordersv1.OrderEvent, func(), bool) {
	return o.tailer.wait(orderID, nil)
}
