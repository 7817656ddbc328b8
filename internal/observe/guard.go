package observe

import "github.com/lovoo/goka"

// guarded is the goka.Context a callback sees. goka reports its own
// failures (a state it cannot read or write, a value it cannot encode, an
// output not declared) by panicking through Fail, and documents that the
// panic must not be recovered: its partition processor catches it, stops
// the processor and leaves the offset uncommitted. guarded notes when such
// a panic passes through a context method, so that the decorator, which
// recovers the panics of a topology's own code, raises goka's again.
type guarded struct {
	gokaContext
	failed bool
}

// gokaContext renames goka.Context for embedding: its method Context would
// clash with the field's name.
type gokaContext interface{ goka.Context }

// watch, deferred in each method that calls into goka, marks a panic that
// leaves the method and lets it go on up.
func (g *guarded) watch() {
	if r := recover(); r != nil {
		g.failed = true
		panic(r)
	}
}

func (g *guarded) Value() any {
	defer g.watch()
	return g.gokaContext.Value()
}

func (g *guarded) SetValue(value any, options ...goka.ContextOption) {
	defer g.watch()
	g.gokaContext.SetValue(value, options...)
}

func (g *guarded) Delete(options ...goka.ContextOption) {
	defer g.watch()
	g.gokaContext.Delete(options...)
}

func (g *guarded) Join(topic goka.Table) any {
	defer g.watch()
	return g.gokaContext.Join(topic)
}

func (g *guarded) Lookup(topic goka.Table, key string) any {
	defer g.watch()
	return g.gokaContext.Lookup(topic, key)
}

func (g *guarded) Emit(topic goka.Stream, key string, value any, options ...goka.ContextOption) {
	defer g.watch()
	g.gokaContext.Emit(topic, key, value, options...)
}

func (g *guarded) Loopback(key string, value any, options ...goka.ContextOption) {
	defer g.watch()
	g.gokaContext.Loopback(key, value, options...)
}

// Fail is goka's own way to fail the processor; a callback calling it
// means the same.
func (g *guarded) Fail(err error) {
	g.failed = true
	g.gokaContext.Fail(err)
}
