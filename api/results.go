package api

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas/codec"
)

// Results hands each result event to the request waiting for it. Every
// API instance reads the whole events topic from where it stood when the
// instance started, and picks out the command ids it is waiting for; the
// events are small and the topic is the one place every result is.
type Results struct {
	client  *kgo.Client
	log     *slog.Logger
	waiters *pending[chan inventory.Event]
}

// NewResults positions a consumer at the current end of every partition of
// the events topic (schemas.InventoryEvents in its namespace), so no
// result of a command sent after it returns can be missed.
func NewResults(ctx context.Context, brokers []string, topic string, log *slog.Logger, opts ...kgo.Opt) (*Results, error) {
	client, err := tail(ctx, brokers, topic, opts...)
	if err != nil {
		return nil, fmt.Errorf("api: results: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	return &Results{client: client, log: log, waiters: newPending[chan inventory.Event]()}, nil
}

// Run dispatches events until ctx ends, then closes the consumer.
func (r *Results) Run(ctx context.Context) error {
	defer r.client.Close()
	dec := codec.Event()
	for {
		fetches := r.client.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			r.log.Warn("results: fetch", "topic", topic, "partition", p, "err", err)
		})
		fetches.EachRecord(func(rec *kgo.Record) {
			w, err := dec.DecodeMessage(rec.Value)
			if err != nil {
				r.log.Warn("results: undecodable event", "partition", rec.Partition, "offset", rec.Offset, "err", err)
				return
			}
			if e := inventory.EventFromWire(w); e.IsResult() {
				r.deliver(e)
			}
		})
	}
}

// wait registers interest in a command's result. Call it before sending
// the command; call cancel when done waiting. ok is false, and nothing
// registered, when the bound on waiting requests is reached.
func (r *Results) wait(commandID string) (<-chan inventory.Event, func(), bool) {
	ch := make(chan inventory.Event, 1)
	cancel, ok := r.waiters.add(commandID, ch)
	return ch, cancel, ok
}

func (r *Results) deliver(e inventory.Event) {
	for _, w := range r.waiters.take(e.CommandID, func(chan inventory.Event) bool { return true }) {
		w <- e // buffered, one event per waiter
	}
}
