package instance

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/titan-commerce/titan/api"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/state"
)

// progressInterval is how often the tables' changelog ends are looked up.
// It is the resolution of the age a read reports: a view that is caught up
// reports an age below about this much.
const progressInterval = 250 * time.Millisecond

// tableRef is one table a component holds: a processor group's table (in
// Instance.procs) or the table a view copies (in Instance.views).
type tableRef struct {
	group string // empty for a view
	topic string
	view  bool
}

// progress measures how far each table's local copy is behind its
// changelog: it looks up the changelogs' end offsets every
// progressInterval and compares them with the offsets the local state
// has applied. /readyz shows the result per component, and a read from a
// view says with it how stale its answer may be.
type progress struct {
	adm    *kadm.Client
	procs  *state.Builder
	views  *state.Builder
	topics []string
	now    func() time.Time
	mu     struct {
		sync.Mutex
		// parts is, per changelog, what the last look-up found for each
		// partition; nil before the first.
		parts map[string][]partProgress
	}
}

// partProgress is one changelog partition at the last look-up.
type partProgress struct {
	end int64 // the changelog's end offset
	// behind is how many records the view had not applied (end minus
	// the next offset it would apply); views only.
	behind int64
	// caughtUp is when the view last held every record of the
	// partition: a read holds every change made before it. Zero if never.
	caughtUp time.Time
}

func newProgress(adm *kadm.Client, procs, views *state.Builder) *progress {
	p := &progress{adm: adm, procs: procs, views: views, now: time.Now}
	p.mu.parts = map[string][]partProgress{}
	return p
}

// watch adds a table to those measured; call it before Run.
func (p *progress) watch(topic string) {
	if !slices.Contains(p.topics, topic) {
		p.topics = append(p.topics, topic)
	}
}

// Run looks the end offsets up until ctx ends. A failed look-up is tried
// again at the next tick; until then the last figures stand.
func (p *progress) Run(ctx context.Context) error {
	if len(p.topics) == 0 {
		return nil
	}
	t := time.NewTicker(progressInterval)
	defer t.Stop()
	for {
		p.sample(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (p *progress) sample(ctx context.Context) {
	// The ends are looked up before the applied offsets are read: a view
	// that has applied up to an end held everything written before the
	// look-up began.
	at := p.now()
	ends, err := p.adm.ListEndOffsets(ctx, p.topics...)
	if err != nil {
		return
	}

	for _, topic := range p.topics {
		var parts []partProgress
		ends.Each(func(o kadm.ListedOffset) {
			if o.Topic != topic || o.Err != nil {
				return
			}
			for int(o.Partition) >= len(parts) {
				parts = append(parts, partProgress{end: -1})
			}
			parts[o.Partition].end = o.Offset
		})
		if len(parts) == 0 {
			continue
		}
		applied := appliedOffsets(p.views.Open(topic))
		p.mu.Lock()
		prev := p.mu.parts[topic]
		if len(parts) < len(prev) {
			// A topic's partition count does not change while Titan
			// runs (it is checked at start): a shorter listing left
			// partitions out, and the last figures stand.
			p.mu.Unlock()
			continue
		}
		for n := range parts {
			if n < len(prev) {
				parts[n].caughtUp = prev[n].caughtUp
			}
			next, ok := applied[int32(n)]
			if !ok || parts[n].end < 0 {
				// Not measured this time (the view's storage is
				// reopening, the end could not be listed): the last
				// figure stands.
				parts[n].behind = -1
				if n < len(prev) {
					parts[n].end, parts[n].behind = prev[n].end, prev[n].behind
				}
				continue
			}
			parts[n].behind = max(parts[n].end-next, 0)
			if parts[n].behind == 0 {
				parts[n].caughtUp = at
			}
		}
		p.mu.parts[topic] = parts
		p.mu.Unlock()
	}
}

// appliedOffsets maps each open partition to the next offset it would
// apply: one past the last record it holds, 0 for none.
func appliedOffsets(parts []state.Partition) map[int32]int64 {
	out := make(map[int32]int64, len(parts))
	for _, sp := range parts {
		off, err := sp.Storage.GetOffset(-1)
		if err != nil {
			continue
		}
		out[sp.Partition] = off + 1
	}
	return out
}

// freshness says, for the partition of a view's table that holds key, how
// many records it had not applied at the last look-up, and how long ago it
// last held every record; ok is false before it has been measured.
func (p *progress) freshness(topic, key string) (lag int64, age time.Duration, ok bool) {
	p.mu.Lock()
	parts := p.mu.parts[topic]
	p.mu.Unlock()
	if len(parts) == 0 {
		return 0, 0, false
	}
	pp := parts[partition.Partition([]byte(key), int32(len(parts)))]
	if pp.behind < 0 || pp.caughtUp.IsZero() {
		return max(pp.behind, 0), 0, false
	}
	return pp.behind, p.now().Sub(pp.caughtUp), true
}

// table says how far one table of a component has come.
func (p *progress) table(ref tableRef) api.TableStatus {
	st := api.TableStatus{Group: ref.group, Table: ref.topic}
	b := p.procs
	if ref.view {
		b = p.views
	}
	open := b.Open(ref.topic)
	p.mu.Lock()
	parts := p.mu.parts[ref.topic]
	p.mu.Unlock()
	// A processor holds the partitions the group assigned it; a view
	// holds every partition.
	st.PartitionsTotal = len(open)
	if ref.view && len(parts) > 0 {
		st.PartitionsTotal = len(parts)
	}
	applied := appliedOffsets(open)
	for _, sp := range open {
		if sp.Storage.Recovered() {
			st.PartitionsRestored++
		}
		if int(sp.Partition) < len(parts) && parts[sp.Partition].end >= 0 {
			st.RecordsBehind += max(parts[sp.Partition].end-applied[sp.Partition], 0)
		}
	}
	return st
}
