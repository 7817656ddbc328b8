// Package storagetest checks that an implementation of goka's
// storage.Storage keeps the contract goka relies on: Get/Has/Set/Delete,
// the offset and its hiding, iterators over snapshots, ranges and Seek,
// Close, and one writer with concurrent readers and offset setters.
//
// Where the interface's comments and goka's default LevelDB storage agree,
// that is the contract. Where they disagree, the check follows what the
// LevelDB storage does (IteratorWithRange with an empty limit is a prefix
// scan). Storages that are known to differ on a check (goka's memory storage
// does on Seek and ranges) can be run with RunWithDeviations, which verifies
// that each listed deviation still exists: the check passes when the
// storage still fails it as listed, and fails when it no longer does.
package storagetest

import (
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lovoo/goka/storage"
)

// Deviations maps the name of a check to the reason the storage under test is
// known to fail it.
type Deviations map[string]string

// Run runs every check, each on a fresh storage from open. open must return
// a new, empty storage on which Open has succeeded; the suite closes it.
func Run(t *testing.T, open func(t *testing.T) storage.Storage) {
	t.Helper()
	RunWithDeviations(t, open, nil)
}

// RunWithDeviations is Run for a storage known to fail some checks. A listed
// check is run expecting failure: it is reported as skipped, with the reason
// and what failed, and the test fails if it passes, so the list cannot rot.
func RunWithDeviations(t *testing.T, open func(t *testing.T) storage.Storage, known Deviations) {
	t.Helper()
	names := make(map[string]bool, len(checks))
	for _, c := range checks {
		names[c.name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(known)) {
		if !names[name] {
			t.Errorf("deviation %q names no check", name)
		}
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			st := &tracked{Storage: open(t)}
			defer st.closeIfOpen(t)
			reason, deviates := known[c.name]
			if !deviates {
				c.run(t, st)
				return
			}
			p := &probe{TB: t}
			p.run(func() { c.run(p, st) })
			if !p.failed() {
				t.Errorf("listed as a deviation (%s) but passes: remove it from the list", reason)
				return
			}
			t.Logf("known deviation holds: %s; the check reports: %s", reason, p.report())
		})
	}
}

type check struct {
	name string
	run  func(t testing.TB, st storage.Storage)
}

// tracked remembers whether a check closed the storage so that the harness
// does not close it twice: double Close is a check of its own.
type tracked struct {
	storage.Storage
	mu     sync.Mutex
	closed bool
}

func (s *tracked) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return s.Storage.Close()
}

func (s *tracked) closeIfOpen(t *testing.T) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if !closed {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
}

// probe runs a check whose failure is expected and records the failure
// instead of reporting it. Everything else (Logf, Cleanup, TempDir) goes to
// the real test.
type probe struct {
	testing.TB
	mu   sync.Mutex
	msgs []string
	fail bool
}

func (p *probe) run(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			// A panic is a failure too (goka's LevelDB storage panics on a
			// second Close). runtime.Goexit from FailNow is not a panic.
			if r := recover(); r != nil {
				p.record(fmt.Sprintf("panic: %v", r))
			}
		}()
		f()
	}()
	<-done
}

func (p *probe) record(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fail = true
	if msg != "" {
		p.msgs = append(p.msgs, msg)
	}
}

func (p *probe) failed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fail
}

func (p *probe) report() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.msgs, "; ")
}

func (p *probe) Helper()                           {}
func (p *probe) Fail()                             { p.record("") }
func (p *probe) Failed() bool                      { return p.failed() }
func (p *probe) Error(args ...any)                 { p.record(fmt.Sprint(args...)) }
func (p *probe) Errorf(format string, args ...any) { p.record(fmt.Sprintf(format, args...)) }
func (p *probe) FailNow()                          { p.record(""); runtime.Goexit() }
func (p *probe) Fatal(args ...any)                 { p.record(fmt.Sprint(args...)); runtime.Goexit() }
func (p *probe) Fatalf(format string, args ...any) {
	p.record(fmt.Sprintf(format, args...))
	runtime.Goexit()
}
