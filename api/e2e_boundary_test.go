package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// apiError is the JSON error body.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (c *e2e) errorCode(method, uri, body string, status int) string {
	c.t.Helper()
	var e apiError
	decodeInto(c.t, c.do(method, uri, body, status), &e)
	return e.Code
}

// TestBoundariesEndToEnd tries what a careless or hostile client would over
// HTTP against one instance on the real broker: command ids reused for
// other commands, ids Titan derives or a client cannot read back, and an
// order's reservations touched through the inventory's endpoints. Each is
// refused with a stable code and changes nothing.
func TestBoundariesEndToEnd(t *testing.T) {
	c, _ := startInstance(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	const sku = "sku-boundary"
	var s stock
	c.command("/v1/inventory/"+sku+"/restock", "b-restock", `"qty":5`, 200, &s)
	if s.OnHand != 5 {
		t.Fatalf("restock: %+v", s)
	}

	// A command id names one command.
	for _, tc := range []struct{ uri, body string }{
		{"/v1/inventory/" + sku + "/reservations", `{"command_id":"b-restock","order_id":"o-1","qty":1,"ttl_ms":60000}`},
		{"/v1/inventory/" + sku + "/restock", `{"command_id":"b-restock","qty":6}`},
	} {
		if code := c.errorCode("POST", tc.uri, tc.body, 409); code != "command_id_conflict" {
			t.Errorf("%s %s: %s", tc.uri, tc.body, code)
		}
	}
	// The same command again answers its first result.
	var again stock
	decodeInto(t, c.do("POST", "/v1/inventory/"+sku+"/restock", `{"command_id":"b-restock","qty":5}`, 200), &again)
	if again.OnHand != 5 || again.Offset != s.Offset {
		t.Errorf("a repeated restock: %+v, first %+v", again, s)
	}
	var r reservation
	c.command("/v1/inventory/"+sku+"/reservations", "b-hold/"+sku, `"order_id":"o-1","qty":2,"ttl_ms":600000`, 201, &r)
	// A commit whose per-SKU command id ("<id>/<sku>") is the reserve's:
	// refused, and the reservation stays open until its own commit.
	if code := c.errorCode("POST", "/v1/inventory/reservations/o-1/commit", `{"command_id":"b-hold"}`, 409); code != "command_id_conflict" {
		t.Errorf("a commit under the reserve's id: %s", code)
	}
	if got := c.stockAt(sku, r.Offset); got.Reserved != 2 || got.Sold != 0 {
		t.Errorf("after the refused commit: %+v", got)
	}
	var committed order
	c.command("/v1/inventory/reservations/o-1/commit", "b-commit", "", 200, &committed, "b-commit/"+sku)
	if len(committed.Reservations) != 1 || committed.Reservations[0].Status != "committed" {
		t.Errorf("commit: %+v", committed)
	}

	// Ids of Titan's and ids a client could not read back.
	for _, tc := range []struct {
		method, uri, body string
		status            int
		code              string
	}{
		{"POST", "/v1/inventory/" + sku + "/restock", `{"command_id":"titan:expire:x","qty":1}`, 409, "reserved_id"},
		{"POST", "/v1/inventory/" + sku + "/reservations", `{"order_id":"titan:flash-sale:s1","qty":1,"ttl_ms":1000}`, 409, "reserved_id"},
		{"POST", "/v1/inventory/reservations/titan:flash-sale:s1/release", `{}`, 409, "reserved_id"},
		{"POST", "/v1/inventory/" + sku + "/reservations", `{"order_id":"o-\u200b1","qty":1,"ttl_ms":1000}`, 400, "invalid_order_id"},
		{"POST", "/v1/inventory/" + sku + "/reservations", `{"order_id":"o-\u202e1","qty":1,"ttl_ms":1000}`, 400, "invalid_order_id"},
		{"POST", "/v1/inventory/" + sku + "/reservations", `{"order_id":"o\u00001","qty":1,"ttl_ms":1000}`, 400, "invalid_order_id"},
		{"POST", "/v1/inventory/" + sku + "/restock", `{"command_id":"c\n1","qty":1}`, 400, "invalid_command_id"},
		{"POST", "/v1/inventory/%2E%2E/restock", `{"qty":1}`, 400, "invalid_sku"},
		{"POST", "/v1/inventory/%2E/restock", `{"qty":1}`, 400, "invalid_sku"},
		{"GET", "/v1/inventory/a%E2%80%8Bb", ``, 400, "invalid_sku"},
	} {
		if code := c.errorCode(tc.method, tc.uri, tc.body, tc.status); code != tc.code {
			t.Errorf("%s %s %s: %s, want %s", tc.method, tc.uri, tc.body, code, tc.code)
		}
	}

	// An order's reservation is the saga's: the inventory's endpoints
	// cannot end it under the saga's feet.
	const osku = "sku-boundary-order"
	c.do("POST", "/v1/prices/"+osku, `{"base_price":100,"currency":"EUR","command_id":"b-price"}`, 202)
	if err := poll(ctx, func() bool {
		status, _, err := c.try("GET", "/v1/prices/"+osku, "")
		return err == nil && status == 200
	}); err != nil {
		t.Fatal(err)
	}
	c.command("/v1/inventory/"+osku+"/restock", "b-order-stock", `"qty":3`, 200, nil)
	var placed struct {
		Status string `json:"status"`
	}
	decodeInto(t, c.do("POST", "/v1/orders", fmt.Sprintf(
		`{"order_id":"b-order","user_id":"u-b","device_id":"d-b","payment_id":"card-b","lines":[{"sku":%q,"qty":2,"unit_price":100}]}`, osku), 201), &placed)
	if placed.Status != "confirmed" {
		t.Fatalf("order: %+v", placed)
	}
	for _, action := range []string{"release", "commit"} {
		if code := c.errorCode("POST", "/v1/inventory/reservations/b-order/"+action, `{"command_id":"b-`+action+`"}`, 409); code != "reserved_id" {
			t.Errorf("%s of the saga's reservation: %s", action, code)
		}
	}
	var st stock
	if err := poll(ctx, func() bool {
		status, b, err := c.try("GET", "/v1/inventory/"+osku, "")
		return err == nil && status == 200 && json.Unmarshal(b, &st) == nil && st.Sold == 2
	}); err != nil {
		t.Fatalf("the order's units were not sold: %+v", st)
	}
	if st.OnHand != 1 || st.Reserved != 0 || st.Available != 1 {
		t.Errorf("stock after the order and the refused commands: %+v", st)
	}
}
