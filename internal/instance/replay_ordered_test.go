package instance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/schemas"
	"github.com/titan-commerce/titan/sdk"
	"github.com/titan-commerce/titan/topologies/flashsaletopo"
	"github.com/titan-commerce/titan/topologies/inventorytopo"
	"github.com/titan-commerce/titan/topologies/orderstopo"
	"github.com/titan-commerce/titan/topologies/pricingtopo"
)

// sumEnds is the number of records in the live topics named by inputs.
func sumEnds(ctx context.Context, t *testing.T, f *fixture, inputs ...string) int {
	t.Helper()
	n := 0
	for _, in := range inputs {
		ends, err := kafkatest.EndOffsets(ctx, f.adm, schemas.Namespaced(f.ns, in))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ends {
			n += int(e)
		}
	}
	return n
}

// waitCommitted waits, in the order given, until each group has committed
// the end of its topic: the order in which one's outputs feed the next.
func waitCommitted(ctx context.Context, t *testing.T, f *fixture, groupTopics ...[2]string) {
	t.Helper()
	for _, gt := range groupTopics {
		if err := kafkatest.WaitCommitted(ctx, f.adm, gt[0], gt[1]); err != nil {
			t.Fatal(err)
		}
	}
}

// waitLookupCurrent waits until every processor that looks table up has
// read it to the end it has now.
func (f *fixture) waitLookupCurrent(ctx context.Context, table string) {
	f.t.Helper()
	ends, err := kafkatest.EndOffsets(ctx, f.adm, table)
	if err != nil {
		f.t.Fatal(err)
	}
	err = kafkatest.WaitFor(ctx, "the copies of "+table+" current", func() (bool, string) {
		read := f.inst.LookupRead(table)
		if len(read) == 0 {
			return false, "no processor looks it up"
		}
		for group, parts := range read {
			for p, end := range ends {
				if parts[p] < end {
					return false, fmt.Sprintf("%s at %d of %d in partition %d", group, parts[p], end, p)
				}
			}
		}
		return true, ""
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// startOrders starts an instance of the inventory and the order saga, with
// its pricing group, under a rules file that turns the demand rule off; it
// returns that file, for the replays to take too, and an SDK producer
// closed when the test ends. The demand rule moves prices at minute
// boundaries by ticks the live saga's copy of the pricing table may not
// have yet when an order is decided (see waitLookupCurrent).
func startOrders(ctx context.Context, t *testing.T, clientID string) (f *fixture, noDemand string, p *sdk.Producer) {
	t.Helper()
	noDemand = writeFile(t, "live.json", `{"demand": {"interval": "0s"}}`)
	f = startWith(ctx, t, func(c *instance.Config) { c.PricingRules = noDemand }, instance.TopologyInventory, instance.TopologyOrders)
	f.waitReady(ctx)
	p, err := sdk.NewProducer(f.brokers, sdk.WithNamespace(f.ns), sdk.WithClientID(clientID))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return f, noDemand, p
}

// waitOrdersAnswered waits until what the saga, the inventory and the
// pricing group sent each other is processed, and checks that the saga
// set nothing aside. The order events topic, which clients write, is the
// caller's to wait for.
func waitOrdersAnswered(ctx context.Context, t *testing.T, f *fixture) {
	t.Helper()
	saga, prices, inv := orderstopo.NamesFor(f.ns), pricingtopo.NamesFor(f.ns), inventorytopo.NamesFor(f.ns)
	waitCommitted(ctx, t, f,
		[2]string{string(saga.Group), string(saga.Saga)},
		[2]string{string(inv.Group), string(inv.Internal)},
		[2]string{string(saga.Group), string(inv.OrderEvents)},
		[2]string{string(prices.Group), string(inv.Events)},
		[2]string{string(prices.Group), string(prices.Internal)})
	f.checkNoDeadLetters(ctx, string(saga.DeadLetters))
}

// writeFile writes body to a file of the test's and returns its path.
func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReplayOrders: orders placed through the SDK go through the live saga:
// confirmed ones, one out of stock, one at a wrong price, and, after a
// price change, one at the new price and one at the old. Their answers
// come back on other topics than the orders, and the saga quotes from the
// pricing table as it was when each order was decided. Replayed into two
// shadow namespaces, in time order, the orders and prices come out the
// same twice, equal to live. Under a rule that limits campaigns to 20 %
// off, exactly the order placed at the campaign's price moves, to a price
// mismatch. No replay changes the live groups' committed offsets or the
// ends of the live topics.
func TestReplayOrders(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	f, noDemand, p := startOrders(ctx, t, "titan-test-replay")
	saga, prices, inv := orderstopo.NamesFor(f.ns), pricingtopo.NamesFor(f.ns), inventorytopo.NamesFor(f.ns)
	send := func(in sdk.Input) {
		t.Helper()
		if _, err := p.Send(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	for _, sku := range []string{"sku-a", "sku-b", "sku-c", "sku-d"} {
		send(sdk.SetPrice{IdempotencyKey: "price-" + sku, SKU: sku, PriceMinor: 10_000, Currency: "EUR"})
	}
	send(sdk.StartCampaign{IdempotencyKey: "half-a", SKU: "sku-a", CampaignID: "half", PercentBps: 5000,
		StartsAt: now.Add(-time.Hour), EndsAt: now.Add(24 * time.Hour)})
	// The pricing group reads the inventory's events beside its commands,
	// and a SKU's clock never moves back: live, a restock's event read
	// before the price set ahead of it would stamp the price with the
	// restock's time, where a replay, in time order, keeps the price's
	// own. The restocks go in once the prices are applied.
	waitCommitted(ctx, t, f, [2]string{string(prices.Group), string(prices.Commands)})
	for _, sku := range []string{"sku-a", "sku-b", "sku-c"} {
		send(sdk.Restock{IdempotencyKey: "restock-" + sku, SKU: sku, Qty: 20})
	}
	waitCommitted(ctx, t, f, [2]string{string(inv.Group), string(inv.Commands)})
	// The saga quotes from its own copy of the pricing table, which
	// follows the table a moment behind: an order decided before the copy
	// has a change is priced without it live, and with it in a replay,
	// which waits for the copy. The orders go in once the copy is current.
	f.waitLookupCurrent(ctx, string(prices.Table()))

	place := func(id string, price int64, skus ...string) sdk.PlaceOrder {
		o := sdk.PlaceOrder{IdempotencyKey: "place-" + id, OrderID: id, UserID: "user-" + id, DeviceID: "device-" + id,
			PaymentID: "card-" + id, Currency: "EUR"}
		for _, sku := range skus {
			o.Lines = append(o.Lines, sdk.OrderLine{SKU: sku, Qty: 1, UnitPriceMinor: price})
		}
		return o
	}
	want := map[string]string{} // order id -> outcome, live and in the shadows
	placeAll := func(orders map[string]sdk.PlaceOrder) {
		t.Helper()
		since := time.Now()
		// Sent together, so the questions and answers of different orders
		// interleave on the topics.
		errs := make(chan error, len(orders))
		for _, o := range orders {
			p.SendAsync(ctx, o, func(_ sdk.Ack, err error) { errs <- err })
		}
		for range orders {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		for id := range orders {
			out, err := p.WaitOrderOutcome(ctx, id, since)
			if err != nil {
				t.Fatal(err)
			}
			got := "confirmed"
			if r := out.GetRejected(); r != nil {
				got = r.GetReason()
			}
			if got != want[id] {
				t.Fatalf("order %s: %s live, want %s", id, got, want[id])
			}
		}
	}
	first := map[string]sdk.PlaceOrder{
		"o-01": place("o-01", 5_000, "sku-a"), // the campaign's price
		"o-03": place("o-03", 10_000, "sku-b", "sku-d"),
		"o-04": place("o-04", 9_000, "sku-c"),
	}
	want["o-01"], want["o-03"], want["o-04"] = "confirmed", "out_of_stock", "price_mismatch"
	for i := 5; i <= 10; i++ {
		id := fmt.Sprintf("o-%02d", i)
		first[id], want[id] = place(id, 10_000, "sku-b", "sku-c"), "confirmed"
	}
	placeAll(first)

	// A new price for sku-c.
	send(sdk.SetPrice{IdempotencyKey: "price-sku-c-2", SKU: "sku-c", PriceMinor: 12_000, Currency: "EUR"})
	waitCommitted(ctx, t, f, [2]string{string(prices.Group), string(prices.Commands)})
	f.waitLookupCurrent(ctx, string(prices.Table()))
	want["o-11"], want["o-12"] = "confirmed", "price_mismatch"
	placeAll(map[string]sdk.PlaceOrder{"o-11": place("o-11", 12_000, "sku-c"), "o-12": place("o-12", 10_000, "sku-c")})

	// Everything answered: the confirmed orders' commits, and the demand
	// the pricing group reads from the inventory's events.
	waitCommitted(ctx, t, f, [2]string{string(saga.Group), string(saga.Events)})
	waitOrdersAnswered(ctx, t, f)

	inputs := []string{schemas.PricingCommands, schemas.PricingInternal, schemas.InventoryEvents,
		schemas.OrderEvents, schemas.OrderSaga, schemas.InventoryOrderEvents}
	before := liveSnapshot(ctx, t, f.adm, f.ns)
	diffs, lines := replayTwice(ctx, t, f, instance.ReplayableOrders, sumEnds(ctx, t, f, inputs...),
		func(c *instance.ReplayConfig) { c.PricingRules = noDemand })
	if len(diffs) != 2 || diffs[0].LiveTable != string(saga.Table()) || diffs[1].LiveTable != string(prices.Table()) {
		t.Fatalf("the orders' tables compared: %+v", diffs)
	}
	if n := len(diffs[0].Shadow); n != len(want) {
		t.Errorf("the shadow saga holds %d orders, want %d", n, len(want))
	}
	for id, outcome := range want {
		status := `"ORDER_STATUS_CONFIRMED"`
		if outcome != "confirmed" {
			status = `"` + outcome + `"`
		}
		if !strings.Contains(diffs[0].Shadow[id], status) {
			t.Errorf("shadow order %s lacks %s: %s", id, status, diffs[0].Shadow[id])
		}
	}
	if !containsPrefix(lines, "replay copy: ") || !containsPrefix(lines, "replay process: ") {
		t.Errorf("progress lines %q lack the copy or the processing", lines)
	}

	// No campaign takes more than 20 % off: sku-a costs 80.00, and the
	// order placed at 50.00 is a price mismatch.
	capped := writeFile(t, "capped.json", `{"max_campaign_discount_bps": 2000, "demand": {"interval": "0s"}}`)
	if _, err := instance.Replay(ctx, instance.ReplayConfig{Brokers: f.brokers, Namespace: f.ns, Shadow: "capped",
		Topology: instance.ReplayableOrders, PricingRules: capped, Timeout: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	cappedDiff, err := instance.DiffTables(ctx, instance.DiffConfig{Brokers: f.brokers, Namespace: f.ns, Shadow: "capped", Topology: instance.ReplayableOrders})
	if err != nil {
		t.Fatal(err)
	}
	for i, moved := range []string{"o-01", "sku-a"} {
		if s := cappedDiff[i].Summary; !reflect.DeepEqual(s.Different, []string{moved}) || len(s.OnlyLive)+len(s.OnlyShadow) != 0 {
			t.Errorf("%s under the limit: %+v, want only %s different", cappedDiff[i].LiveTable, s, moved)
		}
	}
	if o := cappedDiff[0].Shadow["o-01"]; !strings.Contains(o, `"price_mismatch"`) {
		t.Errorf("o-01 under the limit: %s", o)
	}
	if after := liveSnapshot(ctx, t, f.adm, f.ns); !reflect.DeepEqual(after, before) {
		t.Fatalf("the live deployment changed during the replays:\nbefore %v\nafter  %v", before, after)
	}
}

func containsPrefix(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// TestReplayFlashSale: a sale created through the API, whose allocation the
// inventory answers on another topic, takes purchases (one over the
// per-user limit, one sent twice) until it ends, when the settler closes
// its buckets on the internal topic and the inventory settles it; a
// purchase after the end is refused. Replayed into two shadow namespaces,
// in time order, the sale, its buckets and buyers and every purchase's
// result come out the same twice, equal to live: no purchase is read
// before the sale opened or after its buckets closed. No replay changes
// the live deployment.
func TestReplayFlashSale(t *testing.T) {
	ctx, f := startReady(t, instance.TopologyInventory, instance.TopologyFlashSale)
	fs, inv := flashsaletopo.NamesFor(f.ns), inventorytopo.NamesFor(f.ns)
	p, err := sdk.NewProducer(f.brokers, sdk.WithNamespace(f.ns), sdk.WithClientID("titan-test-replay"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Send(ctx, sdk.Restock{IdempotencyKey: "restock", SKU: "fs-sku", Qty: 100}); err != nil {
		t.Fatal(err)
	}
	waitCommitted(ctx, t, f, [2]string{string(inv.Group), string(inv.Commands)})

	const saleID, buckets = "fs-replay", 2
	ends := time.Now().Add(10 * time.Second).Truncate(time.Second)
	req := map[string]any{"id": saleID, "sku": "fs-sku", "units": 20, "starts_at": time.Now().Add(-time.Second).Format(time.RFC3339),
		"ends_at": ends.Format(time.RFC3339), "per_user_limit": 3, "price": 500, "buckets": buckets}
	err = pollUntil(ctx, "the sale created", func() (bool, string) {
		status, body, err := f.post(ctx, "/v1/flash-sales", req)
		return err == nil && (status == http.StatusCreated || status == http.StatusOK), fmt.Sprintf("%d %s %v", status, body, err)
	}, func(ctx context.Context) { <-ctx.Done() })
	if err != nil {
		t.Fatal(err)
	}

	// Three buyers of two units per bucket: no bucket runs dry, so none
	// borrows from the other, whose timing no replay can repeat.
	var purchases []sdk.Purchase
	per := map[int]int{}
	for u := 0; len(purchases) < 3*buckets; u++ {
		user := fmt.Sprintf("buyer-%d", u)
		if b := flashsale.BucketOf(user, buckets); per[b] < 3 {
			per[b]++
			purchases = append(purchases, sdk.Purchase{IdempotencyKey: "buy-" + user, SaleID: saleID, UserID: user, Qty: 2, Buckets: buckets})
		}
	}
	purchases = append(purchases,
		sdk.Purchase{IdempotencyKey: "greedy", SaleID: saleID, UserID: "greedy", Qty: 4, Buckets: buckets},
		purchases[0]) // sent twice
	results := map[string]string{}
	await := func(keys ...string) {
		t.Helper()
		err := pollUntil(ctx, "the purchases' results", func() (bool, string) {
			var missing []string
			for _, k := range keys {
				status, body, err := f.get(ctx, "/v1/flash-sales/"+saleID+"/purchases/"+k)
				var r struct{ Status, Reason string }
				if err != nil || status != http.StatusOK || json.Unmarshal(body, &r) != nil || r.Status == "pending" {
					missing = append(missing, k)
					continue
				}
				results[k] = strings.TrimSuffix(r.Status+" "+r.Reason, " ")
			}
			return len(missing) == 0, strings.Join(missing, " ")
		}, func(ctx context.Context) { <-ctx.Done() })
		if err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	for _, in := range purchases {
		if _, err := p.Send(ctx, in); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, in.IdempotencyKey)
	}
	await(keys...)
	for _, k := range keys {
		if want := map[bool]string{true: "rejected limit_exceeded", false: "purchased"}[k == "greedy"]; results[k] != want {
			t.Fatalf("purchase %s: %q live, want %q", k, results[k], want)
		}
	}

	// The sale ends; the settler closes its buckets and the inventory
	// settles it. A purchase after that is refused.
	err = pollUntil(ctx, "the sale settled", func() (bool, string) {
		_, body, err := f.get(ctx, "/v1/flash-sales/"+saleID)
		var s struct {
			Settled bool  `json:"settled"`
			Sold    int64 `json:"sold"`
		}
		return err == nil && json.Unmarshal(body, &s) == nil && s.Settled && s.Sold == 12, string(body)
	}, func(ctx context.Context) { <-ctx.Done() })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(ctx, sdk.Purchase{IdempotencyKey: "late", SaleID: saleID, UserID: "late", Qty: 1, Buckets: buckets}); err != nil {
		t.Fatal(err)
	}
	await("late")
	if results["late"] != "rejected ended" {
		t.Fatalf("the purchase after the end: %q, want rejected ended", results["late"])
	}
	waitCommitted(ctx, t, f,
		[2]string{string(fs.Group), string(fs.Commands)},
		[2]string{string(fs.Group), string(fs.Internal)},
		[2]string{string(fs.Group), string(fs.Allocations)},
		[2]string{string(fs.Group), string(fs.Loop())},
		[2]string{string(fs.Group), string(fs.Loop())},
		[2]string{string(fs.PurchasesGroup), string(fs.Events)})
	f.checkNoDeadLetters(ctx, string(fs.DeadLetters))

	before := liveSnapshot(ctx, t, f.adm, f.ns)
	diffs, _ := replayTwice(ctx, t, f, instance.ReplayableFlashSale,
		sumEnds(ctx, t, f, schemas.FlashSaleInternal, schemas.FlashSaleAllocations, schemas.FlashSaleCommands))
	if len(diffs) != 2 || diffs[0].LiveTable != string(fs.Table()) || diffs[1].LiveTable != string(fs.PurchasesTable()) {
		t.Fatalf("the flash sales' tables compared: %+v", diffs)
	}
	if s := diffs[0].Shadow[flashsale.SaleKey(saleID)]; !strings.Contains(s, "SALE_PHASE_SETTLED") {
		t.Errorf("the shadow sale is not settled: %s", s)
	}
	// Six buyers, the greedy one and the late one.
	if n := len(diffs[1].Shadow); n != 3*buckets+2 {
		t.Errorf("the shadow purchase index holds %d results, want %d", n, 3*buckets+2)
	}
	if after := liveSnapshot(ctx, t, f.adm, f.ns); !reflect.DeepEqual(after, before) {
		t.Fatalf("the live deployment changed during the replays:\nbefore %v\nafter  %v", before, after)
	}
}
