package instance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/processors/inventory"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	"github.com/titan-commerce/titan/sdk"
	"github.com/titan-commerce/titan/topologies/flashsaletopo"
)

// TestFlashSaleReemitsLostOutputs: the flash sale emits a purchase's
// messages before it writes the buyer's state. While its sends fail, it
// stops with that state written locally and the messages lost; rebuilt in
// the same process, it must not trust that state, or the purchase, seen as
// already under way, would never be answered. The test sends purchases
// while the sends fail and checks that each gets exactly one result once
// they work again, without a dead letter, and that the sale sold what the
// results say.
func TestFlashSaleReemitsLostOutputs(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	f := start(ctx, t, instance.TopologyInventory, instance.TopologyFlashSale)
	f.waitReady(ctx)
	inv, fs := f.inst.Names(), flashsaletopo.NamesFor(f.ns)
	router := flashsale.NewKeys(partitions)

	p, err := sdk.NewProducer(f.brokers, sdk.WithClientID("titan-test-faults"), sdk.WithCommandsTopic(string(inv.Commands)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const sku = "fs-sku"
	restock := inventory.Command{ID: "restock-" + sku, Kind: inventory.KindRestock, SKU: sku, Qty: 100, Time: time.Now()}
	if _, err := p.SendCommand(ctx, inventory.CommandToWire(restock)); err != nil {
		t.Fatal(err)
	}
	newEventLog(f.reader(string(inv.Events))).await(ctx, t, []string{restock.ID})
	sale := f.createSale(ctx, sku)

	buyer, err := kgo.NewClient(kgo.SeedBrokers(f.brokers...), kgo.RecordPartitioner(partition.Kgo()),
		kgo.DefaultProduceTopic(string(fs.Commands)), kgo.ClientID("titan-test-buyer"))
	if err != nil {
		t.Fatal(err)
	}
	defer buyer.Close()
	var attempts []flashsale.Message
	buy := func(n int) {
		for range n {
			user := fmt.Sprintf("user-%02d", len(attempts))
			m := flashsale.Message{Kind: flashsale.KindPurchase, SaleID: sale.ID, Key: router.User(sale.ID, user), UserID: user,
				IdempotencyKey: fmt.Sprintf("k%02d", len(attempts)), Qty: 1 + int64(len(attempts)%2),
				Bucket: flashsale.BucketOf(user, sale.Buckets), Time: time.UnixMilli(time.Now().UnixMilli())}
			b, err := proto.Marshal(flashsale.MessageToWire(m))
			if err != nil {
				t.Fatal(err)
			}
			if err := buyer.ProduceSync(ctx, &kgo.Record{Key: []byte(m.Key), Value: b}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			attempts = append(attempts, m)
		}
	}
	results := newResultLog(f.reader(string(fs.Events)))
	buy(4)
	results.await(ctx, t, attempts)

	f.faults.FailSends(true)
	buy(12)
	st := f.waitFailing(ctx, instance.TopologyFlashSale, 2)
	t.Logf("/readyz while failing: %s: %s after %d failures", st.State, firstLine(st.Error), st.Failures)
	f.checkLogged(instance.TopologyFlashSale)
	f.faults.FailSends(false)

	f.waitReady(ctx)
	buy(4)
	results.await(ctx, t, attempts)

	var sold int64
	for _, m := range attempts {
		rs := results.byKey[flashsale.PurchaseKey(m.SaleID, m.IdempotencyKey)]
		if distinct := len(slices.Compact(slices.Sorted(slices.Values(rs)))); distinct != 1 {
			t.Errorf("%s has %d different results", m.IdempotencyKey, distinct)
		}
		var w flashsalev1.Result
		if err := proto.Unmarshal([]byte(rs[0]), &w); err != nil {
			t.Fatal(err)
		}
		// The sale has units for every attempt: each must have bought.
		if r := flashsale.ResultFromWire(&w); r.Status != flashsale.StatusPurchased || r.Qty != m.Qty {
			t.Errorf("%s: %s %q qty %d, want purchased %d", m.IdempotencyKey, r.Status, r.Reason, r.Qty, m.Qty)
		}
		sold += m.Qty
	}
	if len(results.bad) > 0 {
		t.Errorf("unreadable results: %v", results.bad)
	}
	err = pollUntil(ctx, "the sale's units sold in the API", func() (bool, string) {
		status, body, err := f.get(ctx, "/v1/flash-sales/"+sale.ID)
		var got struct {
			Sold int64 `json:"sold"`
		}
		if err != nil || status != http.StatusOK || json.Unmarshal(body, &got) != nil {
			return false, fmt.Sprintf("%d %s %v", status, body, err)
		}
		return got.Sold == sold, fmt.Sprintf("sold %d of the %d the results say", got.Sold, sold)
	}, func(ctx context.Context) { <-ctx.Done() })
	if err != nil {
		t.Error(err)
	}
	// The rebuilt processors recovered the sale's table from its changelog.
	distrusted := false
	for _, line := range f.logs.lines("WARN") {
		if strings.Contains(line, "local state distrusted") && strings.Contains(line, "topic="+string(fs.Table())+" ") {
			distrusted = true
		}
	}
	if !distrusted {
		t.Errorf("the flash sale's table was not distrusted before its processor was built again")
	}
	f.checkNoDeadLetters(ctx, string(fs.DeadLetters))
	f.checkNoDeadLetters(ctx, string(inv.DeadLetters))
	f.checkMetrics(ctx, string(fs.Group))
	_, sends := f.faults.Failed()
	t.Logf("%d attempts answered, %d units sold; %d sends failed", len(attempts), sold, sends)
}

// createSale defines a sale of sku through the API, which allocates its
// units from the inventory first, and returns it once its buckets are
// open.
func (f *fixture) createSale(ctx context.Context, sku string) flashsale.Sale {
	f.t.Helper()
	now := time.Now()
	price := int64(500)
	req := map[string]any{"id": "fs-1", "sku": sku, "units": 40, "starts_at": now.Add(-time.Second).Format(time.RFC3339),
		"ends_at": now.Add(time.Hour).Format(time.RFC3339), "per_user_limit": 3, "price": price, "buckets": 2}
	var sale struct {
		ID      string `json:"id"`
		Buckets []any  `json:"buckets"`
	}
	// A 202 means the sale is not defined yet; the request is idempotent.
	err := pollUntil(ctx, "the sale created", func() (bool, string) {
		status, body, err := f.post(ctx, "/v1/flash-sales", req)
		if err != nil || (status != http.StatusCreated && status != http.StatusOK) {
			return false, fmt.Sprintf("%d %s %v", status, body, err)
		}
		return json.Unmarshal(body, &sale) == nil, string(body)
	}, func(ctx context.Context) { <-ctx.Done() })
	if err != nil {
		f.t.Fatal(err)
	}
	return flashsale.Sale{ID: sale.ID, SKU: sku, Units: 40, PerUserLimit: 3, PriceMinor: price, Buckets: len(sale.Buckets)}
}

// resultLog reads the flash-sale events topic: every copy of every result,
// canonical, by purchase key.
type resultLog struct {
	cl    *kgo.Client
	byKey map[string][]string
	bad   []string
}

func newResultLog(cl *kgo.Client) *resultLog { return &resultLog{cl: cl, byKey: map[string][]string{}} }

func (l *resultLog) poll(ctx context.Context) {
	l.cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
		var w flashsalev1.Result
		if err := proto.Unmarshal(r.Value, &w); err != nil {
			l.bad = append(l.bad, fmt.Sprintf("%d/%d: %v", r.Partition, r.Offset, err))
			return
		}
		key := flashsale.PurchaseKey(w.GetSaleId(), w.GetIdempotencyKey())
		if string(r.Key) != key {
			l.bad = append(l.bad, fmt.Sprintf("%d/%d: key %q for %q", r.Partition, r.Offset, r.Key, key))
		}
		b, err := canonical.Marshal(&w)
		if err != nil {
			l.bad = append(l.bad, err.Error())
		}
		l.byKey[key] = append(l.byKey[key], string(b))
	})
}

// await reads until every attempt has a result.
func (l *resultLog) await(ctx context.Context, t *testing.T, attempts []flashsale.Message) {
	t.Helper()
	err := pollUntil(ctx, "a result for every attempt", func() (bool, string) {
		var missing []string
		for _, m := range attempts {
			if len(l.byKey[flashsale.PurchaseKey(m.SaleID, m.IdempotencyKey)]) == 0 {
				missing = append(missing, m.IdempotencyKey)
			}
		}
		return len(missing) == 0, strings.Join(missing, " ")
	}, l.poll)
	if err != nil {
		t.Fatal(err)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
