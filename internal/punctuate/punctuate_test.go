package punctuate

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// Passes run every interval, a failed one does not stop the next, and Every
// returns nil once its context ends.
func TestEvery(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var passes atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- Every(ctx, time.Millisecond, slog.New(slog.DiscardHandler), "test pass", func(context.Context) error {
			if passes.Add(1) == 1 {
				return errors.New("the first pass fails")
			}
			return nil
		})
	}()
	for passes.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Every returned %v", err)
	}
}
