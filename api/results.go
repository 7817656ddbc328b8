package api

import (
	"context"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas/codec"
)

// Results hands each result event to the request waiting for it, by
// command id: a tailer of the events topic (schemas.InventoryEvents in its
// namespace).
type Results struct{ *tailer[inventory.Event] }

// NewResults positions a consumer at the current end of every partition of
// the events topic, so no result of a command sent after it returns can be
// missed.
func NewResults(ctx context.Context, brokers []string, topic string, log *slog.Logger, opts ...kgo.Opt) (*Results, error) {
	t, err := startTailer(ctx, brokers, topic, "results", log, decodeResult, resultKey, opts...)
	if err != nil {
		return nil, err
	}
	return &Results{t}, nil
}

func newResults(client *kgo.Client, log *slog.Logger) *Results {
	return &Results{newTailer("results", client, log, decodeResult, resultKey)}
}

var eventCodec = codec.Wire(inventory.EventToWire, inventory.EventFromWire)

func decodeResult(b []byte) (inventory.Event, error) { return eventCodec.DecodeValue(b) }

// resultKey is the command an event answers; an expiry answers none.
func resultKey(e inventory.Event) (string, bool) { return e.CommandID, e.IsResult() }

// wait registers interest in a command's result (tailer.wait).
func (r *Results) wait(commandID string) (<-chan inventory.Event, func(), bool) {
	return r.tailer.wait(commandID, nil)
}
