package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/instancetest"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/schemas"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	"github.com/titan-commerce/titan/sdk"
	"github.com/titan-commerce/titan/topologies/pricingtopo"
)

const instancePartitions = 3

// runInstance runs an instance of the topologies in a namespace of the
// test's own, ready, until the test ends.
func runInstance(ctx context.Context, t *testing.T, topologies ...string) ([]string, string) {
	t.Helper()
	ns := kafkatest.Prefix(t)
	inst := instancetest.Run(ctx, t, instance.Config{Namespace: ns, Partitions: instancePartitions, Topologies: topologies})
	return inst.Brokers(), ns
}

// TestWaitForResults: an instance answers the inventory commands and the
// order the SDK sends, and the waits return those answers, for a retried
// command too; a wait for what never comes, or came before its since,
// gives up when its context ends.
func TestWaitForResults(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	brokers, ns := runInstance(ctx, t, instance.TopologyInventory, instance.TopologyOrders)
	p, err := sdk.NewProducer(brokers, sdk.WithNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	const sku = "sku-wait"

	restock := sdk.Restock{IdempotencyKey: "restock-1", SKU: sku, Qty: 10}
	ack, err := p.Send(ctx, restock)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := p.WaitCommandResult(ctx, sku, ack.ID, ack.SentAt)
	if err != nil {
		t.Fatal(err)
	}
	if ev.GetType() != inventoryv1.EventType_EVENT_TYPE_RESTOCKED || ev.GetCommandId() != ack.ID ||
		ev.GetStock().GetOnHand() != 10 || ev.GetOffset() != ack.Offset || ev.GetPartition() != ack.Partition {
		t.Fatalf("restock result %v, want restocked to 10 for %s at %d/%d", ev, ack.ID, ack.Partition, ack.Offset)
	}
	restocked := ack
	// The retry is the same command: answered with the first result.
	retry, err := p.Send(ctx, restock)
	if err != nil {
		t.Fatal(err)
	}
	again, err := p.WaitCommandResult(ctx, sku, retry.ID, retry.SentAt)
	if err != nil {
		t.Fatal(err)
	}
	if retry.ID != ack.ID || again.GetStock().GetOnHand() != 10 || again.GetOffset() != ack.Offset {
		t.Errorf("retry %s answered %v, want the first result (on hand 10, offset %d)", retry.ID, again, ack.Offset)
	}

	ack, err = p.Send(ctx, sdk.Reserve{IdempotencyKey: "reserve-too-many", SKU: sku, OrderID: "o-big", Qty: 11, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if ev, err = p.WaitCommandResult(ctx, sku, ack.ID, ack.SentAt); err != nil {
		t.Fatal(err)
	}
	if ev.GetType() != inventoryv1.EventType_EVENT_TYPE_REJECTED || ev.GetReason() == "" {
		t.Errorf("reserving 11 of 10: %v, want rejected with a reason", ev)
	}

	// The order is priced by the pricing table: its price goes in first.
	if _, err := p.Send(ctx, sdk.SetPrice{IdempotencyKey: "price-1", SKU: sku, PriceMinor: 1000, Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	adm := kafkatest.Admin(t, brokers)
	if err := kafkatest.WaitFor(ctx, "the price applied", func() (bool, string) {
		recs, err := kafkatest.ReadAll(ctx, brokers, adm, string(pricingtopo.NamesFor(ns).Events))
		return err == nil && len(recs) > 0, "no price change yet"
	}); err != nil {
		t.Fatal(err)
	}
	ack, err = p.Send(ctx, sdk.PlaceOrder{IdempotencyKey: "place-o-1", OrderID: "o-1", UserID: "u-1", DeviceID: "d-1",
		PaymentID: "card-1", Currency: "EUR", Lines: []sdk.OrderLine{{SKU: sku, Qty: 2, UnitPriceMinor: 1000}}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.WaitOrderOutcome(ctx, "o-1", ack.SentAt)
	if err != nil {
		t.Fatal(err)
	}
	if c := out.GetConfirmed(); c == nil || c.GetTotalMinor() != 2000 || out.GetOrderId() != "o-1" {
		t.Errorf("outcome %v, want o-1 confirmed for 2000", out)
	}

	// Nothing comes for these: each wait ends with its context.
	for name, wait := range map[string]func(context.Context) error{
		"a command never sent": func(ctx context.Context) error {
			_, err := p.WaitCommandResult(ctx, sku, "never-sent", time.Now())
			return err
		},
		"a result before since": func(ctx context.Context) error {
			_, err := p.WaitCommandResult(ctx, sku, restocked.ID, time.Now().Add(time.Hour))
			return err
		},
		"an order never placed": func(ctx context.Context) error {
			_, err := p.WaitOrderOutcome(ctx, "o-never", time.Now())
			return err
		},
	} {
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := wait(short)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("wait for %s: %v, want the context's deadline", name, err)
		}
	}
	if _, err := p.WaitCommandResult(ctx, "", "x", time.Now()); err == nil {
		t.Error("a wait without a SKU was accepted")
	}
	// A deployment that is not there is an error at once, not a wait.
	elsewhere, err := sdk.NewProducer(brokers, sdk.WithNamespace(ns+"-missing"))
	if err != nil {
		t.Fatal(err)
	}
	defer elsewhere.Close()
	short, stop := context.WithTimeout(ctx, 20*time.Second)
	defer stop()
	if _, err := elsewhere.WaitOrderOutcome(short, "o-1", time.Now()); err == nil || short.Err() != nil {
		t.Errorf("a wait on a missing topic: %v, want an error before the deadline", err)
	}
}

// TestWaitPurchaseResult: an instance answers the flash-sale purchases the
// SDK sends, and the wait returns each one's result: bought, over the
// buyer's limit, and the same attempt sent again, answered once.
func TestWaitPurchaseResult(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	ns := kafkatest.Prefix(t)
	// The API says when the sale is open.
	inst := instancetest.Run(ctx, t, instance.Config{Namespace: ns, Partitions: instancePartitions, HTTPAddr: "127.0.0.1:0",
		Topologies: []string{instance.TopologyInventory, instance.TopologyFlashSale}})
	p, err := sdk.NewProducer(inst.Brokers(), sdk.WithNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	ack, err := p.Send(ctx, sdk.Restock{IdempotencyKey: "restock", SKU: "sku-sale", Qty: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitCommandResult(ctx, "sku-sale", ack.ID, ack.SentAt); err != nil {
		t.Fatal(err)
	}
	const buckets = 2
	now := time.Now()
	if _, err := p.Send(ctx, sdk.DefineFlashSale{ID: "sale-1", SKU: "sku-sale", Units: 4, StartsAt: now.Add(-time.Second),
		EndsAt: now.Add(time.Hour), PerUserLimit: 2, PriceMinor: 500, Buckets: buckets}); err != nil {
		t.Fatal(err)
	}
	// The sale opens once the inventory has reserved its units.
	err = kafkatest.WaitFor(ctx, "the sale open", func() (bool, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+inst.HTTPAddr()+"/v1/flash-sales/sale-1", nil)
		if err != nil {
			return false, err.Error()
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		var sale struct{ Status string }
		if err := json.NewDecoder(resp.Body).Decode(&sale); err != nil {
			return false, err.Error()
		}
		return sale.Status == "active", sale.Status
	})
	if err != nil {
		t.Fatal(err)
	}

	buy := func(key, user string, qty int64) (*flashsalev1.Result, time.Time) {
		t.Helper()
		ack, err := p.Send(ctx, sdk.Purchase{IdempotencyKey: key, SaleID: "sale-1", UserID: user, Qty: qty, Buckets: buckets})
		if err != nil {
			t.Fatal(err)
		}
		res, err := p.WaitPurchaseResult(ctx, "sale-1", key, ack.SentAt)
		if err != nil {
			t.Fatal(err)
		}
		return res, ack.SentAt
	}
	res, first := buy("buy-1", "user-1", 2)
	if res.GetStatus() != flashsalev1.Status_STATUS_PURCHASED || res.GetQty() != 2 || res.GetPriceMinor() != 500 || res.GetUserId() != "user-1" {
		t.Fatalf("buy-1: %v, want 2 purchased at 500", res)
	}
	if res, _ := buy("buy-2", "user-2", 3); res.GetStatus() != flashsalev1.Status_STATUS_REJECTED || res.GetReason() != "limit_exceeded" {
		t.Errorf("buy-2 of 3 over a limit of 2: %v, want rejected limit_exceeded", res)
	}
	// The same attempt again: still its one result, found from the first send's time.
	if _, err := p.Send(ctx, sdk.Purchase{IdempotencyKey: "buy-1", SaleID: "sale-1", UserID: "user-1", Qty: 2, Buckets: buckets}); err != nil {
		t.Fatal(err)
	}
	again, err := p.WaitPurchaseResult(ctx, "sale-1", "buy-1", first)
	if err != nil {
		t.Fatal(err)
	}
	if again.GetStatus() != flashsalev1.Status_STATUS_PURCHASED || again.GetQty() != 2 {
		t.Errorf("buy-1 sent again: %v, want its first result", again)
	}
	// Nothing answers an attempt never made: the wait ends with its context.
	short, stop := context.WithTimeout(ctx, time.Second)
	defer stop()
	if _, err := p.WaitPurchaseResult(short, "sale-1", "never-sent", time.Now()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting for an attempt never made: %v, want the context's deadline", err)
	}
	if _, err := p.WaitPurchaseResult(ctx, "sale-1", "", time.Now()); schemas.ReasonOf(err) != schemas.ReasonMissingIdempotencyKey {
		t.Errorf("waiting with no idempotency key: %v, want missing_idempotency_key", err)
	}
}
