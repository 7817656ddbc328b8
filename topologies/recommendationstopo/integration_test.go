package recommendationstopo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/instancetest"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
	"github.com/titan-commerce/titan/state"
	"github.com/titan-commerce/titan/topologies/inventorytopo"
	"github.com/titan-commerce/titan/topologies/orderstopo"
	"github.com/titan-commerce/titan/topologies/recommendationstopo"
)

const partitions = 4

// TestRecommendations drives the three groups through one instance on the
// real broker and reads the answers through the API: the pairs a session
// and an order emit (once, though events are sent twice), the decay of an
// old co-view against a fresh one, the pruning of an item's long tail, the
// stock filter, and a user's blend without what they bought.
func TestRecommendations(t *testing.T) {
	ns := kafkatest.Prefix(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	inst := instancetest.Run(ctx, t, instance.Config{
		Namespace: ns, HTTPAddr: "127.0.0.1:0", Partitions: partitions,
		Topologies: []string{instance.TopologyInventory, instance.TopologyRecommendations},
		// The views below go back three days, to show the decay, and up to
		// four minutes ahead, to order the pruned ones.
		TimeWindow: schemas.TimeWindow{Ahead: 5 * time.Minute, Behind: 80 * time.Hour},
	})
	brokers := inst.Brokers()
	adm := kafkatest.Admin(t, brokers)

	n, inv, outcomes := recommendationstopo.NamesFor(ns), inventorytopo.NamesFor(ns), orderstopo.NamesFor(ns).Outcomes
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(partition.Kgo()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	send := func(topic, key string, m proto.Message) {
		t.Helper()
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(key), Value: b}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	view := func(id, user, sku string, at time.Time) {
		send(string(n.Views), user, &recommendationsv1.ViewEvent{EventId: id, UserId: user, Sku: sku, TimestampMs: at.UnixMilli()})
	}

	// Two sessions: u1 views a, b, c; u2 views a, b. The first view is sent
	// twice, as a storefront retrying would.
	view("v1", "u1", "a", now.Add(-3*time.Minute))
	view("v1", "u1", "a", now.Add(-3*time.Minute))
	view("v2", "u1", "b", now.Add(-2*time.Minute))
	view("v3", "u1", "c", now.Add(-time.Minute))
	view("v4", "u2", "a", now.Add(-2*time.Minute))
	view("v5", "u2", "b", now.Add(-time.Minute))
	// Decay: on item x, y was co-viewed three days (three view half-lives)
	// ago and z just now.
	view("v6", "u3", "x", now.Add(-72*time.Hour))
	view("v7", "u3", "y", now.Add(-72*time.Hour+time.Minute))
	view("v8", "u4", "x", now)
	view("v9", "u4", "z", now.Add(time.Second))
	// A confirmed order of a and d, published twice.
	confirmed := &ordersv1.OrderEvent{EventId: "order:o1:outcome", OrderId: "o1", TimestampMs: now.UnixMilli(),
		Kind: &ordersv1.OrderEvent_Confirmed{Confirmed: &ordersv1.OrderConfirmed{UserId: "u1",
			Lines: []*ordersv1.OrderLine{{Sku: "a", Qty: 1, UnitPriceMinor: 100}, {Sku: "d", Qty: 1, UnitPriceMinor: 100}}}}}
	send(string(outcomes), "o1", confirmed)
	send(string(outcomes), "o1", confirmed)

	// Pair emission: u1's session makes 2*3 pairs, u2's 2, the decay
	// sessions 2 each, the order 2: 14, none twice. A view's pairs for one
	// item share a record: c's view in u1's session makes two for c, so
	// the 14 pairs go in 13 records.
	err = kafkatest.WaitFor(ctx, "pairs", func() (bool, string) {
		recs, err := kafkatest.ReadAll(ctx, brokers, adm, string(n.Pairs))
		if err != nil {
			return false, err.Error()
		}
		pairs := 0
		for _, r := range recs {
			var w recommendationsv1.Pair
			if err := proto.Unmarshal(r.Value, &w); err != nil {
				t.Fatal(err)
			}
			pairs += 1 + len(w.GetMore())
		}
		return len(recs) == 13 && pairs == 14, fmt.Sprintf("%d pairs in %d records", pairs, len(recs))
	})
	if err != nil {
		t.Fatal(err)
	}

	api := "http://" + inst.HTTPAddr()
	type rec struct {
		SKU           string  `json:"sku"`
		Score         float64 `json:"score"`
		ViewScore     float64 `json:"view_score"`
		PurchaseScore float64 `json:"purchase_score"`
		Reason        string  `json:"reason"`
	}
	get := func(path string) []rec {
		t.Helper()
		resp, err := http.Get(api + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Recommendations []rec `json:"recommendations"`
		}
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&body) != nil {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		return body.Recommendations
	}
	byItem := func(path string, want int) map[string]rec {
		t.Helper()
		var got map[string]rec
		err := kafkatest.WaitFor(ctx, path, func() (bool, string) {
			got = map[string]rec{}
			for _, r := range get(path) {
				got[r.SKU] = r
			}
			return len(got) >= want, fmt.Sprint(got)
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	a := byItem("/v1/recommendations/items/a", 3)
	if a["b"].Reason != "co-viewed" || math.Abs(a["b"].ViewScore-2) > 0.01 || math.Abs(a["c"].ViewScore-1) > 0.01 {
		t.Errorf("item a: %+v; want b co-viewed twice, c once", a)
	}
	if a["d"].Reason != "co-bought" || math.Abs(a["d"].PurchaseScore-1) > 0.01 || a["d"].Score <= a["b"].Score {
		t.Errorf("item a: %+v; want d co-bought once, ranked first", a)
	}
	x := byItem("/v1/recommendations/items/x", 2)
	if ratio := x["y"].ViewScore / x["z"].ViewScore; ratio < 0.12 || ratio > 0.13 {
		t.Errorf("item x: y/z = %.4f after three half-lives, want 1/8: %+v", ratio, x)
	}

	// Stock: b sells out and leaves a's list; c, which the inventory has
	// never seen, stays. b is in stock and read (the API keeps its stock
	// in a cache) until the reservation takes its last unit.
	sendInv := func(c inventory.Command) { send(string(inv.Commands), c.SKU, inventory.CommandToWire(c)) }
	sendInv(inventory.Command{ID: "restock-b", Kind: inventory.KindRestock, SKU: "b", Qty: 1, Time: now})
	err = kafkatest.WaitFor(ctx, "b in stock", func() (bool, string) {
		resp, err := http.Get(api + "/v1/inventory/b")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		var stock struct {
			Available int64 `json:"available"`
		}
		err = json.NewDecoder(resp.Body).Decode(&stock)
		return resp.StatusCode == 200 && err == nil && stock.Available == 1, fmt.Sprint(resp.Status, stock, err)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := byItem("/v1/recommendations/items/a", 3); got["b"].SKU != "b" {
		t.Fatalf("item a before b sells out: %+v", got)
	}
	sendInv(inventory.Command{ID: "reserve-b", Kind: inventory.KindReserve, SKU: "b", OrderID: "o-b", Qty: 1, TTL: time.Hour, Time: now})
	err = kafkatest.WaitFor(ctx, "b filtered out", func() (bool, string) {
		got := map[string]bool{}
		for _, r := range get("/v1/recommendations/items/a") {
			got[r.SKU] = true
		}
		return !got["b"] && got["c"] && got["d"], fmt.Sprint(got)
	})
	if err != nil {
		t.Fatal(err)
	}

	// Pruning: 205 shoppers each view h and one other item; h keeps the
	// 200 most recent of them and counts the 5 oldest as pruned.
	for i := range 205 {
		at := now.Add(time.Duration(i) * time.Second)
		user := fmt.Sprintf("p%03d", i)
		view("h"+user, user, "h", at)
		view("o"+user, user, fmt.Sprintf("other-%03d", i), at.Add(time.Millisecond))
	}
	err = kafkatest.WaitFor(ctx, "h pruned", func() (bool, string) {
		recs, err := kafkatest.ReadAll(ctx, brokers, adm, string(n.ItemsTable()))
		if err != nil {
			return false, err.Error()
		}
		// The changelog, replayed into a store, holds what the items
		// group's own store holds.
		sb, err := state.NewBuilder(t.TempDir())
		if err != nil {
			return false, err.Error()
		}
		defer sb.Close()
		st, err := sb.Build("items", 0)
		if err == nil {
			err = st.Open()
		}
		if err != nil {
			return false, err.Error()
		}
		for _, r := range recs {
			if r.Value == nil {
				err = st.Delete(string(r.Key))
			} else {
				err = st.Set(string(r.Key), r.Value)
			}
			if err != nil {
				return false, err.Error()
			}
		}
		h, _, err := recommendationstopo.LoadItem(st, "h")
		if err != nil {
			return false, err.Error()
		}
		kept := map[string]bool{}
		for _, nb := range h.Neighbors {
			kept[nb.SKU] = true
		}
		ok := h.Pruned == 5 && len(kept) == 200 && !kept["other-004"] && kept["other-005"] && kept["other-204"]
		return ok, fmt.Sprintf("%d neighbors, %d pruned", len(kept), h.Pruned)
	})
	if err != nil {
		t.Fatal(err)
	}

	// u1 bought a and d and viewed a, b, c: nothing of that comes back.
	for _, r := range get("/v1/recommendations/users/u1") {
		if r.SKU == "a" || r.SKU == "d" {
			t.Errorf("user u1 is recommended %s, which they bought", r.SKU)
		}
	}
}
