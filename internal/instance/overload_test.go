package instance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkatest"
)

// TestShedsCommandsPastMaxPending: with MaxPending 1, a burst of
// concurrent restocks finds the one waiting slot taken: those are answered
// 429 overloaded with Retry-After and never reach Kafka, the others are
// applied, each once: the stock is exactly what the taken ones restocked.
func TestShedsCommandsPastMaxPending(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	f := startWith(ctx, t, func(c *instance.Config) { c.MaxPending = 1 }, instance.TopologyInventory)
	f.waitReady(ctx)
	const (
		sku   = "sku-shed"
		burst = 40
	)
	type answer struct {
		status     int
		code       string
		retryAfter string
	}
	answers := make(chan answer, burst)
	start := make(chan struct{})
	for n := range burst {
		go func() {
			<-start
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.base+"/v1/inventory/"+sku+"/restock",
				jsonBody(t, map[string]any{"qty": 5, "command_id": fmt.Sprintf("burst-%d", n)}))
			if err != nil {
				answers <- answer{code: err.Error()}
				return
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := f.http.Do(req)
			if err != nil {
				answers <- answer{code: err.Error()}
				return
			}
			defer resp.Body.Close()
			var body struct{ Code string }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			answers <- answer{resp.StatusCode, body.Code, resp.Header.Get("Retry-After")}
		}()
	}
	close(start)
	var taken, shed int
	for range burst {
		a := <-answers
		switch {
		case a.status == http.StatusOK || a.status == http.StatusAccepted:
			taken++
		case a.status == http.StatusTooManyRequests && a.code == "overloaded" && a.retryAfter != "":
			shed++
		default:
			t.Errorf("restock answered %d %q Retry-After %q, want 200, 202 or 429 overloaded with Retry-After", a.status, a.code, a.retryAfter)
		}
	}
	t.Logf("%d of %d restocks taken, %d shed", taken, burst, shed)
	if shed == 0 || taken == 0 {
		t.Fatalf("%d taken and %d shed: the burst did not meet the bound", taken, shed)
	}
	want := int64(5 * taken)
	err := kafkatest.WaitFor(ctx, "the taken restocks applied", func() (bool, string) {
		s := f.stock(ctx, sku)
		return s.OnHand >= want, fmt.Sprintf("on hand %d, want %d", s.OnHand, want)
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if s := f.stock(ctx, sku); s.OnHand != want {
		t.Errorf("on hand %d, want %d: a shed restock was applied, or a taken one twice", s.OnHand, want)
	}
}

func jsonBody(t *testing.T, v any) *bytes.Reader {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b)
}
