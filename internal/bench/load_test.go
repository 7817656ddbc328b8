package bench

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	var r Recorder
	for i := 100; i >= 1; i-- {
		r.Observe(time.Duration(i) * time.Millisecond)
	}
	r.Fail()
	s := r.Summary()
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{0.01, time.Millisecond},
		{0.50, 50 * time.Millisecond},
		{0.99, 99 * time.Millisecond},
		{1, 100 * time.Millisecond},
	} {
		if got := s.Quantile(tc.q); got != tc.want {
			t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if s.Count != 100 || s.Failed != 1 {
		t.Errorf("Count, Failed = %d, %d; want 100, 1", s.Count, s.Failed)
	}
	if got := (Summary{}).Quantile(0.5); got != 0 {
		t.Errorf("empty Quantile = %v, want 0", got)
	}
}

func TestOpenLoopKeepsSchedule(t *testing.T) {
	var calls, late atomic.Int64
	start := time.Now()
	// Each call outlives the interval: an open loop must not wait for it.
	n := OpenLoop(t.Context(), 1000, 50*time.Millisecond, func(due time.Time) {
		calls.Add(1)
		if due.Before(start) {
			late.Add(1)
		}
		time.Sleep(20 * time.Millisecond)
	})
	if n != 50 || calls.Load() != 50 {
		t.Fatalf("started %d, called %d; want 50 each", n, calls.Load())
	}
	if late.Load() > 0 {
		t.Errorf("%d calls were due before the loop started", late.Load())
	}
}

func TestOpenLoopStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if n := OpenLoop(ctx, 10, time.Hour, func(time.Time) {}); n > 1 {
		t.Fatalf("started %d calls after cancel", n)
	}
}

func TestClosedLoopRecordsFailures(t *testing.T) {
	var r Recorder
	ClosedLoop(t.Context(), 2, 20*time.Millisecond, &r, func(c int) error {
		time.Sleep(time.Millisecond)
		if c == 1 {
			return errors.New("no")
		}
		return nil
	})
	s := r.Summary()
	if s.Count == 0 || s.Failed == 0 {
		t.Fatalf("Count %d, Failed %d; want both > 0", s.Count, s.Failed)
	}
}
