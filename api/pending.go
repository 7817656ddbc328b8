package api

import "sync"

// DefaultMaxPending bounds, by default, the requests one results consumer
// holds waiting for their results (Options.MaxPending).
const DefaultMaxPending = 10000

// pending is the requests waiting for their results, keyed by what a
// result names (a command id, an order id, a purchase key). It is bounded:
// past max waiters add refuses, and the request is shed with 429
// overloaded rather than queued without end behind a broker or processor
// that has fallen behind.
type pending[W any] struct {
	mu struct {
		sync.Mutex
		max     int
		n       int
		waiters map[string][]*W
	}
}

func newPending[W any]() *pending[W] {
	p := &pending[W]{}
	p.mu.max = DefaultMaxPending
	p.mu.waiters = map[string][]*W{}
	return p
}

// setMax bounds the waiters; n <= 0 keeps the bound.
func (p *pending[W]) setMax(n int) {
	if n <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.max = n
}

// add registers w under key; ok is false, and nothing registered, when the
// bound is reached. cancel takes w out again if no result took it first.
func (p *pending[W]) add(key string, w W) (cancel func(), ok bool) {
	e := &w
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.n >= p.mu.max {
		return func() {}, false
	}
	p.mu.waiters[key] = append(p.mu.waiters[key], e)
	p.mu.n++
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.removeLocked(key, func(x *W) bool { return x == e })
	}, true
}

// take removes and returns the key's waiters that match.
func (p *pending[W]) take(key string, match func(W) bool) []W {
	p.mu.Lock()
	defer p.mu.Unlock()
	got := p.removeLocked(key, func(x *W) bool { return match(*x) })
	out := make([]W, len(got))
	for i, e := range got {
		out[i] = *e
	}
	return out
}

func (p *pending[W]) removeLocked(key string, match func(*W) bool) []*W {
	var taken, kept []*W
	for _, e := range p.mu.waiters[key] {
		if match(e) {
			taken = append(taken, e)
		} else {
			kept = append(kept, e)
		}
	}
	p.mu.n -= len(taken)
	if len(kept) == 0 {
		delete(p.mu.waiters, key)
	} else {
		p.mu.waiters[key] = kept
	}
	return taken
}

// len is the number of waiters.
func (p *pending[W]) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.n
}

// keys is the number of keys waited on.
func (p *pending[W]) keys() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.mu.waiters)
}
