// Package punctuate runs a topology's scheduled work, as Kafka Streams'
// Punctuator does: goka has no timers, so the expiry sweeper, the price
// ticker, the flash-sale settler and the order deadlines each make a pass
// over the partitions their instance owns every interval and propose what
// is due through a topic. This package holds the loop they share; each
// keeps its own pass.
package punctuate

import (
	"context"
	"log/slog"
	"time"
)

// Every calls pass every interval until ctx ends, then returns nil. A pass
// that fails is logged with what names it and retried at the next tick: a
// pass only proposes, and what it could not propose is still due next time.
// A pass runs on Every's goroutine, so passes never overlap.
func Every(ctx context.Context, interval time.Duration, log *slog.Logger, what string, pass func(context.Context) error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := pass(ctx); err != nil && ctx.Err() == nil {
				log.Warn(what+" failed", "err", err)
			}
		}
	}
}
