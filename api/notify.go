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
		waiters map[string]chan struct{}
	}
}

// NewNotifier returns an empty notifier.
func NewNotifier() *Notifier {
	n := &Notifier{}
	n.mu.waiters = map[string]chan struct{}{}
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
		ch, ok := n.mu.waiters[key]
		delete(n.mu.waiters, key)
		n.mu.Unlock()
		if ok {
			close(ch)
		}
		return nil
	}
}

// changed returns a channel closed at the key's next update. Take it
// before reading the key, so an update between the read and the wait is
// not missed.
func (n *Notifier) changed(key string) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	ch, ok := n.mu.waiters[key]
	if !ok {
		ch = make(chan struct{})
		n.mu.waiters[key] = ch
	}
	return ch
}

// until reads the key with get until done accepts the value or ctx ends;
// it returns the last value read and whether done accepted it.
func until[T any](ctx context.Context, n *Notifier, key string, get func() (T, error), done func(T) bool) (T, bool, error) {
	for {
		ch := n.changed(key)
		v, err := get()
		if err != nil || done(v) {
			return v, err == nil, err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return v, false, nil
		}
	}
}
