package instance

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/api"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
	"github.com/titan-commerce/titan/sdk"
)

// TestSendViewsSheds: a batch the producer cannot take beside what it
// already buffers is refused with api.ErrOverloaded at once, before any of
// it is buffered; one that fits is handed to the producer. The broker is
// unreachable, so what other writers hand over stays buffered.
func TestSendViewsSheds(t *testing.T) {
	const maxBuffered = 3
	own, err := sdk.NewProducer([]string{"127.0.0.1:1"}, sdk.WithLinger(0), sdk.WithKgoOptions(kgo.MaxBufferedRecords(maxBuffered)))
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	i := &Instance{own: own, cfg: Config{MaxBuffered: maxBuffered}}
	send := i.sendViews(sdk.KeyedOn(own, "views", (*recommendationsv1.ViewEvent).GetUserId))
	views := func(n int) []*recommendationsv1.ViewEvent {
		out := make([]*recommendationsv1.ViewEvent, n)
		for j := range out {
			out[j] = &recommendationsv1.ViewEvent{EventId: "e", UserId: "u", Sku: "s", TimestampMs: 1}
		}
		return out
	}

	start := time.Now()
	if err := send(t.Context(), views(maxBuffered+1)); !errors.Is(err, api.ErrOverloaded) {
		t.Fatalf("a batch over the buffer: %v, want ErrOverloaded", err)
	}
	if time.Since(start) > time.Second || own.BufferedRecords() != 0 {
		t.Fatalf("the refused batch waited %v and left %d records buffered", time.Since(start), own.BufferedRecords())
	}

	// A batch that fits is handed over, and fails with the send's own
	// error when the broker does not answer within the deadline.
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := send(ctx, views(2)); err == nil || errors.Is(err, api.ErrOverloaded) {
		t.Fatalf("a batch that fits, without a broker: %v, want the send's own failure", err)
	}
	// Records other writers buffer count too: the instance's producer is
	// shared by every API send.
	for n := range 2 {
		own.SendAsync(t.Context(), sdk.Restock{IdempotencyKey: fmt.Sprint("restock-", n), SKU: "sku", Qty: 1}, nil)
	}
	if err := send(t.Context(), views(2)); !errors.Is(err, api.ErrOverloaded) {
		t.Fatalf("a batch over what is left of the buffer: %v, want ErrOverloaded", err)
	}
	if err := send(ctx, views(1)); errors.Is(err, api.ErrOverloaded) {
		t.Fatalf("a batch that fits beside the others was shed: %v", err)
	}
}
