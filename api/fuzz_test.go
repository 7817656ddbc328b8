package api

import (
	"encoding/json"
	"testing"
	"time"

	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
)

// FuzzHandler sends arbitrary requests through the handler over fakes.
// Whatever comes in: no panic; no 5xx but 503 not_ready, and that only
// while not ready; every error is a catalogue entry as JSON with its own
// status; and a 4xx other than a rejection (409) sends nothing to Kafka.
// Every part of Titan is enabled, so not_enabled is a failure too.
func FuzzHandler(f *testing.F) {
	for _, b := range BadRequests(testSKU, testOrder, 256) {
		f.Add(b.Method, b.URI, []byte(b.Body), true)
	}
	for _, b := range FlashSaleBadRequests(testSale, time.Now(), 256) {
		f.Add(b.Method, b.URI, []byte(b.Body), true)
	}
	for _, b := range OrderBadRequests(256) {
		f.Add(b.Method, b.URI, []byte(b.Body), true)
	}
	for _, b := range RecommendationBadRequests() {
		f.Add(b.Method, b.URI, []byte(b.Body), true)
	}
	for _, s := range [][3]string{
		{"POST", "/v1/inventory/sku-1/restock", `{"qty":10,"command_id":"r"}`},
		{"POST", "/v1/inventory/sku-1/reservations", `{"order_id":"order-1","qty":1,"ttl_ms":60000}`},
		{"POST", "/v1/inventory/sku-1/reservations", `{"order_id":"order-2","qty":1000,"ttl_ms":1}`},
		{"POST", "/v1/inventory/reservations/order-1/commit", `{"command_id":"k"}`},
		{"POST", "/v1/inventory/reservations/order-1/release", ``},
		{"GET", "/v1/inventory/reservations/order-1", ``},
		{"GET", "/v1/inventory/sku-1?min_offset=1", ``},
		{"GET", "/v1/inventory/%E2%82%AC?min_offset=0", ``},
		{"GET", "/readyz", ``},
		{"GET", "/metrics", ``},
		{"GET", "/openapi.yaml", ``},
		{"HEAD", "/healthz", ``},
		{"POST", "http://host/v1/inventory/a/restock?x#y", `{"qty":1}`},
		{"POST", "/v1/inventory/reservations/%2F/commit", `null`},
		{"POST", "/v1/flash-sales", activeSale("fs-2", "sku-1", 5, 1, 2).body()},
		{"POST", "/v1/flash-sales", activeSale(testSale, "sku-s", 10, 2, 2).body()},
		{"GET", "/v1/flash-sales/" + testSale, ``},
		{"POST", "/v1/flash-sales/" + testSale + "/purchases", purchaseBody("u-1", 1, "k-1")},
		{"POST", "/v1/flash-sales/" + testSale + "/purchases", purchaseBody("u-2", 1000, "k-1")},
		{"GET", "/v1/flash-sales/" + testSale + "/purchases/k-1", ``},
		{"POST", "/v1/orders", orderBody("o-1", "u-1", "sku-1", "sku-2")},
		{"POST", "/v1/orders", orderBody("o-1", "u-2", "sku-1")},
		{"POST", "/v1/orders", orderBody("o-2", userReview, "oos-1")},
		{"POST", "/v1/orders", `{"order_id":"o-3","user_id":"u","device_id":"d","payment_id":"p","currency":"USD","lines":[{"sku":"a","qty":1,"unit_price":0}]}`},
		{"GET", "/v1/orders/o-1", ``},
		{"POST", "/v1/prices/sku-1", `{"base_price":1999,"currency":"EUR","command_id":"p-1"}`},
		{"GET", "/v1/prices/sku-1", ``},
		{"GET", "/v1/prices/sku-1/history?limit=5", ``},
		{"GET", "/v1/fraud/users/u-1", ``},
		{"GET", "/v1/recommendations/items/sku-1?k=2", ``},
		{"GET", "/v1/recommendations/items/sku-s", ``},
		{"GET", "/v1/recommendations/items/unseen?k=100", ``},
		{"GET", "/v1/recommendations/users/u-1?k=1", ``},
		{"GET", "/v1/recommendations/users/u%2F2", ``},
		{"POST", "/v1/recommendations/views", `{"user_id":"u-1","sku":"sku-1","session_id":"s","idempotency_key":"v-1"}`},
		{"POST", "/v1/recommendations/views", `{"views":[{"user_id":"u-1","sku":"sku-2"},{"user_id":"u-2","sku":"sku-1","timestamp_ms":1893553445000}]}`},
	} {
		f.Add(s[0], s[1], []byte(s[2]), true)
		f.Add(s[0], s[1], []byte(s[2]), false)
	}
	// One server for the whole run, as in production: state builds up.
	e := newFlashEnv(f, Options{MaxBodyBytes: 256, CommandWait: time.Millisecond, ReadWait: time.Millisecond})
	saga := withOrders(f, e.testEnv)
	recs := withRecommendations(f, e.testEnv)
	recs.item("sku-1", neighbor{"sku-2", 3, 1}, neighbor{"sku-s", 2, 0}, neighbor{"oos-1", 1, 0})
	recs.item("sku-2", neighbor{"sku-1", 3, 1})
	recs.users.set("u-1", &recommendationsv1.UserHistory{UserId: "u-1",
		Recent: []*recommendationsv1.Seen{{Sku: "sku-1"}, {Sku: "sku-2"}}, Bought: []*recommendationsv1.Seen{{Sku: "sku-s"}}})
	e.create(f, activeSale(testSale, "sku-s", 10, 2, 2))
	// An instance that runs the inventory alone has every route; the
	// others must answer not_enabled, never fail otherwise.
	bare := newEnv(f, Options{MaxBodyBytes: 256, CommandWait: time.Millisecond, ReadWait: time.Millisecond})
	f.Fuzz(func(t *testing.T, method, uri string, body []byte, ready bool) {
		bare.extReady.Store(ready)
		if r := bare.do(method, uri, string(body)); r.status >= 500 {
			var got struct{ Code Code }
			_ = json.Unmarshal(r.body, &got)
			if got.Code != errNotEnabled.Code && !(got.Code == errNotReady.Code && !ready) {
				t.Fatalf("inventory only: %s %q %q (ready=%v): %d %s", method, uri, body, ready, r.status, r.body)
			}
		}
		e.extReady.Store(ready)
		before := e.sentAll() + saga.sent() + len(recs.sentViews())
		r := e.do(method, uri, string(body))
		sent := e.sentAll() + saga.sent() + len(recs.sentViews()) - before

		if r.status < 400 {
			if r.ctype == "application/json" && !json.Valid(r.body) {
				t.Fatalf("%s %q: %d with invalid JSON %q", method, uri, r.status, r.body)
			}
			return
		}
		var got struct {
			Code    Code   `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		}
		if r.status != 409 { // a rejection carries the reservations, the attempt or the order, not an error
			if err := json.Unmarshal(r.body, &got); err != nil || got.Code == "" {
				t.Fatalf("%s %q: %d with body %q, not an error object", method, uri, r.status, r.body)
			}
			want, ok := byCode(got.Code)
			if !ok || want.status != r.status || catalogueMessage(want, got.Message, got.Field) != nil {
				t.Fatalf("%s %q: %d %s is not the catalogue's", method, uri, r.status, r.body)
			}
		}
		switch {
		case r.status >= 500 && !(got.Code == errNotReady.Code && !ready):
			t.Fatalf("%s %q %q (ready=%v): %d %s", method, uri, body, ready, r.status, r.body)
		case r.status < 500 && r.status != 409 && sent != 0:
			t.Fatalf("%s %q %q: %d %s, yet %d command(s) sent", method, uri, body, r.status, r.body, sent)
		}
	})
}
