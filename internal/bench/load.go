package bench

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// Recorder collects request latencies from many goroutines.
type Recorder struct {
	mu struct {
		sync.Mutex
		samples []time.Duration
		failed  int
	}
}

// Observe records one request that got the answer it wanted.
func (r *Recorder) Observe(d time.Duration) {
	r.mu.Lock()
	r.mu.samples = append(r.mu.samples, d)
	r.mu.Unlock()
}

// Fail records one request that did not; it has no latency.
func (r *Recorder) Fail() {
	r.mu.Lock()
	r.mu.failed++
	r.mu.Unlock()
}

// Summary is what a Recorder saw.
type Summary struct {
	Count  int
	Failed int
	sorted []time.Duration
}

// Summary sorts what was observed so far.
func (r *Recorder) Summary() Summary {
	r.mu.Lock()
	s := Summary{Count: len(r.mu.samples), Failed: r.mu.failed, sorted: slices.Clone(r.mu.samples)}
	r.mu.Unlock()
	slices.Sort(s.sorted)
	return s
}

// Quantile is the nearest-rank q-quantile (0 < q <= 1) of the observed
// latencies, 0 when there are none. Nearest rank never interpolates, so
// p99 is a latency some request really had.
func (s Summary) Quantile(q float64) time.Duration {
	if len(s.sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q*float64(len(s.sorted)))) - 1
	return s.sorted[min(max(rank, 0), len(s.sorted)-1)]
}

// Millis expresses d in milliseconds, the unit the latency metrics use.
func Millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// OpenLoop calls fire at rate calls per second for d, each call on its own
// goroutine, and returns how many it started once all have returned.
//
// The schedule is fixed up front: call i is due at start + i/rate whether
// or not earlier calls have finished, as real clients do not wait for each
// other. fire gets the time its call was due, and a latency measured from
// there counts the time the call spent waiting for a busy machine to start
// it; measuring from the actual start would hide exactly the stalls a
// latency figure is for (coordinated omission).
func OpenLoop(ctx context.Context, rate float64, d time.Duration, fire func(due time.Time)) int {
	n := int(rate * d.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return i
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return i
		}
		wg.Go(func() { fire(due) })
	}
	return n
}

// ClosedLoop runs clients goroutines that each call do back to back until
// d has passed, recording every call in rec, and returns how long the
// calls took from the first start to the last return. A call that fails
// is recorded with Fail and the client carries on.
func ClosedLoop(ctx context.Context, clients int, d time.Duration, rec *Recorder, do func(client int) error) time.Duration {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				if err := do(c); err != nil {
					rec.Fail()
					continue
				}
				rec.Observe(time.Since(t0))
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}
