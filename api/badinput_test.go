package api

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// BadRequest is a request the API must refuse with Code (a 4xx) before
// anything reaches Kafka. It is exported for the end-to-end test, which
// sends the same requests over HTTP to a real instance.
type BadRequest struct {
	Name   string
	Method string
	// URI is sent byte for byte: escapes stay escaped.
	URI  string
	Body string
	Code Code
}

// StatusOf is the HTTP status the catalogue gives code.
func StatusOf(code Code) (int, bool) {
	e, ok := byCode(code)
	return e.status, ok
}

// BadRequests lists bad inputs aimed at sku and order, both of which the
// caller has made exist (order holds a reservation on sku), so each request
// fails for the one reason it names. maxBody is the server's MaxBodyBytes.
func BadRequests(sku, order string, maxBody int) []BadRequest {
	var (
		stock   = "/v1/inventory/" + sku
		reserve = stock + "/reservations"
		restock = stock + "/restock"
		ord     = "/v1/inventory/reservations/" + order
		commit  = ord + "/commit"
		release = ord + "/release"
		long    = strings.Repeat("x", 129)
		okBody  = `{"order_id":"` + order + `","qty":1,"ttl_ms":60000}`
	)
	res := func(fields string) string { return `{` + fields + `}` }
	pad := func(body string) string { return strings.Repeat(" ", maxBody+1-len(body)) + body }
	return []BadRequest{
		// Bodies that are not one JSON object of the expected shape.
		{"reserve/truncated", "POST", reserve, `{"order_id":`, errMalformedJSON.Code},
		{"reserve/empty body", "POST", reserve, ``, errMalformedJSON.Code},
		{"reserve/array", "POST", reserve, `[]`, errMalformedJSON.Code},
		{"reserve/string", "POST", reserve, `"x"`, errMalformedJSON.Code},
		{"reserve/trailing garbage", "POST", reserve, okBody + ` x`, errMalformedJSON.Code},
		{"reserve/two objects", "POST", reserve, okBody + okBody, errMalformedJSON.Code},
		{"reserve/trailing comma", "POST", reserve, res(`"order_id":"o","qty":1,"ttl_ms":60000,`), errMalformedJSON.Code},
		{"reserve/unknown field", "POST", reserve, res(`"order_id":"o","qty":1,"ttl_ms":60000,"price":3`), errUnknownField.Code},
		{"restock/unknown field", "POST", restock, res(`"qty":1,"order_id":"o"`), errUnknownField.Code},
		{"restock/truncated", "POST", restock, `{"qty":1`, errMalformedJSON.Code},
		{"restock/trailing garbage", "POST", restock, `{"qty":1}]`, errMalformedJSON.Code},
		{"commit/unknown field", "POST", commit, res(`"cid":"x"`), errUnknownField.Code},
		{"commit/trailing garbage", "POST", commit, `{} {}`, errMalformedJSON.Code},
		{"release/truncated", "POST", release, `{`, errMalformedJSON.Code},
		{"release/array", "POST", release, `[1]`, errMalformedJSON.Code},

		// SKUs.
		{"reserve/empty sku", "POST", "/v1/inventory//reservations", okBody, errNotFound.Code},
		{"restock/empty sku", "POST", "/v1/inventory//restock", `{"qty":1}`, errNotFound.Code},
		{"reserve/sku 129 bytes", "POST", "/v1/inventory/" + long + "/reservations", okBody, errInvalidSKU.Code},
		{"restock/sku 129 bytes", "POST", "/v1/inventory/" + long + "/restock", `{"qty":1}`, errInvalidSKU.Code},
		{"get/sku 129 bytes", "GET", "/v1/inventory/" + long, ``, errInvalidSKU.Code},
		{"reserve/sku NUL", "POST", "/v1/inventory/a%00b/reservations", okBody, errInvalidSKU.Code},
		{"reserve/sku newline", "POST", "/v1/inventory/a%0Ab/reservations", okBody, errInvalidSKU.Code},
		{"reserve/sku DEL", "POST", "/v1/inventory/a%7F/reservations", okBody, errInvalidSKU.Code},
		{"reserve/sku C1 control", "POST", "/v1/inventory/a%C2%85/reservations", okBody, errInvalidSKU.Code},
		{"reserve/sku invalid UTF-8", "POST", "/v1/inventory/a%FF/reservations", okBody, errInvalidSKU.Code},
		{"restock/sku newline", "POST", "/v1/inventory/%0A/restock", `{"qty":1}`, errInvalidSKU.Code},
		{"get/sku NUL", "GET", "/v1/inventory/%00", ``, errInvalidSKU.Code},
		{"get/sku newline", "GET", "/v1/inventory/a%0A", ``, errInvalidSKU.Code},
		{"get/sku bad escape", "GET", "/v1/inventory/%zz", ``, errNotFound.Code},

		// Order ids.
		{"reserve/order id missing", "POST", reserve, res(`"qty":1,"ttl_ms":60000`), errInvalidOrderID.Code},
		{"reserve/order id empty", "POST", reserve, res(`"order_id":"","qty":1,"ttl_ms":60000`), errInvalidOrderID.Code},
		{"reserve/order id 129 bytes", "POST", reserve, res(`"order_id":"` + long + `","qty":1,"ttl_ms":60000`), errInvalidOrderID.Code},
		{"get reservations/order id 129 bytes", "GET", "/v1/inventory/reservations/" + long, ``, errInvalidOrderID.Code},
		{"commit/order id 129 bytes", "POST", "/v1/inventory/reservations/" + long + "/commit", ``, errInvalidOrderID.Code},
		{"release/order id 129 bytes", "POST", "/v1/inventory/reservations/" + long + "/release", `{}`, errInvalidOrderID.Code},

		// Command ids.
		{"reserve/command id 129 bytes", "POST", reserve, res(`"order_id":"o","qty":1,"ttl_ms":60000,"command_id":"` + long + `"`), errInvalidCommandID.Code},
		{"reserve/command id empty", "POST", reserve, res(`"order_id":"o","qty":1,"ttl_ms":60000,"command_id":""`), errInvalidCommandID.Code},
		{"restock/command id 129 bytes", "POST", restock, res(`"qty":1,"command_id":"` + long + `"`), errInvalidCommandID.Code},
		{"restock/command id empty", "POST", restock, res(`"qty":1,"command_id":""`), errInvalidCommandID.Code},
		{"commit/command id 129 bytes", "POST", commit, res(`"command_id":"` + long + `"`), errInvalidCommandID.Code},
		{"release/command id empty", "POST", release, res(`"command_id":""`), errInvalidCommandID.Code},
		{"restock/command id of the SDKs' derived form", "POST", restock, res(`"qty":1,"command_id":"sdk:k:order-1"`), errDerivedID.Code},
		{"reserve/command id of the SDKs' digest form", "POST", reserve, res(`"order_id":"o","qty":1,"ttl_ms":60000,"command_id":"sdk:h:00"`), errDerivedID.Code},

		// Quantities.
		{"reserve/qty 0", "POST", reserve, res(`"order_id":"o","qty":0,"ttl_ms":60000`), errInvalidQty.Code},
		{"reserve/qty missing", "POST", reserve, res(`"order_id":"o","ttl_ms":60000`), errInvalidQty.Code},
		{"reserve/qty negative", "POST", reserve, res(`"order_id":"o","qty":-1,"ttl_ms":60000`), errInvalidQty.Code},
		{"reserve/qty above max", "POST", reserve, res(`"order_id":"o","qty":1000000001,"ttl_ms":60000`), errInvalidQty.Code},
		{"reserve/qty fraction", "POST", reserve, res(`"order_id":"o","qty":1.5,"ttl_ms":60000`), errInvalidField.Code},
		{"reserve/qty exponent", "POST", reserve, res(`"order_id":"o","qty":1e3,"ttl_ms":60000`), errInvalidField.Code},
		{"reserve/qty string", "POST", reserve, res(`"order_id":"o","qty":"1","ttl_ms":60000`), errInvalidField.Code},
		{"reserve/qty beyond int64", "POST", reserve, res(`"order_id":"o","qty":9223372036854775808,"ttl_ms":60000`), errInvalidField.Code},
		{"restock/qty 0", "POST", restock, `{"qty":0}`, errInvalidQty.Code},
		{"restock/qty missing", "POST", restock, `{}`, errInvalidQty.Code},
		{"restock/qty negative", "POST", restock, `{"qty":-5}`, errInvalidQty.Code},
		{"restock/qty above max", "POST", restock, `{"qty":2000000000}`, errInvalidQty.Code},
		{"restock/qty min int64", "POST", restock, `{"qty":-9223372036854775808}`, errInvalidQty.Code},
		{"restock/qty fraction", "POST", restock, `{"qty":0.5}`, errInvalidField.Code},
		{"restock/qty huge", "POST", restock, `{"qty":1e400}`, errInvalidField.Code},

		// TTLs.
		{"reserve/ttl 0", "POST", reserve, res(`"order_id":"o","qty":1,"ttl_ms":0`), errInvalidTTL.Code},
		{"reserve/ttl missing", "POST", reserve, res(`"order_id":"o","qty":1`), errInvalidTTL.Code},
		{"reserve/ttl negative", "POST", reserve, res(`"order_id":"o","qty":1,"ttl_ms":-1`), errInvalidTTL.Code},
		{"reserve/ttl above 7 days", "POST", reserve, res(`"order_id":"o","qty":1,"ttl_ms":604800001`), errInvalidTTL.Code},
		// 18446744133710 ms is 2^64 ns plus a minute: in nanoseconds it
		// wraps to a TTL of 60 s, which the schema would accept.
		{"reserve/ttl wrapping to a minute", "POST", reserve, res(`"order_id":"o","qty":1,"ttl_ms":18446744133710`), errInvalidTTL.Code},
		{"reserve/ttl max int64", "POST", reserve, res(`"order_id":"o","qty":1,"ttl_ms":9223372036854775807`), errInvalidTTL.Code},
		{"reserve/ttl fraction", "POST", reserve, res(`"order_id":"o","qty":1,"ttl_ms":1.5`), errInvalidField.Code},

		// Sizes.
		{"reserve/body over limit", "POST", reserve, pad(okBody), errBodyTooLarge.Code},
		{"restock/body over limit", "POST", restock, pad(`{"qty":1}`), errBodyTooLarge.Code},
		{"commit/body over limit", "POST", commit, pad(`{}`), errBodyTooLarge.Code},

		// Methods and paths.
		{"delete stock", "DELETE", stock, ``, errMethodNotAllowed.Code},
		{"put restock", "PUT", restock, `{"qty":1}`, errMethodNotAllowed.Code},
		{"get reserve", "GET", reserve, ``, errMethodNotAllowed.Code},
		{"get commit", "GET", commit, ``, errMethodNotAllowed.Code},
		{"post stock", "POST", stock, `{"qty":1}`, errMethodNotAllowed.Code},
		{"post healthz", "POST", "/healthz", ``, errMethodNotAllowed.Code},
		{"root", "GET", "/", ``, errNotFound.Code},
		{"v2", "GET", "/v2/inventory/" + sku, ``, errNotFound.Code},
		{"inventory root", "GET", "/v1/inventory", ``, errNotFound.Code},
		{"too deep", "GET", stock + "/x/y", ``, errNotFound.Code},
		{"reserve suffix", "POST", reserve + "/x", okBody, errNotFound.Code},
		{"healthz child", "GET", "/healthz/x", ``, errNotFound.Code},
		{"post unknown", "POST", "/v1/carts", `{}`, errNotFound.Code},

		// Reads.
		{"get/min_offset negative", "GET", stock + "?min_offset=-1", ``, errInvalidMinOffset.Code},
		{"get/min_offset empty", "GET", stock + "?min_offset=", ``, errInvalidMinOffset.Code},
		{"get/min_offset without value", "GET", stock + "?min_offset", ``, errInvalidMinOffset.Code},
		{"get/min_offset word", "GET", stock + "?min_offset=abc", ``, errInvalidMinOffset.Code},
		{"get/min_offset fraction", "GET", stock + "?min_offset=1.5", ``, errInvalidMinOffset.Code},
		{"get/min_offset hex", "GET", stock + "?min_offset=0x10", ``, errInvalidMinOffset.Code},
		{"get/min_offset beyond int64", "GET", stock + "?min_offset=99999999999999999999", ``, errInvalidMinOffset.Code},
	}
}

const testSKU, testOrder = "sku-1", "order-1"

// seedOrder makes testSKU exist with stock and testOrder hold a
// reservation on it, so a bad request fails only for its own reason.
func seedOrder(t *testing.T, e *testEnv) {
	t.Helper()
	e.restock(t, testSKU, 100)
	e.mustDo(t, "POST", "/v1/inventory/"+testSKU+"/reservations",
		`{"order_id":"`+testOrder+`","qty":1,"ttl_ms":600000}`, 201)
}

func TestBadRequestsSendNothing(t *testing.T) {
	const maxBody = 1024
	for _, ready := range []bool{true, false} {
		t.Run(fmt.Sprintf("ready=%v", ready), func(t *testing.T) { testBadRequests(t, ready, maxBody) })
	}
}

func testBadRequests(t *testing.T, ready bool, maxBody int) {
	{
		e := newEnv(t, Options{MaxBodyBytes: maxBody})
		seedOrder(t, e)
		// Not ready does not excuse a bad request: it is still the
		// client's 4xx, not the server's 503.
		e.extReady.Store(ready)
		e.k.stock.recovered.Store(ready)
		e.k.orders.recovered.Store(ready)
		before := len(e.k.sent())
		for _, b := range BadRequests(testSKU, testOrder, maxBody) {
			t.Run(b.Name, func(t *testing.T) {
				r := e.do(b.Method, b.URI, b.Body)
				checkError(t, r, b.Code)
				if n := len(e.k.sent()); n != before {
					t.Fatalf("ready=%v: the request sent %d command(s): %v", ready, n-before, e.k.sent()[before:])
				}
			})
		}
	}
}

// TestBadRequestNamesAreUnique keeps failures of the table readable.
func TestBadRequestNamesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, b := range BadRequests(testSKU, testOrder, 1024) {
		if seen[b.Name] {
			t.Errorf("duplicate name %q", b.Name)
		}
		seen[b.Name] = true
		if _, ok := byCode(b.Code); !ok {
			t.Errorf("%s: code %q not in the catalogue", b.Name, b.Code)
		}
	}
}

// TestLimitsAreInclusive sends the largest valid value of every bounded
// input; each must be accepted.
func TestLimitsAreInclusive(t *testing.T) {
	const maxBody = 1024
	e := newEnv(t, Options{MaxBodyBytes: maxBody})
	sku := strings.Repeat("s", 128)
	order := strings.Repeat("o", 128)
	cid := strings.Repeat("c", 128)
	e.mustDo(t, "POST", "/v1/inventory/"+sku+"/restock", `{"qty":1000000000,"command_id":"`+cid+`"}`, 200)
	body := `{"order_id":"` + order + `","qty":1000000000,"ttl_ms":604800000,"command_id":"` + strings.Repeat("d", 128) + `"}`
	body += strings.Repeat("\n", maxBody-len(body))
	r := e.mustDo(t, "POST", "/v1/inventory/"+sku+"/reservations", body, 201)
	if got := decode[reservationJSON](t, r); got.Qty != 1_000_000_000 || got.OrderID != order || got.SKU != sku {
		t.Errorf("reservation %+v", got)
	}
	e.mustDo(t, "GET", "/v1/inventory/reservations/"+order, ``, 200)
	e.mustDo(t, "POST", "/v1/inventory/reservations/"+order+"/commit", `{"command_id":"`+cid+`"}`, 200)
	e.mustDo(t, "GET", "/v1/inventory/"+sku+"?min_offset=0", ``, 200)
	// Printable non-ASCII and an escaped slash are fine in a SKU.
	e.mustDo(t, "POST", "/v1/inventory/%C3%A9t%C3%A9%2F1/restock", `{"qty":1}`, 200)
	r = e.mustDo(t, "GET", "/v1/inventory/%C3%A9t%C3%A9%2F1", ``, 200)
	if got := decode[stockJSON](t, r); got.SKU != "été/1" || got.OnHand != 1 {
		t.Errorf("stock %+v", got)
	}
}

// TestBodyTooLargeOverTransport sends an oversized body through a real
// fasthttp server, where fasthttp refuses it before the handler runs and
// the server's ErrorHandler must still answer with the JSON error.
func TestBodyTooLargeOverTransport(t *testing.T) {
	const maxBody = 512
	e := newEnv(t, Options{MaxBodyBytes: maxBody})
	c := serve(t, e)
	for _, uri := range []string{"/v1/inventory/a/restock", "/v1/inventory/a/reservations", "/v1/inventory/reservations/o/commit"} {
		var req fasthttp.Request
		var resp fasthttp.Response
		req.Header.SetMethod("POST")
		req.Header.SetContentType("application/json")
		req.SetRequestURI("http://titan" + uri)
		req.SetBody(bytes.Repeat([]byte(" "), maxBody+1))
		if err := c.Do(&req, &resp); err != nil {
			t.Fatalf("%s: %v", uri, err)
		}
		checkError(t, response{status: resp.StatusCode(), ctype: string(resp.Header.ContentType()), body: resp.Body()}, errBodyTooLarge.Code)
	}
	if n := len(e.k.sent()); n != 0 {
		t.Errorf("%d commands sent", n)
	}
}

// serve runs e's server on an in-memory listener until the test ends and
// returns a client for it.
func serve(t *testing.T, e *testEnv) *fasthttp.Client {
	t.Helper()
	ln := fasthttputil.NewInmemoryListener()
	done := make(chan error, 1)
	go func() { done <- e.s.Serve(ln) }()
	t.Cleanup(func() {
		// t.Context is over by the time cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}
}

// TestStrictBodies: a body is one JSON object whose keys are exactly the
// documented ones (the document says additionalProperties: false). Go's
// encoding/json is laxer on three counts: it decodes null into a struct as
// a no-op, matches keys case-insensitively, and keeps the last of two equal
// keys, so a proxy or log that reads the first sees another request.
func TestStrictBodies(t *testing.T) {
	e := newEnv(t, Options{})
	seedOrder(t, e)
	n := len(e.k.sent())
	for _, b := range []BadRequest{
		{"reserve/null", "POST", "/v1/inventory/" + testSKU + "/reservations", `null`, errMalformedJSON.Code},
		{"restock/null", "POST", "/v1/inventory/" + testSKU + "/restock", `null`, errMalformedJSON.Code},
		{"commit/null", "POST", "/v1/inventory/reservations/" + testOrder + "/commit", `null`, errMalformedJSON.Code},
		{"release/null", "POST", "/v1/inventory/reservations/" + testOrder + "/release", ` null `, errMalformedJSON.Code},
		{"restock/upper-case key", "POST", "/v1/inventory/" + testSKU + "/restock", `{"QTY":1}`, errUnknownField.Code},
		{"reserve/mixed-case key", "POST", "/v1/inventory/" + testSKU + "/reservations", `{"Order_ID":"x","qty":1,"ttl_ms":1000}`, errUnknownField.Code},
		{"restock/duplicate key", "POST", "/v1/inventory/" + testSKU + "/restock", `{"qty":1,"qty":1000}`, errInvalidField.Code},
	} {
		t.Run(b.Name, func(t *testing.T) {
			checkError(t, e.do(b.Method, b.URI, b.Body), b.Code)
		})
	}
	if got := len(e.k.sent()); got != n {
		t.Errorf("%d commands sent for bodies the API should refuse", got-n)
	}
}

// RecommendationBadRequests lists bad inputs for the recommendation
// endpoints. None depends on what exists, so each fails for the one reason
// it names whether or not the instance is ready; an instance without the
// recommendations topology answers not_enabled to all of them instead.
func RecommendationBadRequests() []BadRequest {
	var (
		item  = "/v1/recommendations/items/sku-1"
		user  = "/v1/recommendations/users/u-1"
		views = "/v1/recommendations/views"
		long  = strings.Repeat("x", 129)
	)
	return []BadRequest{
		// SKUs and user ids.
		{"item recs/sku 129 bytes", "GET", "/v1/recommendations/items/" + long, ``, errInvalidSKU.Code},
		{"item recs/sku NUL", "GET", "/v1/recommendations/items/a%00", ``, errInvalidSKU.Code},
		{"item recs/sku newline", "GET", "/v1/recommendations/items/a%0Ab", ``, errInvalidSKU.Code},
		{"item recs/sku invalid UTF-8", "GET", "/v1/recommendations/items/a%FF", ``, errInvalidSKU.Code},
		{"item recs/sku bad escape", "GET", "/v1/recommendations/items/%zz", ``, errNotFound.Code},
		{"item recs/empty sku", "GET", "/v1/recommendations/items/", ``, errNotFound.Code},
		{"user recs/id 129 bytes", "GET", "/v1/recommendations/users/" + long, ``, errInvalidUserID.Code},
		{"user recs/id newline", "GET", "/v1/recommendations/users/u%0A", ``, errInvalidUserID.Code},
		{"user recs/id C1 control", "GET", "/v1/recommendations/users/u%C2%85", ``, errInvalidUserID.Code},
		{"user recs/id invalid UTF-8", "GET", "/v1/recommendations/users/u%FF", ``, errInvalidUserID.Code},
		{"user recs/empty id", "GET", "/v1/recommendations/users/", ``, errNotFound.Code},

		// k.
		{"item recs/k 0", "GET", item + "?k=0", ``, errInvalidK.Code},
		{"item recs/k 101", "GET", item + "?k=101", ``, errInvalidK.Code},
		{"item recs/k negative", "GET", item + "?k=-1", ``, errInvalidK.Code},
		{"item recs/k empty", "GET", item + "?k=", ``, errInvalidK.Code},
		{"item recs/k without value", "GET", item + "?k", ``, errInvalidK.Code},
		{"item recs/k word", "GET", item + "?k=ten", ``, errInvalidK.Code},
		{"item recs/k fraction", "GET", item + "?k=1.5", ``, errInvalidK.Code},
		{"item recs/k beyond int64", "GET", item + "?k=99999999999999999999", ``, errInvalidK.Code},
		{"item recs/k first of two", "GET", item + "?k=0&k=5", ``, errInvalidK.Code},
		{"user recs/k 0", "GET", user + "?k=0", ``, errInvalidK.Code},
		{"user recs/k 101", "GET", user + "?k=101", ``, errInvalidK.Code},
		{"user recs/k hex", "GET", user + "?k=0x10", ``, errInvalidK.Code},
		{"user recs/k plus", "GET", user + "?k=%2B", ``, errInvalidK.Code},

		// Views. Times are checked against the API's clock, so only those
		// wrong at any time are here.
		{"views/empty body", "POST", views, ``, errMalformedJSON.Code},
		{"views/array", "POST", views, `[{"user_id":"u","sku":"a"}]`, errMalformedJSON.Code},
		{"views/user_id missing", "POST", views, `{"sku":"a"}`, errInvalidUserID.Code},
		{"views/sku 129 bytes", "POST", views, `{"user_id":"u","sku":"` + long + `"}`, errInvalidSKU.Code},
		{"views/session_id newline", "POST", views, `{"user_id":"u","sku":"a","session_id":"s\n"}`, errInvalidSessionID.Code},
		{"views/timestamp_ms 0", "POST", views, `{"user_id":"u","sku":"a","timestamp_ms":0}`, errInvalidTimestamp.Code},
		{"views/timestamp_ms in 2001", "POST", views, `{"user_id":"u","sku":"a","timestamp_ms":1000000000000}`, errInvalidTimestamp.Code},
		{"views/timestamp_ms fraction", "POST", views, `{"user_id":"u","sku":"a","timestamp_ms":12.5}`, errInvalidField.Code},
		{"views/idempotency_key empty", "POST", views, `{"user_id":"u","sku":"a","idempotency_key":""}`, errInvalidIdempotencyKey.Code},
		{"views/event_id", "POST", views, `{"user_id":"u","sku":"a","event_id":"e"}`, errUnknownField.Code},
		{"views/batch empty", "POST", views, `{"views":[]}`, errInvalidViews.Code},
		{"views/batch bad third", "POST", views, `{"views":[{"user_id":"u","sku":"a"},{"user_id":"u","sku":"b"},{"user_id":"u"}]}`, errInvalidSKU.Code},
		{"views/batch repeated key", "POST", views, `{"views":[{"user_id":"u","sku":"a","idempotency_key":"k"},{"user_id":"u","sku":"b","idempotency_key":"k"}]}`, errInvalidViews.Code},
		{"views/get", "GET", views, ``, errMethodNotAllowed.Code},

		// Methods and paths.
		{"post item recs", "POST", item, `{}`, errMethodNotAllowed.Code},
		{"delete user recs", "DELETE", user, ``, errMethodNotAllowed.Code},
		{"recommendations root", "GET", "/v1/recommendations", ``, errNotFound.Code},
		{"item recs root", "GET", "/v1/recommendations/items", ``, errNotFound.Code},
		{"user recs too deep", "GET", user + "/x", ``, errNotFound.Code},
		{"recs of an order", "GET", "/v1/recommendations/orders/o-1", ``, errNotFound.Code},
	}
}

func TestRecommendationBadRequests(t *testing.T) {
	for _, ready := range []bool{true, false} {
		t.Run(fmt.Sprintf("ready=%v", ready), func(t *testing.T) {
			e := newRecsEnv(t, Options{})
			e.recs.item("sku-1", neighbor{"sku-2", 1, 0})
			e.setReady(ready)
			for _, b := range RecommendationBadRequests() {
				t.Run(b.Name, func(t *testing.T) {
					checkError(t, e.do(b.Method, b.URI, b.Body), b.Code)
				})
			}
			if n := len(e.recs.calls()); n != 0 {
				t.Errorf("ready=%v: bad requests reached the ranking %d time(s)", ready, n)
			}
			if n := len(e.recs.sentViews()); n != 0 {
				t.Errorf("ready=%v: bad requests sent %d view(s)", ready, n)
			}
		})
	}
}

func TestRecommendationBadRequestNamesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, b := range RecommendationBadRequests() {
		if seen[b.Name] {
			t.Errorf("duplicate name %q", b.Name)
		}
		seen[b.Name] = true
		if _, ok := byCode(b.Code); !ok {
			t.Errorf("%s: code %q not in the catalogue", b.Name, b.Code)
		}
	}
}

// TestRecommendationLimitsAreInclusive sends the largest and smallest
// valid value of every bounded input; each must be accepted.
func TestRecommendationLimitsAreInclusive(t *testing.T) {
	e := newRecsEnv(t, Options{})
	for _, uri := range []string{
		"/v1/recommendations/items/" + strings.Repeat("s", 128) + "?k=100",
		"/v1/recommendations/items/%C3%A9t%C3%A9%2F1?k=1",
		"/v1/recommendations/users/" + strings.Repeat("u", 128) + "?k=100",
		"/v1/recommendations/users/%C3%BCser%201?k=1",
	} {
		e.mustDo(t, "GET", uri, ``, 200)
	}
}
