package api

import (
	"context"
	"sync"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
)

// Notifier wakes readers waiting for a key of a view to change. A view
// built with its Callback reports every update of its local replica.
type Notifier struct {
	mu struct {
		sync.Mutex
		waiters map[string]*waiter
	}
}

// waiter is the channel of one key, shared by every reader waiting on it;
// the last reader to give up removes it, so keys that are never updated
// do not pile up.
type waiter struct {
	ch   chan struct{}
	refs int
}

// NewNotifier returns an empty notifier.
func NewNotifier() *Notifier {
	n := &Notifier{}
	n.mu.waiters = map[string]*waiter{}
	return n
}

// Callback stores the update as goka does by default, then wakes the
// key's waiters. Pass it with goka.WithViewCallback.
func (n *Notifier) Callback() goka.UpdateCallback {
	return func(ctx goka.UpdateContext, s storage.Storage, key string, value []byte) error {
		if err := goka.DefaultUpdate(ctx, s, key, value); err != nil {
			return err
		}
		n.mu.Lock()
		w, ok := n.mu.waiters[key]
		delete(n.mu.waiters, key)
		n.mu.Unlock()
		if ok {
			close(w.ch)
		}
		return nil
	}
}

// changed returns a channel closed at the key's next update, and release,
// to call once done waiting on it. Take it before reading the key, so an
// update between the read and the wait is not missed.
func (n *Notifier) changed(key string) (<-chan struct{}, func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	w, ok := n.mu.waiters[key]
	if !ok {
		w = &waiter{ch: make(chan struct{})}
		n.mu.waiters[key] = w
	}
	w.refs++
	return w.ch, func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		if w.refs--; w.refs == 0 && n.mu.waiters[key] == w {
			delete(n.mu.waiters, key)
		}
	}
}

// until reads the key with get until done accepts the value or ctx ends;
// it returns the last value read and whether done accepted it.
func until[T any](ctx context.Context, n *Notifier, key string, get func() (T, error), done func(T) bool) (T, bool, error) {
	for {
		ch, release := n.changed(key)
		v, err := get()
		if err != nil || done(v) {
			release()
			return v, err == nil, err
		}
		select {
		case <-ch:
			release()
		case <-ctx.Done():
			release()
			return v, false, nil
		}
	}
}
