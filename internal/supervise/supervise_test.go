package supervise

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var errBoom = errors.New("boom")

// fakeRunner runs until ctx ends or the test hands it a result.
type fakeRunner struct {
	id        int
	started   chan struct{}
	result    chan error
	recovered atomic.Bool
	// recoverer says whether it reports Recovered at all.
	recoverer bool
}

func newRunner(id int) *fakeRunner {
	return &fakeRunner{id: id, started: make(chan struct{}), result: make(chan error, 1)}
}

func (f *fakeRunner) Run(ctx context.Context) error {
	close(f.started)
	select {
	case err := <-f.result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// recoveringRunner is a fakeRunner that is a Recoverer.
type recoveringRunner struct{ *fakeRunner }

func (r recoveringRunner) Recovered() bool { return r.recovered.Load() }

// logs collects log lines from the supervisor's goroutines.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) lines(level string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for line := range strings.Lines(l.buf.String()) {
		if strings.Contains(line, "level="+level) {
			out = append(out, line)
		}
	}
	return out
}

// gatedSleep replaces the supervisor's wait: each wait reports its length
// and lasts until the test releases it.
type gatedSleep struct {
	delays  chan time.Duration
	release chan struct{}
}

func gate(s *Supervisor) *gatedSleep {
	g := &gatedSleep{delays: make(chan time.Duration, 16), release: make(chan struct{})}
	s.sleep = func(ctx context.Context, d time.Duration) bool {
		g.delays <- d
		select {
		case <-g.release:
			return true
		case <-ctx.Done():
			return false
		}
	}
	return g
}

func newSupervisor(t *testing.T, l *logs) *Supervisor {
	t.Helper()
	s, err := New(Options{Backoff: Backoff{Min: time.Second, Max: 8 * time.Second, Healthy: time.Minute},
		Logger: slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// run is a Supervisor.Run in progress.
type run struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// stop cancels the run and returns Run's error; it may be called again.
func (r *run) stop() error {
	r.cancel()
	<-r.done
	return r.err
}

// running reports whether Run has not returned yet.
func (r *run) running() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// start runs s until the test ends at the latest.
func start(t *testing.T, s *Supervisor) *run {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = s.Run(ctx)
	}()
	t.Cleanup(func() { _ = r.stop() })
	return r
}

func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func only(t *testing.T, s *Supervisor) Status {
	t.Helper()
	h := s.Health()
	if len(h) != 1 {
		t.Fatalf("Health lists %d components, want 1", len(h))
	}
	return h[0]
}

// TestRestartsAfterFailure: a failed incarnation is logged with the
// component's name, shown failed with its error, reset, and after the
// backoff replaced by a new one from the factory, which Current then lists.
func TestRestartsAfterFailure(t *testing.T) {
	var l logs
	s := newSupervisor(t, &l)
	g := gate(s)
	var (
		mu     sync.Mutex
		events []string
	)
	built := make(chan *fakeRunner, 1)
	first := newRunner(0)
	err := s.Add(Component{
		Name:  "inventory",
		First: first,
		New: func(context.Context) (Runner, error) {
			mu.Lock()
			defer mu.Unlock()
			r := newRunner(1)
			events = append(events, "new")
			built <- r
			return r, nil
		},
		Reset: func(_ context.Context, cause error) error {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, "reset: "+cause.Error())
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := only(t, s); st.State != Recovering || s.Ready() {
		t.Errorf("before Run: %+v, ready %t; want recovering, not ready", st, s.Ready())
	}
	r := start(t, s)
	wait(t, first.started, "the first incarnation")
	if st := only(t, s); st.State != Running || st.Err != nil || !s.Ready() {
		t.Errorf("running: %+v, ready %t", st, s.Ready())
	}
	if cur := s.Current(); len(cur) != 1 || cur[0] != first {
		t.Errorf("Current() = %v, want the first incarnation", cur)
	}

	first.result <- errBoom
	if d := <-g.delays; d != time.Second {
		t.Errorf("first backoff %v, want Backoff.Min", d)
	}
	st := only(t, s)
	if st.State != Failed || !errors.Is(st.Err, errBoom) || st.Failures != 1 || s.Ready() {
		t.Errorf("during the backoff: %+v, ready %t; want failed with boom", st, s.Ready())
	}
	if cur := s.Current(); len(cur) != 0 {
		t.Errorf("Current() during the backoff = %v, want none", cur)
	}
	mu.Lock()
	if !slices.Equal(events, []string{"reset: boom"}) {
		t.Errorf("before the rebuild: %q, want the reset alone", events)
	}
	mu.Unlock()
	errs := l.lines("ERROR")
	if len(errs) != 1 || !strings.Contains(errs[0], "component=inventory") || !strings.Contains(errs[0], "err=boom") {
		t.Errorf("error log %q, want one line naming the component and the error", errs)
	}

	g.release <- struct{}{}
	second := <-built
	wait(t, second.started, "the second incarnation")
	st = only(t, s)
	if st.State != Running || !errors.Is(st.Err, errBoom) || st.Failures != 1 {
		t.Errorf("rebuilt: %+v; want running, the last error kept", st)
	}
	if cur := s.Current(); len(cur) != 1 || cur[0] != second {
		t.Errorf("Current() after the rebuild = %v, want the second incarnation", cur)
	}
	mu.Lock()
	if !slices.Equal(events, []string{"reset: boom", "new"}) {
		t.Errorf("events %q, want reset then new", events)
	}
	mu.Unlock()

	if err := r.stop(); err != nil {
		t.Errorf("Run after cancel: %v", err)
	}
	if st := only(t, s); st.State != Stopped {
		t.Errorf("after cancel: %+v, want stopped", st)
	}
	if n := len(l.lines("ERROR")); n != 1 {
		t.Errorf("%d error lines, want only the failure's: cancelling is not a failure", n)
	}
}

// TestBackoffSeries: waits double up to Max while building keeps failing,
// and start over once an incarnation ran for Backoff.Healthy.
func TestBackoffSeries(t *testing.T) {
	s := newSupervisor(t, &logs{})
	var clock atomic.Int64 // nanoseconds of a fake clock
	s.now = func() time.Time { return time.Unix(0, clock.Load()) }
	var delays []time.Duration
	s.sleep = func(ctx context.Context, d time.Duration) bool {
		delays = append(delays, d)
		clock.Add(int64(d))
		return ctx.Err() == nil
	}
	last := newRunner(99)
	calls := 0
	// healthy runs for Backoff.Healthy, then fails.
	healthy := runnerFunc(func(context.Context) error {
		clock.Add(int64(time.Minute))
		return errBoom
	})
	failing := runnerFunc(func(context.Context) error { return errBoom })
	err := s.Add(Component{
		Name:  "c",
		First: failing,
		New: func(context.Context) (Runner, error) {
			calls++
			switch {
			case calls <= 5:
				return nil, errBoom
			case calls == 6:
				return healthy, nil
			case calls == 7:
				return failing, nil
			}
			return last, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, s)
	wait(t, last.started, "the last incarnation")
	_ = r.stop()
	want := []time.Duration{1, 2, 4, 8, 8, 8, 1, 2}
	for i := range want {
		want[i] *= time.Second
	}
	if !slices.Equal(delays, want) {
		t.Errorf("backoff series %v, want %v", delays, want)
	}
	if st := only(t, s); st.Failures != len(want) {
		t.Errorf("%d failures counted, want %d", st.Failures, len(want))
	}
}

type runnerFunc func(context.Context) error

func (f runnerFunc) Run(ctx context.Context) error { return f(ctx) }

// TestStoppingIsNotAFailure: an incarnation that returns the context's
// error at shutdown is no failure; one that returns another error then has
// it reported by Run; one that returns nil while the context is live has
// failed.
func TestStoppingIsNotAFailure(t *testing.T) {
	var l logs
	s := newSupervisor(t, &l)
	g := gate(s)
	quiet, loud, quitter := newRunner(1), newRunner(2), newRunner(3)
	errCommit := errors.New("commit failed")
	loudRun := runnerFunc(func(ctx context.Context) error {
		close(loud.started)
		<-ctx.Done()
		return errCommit
	})
	for _, c := range []Component{
		{Name: "quiet", First: quiet},
		{Name: "loud", First: loudRun},
		{Name: "quitter", First: quitter, New: func(context.Context) (Runner, error) { return newRunner(4), nil }},
	} {
		if err := s.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	r := start(t, s)
	wait(t, quiet.started, "quiet")
	wait(t, loud.started, "loud")
	wait(t, quitter.started, "quitter")
	quitter.result <- nil
	<-g.delays
	if st := s.Health()[2]; st.State != Failed || !errors.Is(st.Err, ErrStopped) {
		t.Errorf("an incarnation that returned nil: %+v, want failed with ErrStopped", st)
	}
	err := r.stop()
	if !errors.Is(err, errCommit) || !strings.Contains(err.Error(), "loud") || strings.Contains(err.Error(), "quiet") {
		t.Errorf("Run = %v, want loud's error alone, named", err)
	}
	for _, st := range s.Health() {
		if st.State != Stopped {
			t.Errorf("%s after cancel: %s, want stopped", st.Name, st.State)
		}
	}
	if n := len(l.lines("ERROR")); n != 1 {
		t.Errorf("%d error lines, want one for the quitter", n)
	}
}

// TestWithoutFactory: a component that cannot be built again stays failed,
// and the others run on.
func TestWithoutFactory(t *testing.T) {
	var l logs
	s := newSupervisor(t, &l)
	g := gate(s)
	once, other := newRunner(1), newRunner(2)
	for _, c := range []Component{{Name: "results", First: once}, {Name: "other", First: other}} {
		if err := s.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	r := start(t, s)
	wait(t, once.started, "results")
	wait(t, other.started, "other")
	once.result <- errBoom
	deadline := time.Now().Add(10 * time.Second)
	for s.Health()[0].State != Failed && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	h := s.Health()
	if h[0].State != Failed || !errors.Is(h[0].Err, errBoom) || h[1].State != Running || s.Ready() {
		t.Errorf("health %+v, ready %t; want results failed, other running, not ready", h, s.Ready())
	}
	select {
	case d := <-g.delays:
		t.Errorf("waited %v to build a component without a factory", d)
	case <-r.done:
		t.Errorf("Run returned %v while a component still runs", r.err)
	case <-time.After(50 * time.Millisecond):
	}
	if errs := l.lines("ERROR"); len(errs) != 1 || !strings.Contains(errs[0], "cannot be built again") {
		t.Errorf("error log %q", errs)
	}
}

// TestRecoveringUntilRecovered: a Recoverer is recovering, and the
// supervisor not ready, until it says it has recovered.
func TestRecoveringUntilRecovered(t *testing.T) {
	s := newSupervisor(t, &logs{})
	r := recoveringRunner{newRunner(1)}
	if err := s.Add(Component{Name: "view", First: r}); err != nil {
		t.Fatal(err)
	}
	start(t, s)
	wait(t, r.started, "the view")
	if st := only(t, s); st.State != Recovering || s.Ready() {
		t.Errorf("before it recovered: %+v, ready %t", st, s.Ready())
	}
	r.recovered.Store(true)
	if st := only(t, s); st.State != Running || !s.Ready() {
		t.Errorf("after it recovered: %+v, ready %t", st, s.Ready())
	}
}

// TestResetBeforeBuild: nothing is built while Reset fails; each failed
// Reset counts as a failure and backs off.
func TestResetBeforeBuild(t *testing.T) {
	s := newSupervisor(t, &logs{})
	g := gate(s)
	errDisk := errors.New("disk")
	first := newRunner(1)
	var resets, builds atomic.Int32
	next := newRunner(2)
	err := s.Add(Component{
		Name:  "c",
		First: first,
		New: func(context.Context) (Runner, error) {
			builds.Add(1)
			return next, nil
		},
		Reset: func(context.Context, error) error {
			if resets.Add(1) <= 2 {
				return errDisk
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	start(t, s)
	wait(t, first.started, "the first incarnation")
	first.result <- errBoom
	<-g.delays // after the run's failure; the reset right after it failed
	g.release <- struct{}{}
	<-g.delays // the second reset failed
	st := only(t, s)
	if !errors.Is(st.Err, errDisk) || !errors.Is(st.Err, errBoom) || st.Failures != 2 || builds.Load() != 0 {
		t.Errorf("after two failed resets: %+v, %d builds; want the reset's error and the cause, no build", st, builds.Load())
	}
	g.release <- struct{}{}
	wait(t, next.started, "the incarnation built after the reset")
	if resets.Load() != 3 || builds.Load() != 1 {
		t.Errorf("%d resets, %d builds; want 3 and 1", resets.Load(), builds.Load())
	}
}

func TestAddRules(t *testing.T) {
	s := newSupervisor(t, &logs{})
	r := newRunner(1)
	for _, c := range []Component{{First: r}, {Name: "nothing"}} {
		if err := s.Add(c); err == nil {
			t.Errorf("Add(%+v) accepted", c)
		}
	}
	if err := s.Add(Component{Name: "a", First: r}); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(Component{Name: "a", First: r}); err == nil {
		t.Error("a name added twice")
	}
	sup := start(t, s)
	wait(t, r.started, "the component")
	if err := s.Add(Component{Name: "late", First: r}); err == nil {
		t.Error("Add after Run accepted")
	}
	if err := s.Run(context.Background()); err == nil {
		t.Error("a second Run accepted")
	}
	if !sup.running() {
		t.Error("the first Run ended when a second was refused")
	}
}

func TestBackoffValidate(t *testing.T) {
	for _, tc := range []struct {
		b  Backoff
		ok bool
	}{
		{DefaultBackoff(), true},
		{Backoff{Min: time.Second, Max: time.Second, Healthy: time.Second}, true},
		{Backoff{Min: 0, Max: time.Second, Healthy: time.Second}, false},
		{Backoff{Min: 2 * time.Second, Max: time.Second, Healthy: time.Second}, false},
		{Backoff{Min: time.Second, Max: time.Second}, false},
	} {
		if err := tc.b.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: Validate() = %v, want ok %t", tc.b, err, tc.ok)
		}
	}
	if _, err := New(Options{Backoff: Backoff{Min: -1}}); err == nil {
		t.Error("New took an invalid backoff")
	}
}
