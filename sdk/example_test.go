package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/titan-commerce/titan/schemas"
	"github.com/titan-commerce/titan/sdk"
)

// The examples without an Output line need a running Titan; they are
// compiled, not run.

// A restock, sent and waited for: the idempotency key names the
// operation, and a retry with the same key is the same command to the
// inventory, which applies it once.
func ExampleProducer_Send() {
	p, err := sdk.NewProducer([]string{"localhost:9092"}, sdk.WithClientID("warehouse"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	ack, err := p.Send(ctx, sdk.Restock{IdempotencyKey: "delivery-7781/line-1", SKU: "sku-123", Qty: 40})
	if err != nil {
		log.Fatal(err)
	}
	ev, err := p.WaitCommandResult(ctx, "sku-123", ack.ID, ack.SentAt)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ev.GetType(), ev.GetStock().GetOnHand())
}

// An input that breaks a rule is refused before anything is sent, with
// the field named; no broker is needed to see it.
func ExampleProducer_Send_invalid() {
	p, err := sdk.NewProducer([]string{"localhost:9092"})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	_, err = p.Send(context.Background(), sdk.Reserve{IdempotencyKey: "cart-9/reserve", SKU: "sku-123", OrderID: "order-9", Qty: 2})
	var inv *schemas.InvalidError
	if errors.As(err, &inv) {
		fmt.Println(inv.Field, inv.Reason)
	}
	fmt.Println(err)
	// Output:
	// reserve.ttl_ms invalid_ttl
	// sdk: reserve refused: schemas: invalid field reserve.ttl_ms: invalid_ttl
}

// The id of a typed input comes from its idempotency key, always the same
// for the same key, and in a namespace no caller-chosen id may take.
func Example_idempotencyKey() {
	fmt.Println(schemas.DeriveID("delivery-7781/line-1"))
	// Output:
	// sdk:k:delivery-7781/line-1
}

// Sends that do not wait: each gets its outcome in a callback, and Flush
// waits for all of them before Close.
func ExampleProducer_SendAsync() {
	p, err := sdk.NewProducer([]string{"localhost:9092"}, sdk.WithLinger(5*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	for i, sku := range []string{"sku-1", "sku-2", "sku-3"} {
		p.SendAsync(ctx, sdk.SetPrice{IdempotencyKey: fmt.Sprintf("catalog-2026-12/%d", i), SKU: sku, PriceMinor: 1999, Currency: "EUR"},
			func(ack sdk.Ack, err error) {
				if err != nil {
					log.Printf("price of %s: %v", sku, err)
				}
			})
	}
	if err := p.Flush(ctx); err != nil {
		log.Fatal(err)
	}
}

// An order placed from a checkout and its outcome: confirmed once fraud
// scoring, the price check and the reservations all agreed, or rejected
// with a reason.
func ExampleProducer_WaitOrderOutcome() {
	p, err := sdk.NewProducer([]string{"localhost:9092"}, sdk.WithClientID("checkout"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	ack, err := p.Send(ctx, sdk.PlaceOrder{
		IdempotencyKey: "order-1042/place", OrderID: "order-1042",
		UserID: "user-7", DeviceID: "device-3", PaymentID: "card-55", Currency: "EUR",
		Lines: []sdk.OrderLine{{SKU: "sku-123", Qty: 2, UnitPriceMinor: 1999}},
	})
	if err != nil {
		log.Fatal(err)
	}
	out, err := p.WaitOrderOutcome(ctx, "order-1042", ack.SentAt)
	if err != nil {
		log.Fatal(err)
	}
	if r := out.GetRejected(); r != nil {
		fmt.Println("rejected:", r.GetReason())
		return
	}
	fmt.Println("confirmed:", out.GetConfirmed().GetTotalMinor())
}

// A server that sheds load: a send that finds the buffer full fails at
// once rather than waiting; Block would wait for room until the send's
// context ends.
func ExampleWithBuffer() {
	p, err := sdk.NewProducer([]string{"localhost:9092"}, sdk.WithBuffer(10_000, sdk.FailFast))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	_, err = p.Send(context.Background(), sdk.View{IdempotencyKey: "view-5c1e", UserID: "user-7", SKU: "sku-123"})
	if errors.Is(err, sdk.ErrBufferFull) {
		fmt.Println("busy: try again later")
	}
}

// A campaign of 15 % off for a week, and its early end.
func ExampleStartCampaign() {
	p, err := sdk.NewProducer([]string{"localhost:9092"}, sdk.WithNamespace("shop-eu"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if _, err := p.Send(ctx, sdk.StartCampaign{IdempotencyKey: "winter-sale/sku-123", SKU: "sku-123", CampaignID: "winter",
		PercentBps: 1500, StartsAt: start, EndsAt: start.AddDate(0, 0, 7)}); err != nil {
		log.Fatal(err)
	}
	if _, err := p.Send(ctx, sdk.EndCampaign{IdempotencyKey: "winter-sale/sku-123/end", SKU: "sku-123", CampaignID: "winter"}); err != nil {
		log.Fatal(err)
	}
}

// A flash sale defined by an operator's tool, and a buyer's attempt.
func ExampleDefineFlashSale() {
	p, err := sdk.NewProducer([]string{"localhost:9092"}, sdk.WithClientID("titan-ops"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	start := time.Now().Add(time.Hour)
	if _, err := p.Send(ctx, sdk.DefineFlashSale{ID: "black-friday-tv", SKU: "sku-tv-55", Units: 500,
		StartsAt: start, EndsAt: start.Add(2 * time.Hour), PerUserLimit: 1, PriceMinor: 29900, Buckets: 8}); err != nil {
		log.Fatal(err)
	}
	if _, err := p.Send(ctx, sdk.Purchase{IdempotencyKey: "attempt-81f2", SaleID: "black-friday-tv", UserID: "user-7",
		Qty: 1, Buckets: 8}); err != nil {
		log.Fatal(err)
	}
}
