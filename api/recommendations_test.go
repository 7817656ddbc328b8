package api

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
)

var (
	itemRecsFields = []string{"sku", "k", "recommendations"}
	userRecsFields = []string{"user_id", "k", "recommendations"}
	recFields      = []string{"sku", "score", "view_score", "purchase_score", "reason"}
)

// checkRecFields asserts the response and each of its recommendations
// have exactly the documented fields.
func checkRecFields(t *testing.T, r response, top []string) {
	t.Helper()
	checkFields(t, r, top)
	for _, rec := range fields(t, r)["recommendations"].([]any) {
		m := rec.(map[string]any)
		for _, f := range recFields {
			if _, ok := m[f]; !ok || len(m) != len(recFields) {
				t.Errorf("recommendation %v, want the fields %v", m, recFields)
			}
		}
	}
}

func skusOf(rs []recommendationJSON) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.SKU)
	}
	return out
}

// TestItemRecommendationsFilterStock: SKUs the inventory holds with
// nothing available are left out before ranking, so k still come back;
// SKUs the inventory has never seen stay in.
func TestItemRecommendationsFilterStock(t *testing.T) {
	e := newRecsEnv(t, Options{})
	e.recs.item("sku/1",
		neighbor{"reserved-out", 9, 0}, // all reserved
		neighbor{"untracked", 8, 0},    // never seen by the inventory
		neighbor{"sold-out", 7, 1.5},   // sold through the API below
		neighbor{"in-stock", 1, 5},
		neighbor{"last-one", 2, 0},
		neighbor{"zero", 0.5, 0}, // restocked, then taken
	)
	e.setStock("reserved-out", 3, 3)
	e.setStock("in-stock", 10, 9)
	e.setStock("last-one", 1, 0)
	e.restock(t, "sold-out", 1)
	e.mustDo(t, "POST", "/v1/inventory/sold-out/reservations", `{"order_id":"o-1","qty":1,"ttl_ms":60000}`, 201)
	e.mustDo(t, "POST", "/v1/inventory/reservations/o-1/commit", ``, 200)
	e.setStock("zero", 0, 0)

	r := e.mustDo(t, "GET", "/v1/recommendations/items/sku%2F1?k=3", ``, 200)
	checkRecFields(t, r, itemRecsFields)
	got := decode[itemRecommendationsJSON](t, r)
	want := itemRecommendationsJSON{SKU: "sku/1", K: 3, Recommendations: []recommendationJSON{
		{SKU: "untracked", Score: 8, ViewScore: 8, Reason: "co-viewed"},
		{SKU: "in-stock", Score: 6, ViewScore: 1, PurchaseScore: 5, Reason: "co-bought"},
		{SKU: "last-one", Score: 2, ViewScore: 2, Reason: "co-viewed"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("recommendations %+v\nwant %+v", got, want)
	}
	calls := e.recs.calls()
	if len(calls) != 1 {
		t.Fatalf("%d ranking calls, want 1", len(calls))
	}
	if c := calls[0]; c.fn != "TopItems" || c.key != "sku/1" || c.k != 3 || !c.now.Equal(e.recs.now) {
		t.Errorf("TopItems called with %+v, want sku/1, k 3, the deps' clock %v", c, e.recs.now)
	}

	// Without k, ten at most: the three in stock or untracked.
	got = decode[itemRecommendationsJSON](t, e.mustDo(t, "GET", "/v1/recommendations/items/sku%2F1", ``, 200))
	if got.K != 10 || !slices.Equal(skusOf(got.Recommendations), []string{"untracked", "in-stock", "last-one"}) {
		t.Errorf("default k: %+v", got)
	}
	if c := e.recs.calls()[1]; c.k != 10 {
		t.Errorf("TopItems asked for %d, want the default 10", c.k)
	}

	// Restocking brings an item back.
	e.restock(t, "sold-out", 2)
	got = decode[itemRecommendationsJSON](t, e.mustDo(t, "GET", "/v1/recommendations/items/sku%2F1?k=1", ``, 200))
	if !slices.Equal(skusOf(got.Recommendations), []string{"sold-out"}) {
		t.Errorf("after the restock: %+v", got)
	}
}

// TestItemRecommendationsReadStockOnce: a SKU's stock is read once per
// request however often the ranking asks about it.
func TestItemRecommendationsReadStockOnce(t *testing.T) {
	e := newRecsEnv(t, Options{})
	e.recs.item("a", neighbor{"b", 1, 0}, neighbor{"c", 2, 0})
	e.setStock("c", 0, 0)
	e.recs.setRank(func(cands []*recommendationsv1.Neighbor, k int, skip func(string) bool) []Recommendation {
		for range 3 {
			for _, n := range cands {
				skip(n.GetSku())
			}
		}
		return fakeRank(cands, k, skip)
	})
	stock := &countingTable{Table: e.k.stock}
	rebuild(t, e.testEnv, func(d *Deps) { d.Stock = stock })
	got := decode[itemRecommendationsJSON](t, e.mustDo(t, "GET", "/v1/recommendations/items/a", ``, 200))
	if !slices.Equal(skusOf(got.Recommendations), []string{"b"}) {
		t.Errorf("recommendations %+v", got)
	}
	if n := stock.gets.Load(); n != 2 {
		t.Errorf("%d stock reads, want one per SKU", n)
	}
}

// TestRecommendationsReadTheirOwnStock: the filter reads
// RecommendationDeps.Stock where it is given, and not Deps.Stock.
func TestRecommendationsReadTheirOwnStock(t *testing.T) {
	e := newRecsEnv(t, Options{})
	e.recs.item("a", neighbor{"b", 1, 0}, neighbor{"c", 2, 0})
	e.setStock("c", 0, 0)
	shared, own := &countingTable{Table: e.k.stock}, &countingTable{Table: e.k.stock}
	rebuild(t, e.testEnv, func(d *Deps) {
		recs := *d.Recommendations
		recs.Stock = own
		d.Stock, d.Recommendations = shared, &recs
	})
	got := decode[itemRecommendationsJSON](t, e.mustDo(t, "GET", "/v1/recommendations/items/a", ``, 200))
	if !slices.Equal(skusOf(got.Recommendations), []string{"b"}) {
		t.Errorf("recommendations %+v", got)
	}
	if own.gets.Load() != 2 || shared.gets.Load() != 0 {
		t.Errorf("stock reads: %d of the recommendations' table, %d of the shared one; want 2 and 0",
			own.gets.Load(), shared.gets.Load())
	}
}

// TestRecommendationsUnknown: an item or user never seen has an empty
// list, not a 404; the storefront asks for every page.
func TestRecommendationsUnknown(t *testing.T) {
	e := newRecsEnv(t, Options{})
	r := e.mustDo(t, "GET", "/v1/recommendations/items/nobody-looked?k=5", ``, 200)
	if string(r.body) != `{"sku":"nobody-looked","k":5,"recommendations":[]}` {
		t.Errorf("unknown item: %s", r)
	}
	r = e.mustDo(t, "GET", "/v1/recommendations/users/u%2Fnew", ``, 200)
	if string(r.body) != `{"user_id":"u/new","k":10,"recommendations":[]}` {
		t.Errorf("unknown user: %s", r)
	}
	// An item seen without neighbours, and a user whose items have none.
	e.recs.item("lonely")
	e.recs.users.set("u-1", &recommendationsv1.UserHistory{UserId: "u-1", Recent: []*recommendationsv1.Seen{{Sku: "lonely"}, {Sku: "gone"}}})
	if r := e.mustDo(t, "GET", "/v1/recommendations/items/lonely", ``, 200); !strings.HasSuffix(string(r.body), `"recommendations":[]}`) {
		t.Errorf("item without neighbours: %s", r)
	}
	if r := e.mustDo(t, "GET", "/v1/recommendations/users/u-1", ``, 200); !strings.HasSuffix(string(r.body), `"recommendations":[]}`) {
		t.Errorf("user without neighbours: %s", r)
	}
	if calls := e.recs.calls(); len(calls) != 2 || calls[0].fn != "TopItems" || calls[1].fn != "ForUser" {
		t.Errorf("ranking calls %+v, want only those for the known item and user", calls)
	}
}

// TestUserRecommendations: the user's recent items blended, without what
// the user bought or what is out of stock.
func TestUserRecommendations(t *testing.T) {
	e := newRecsEnv(t, Options{})
	e.recs.item("shoe", neighbor{"sock", 3, 0}, neighbor{"lace", 1, 0}, neighbor{"boot", 2, 1})
	e.recs.item("hat", neighbor{"scarf", 2, 0}, neighbor{"sock", 0, 2}, neighbor{"glove", 4, 0})
	e.recs.users.set("u-1", &recommendationsv1.UserHistory{UserId: "u-1",
		Recent: []*recommendationsv1.Seen{{Sku: "shoe"}, {Sku: "hat"}, {Sku: "unseen-item"}},
		Bought: []*recommendationsv1.Seen{{Sku: "boot"}}})
	e.setStock("glove", 5, 5)
	e.setStock("scarf", 1, 0)

	r := e.mustDo(t, "GET", "/v1/recommendations/users/u-1?k=2", ``, 200)
	checkRecFields(t, r, userRecsFields)
	got := decode[userRecommendationsJSON](t, r)
	want := userRecommendationsJSON{UserID: "u-1", K: 2, Recommendations: []recommendationJSON{
		{SKU: "sock", Score: 5, ViewScore: 3, PurchaseScore: 2, Reason: "co-bought"},
		{SKU: "scarf", Score: 2, ViewScore: 2, Reason: "co-viewed"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("recommendations %+v\nwant %+v", got, want)
	}
	calls := e.recs.calls()
	if len(calls) != 1 {
		t.Fatalf("%d ranking calls, want 1", len(calls))
	}
	if c := calls[0]; c.fn != "ForUser" || c.key != "u-1" || c.k != 2 || !c.now.Equal(e.recs.now) {
		t.Errorf("ForUser called with %+v, want u-1, k 2, the deps' clock %v", c, e.recs.now)
	}
	got = decode[userRecommendationsJSON](t, e.mustDo(t, "GET", "/v1/recommendations/users/u-1?k=100", ``, 200))
	if !slices.Equal(skusOf(got.Recommendations), []string{"sock", "scarf", "lace"}) {
		t.Errorf("k=100: %+v", got)
	}
}

// TestRecommendationsKeepTheContract: whatever the injected ranking
// returns, the answer holds at most k items and none out of stock, and
// scores JSON cannot carry do not turn it into a 500.
func TestRecommendationsKeepTheContract(t *testing.T) {
	e := newRecsEnv(t, Options{})
	e.recs.item("a")
	e.recs.users.set("u-1", &recommendationsv1.UserHistory{UserId: "u-1", Recent: []*recommendationsv1.Seen{{Sku: "a"}}})
	e.setStock("out", 0, 0)
	e.recs.setRank(func([]*recommendationsv1.Neighbor, int, func(string) bool) []Recommendation {
		return []Recommendation{
			{SKU: "out", Score: 9},
			{SKU: "nan", Score: math.NaN(), ViewScore: math.Inf(1), PurchaseScore: math.Inf(-1), Reason: "co-viewed"},
			{SKU: "x", Score: 1},
			{SKU: "y", Score: 0.5},
		}
	})
	for _, uri := range []string{"/v1/recommendations/items/a?k=2", "/v1/recommendations/users/u-1?k=2"} {
		r := e.mustDo(t, "GET", uri, ``, 200)
		got := decode[struct {
			SKU             string               `json:"sku"`
			UserID          string               `json:"user_id"`
			K               int                  `json:"k"`
			Recommendations []recommendationJSON `json:"recommendations"`
		}](t, r)
		want := []recommendationJSON{
			{SKU: "nan", Score: 0, ViewScore: math.MaxFloat64, PurchaseScore: -math.MaxFloat64, Reason: "co-viewed"},
			{SKU: "x", Score: 1},
		}
		if !reflect.DeepEqual(got.Recommendations, want) {
			t.Errorf("%s: %+v, want %+v", uri, got.Recommendations, want)
		}
	}
}

// TestRecommendationsNotEnabled: without RecommendationDeps the endpoints
// exist and answer 503 not_enabled, bad input or not, so a load balancer
// tries an instance that runs them.
func TestRecommendationsNotEnabled(t *testing.T) {
	e := newEnv(t, Options{})
	for _, uri := range []string{
		"/v1/recommendations/items/sku-1", "/v1/recommendations/users/u-1",
		"/v1/recommendations/items/sku-1?k=0", "/v1/recommendations/users/u%0A",
	} {
		checkError(t, e.do("GET", uri, ``), errNotEnabled.Code)
	}
	checkError(t, e.do("POST", "/v1/recommendations/items/sku-1", `{}`), errMethodNotAllowed.Code)
}

func TestRecommendationsNotReady(t *testing.T) {
	e := newRecsEnv(t, Options{})
	e.recs.item("a", neighbor{"b", 1, 0})
	e.recs.users.set("u-1", &recommendationsv1.UserHistory{UserId: "u-1", Recent: []*recommendationsv1.Seen{{Sku: "a"}}})
	item, user := "/v1/recommendations/items/a", "/v1/recommendations/users/u-1"
	for _, c := range []struct {
		name       string
		table      *fakeTable
		item, user bool // answers while the table recovers
	}{
		{"items", e.recs.items, false, false},
		{"users", e.recs.users, true, false},
		{"stock", e.k.stock, false, false},
		{"inventory orders", e.k.orders, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.table.recovered.Store(false)
			defer c.table.recovered.Store(true)
			for _, x := range []struct {
				uri string
				ok  bool
			}{{item, c.item}, {user, c.user}} {
				if r := e.do("GET", x.uri, ``); x.ok {
					if r.status != 200 {
						t.Errorf("%s: %d %s, want 200", x.uri, r.status, r)
					}
				} else {
					checkError(t, r, errNotReady.Code)
				}
			}
		})
	}
	e.mustDo(t, "GET", item, ``, 200)
	e.mustDo(t, "GET", user, ``, 200)
}

// TestRecommendationsReadErrors: a table that fails, or holds what it
// should not, is the server's 500, never a partial answer.
func TestRecommendationsReadErrors(t *testing.T) {
	boom := errors.New("boom")
	item, user := "/v1/recommendations/items/a", "/v1/recommendations/users/u-1"
	for _, c := range []struct {
		name string
		set  func(e *recsEnv)
	}{
		{"items fail", func(e *recsEnv) { e.recs.items.failWith(boom) }},
		{"stock fails", func(e *recsEnv) { e.k.stock.failWith(boom) }},
		{"item of another type", func(e *recsEnv) { e.recs.items.set("a", &recommendationsv1.UserHistory{}) }},
		{"stock of another type", func(e *recsEnv) { e.k.stock.set("b", &recommendationsv1.ItemState{}) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newRecsEnv(t, Options{})
			e.recs.item("a", neighbor{"b", 1, 0})
			e.recs.users.set("u-1", &recommendationsv1.UserHistory{UserId: "u-1", Recent: []*recommendationsv1.Seen{{Sku: "a"}}})
			e.mustDo(t, "GET", item, ``, 200)
			e.mustDo(t, "GET", user, ``, 200)
			c.set(e)
			checkError(t, e.do("GET", item, ``), errInternal.Code)
			checkError(t, e.do("GET", user, ``), errInternal.Code)
		})
	}
	t.Run("users fail", func(t *testing.T) {
		e := newRecsEnv(t, Options{})
		e.recs.users.failWith(boom)
		checkError(t, e.do("GET", user, ``), errInternal.Code)
		e.recs.users.failWith(nil)
		e.recs.users.set("u-1", &recommendationsv1.ItemState{})
		checkError(t, e.do("GET", user, ``), errInternal.Code)
	})
}

func TestNewRefusesIncompleteRecommendations(t *testing.T) {
	e := newEnv(t, Options{})
	for _, drop := range []func(*RecommendationDeps){
		func(d *RecommendationDeps) { d.Items = nil },
		func(d *RecommendationDeps) { d.Users = nil },
		func(d *RecommendationDeps) { d.TopItems = nil },
		func(d *RecommendationDeps) { d.ForUser = nil },
	} {
		deps := e.s.deps
		deps.Recommendations = newFakeRecs().deps()
		drop(deps.Recommendations)
		if _, err := New(deps, Options{}); err == nil {
			t.Errorf("New took %+v", deps.Recommendations)
		}
	}
	deps := e.s.deps
	deps.Recommendations = newFakeRecs().deps()
	deps.Recommendations.Now = nil
	if _, err := New(deps, Options{}); err != nil {
		t.Errorf("New without a clock: %v", err)
	}
	if d := deps.Recommendations; time.Since(d.now()) > time.Hour {
		t.Errorf("the default clock reads %v", d.now())
	}
}
