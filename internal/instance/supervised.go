package instance

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lovoo/goka"

	"github.com/titan-commerce/titan/api"
	"github.com/titan-commerce/titan/internal/supervise"
)

// topologyRunner is what the instance needs of every topology it runs.
type topologyRunner interface {
	Run(ctx context.Context) error
	// Recovered reports whether every processor has caught up with its
	// table; the supervisor reports the topology recovering until then.
	Recovered() bool
	Processors() map[string]*goka.Processor
}

// supervised builds a topology with build(opts) and hands it to the
// supervisor under name. Should the topology fail while the instance runs
// (a processor, or its punctuator), the local state of its processors'
// tables is distrusted (state.Builder.Distrust) and build(opts) makes the
// next incarnation, which resumes from the committed offsets and recovers
// those tables from their changelogs.
func supervised[O any, T topologyRunner](i *Instance, name string, build func(O) (T, error), opts O) (T, error) {
	first, err := build(opts)
	if err != nil {
		return first, err
	}
	var tables []string
	for group, p := range first.Processors() {
		i.groups = append(i.groups, group)
		if t := p.Graph().GroupTable(); t != nil {
			tables = append(tables, t.Topic())
			i.tables[name] = append(i.tables[name], tableRef{group: group, topic: t.Topic()})
			i.progress.watch(t.Topic())
		}
	}
	slices.Sort(tables)
	slices.SortFunc(i.tables[name], func(a, b tableRef) int { return strings.Compare(a.group, b.group) })
	return first, i.sup.Add(supervise.Component{
		Name:  name,
		First: first,
		New: func(context.Context) (supervise.Runner, error) {
			next, err := build(opts)
			if err != nil {
				return nil, err
			}
			return next, nil
		},
		Reset: func(context.Context, error) error {
			var errs []error
			for _, table := range tables {
				errs = append(errs, i.procs.Distrust(table))
			}
			return errors.Join(errs...)
		},
	})
}

// view is a goka view the API reads through. A goka view cannot run twice,
// so after a failure the supervisor builds another from the same
// arguments; view forwards to whichever is current. Between the failure
// and the next one's recovery it reports not recovered, and the API
// answers not_ready.
//
// A view that has caught up once holds a whole copy of its table, and goes
// on serving it while a partition reconnects after losing its broker
// (goka reads a partition from the time it connects): the reads are as
// stale as the freshness headers say, rather than refused.
type view struct {
	topic string
	// progress is nil where the instance measures none (tests).
	progress *progress
	mu       struct {
		sync.RWMutex
		current *goka.View
		// caughtUp is current once it has been recovered.
		caughtUp *goka.View
	}
}

var _ api.Table = (*view)(nil)

// newView builds a view of table for the API and hands it to the
// supervisor. opts carry the view's notifier callback, which every
// incarnation shares.
func (i *Instance) newView(table goka.Table, codec goka.Codec, opts ...goka.ViewOption) (*view, error) {
	first, err := goka.NewView(i.brokers, table, codec, opts...)
	if err != nil {
		return nil, err
	}
	v := &view{topic: string(table), progress: i.progress}
	v.mu.current = first
	name := "view " + string(table)
	if i.progress != nil {
		i.progress.watch(string(table))
		i.tables[name] = []tableRef{{topic: string(table), view: true}}
	}
	return v, i.sup.Add(supervise.Component{
		Name:  name,
		First: first,
		New: func(context.Context) (supervise.Runner, error) {
			next, err := goka.NewView(i.brokers, table, codec, opts...)
			if err != nil {
				return nil, err
			}
			v.mu.Lock()
			v.mu.current = next
			v.mu.Unlock()
			return next, nil
		},
	})
}

func (v *view) current() *goka.View {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.mu.current
}

// Get reads key from the current view.
func (v *view) Get(key string) (any, error) { return v.current().Get(key) }

// Recovered reports whether reads may be served: the current view has
// caught up with its table, now or before a partition of it reconnected.
func (v *view) Recovered() bool {
	v.mu.RLock()
	cur, caughtUp := v.mu.current, v.mu.caughtUp
	v.mu.RUnlock()
	// Asked on every read: one look at the view's state answers for a view
	// that has caught up, where Recovered would look at every partition.
	if caughtUp == cur && cur.CurrentState() >= goka.ViewStateConnecting {
		return true
	}
	if cur.Recovered() {
		if caughtUp != cur {
			v.mu.Lock()
			if v.mu.current == cur {
				v.mu.caughtUp = cur
			}
			v.mu.Unlock()
		}
		return true
	}
	return false
}

// Freshness says how stale a read of key may be (api.Freshness).
func (v *view) Freshness(key string) (int64, time.Duration, bool) {
	if v.progress == nil {
		return 0, 0, false
	}
	return v.progress.freshness(v.topic, key)
}

// superviseConsumer hands one of the API's result consumers to the
// supervisor as it is built, as newView does a view. Its Run returns only
// when its context ends (franz-go retries failed fetches, which it logs),
// so it has no factory: should one return anyway, it stays failed and
// /readyz says so, and the rest runs on.
func (i *Instance) superviseConsumer(name string, r supervise.Runner) error {
	return i.sup.Add(supervise.Component{Name: name, First: r})
}

// processors lists the goka processors running now, for lag metrics.
func (i *Instance) processors() map[string]*goka.Processor {
	out := map[string]*goka.Processor{}
	for _, r := range i.sup.Current() {
		if t, ok := r.(topologyRunner); ok {
			maps.Copy(out, t.Processors())
		}
	}
	return out
}

// health lists every component with how far its tables have come, for
// /readyz.
func (i *Instance) health() []api.ComponentStatus {
	var out []api.ComponentStatus
	for _, st := range i.sup.Health() {
		cs := api.ComponentStatus{Name: st.Name, State: string(st.State), Failures: st.Failures}
		if st.Err != nil {
			cs.Error = st.Err.Error()
		}
		for _, ref := range i.tables[st.Name] {
			cs.Tables = append(cs.Tables, i.progress.table(ref))
		}
		out = append(out, cs)
	}
	return out
}
