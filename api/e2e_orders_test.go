package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// TestOrdersEndToEnd runs the order pipeline behind the HTTP API on the
// real broker: a price and stock set through the API, then orders that
// confirm, fail the price check, run out of stock, are retried and
// conflict, and the state each leaves behind.
func TestOrdersEndToEnd(t *testing.T) {
	c, _ := startInstance(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	const sku = "sku-order-e2e"

	c.do("POST", "/v1/prices/"+sku, `{"base_price":1999,"currency":"EUR","command_id":"catalog-1"}`, 202)
	var price struct {
		Price     int64  `json:"price"`
		BasePrice int64  `json:"base_price"`
		Currency  string `json:"currency"`
	}
	if err := poll(ctx, func() bool {
		status, b, err := c.try("GET", "/v1/prices/"+sku, "")
		return err == nil && status == 200 && json.Unmarshal(b, &price) == nil
	}); err != nil {
		t.Fatalf("price never showed: %v", err)
	}
	if price.Price != 1999 || price.BasePrice != 1999 || price.Currency != "EUR" {
		t.Fatalf("price %+v", price)
	}
	var s stock
	c.command("/v1/inventory/"+sku+"/restock", "restock-orders", `"qty":5`, 200, &s)

	// One shopper per order: three orders in a second from one new
	// account is what the fraud model calls velocity abuse.
	body := func(id string, qty, unit int64) string {
		return fmt.Sprintf(`{"order_id":%q,"user_id":"u-%[1]s","device_id":"d-%[1]s","payment_id":"card-%[1]s","lines":[{"sku":%q,"qty":%d,"unit_price":%d}]}`,
			id, sku, qty, unit)
	}
	type outcome struct {
		OrderID string `json:"order_id"`
		Status  string `json:"status"`
		Total   int64  `json:"total"`
		Reason  string `json:"reason"`
	}
	post := func(b string, status int) outcome {
		t.Helper()
		var o outcome
		if err := json.Unmarshal(c.do("POST", "/v1/orders", b, status), &o); err != nil {
			t.Fatal(err)
		}
		return o
	}

	if o := post(body("o-ok", 2, 1999), 201); o.Status != "confirmed" || o.Total != 3998 {
		t.Fatalf("order o-ok: %+v", o)
	}
	// A retry is answered with the same outcome and sells nothing twice.
	if o := post(body("o-ok", 2, 1999), 201); o.Status != "confirmed" || o.Total != 3998 {
		t.Fatalf("retried o-ok: %+v", o)
	}
	c.do("POST", "/v1/orders", body("o-ok", 1, 1999), 409)
	if o := post(body("o-cheap", 1, 999), 409); o.Status != "rejected" || o.Reason != "price_mismatch" {
		t.Fatalf("order o-cheap: %+v", o)
	}
	if o := post(body("o-many", 4, 1999), 409); o.Status != "rejected" || o.Reason != "out_of_stock" {
		t.Fatalf("order o-many: %+v", o)
	}

	// The confirmed order's line is committed: sold, not held.
	var view struct {
		Status string `json:"status"`
		Lines  []struct {
			Status string `json:"status"`
		} `json:"lines"`
		History []struct {
			Name string `json:"name"`
		} `json:"history"`
	}
	if err := poll(ctx, func() bool {
		status, b, err := c.try("GET", "/v1/orders/o-ok", "")
		return err == nil && status == 200 && json.Unmarshal(b, &view) == nil &&
			len(view.Lines) == 1 && view.Lines[0].Status == "committed"
	}); err != nil {
		t.Fatalf("o-ok never committed: %+v: %v", view, err)
	}
	if view.Status != "confirmed" || len(view.History) < 4 {
		t.Fatalf("o-ok: %+v", view)
	}
	if err := poll(ctx, func() bool {
		status, b, err := c.try("GET", "/v1/inventory/"+sku, "")
		return err == nil && status == 200 && json.Unmarshal(b, &s) == nil && s.Reserved == 0 && s.Sold == 2
	}); err != nil {
		t.Fatalf("stock after the orders %+v: %v", s, err)
	}
	checkStock(t, s, 3, 0, 2)

	var user struct {
		UserID    string             `json:"user_id"`
		Features  map[string]float64 `json:"features"`
		Decisions []struct {
			OrderID string `json:"order_id"`
			Outcome string `json:"outcome"`
		} `json:"decisions"`
	}
	if err := json.Unmarshal(c.do("GET", "/v1/fraud/users/u-o-ok", "", 200), &user); err != nil {
		t.Fatal(err)
	}
	if len(user.Decisions) != 1 || user.Decisions[0].OrderID != "o-ok" || user.Features["user_orders_24h"] != 1 {
		t.Fatalf("fraud view of the user: %+v", user)
	}
	c.do("GET", "/v1/orders/o-never", "", 404)
}
