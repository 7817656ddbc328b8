// Package topology holds what every topology in topologies/ is made of as
// it runs: its goka processor groups, the punctuators beside them
// (internal/punctuate), and the dead-letter writer the groups share. A
// topology builds its parts and hands them to a Set, which runs them
// together and answers for them: the instance's supervisor needs nothing
// else of a topology (supervise.Runner and Recoverer, and the processors
// for lag metrics).
//
// The package also describes a topology's groups as plain values
// (FromGraph), for an operator rather than for running them: Check holds
// them against a cluster's partition counts, and WriteDescription,
// WriteDOT and WriteMermaid write them out (titan topology).
package topology

import (
	"context"

	"github.com/lovoo/goka"
	"golang.org/x/sync/errgroup"

	"github.com/titan-commerce/titan/internal/observe"
)

// Runner is a punctuator, or anything else that runs beside the groups
// until its context ends.
type Runner interface {
	Run(ctx context.Context) error
}

// Set is a topology's processors and punctuators, run as one.
type Set struct {
	deadLetters []*observe.DeadLetterWriter
	procs       []*goka.Processor
	punctuators []Runner
}

// NewSet returns the set of procs, which write their dead letters through
// deadLetters (nil for none), and punctuators.
func NewSet(deadLetters *observe.DeadLetterWriter, procs []*goka.Processor, punctuators ...Runner) *Set {
	s := &Set{procs: procs, punctuators: punctuators}
	if deadLetters != nil {
		s.deadLetters = append(s.deadLetters, deadLetters)
	}
	return s
}

// Join returns one set of the processors and punctuators of sets, run
// together: a replay runs the groups of several topologies that read each
// other's tables.
func Join(sets ...*Set) *Set {
	out := &Set{}
	for _, s := range sets {
		out.deadLetters = append(out.deadLetters, s.deadLetters...)
		out.procs = append(out.procs, s.procs...)
		out.punctuators = append(out.punctuators, s.punctuators...)
	}
	return out
}

// Run runs every processor and punctuator until ctx ends or one of them
// fails, which stops the others. On return every processor has committed
// its offsets and closed its storages, and the dead-letter writer is
// closed.
func (s *Set) Run(ctx context.Context) error {
	for _, w := range s.deadLetters {
		defer w.Close()
	}
	g, ctx := errgroup.WithContext(ctx)
	for _, p := range s.procs {
		g.Go(func() error { return p.Run(ctx) })
	}
	for _, r := range s.punctuators {
		g.Go(func() error { return r.Run(ctx) })
	}
	return g.Wait()
}

// Recovered reports whether every processor has caught up with its table
// and is processing.
func (s *Set) Recovered() bool {
	for _, p := range s.procs {
		if !p.Recovered() {
			return false
		}
	}
	return true
}

// Processors lists the processors by group, for lag metrics.
func (s *Set) Processors() map[string]*goka.Processor {
	out := make(map[string]*goka.Processor, len(s.procs))
	for _, p := range s.procs {
		out[string(p.Graph().Group())] = p
	}
	return out
}
