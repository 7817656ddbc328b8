package api

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas/codec"
)

// Results hands each result event to the request waiting for it. Every
// API instance reads the whole events topic from where it stood when the
// instance started, and picks out the command ids it is waiting for; the
// events are small and the topic is the one place every result is.
type Results struct {
	client *kgo.Client
	log    *slog.Logger
	mu     struct {
		sync.Mutex
		waiters map[string][]chan inventory.Event
	}
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
	r := &Results{client: client, log: log}
	r.mu.waiters = map[string][]chan inventory.Event{}
	return r, nil
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
// the command; call cancel when done waiting.
func (r *Results) wait(commandID string) (<-chan inventory.Event, func()) {
	ch := make(chan inventory.Event, 1)
	r.mu.Lock()
	r.mu.waiters[commandID] = append(r.mu.waiters[commandID], ch)
	r.mu.Unlock()
	return ch, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		ws := r.mu.waiters[commandID]
		for i, w := range ws {
			if w == ch {
				ws = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(r.mu.waiters, commandID)
		} else {
			r.mu.waiters[commandID] = ws
		}
	}
}

func (r *Results) deliver(e inventory.Event) {
	r.mu.Lock()
	ws := r.mu.waiters[e.CommandID]
	delete(r.mu.waiters, e.CommandID)
	r.mu.Unlock()
	for _, w := range ws {
		w <- e // buffered, one event per waiter
	}
}
