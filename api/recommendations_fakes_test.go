package api

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/processors/inventory"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
)

// fakeRecs stands in for the recommendations topology behind
// RecommendationDeps: two tables set by the test and a ranking without
// decay (a neighbour's score is its view plus purchase score), simple
// enough that a test can say what it must return. It records the calls.
type fakeRecs struct {
	items, users *fakeTable
	now          time.Time

	mu struct {
		sync.Mutex
		calls []rankCall
		// rank replaces the fake ranking, to play logic that breaks its
		// contract.
		rank func(cands []*recommendationsv1.Neighbor, k int, skip func(string) bool) []Recommendation
		// views are the batches SendViews took, in order.
		views [][]*recommendationsv1.ViewEvent
		// sendErr, when set, fails SendViews, which then takes nothing.
		sendErr error
	}
}

// rankCall is one call of TopItems or ForUser.
type rankCall struct {
	fn  string // "TopItems" or "ForUser"
	key string // the item's SKU or the user's id
	k   int
	now time.Time
}

func newFakeRecs() *fakeRecs {
	return &fakeRecs{items: newFakeTable(), users: newFakeTable(), now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (f *fakeRecs) deps() *RecommendationDeps {
	return &RecommendationDeps{
		Items: f.items, Users: f.users,
		TopItems: f.topItems, ForUser: f.forUser,
		SendViews: f.sendViews,
		Now:       func() time.Time { return f.now },
	}
}

func (f *fakeRecs) sendViews(_ context.Context, views []*recommendationsv1.ViewEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.sendErr != nil {
		return f.mu.sendErr
	}
	batch := make([]*recommendationsv1.ViewEvent, len(views))
	for i, v := range views {
		batch[i] = proto.Clone(v).(*recommendationsv1.ViewEvent)
	}
	f.mu.views = append(f.mu.views, batch)
	return nil
}

// sentViews lists every view SendViews took.
func (f *fakeRecs) sentViews() []*recommendationsv1.ViewEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Concat(f.mu.views...)
}

// batches counts the calls SendViews took.
func (f *fakeRecs) batches() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.mu.views)
}

func (f *fakeRecs) failSends(err error) {
	f.mu.Lock()
	f.mu.sendErr = err
	f.mu.Unlock()
}

// item puts an item into the item table with neighbours given as SKU,
// view score, purchase score.
func (f *fakeRecs) item(sku string, ns ...neighbor) {
	st := &recommendationsv1.ItemState{Sku: sku}
	for _, n := range ns {
		st.Neighbors = append(st.Neighbors, &recommendationsv1.Neighbor{Sku: n.sku, ViewScore: n.view, PurchaseScore: n.purchase})
	}
	f.items.set(sku, st)
}

type neighbor struct {
	sku            string
	view, purchase float64
}

func (f *fakeRecs) calls() []rankCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.mu.calls)
}

func (f *fakeRecs) setRank(rank func(cands []*recommendationsv1.Neighbor, k int, skip func(string) bool) []Recommendation) {
	f.mu.Lock()
	f.mu.rank = rank
	f.mu.Unlock()
}

func (f *fakeRecs) record(c rankCall) {
	f.mu.Lock()
	f.mu.calls = append(f.mu.calls, c)
	f.mu.Unlock()
}

func (f *fakeRecs) topItems(s *recommendationsv1.ItemState, k int, now time.Time, skip func(string) bool) []Recommendation {
	f.record(rankCall{fn: "TopItems", key: s.GetSku(), k: k, now: now})
	return f.rank(s.GetNeighbors(), k, skip)
}

// forUser merges the neighbours of the user's recent items, most recent
// item first, adding up the scores of a SKU seen from several items, and
// drops the recent and bought items themselves.
func (f *fakeRecs) forUser(h *recommendationsv1.UserHistory, items func(string) (*recommendationsv1.ItemState, bool), k int, now time.Time, skip func(string) bool) []Recommendation {
	f.record(rankCall{fn: "ForUser", key: h.GetUserId(), k: k, now: now})
	drop := map[string]bool{}
	for _, s := range slices.Concat(h.GetRecent(), h.GetBought()) {
		drop[s.GetSku()] = true
	}
	merged := map[string]*recommendationsv1.Neighbor{}
	var order []*recommendationsv1.Neighbor
	for _, seen := range slices.Backward(h.GetRecent()) {
		st, ok := items(seen.GetSku())
		if !ok {
			continue
		}
		for _, n := range st.GetNeighbors() {
			if drop[n.GetSku()] {
				continue
			}
			m := merged[n.GetSku()]
			if m == nil {
				m = &recommendationsv1.Neighbor{Sku: n.GetSku()}
				merged[n.GetSku()] = m
				order = append(order, m)
			}
			m.ViewScore += n.GetViewScore()
			m.PurchaseScore += n.GetPurchaseScore()
		}
	}
	return f.rank(order, k, skip)
}

func (f *fakeRecs) rank(cands []*recommendationsv1.Neighbor, k int, skip func(string) bool) []Recommendation {
	f.mu.Lock()
	rank := f.mu.rank
	f.mu.Unlock()
	if rank != nil {
		return rank(cands, k, skip)
	}
	return fakeRank(cands, k, skip)
}

// fakeRank keeps the ranking's contract: best first, at most k, none that
// skip refuses.
func fakeRank(cands []*recommendationsv1.Neighbor, k int, skip func(string) bool) []Recommendation {
	var out []Recommendation
	for _, n := range cands {
		if skip(n.GetSku()) {
			continue
		}
		r := Recommendation{SKU: n.GetSku(), ViewScore: n.GetViewScore(), PurchaseScore: n.GetPurchaseScore(),
			Score: n.GetViewScore() + n.GetPurchaseScore(), Reason: "co-viewed"}
		if r.PurchaseScore > 0 {
			r.Reason = "co-bought"
		}
		out = append(out, r)
	}
	slices.SortStableFunc(out, func(a, b Recommendation) int { return cmp.Compare(b.Score, a.Score) })
	return out[:min(k, len(out))]
}

// countingTable counts the reads of a table.
type countingTable struct {
	Table
	gets atomic.Int64
}

func (t *countingTable) Get(key string) (any, error) {
	t.gets.Add(1)
	return t.Table.Get(key)
}

// rebuild rebuilds e's server with its deps changed by change.
func rebuild(t testing.TB, e *testEnv, change func(*Deps)) {
	t.Helper()
	deps := e.s.deps
	change(&deps)
	o := e.s.opts
	e.reg = prometheus.NewRegistry()
	o.Registerer, o.Gatherer = e.reg, e.reg
	s, err := New(deps, o)
	if err != nil {
		t.Fatal(err)
	}
	e.s = s
}

// withRecommendations rebuilds e's server with the recommendation
// endpoints over a new fakeRecs, keeping the rest of its deps.
func withRecommendations(t testing.TB, e *testEnv) *fakeRecs {
	t.Helper()
	f := newFakeRecs()
	rebuild(t, e, func(d *Deps) { d.Recommendations = f.deps() })
	return f
}

// recsEnv is a testEnv whose server also runs the recommendation
// endpoints.
type recsEnv struct {
	*testEnv
	recs *fakeRecs
}

func newRecsEnv(t testing.TB, opts Options) *recsEnv {
	t.Helper()
	e := newEnv(t, opts)
	return &recsEnv{testEnv: e, recs: withRecommendations(t, e)}
}

// setStock puts a SKU into the inventory table with onHand units of which
// reserved are reserved.
func (e *recsEnv) setStock(sku string, onHand, reserved int64) {
	h := inventory.NewHead()
	h.Stock = inventory.Stock{OnHand: onHand, Reserved: reserved}
	e.k.stock.set(sku, h)
}

// setReady marks every view and the instance (not) recovered.
func (e *recsEnv) setReady(ready bool) {
	e.extReady.Store(ready)
	for _, t := range []*fakeTable{e.k.stock, e.k.orders, e.recs.items, e.recs.users} {
		t.recovered.Store(ready)
	}
}
