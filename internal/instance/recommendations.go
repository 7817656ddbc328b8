package instance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/lovoo/goka"
	gokacodec "github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/storage"

	"github.com/titan-commerce/titan/api"
	"github.com/titan-commerce/titan/internal/kafkaadmin"
	"github.com/titan-commerce/titan/internal/metrics"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/internal/topology"
	"github.com/titan-commerce/titan/processors/recommendations"
	"github.com/titan-commerce/titan/schemas/codec"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
	"github.com/titan-commerce/titan/sdk"
	"github.com/titan-commerce/titan/state"
	"github.com/titan-commerce/titan/topologies/orderstopo"
	"github.com/titan-commerce/titan/topologies/recommendationstopo"
)

// recsPipeline is the recommendation topology and what the API reads of
// it: a part of the instance.
type recsPipeline struct {
	i        *Instance
	names    recommendationstopo.Names
	outcomes goka.Stream
	// Views for the API; nil without it.
	items, users *view
}

func newRecsPipeline(i *Instance, namespace string) *recsPipeline {
	return &recsPipeline{i: i, names: recommendationstopo.NamesFor(namespace), outcomes: orderstopo.NamesFor(namespace).Outcomes}
}

func (p *recsPipeline) topics(partitions int32) []kafkaadmin.Topic {
	return p.names.Topics(partitions, p.outcomes)
}

func (p *recsPipeline) copartitioned() []kafkaadmin.Copartitioned {
	return p.names.Copartitioned(p.outcomes)
}

func (p *recsPipeline) build(hooks *metrics.Processing) error {
	_, err := supervised(p.i, TopologyRecommendations, recommendationstopo.New, p.options(hooks))
	return err
}

func (p *recsPipeline) graphs() []TopologyGraph {
	return []TopologyGraph{{TopologyRecommendations, recommendationstopo.Graphs(p.options(nil))}}
}

func (p *recsPipeline) options(hooks *metrics.Processing) recommendationstopo.Options {
	i := p.i
	return recommendationstopo.Options{
		Base: topology.Base{
			TimeWindow: i.cfg.TimeWindow,
			Partitions: int32(i.cfg.Partitions),
			Goka:       i.gokaConfig(i.procs.Build, "recommendations"),
			Hooks:      hooks,
			Logger:     i.log,
		},
		Names:    p.names,
		Outcomes: p.outcomes,
		Policy:   recommendations.DefaultPolicy(),
	}
}

// recsDeps builds what the API's recommendation routes read; nil when the
// instance runs no recommendations.
func (i *Instance) recsDeps(viewOpts func(*api.Notifier) []goka.ViewOption, stock api.Table) (*api.RecommendationDeps, error) {
	p := i.recs
	if p == nil {
		return nil, nil
	}
	var err error
	// The cache's callback takes the notifier's place: nothing waits for
	// an item.
	cache := newViewCache[*recommendationsv1.ItemState](itemCacheSize)
	itemOpts := append(viewOpts(api.NewNotifier()), goka.WithViewCallback(cache.after(goka.DefaultUpdate)))
	if p.items, err = i.newView(p.names.ItemsTable(), new(gokacodec.Bytes), itemOpts...); err != nil {
		return nil, fmt.Errorf("instance: item view: %w", err)
	}
	if p.users, err = i.newView(p.names.UsersTable(), codec.NewProto[*recommendationsv1.UserHistory](), viewOpts(api.NewNotifier())...); err != nil {
		return nil, fmt.Errorf("instance: user history view: %w", err)
	}
	policy := recommendations.DefaultPolicy()
	// Views are keyed by user id, as the user history processor reads
	// them, through the producer of every other API send.
	views := sdk.KeyedOn(i.own, string(p.names.Views), (*recommendationsv1.ViewEvent).GetUserId)
	toAPI := func(recs []recommendations.Rec) []api.Recommendation {
		out := make([]api.Recommendation, len(recs))
		for n, r := range recs {
			out[n] = api.Recommendation{SKU: r.SKU, Score: r.Score, ViewScore: r.ViewScore, PurchaseScore: r.PurchaseScore, Reason: r.Reason}
		}
		return out
	}
	return &api.RecommendationDeps{
		Items:      itemTable{view: p.items, stores: i.views, partitions: int32(i.cfg.Partitions), cache: cache},
		Users:      p.users,
		Stock:      stock,
		SendViews:  i.sendViews(views),
		TimeWindow: i.cfg.TimeWindow,
		TopItems: func(s *recommendationsv1.ItemState, k int, now time.Time, skip func(string) bool) []api.Recommendation {
			return toAPI(recommendations.ItemStateFromWire(s).Top(k, now, policy, skip))
		},
		ForUser: func(h *recommendationsv1.UserHistory, items func(string) (*recommendationsv1.ItemState, bool), k int,
			now time.Time, skip func(string) bool) []api.Recommendation {
			lookup := func(sku string) (recommendations.ItemState, bool) {
				w, ok := items(sku)
				if !ok {
					return recommendations.ItemState{}, false
				}
				return recommendations.ItemStateFromWire(w), true
			}
			return toAPI(recommendations.ForUser(recommendations.UserHistoryFromWire(h), lookup, k, now, policy, skip))
		},
	}, nil
}

// sendViews sends a batch of views whole, or sheds it with
// api.ErrOverloaded before sending any when the producer already buffers
// what it may: SendAll would otherwise wait for room, and the request
// would hold its views until the deadline.
func (i *Instance) sendViews(k sdk.Keyed[*recommendationsv1.ViewEvent]) func(context.Context, []*recommendationsv1.ViewEvent) error {
	return func(ctx context.Context, views []*recommendationsv1.ViewEvent) error {
		if n := i.own.BufferedRecords(); n+int64(len(views)) > int64(i.cfg.MaxBuffered) {
			return fmt.Errorf("instance: %d records buffered, %d views to send: %w", n, len(views), api.ErrOverloaded)
		}
		_, err := k.SendAll(ctx, views)
		return err
	}
}

// itemTable reads an item of the items table whole, its head and its
// neighbors, which the table keeps under keys of their own
// (topologies/recommendationstopo), as the API reads it: in the wire form of
// a value of layout 1. An item is read once and then served from cache
// until a write under any of its keys reaches the view. A read goes to
// the view's storage of the item's partition directly: through the goka
// view, a range is a merge of every partition's iterator.
type itemTable struct {
	*view
	stores     *state.Builder
	partitions int32
	cache      *viewCache[*recommendationsv1.ItemState]
}

func (t itemTable) Get(sku string) (any, error) {
	if w, ok := t.cache.get(sku); ok {
		return w, nil
	}
	gen := t.cache.generation(sku)
	s, found, err := t.load(sku)
	if err != nil || !found {
		return nil, err
	}
	w := recommendations.ItemStateToWire(s)
	t.cache.put(sku, w, gen)
	return w, nil
}

func (t itemTable) load(sku string) (recommendations.ItemState, bool, error) {
	if st, ok := t.stores.Lookup(t.topic, partition.Partition([]byte(sku), t.partitions)); ok {
		s, found, err := recommendationstopo.LoadItem(st, sku)
		if !errors.Is(err, state.ErrClosed) {
			return s, found, err
		}
		// The view is reopening the partition: read through the view,
		// which answers as it does for every other table.
	}
	return recommendationstopo.LoadItem(viewReader{t.current()}, sku)
}

// itemCacheSize bounds the items the API keeps read: about 1 KB each at
// the sizes a day of browsing gives them.
const itemCacheSize = 100_000

// stockCacheSize bounds the SKUs whose stock the recommendation filter
// keeps read: a head of about 100 bytes, or that the inventory holds none.
const stockCacheSize = 100_000

// viewCache keeps values the API has read from a view, by the key of the
// table entry they belong to: the part of a key before a NUL, the
// partitioner's rule, so that a write under any of an entry's keys drops
// it. The view's update callback drops an entry once the write is in the
// view's storage, and bumps its shard's generation; a read that began
// before such a bump does not store what it read, which may be older
// than the write.
type viewCache[V any] struct {
	max    int
	shards [64]struct {
		sync.Mutex
		gen    uint64
		values map[string]V
	}
}

func newViewCache[V any](max int) *viewCache[V] {
	c := &viewCache[V]{max: max / 64}
	for i := range c.shards {
		c.shards[i].values = map[string]V{}
	}
	return c
}

func (c *viewCache[V]) shard(key string) int {
	return int(partition.Partition([]byte(key), int32(len(c.shards))))
}

func (c *viewCache[V]) get(key string) (V, bool) {
	sh := &c.shards[c.shard(key)]
	sh.Lock()
	defer sh.Unlock()
	v, ok := sh.values[key]
	return v, ok
}

func (c *viewCache[V]) generation(key string) uint64 {
	sh := &c.shards[c.shard(key)]
	sh.Lock()
	defer sh.Unlock()
	return sh.gen
}

// put keeps v for key if no write has reached the shard since gen.
func (c *viewCache[V]) put(key string, v V, gen uint64) {
	sh := &c.shards[c.shard(key)]
	sh.Lock()
	defer sh.Unlock()
	if sh.gen != gen {
		return
	}
	if len(sh.values) >= c.max {
		for k := range sh.values {
			delete(sh.values, k)
			break
		}
	}
	sh.values[key] = v
}

// drop forgets the entry a write under key belongs to.
func (c *viewCache[V]) drop(key string) {
	entry, _, _ := strings.Cut(key, "\x00")
	sh := &c.shards[c.shard(entry)]
	sh.Lock()
	sh.gen++
	delete(sh.values, entry)
	sh.Unlock()
}

// after returns next, the view's update callback, followed by a drop of
// the entry it wrote: next stores the record before the drop.
func (c *viewCache[V]) after(next goka.UpdateCallback) goka.UpdateCallback {
	return func(ctx goka.UpdateContext, s storage.Storage, key string, value []byte) error {
		if err := next(ctx, s, key, value); err != nil {
			return err
		}
		c.drop(key)
		return nil
	}
}

// cachedTable is a view read through a viewCache of what it holds under
// each key: its decoded value, or nil for a key it does not hold, which
// is most of what the recommendation filter asks (items no inventory
// tracks).
type cachedTable struct {
	*view
	cache *viewCache[any]
}

func (t cachedTable) Get(key string) (any, error) {
	if v, ok := t.cache.get(key); ok {
		return v, nil
	}
	gen := t.cache.generation(key)
	v, err := t.view.Get(key)
	if err != nil {
		return nil, err
	}
	t.cache.put(key, v, gen)
	return v, nil
}

// viewReader reads a view of raw values as a recommendationstopo.Reader.
type viewReader struct{ v *goka.View }

func (r viewReader) Get(key string) ([]byte, error) { return rawValue(r.v.Get(key)) }

// rawValue is a value of the item view, whose codec leaves it as stored.
func rawValue(x any, err error) ([]byte, error) {
	if err != nil || x == nil {
		return nil, err
	}
	b, ok := x.([]byte)
	if !ok {
		return nil, fmt.Errorf("instance: item view holds %T, want []byte", x)
	}
	return b, nil
}

func (r viewReader) IteratorWithRange(start, limit []byte) (storage.Iterator, error) {
	it, err := r.v.IteratorWithRange(string(start), string(limit))
	if err != nil {
		return nil, err
	}
	return viewIterator{it}, nil
}

// viewIterator is a goka.Iterator of raw values as a storage.Iterator.
type viewIterator struct{ it goka.Iterator }

func (i viewIterator) Next() bool             { return i.it.Next() }
func (i viewIterator) Err() error             { return i.it.Err() }
func (i viewIterator) Key() []byte            { return []byte(i.it.Key()) }
func (i viewIterator) Release()               { i.it.Release() }
func (i viewIterator) Seek(key []byte) bool   { return i.it.Seek(string(key)) }
func (i viewIterator) Value() ([]byte, error) { return rawValue(i.it.Value()) }
