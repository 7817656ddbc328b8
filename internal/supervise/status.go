package supervise

import "sync"

// State is where a component stands.
type State string

const (
	// Recovering: starting, or running but not yet caught up with its
	// state (see Recoverer).
	Recovering State = "recovering"
	// Running: running and, if it is a Recoverer, recovered.
	Running State = "running"
	// Failed: its last incarnation failed and the next is not running yet.
	Failed State = "failed"
	// Stopped: the supervisor's context has ended.
	Stopped State = "stopped"
)

// Status is what Health says of one component.
type Status struct {
	Name  string
	State State
	// Err is the last failure, kept after the component is built again so
	// that a component still recovering says why it restarted; nil if it
	// never failed.
	Err error
	// Failures counts the failures so far, builds that failed included.
	Failures int
}

// Ready reports whether the component is running and recovered.
func (s Status) Ready() bool { return s.State == Running }

// Health lists every component's status in the order they were added.
func (s *Supervisor) Health() []Status {
	out := make([]Status, 0, len(s.components()))
	for _, c := range s.components() {
		out = append(out, c.status())
	}
	return out
}

// Ready reports whether every component is running and recovered; false
// before Run.
func (s *Supervisor) Ready() bool {
	for _, c := range s.components() {
		if !c.status().Ready() {
			return false
		}
	}
	return true
}

// Current lists the incarnations running now, in the order their
// components were added; a failed component has none.
func (s *Supervisor) Current() []Runner {
	var out []Runner
	for _, c := range s.components() {
		if r := c.running(); r != nil {
			out = append(out, r)
		}
	}
	return out
}

func (s *Supervisor) components() []*component {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.comps
}

// component is a Component and what the supervisor knows of it.
type component struct {
	spec Component
	mu   struct {
		sync.Mutex
		// current is the incarnation in Run, nil before the first and
		// between a failure and the next.
		current  Runner
		stopped  bool
		err      error
		failures int
	}
}

func (c *component) start(r Runner) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.current = r
}

func (c *component) fail(err error) (failures int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.current, c.mu.err = nil, err
	c.mu.failures++
	return c.mu.failures
}

func (c *component) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.current, c.mu.stopped = nil, true
}

func (c *component) running() Runner {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.current
}

func (c *component) status() Status {
	c.mu.Lock()
	st := Status{Name: c.spec.Name, Err: c.mu.err, Failures: c.mu.failures}
	current, stopped := c.mu.current, c.mu.stopped
	c.mu.Unlock()
	switch {
	case stopped:
		st.State = Stopped
	case current == nil && st.Err != nil:
		st.State = Failed
	case current == nil:
		st.State = Recovering
	default:
		st.State = Running
		// Asked outside the lock: a goka processor's Recovered takes
		// locks of its own.
		if rec, ok := current.(Recoverer); ok && !rec.Recovered() {
			st.State = Recovering
		}
	}
	return st
}
