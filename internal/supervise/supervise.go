// Package supervise keeps the components of a process running.
//
// A component is anything with Run(ctx) error that should run as long as
// the process does: a topology's goka processors with their punctuators, a
// goka view, a results consumer. The supervisor runs each in a goroutine it
// owns. When one returns while the supervisor's context is live, with an
// error or without, it has failed: the supervisor logs the failure at Error
// level with the component's name, reports it through Health, calls the
// component's Reset to undo what the failure may have left behind, waits a
// backoff, and builds a fresh incarnation with the component's New, since
// neither a goka processor nor a view can Run twice. A processor built again
// resumes from its committed offsets. Cancelling the context is how the
// process stops its components, and is never a failure.
//
// The backoff starts at Backoff.Min and doubles with each failure in a row,
// up to Backoff.Max; an incarnation that ran for Backoff.Healthy before it
// failed starts the series again, so a component that fails once a day
// comes back at once, and one that cannot start does not spin.
//
// Whatever reads a component while it runs (readiness, lag metrics, the
// API's views) must read the current incarnation: Current lists them, and
// Health says of each component whether it is running, still recovering
// its state, or failed and with what.
package supervise

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Runner is one incarnation of a component. Run blocks until ctx ends or
// the incarnation fails.
type Runner interface {
	Run(ctx context.Context) error
}

// Recoverer is a Runner that is not ready as soon as it runs: a goka
// processor or view catching up with its changelog. Health reports it
// recovering until Recovered returns true.
type Recoverer interface {
	Recovered() bool
}

// Component is one thing the supervisor keeps running.
type Component struct {
	// Name identifies the component in logs and in Health.
	Name string
	// First is the incarnation to run first. The caller builds it, so that
	// a configuration mistake shows before anything runs; nil has New
	// build the first one too.
	First Runner
	// New builds a fresh incarnation after a failure, from the same
	// configuration as the first. Nil means the component cannot be built
	// again: after a failure it stays failed, which Health reports, and
	// the other components carry on.
	New func(ctx context.Context) (Runner, error)
	// Reset, if set, is called once an incarnation has failed and its Run
	// has returned, before New builds the next; it undoes what the failure
	// may have left behind, such as a processor's local state written
	// ahead of Kafka. Until it succeeds no new incarnation is built.
	Reset func(ctx context.Context, cause error) error
}

// ErrStopped is the failure of an incarnation whose Run returned nil while
// the supervisor's context was live: it stopped on its own.
var ErrStopped = errors.New("supervise: stopped on its own")

// Backoff bounds the wait before a failed component is built again.
type Backoff struct {
	// Min is the first wait after a failure.
	Min time.Duration
	// Max caps the wait, which doubles with each failure in a row.
	Max time.Duration
	// Healthy is how long an incarnation must have run for its failure
	// to start the series at Min again.
	Healthy time.Duration
}

// DefaultBackoff waits 1 s, then 2, 4, ... up to 30 s, and forgets the
// series after a minute of running.
func DefaultBackoff() Backoff {
	return Backoff{Min: time.Second, Max: 30 * time.Second, Healthy: time.Minute}
}

// Validate reports a backoff that cannot work.
func (b Backoff) Validate() error {
	if b.Min <= 0 || b.Max < b.Min || b.Healthy <= 0 {
		return fmt.Errorf("supervise: backoff min %v, max %v, healthy %v: want 0 < min <= max and healthy > 0", b.Min, b.Max, b.Healthy)
	}
	return nil
}

// next is the wait after prev, the one before it (zero for none).
func (b Backoff) next(prev time.Duration) time.Duration {
	if prev <= 0 {
		return b.Min
	}
	return min(2*prev, b.Max)
}

// Options configure a Supervisor.
type Options struct {
	// Backoff bounds the waits between failures; the zero value means
	// DefaultBackoff.
	Backoff Backoff
	Logger  *slog.Logger
}

// Supervisor runs components and builds them again when they fail.
type Supervisor struct {
	backoff Backoff
	log     *slog.Logger
	// now and sleep are the clock; tests of the backoff replace them.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) bool

	mu struct {
		sync.Mutex
		started bool
		comps   []*component
		names   map[string]bool
	}
}

// New checks the options and returns a Supervisor without components.
func New(opts Options) (*Supervisor, error) {
	if opts.Backoff == (Backoff{}) {
		opts.Backoff = DefaultBackoff()
	}
	if err := opts.Backoff.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Supervisor{backoff: opts.Backoff, log: opts.Logger, now: time.Now, sleep: sleep}
	s.mu.names = map[string]bool{}
	return s, nil
}

// Add registers a component; it starts with Run, and cannot be added after.
func (s *Supervisor) Add(c Component) error {
	if c.Name == "" || (c.First == nil && c.New == nil) {
		return fmt.Errorf("supervise: component %q needs a name and a first incarnation or a factory", c.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.mu.started:
		return fmt.Errorf("supervise: component %s added after Run", c.Name)
	case s.mu.names[c.Name]:
		return fmt.Errorf("supervise: component %s added twice", c.Name)
	}
	s.mu.names[c.Name] = true
	s.mu.comps = append(s.mu.comps, &component{spec: c})
	return nil
}

// Run runs every component until ctx ends, building each again after a
// failure, and returns once all have returned. Its error joins what the
// incarnations returned as ctx ended, other than the context's own error:
// a processor that could not commit on the way out, say. Run runs once.
func (s *Supervisor) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.mu.started {
		s.mu.Unlock()
		return errors.New("supervise: Run called twice")
	}
	s.mu.started = true
	comps := s.mu.comps
	s.mu.Unlock()

	errs := make([]error, len(comps))
	var wg sync.WaitGroup
	for n, c := range comps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[n] = s.keep(ctx, c)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// keep runs c until ctx ends. It returns the error of the incarnation that
// was running when ctx ended.
func (s *Supervisor) keep(ctx context.Context, c *component) error {
	name := c.spec.Name
	defer func() {
		if ctx.Err() != nil {
			c.stop()
		}
	}()
	var (
		r     = c.spec.First
		delay time.Duration
		// cause is the failure whose incarnation awaits Reset, nil once
		// reset.
		cause error
	)
	for {
		if r == nil {
			if cause != nil && c.spec.Reset != nil {
				if err := c.spec.Reset(ctx, cause); err != nil {
					if !s.failed(ctx, c, fmt.Errorf("reset after %w: %w", cause, err), 0, &delay) || !s.sleep(ctx, delay) {
						return nil
					}
					continue
				}
			}
			cause = nil
			next, err := c.spec.New(ctx)
			if err != nil {
				if !s.failed(ctx, c, fmt.Errorf("build: %w", err), 0, &delay) || !s.sleep(ctx, delay) {
					return nil
				}
				continue
			}
			r = next
			if c.status().Failures > 0 {
				s.log.Info("component built again", "component", name)
			}
		}
		began := s.now()
		c.start(r)
		err := r.Run(ctx)
		if ctx.Err() != nil {
			if err == nil || errors.Is(err, context.Canceled) {
				return nil
			}
			return fmt.Errorf("%s: %w", name, err)
		}
		if err == nil {
			err = ErrStopped
		}
		r, cause = nil, err
		if !s.failed(ctx, c, err, s.now().Sub(began), &delay) {
			return nil
		}
		// Reset at once rather than after the wait, so that a crash meanwhile
		// finds the state as the next incarnation will.
		if c.spec.Reset != nil {
			if rerr := c.spec.Reset(ctx, cause); rerr != nil {
				s.log.Error("component reset failed; trying again before it is built", "component", name, "err", rerr)
			} else {
				cause = nil
			}
		}
		if !s.sleep(ctx, delay) {
			return nil
		}
	}
}

// failed records c's failure and logs it with the wait before c is built
// again, which it leaves in delay. An incarnation that ran for
// Backoff.Healthy starts the series again. It reports whether c is to be
// built again: not when ctx has ended, nor without a factory.
func (s *Supervisor) failed(ctx context.Context, c *component, err error, ranFor time.Duration, delay *time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	if ranFor >= s.backoff.Healthy {
		*delay = 0
	}
	*delay = s.backoff.next(*delay)
	failures := c.fail(err)
	if c.spec.New == nil {
		s.log.Error("component failed and cannot be built again", "component", c.spec.Name, "err", err, "failures", failures)
		return false
	}
	s.log.Error("component failed; building it again after a backoff", "component", c.spec.Name, "err", err,
		"failures", failures, "restart_in", *delay)
	return true
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
