package api

import (
	"fmt"
	"strings"
	"testing"
)

// OrderBadRequests lists bad inputs for the order, price and fraud
// endpoints. None depends on what exists, so each fails for the one
// reason it names whether or not the instance is ready. maxBody is the
// server's MaxBodyBytes.
func OrderBadRequests(maxBody int) []BadRequest {
	var (
		place   = "/v1/orders"
		price   = "/v1/prices/sku-1"
		history = price + "/history"
		user    = "/v1/fraud/users/u-1"
		long    = strings.Repeat("x", 129)
	)
	// order builds a place body from the valid one with some fields
	// replaced (raw JSON values) or, given "-", left out.
	order := func(kv ...string) string {
		fields := [][2]string{
			{"order_id", `"o-new"`}, {"user_id", `"u-1"`}, {"device_id", `"d-1"`}, {"payment_id", `"c-1"`},
			{"currency", `"EUR"`}, {"lines", `[{"sku":"sku-1","qty":1,"unit_price":100}]`},
		}
		for i := 0; i < len(kv); i += 2 {
			for j := range fields {
				if fields[j][0] == kv[i] {
					fields[j][1] = kv[i+1]
				}
			}
		}
		var parts []string
		for _, f := range fields {
			if f[1] != "-" {
				parts = append(parts, fmt.Sprintf("%q:%s", f[0], f[1]))
			}
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	line := func(sku, qty, unitPrice string) string {
		return `[{"sku":` + sku + `,"qty":` + qty + `,"unit_price":` + unitPrice + `}]`
	}
	manyLines := func(n int) string {
		ls := make([]string, n)
		for i := range ls {
			ls[i] = fmt.Sprintf(`{"sku":"s%d","qty":1,"unit_price":1}`, i)
		}
		return "[" + strings.Join(ls, ",") + "]"
	}
	pad := func(body string) string { return strings.Repeat(" ", maxBody+1-len(body)) + body }
	okPrice := `{"base_price":100,"currency":"EUR"}`
	return []BadRequest{
		// Bodies.
		{"place/truncated", "POST", place, `{"order_id":`, errMalformedJSON.Code},
		{"place/empty body", "POST", place, ``, errMalformedJSON.Code},
		{"place/null", "POST", place, `null`, errMalformedJSON.Code},
		{"place/array", "POST", place, `[]`, errMalformedJSON.Code},
		{"place/trailing garbage", "POST", place, order() + `x`, errMalformedJSON.Code},
		{"place/unknown field", "POST", place, strings.TrimSuffix(order(), "}") + `,"total":1}`, errUnknownField.Code},
		{"place/upper-case key", "POST", place, strings.Replace(order(), `"user_id"`, `"User_ID"`, 1), errUnknownField.Code},
		{"place/duplicate key", "POST", place, strings.TrimSuffix(order(), "}") + `,"order_id":"o-2"}`, errInvalidField.Code},
		{"place/body over limit", "POST", place, pad(order()), errBodyTooLarge.Code},
		{"place/line unknown field", "POST", place, order("lines", `[{"sku":"a","qty":1,"unit_price":1,"price":1}]`), errUnknownField.Code},
		{"place/line upper-case key", "POST", place, order("lines", `[{"SKU":"a","qty":1,"unit_price":1}]`), errUnknownField.Code},
		{"place/line duplicate key", "POST", place, order("lines", `[{"sku":"a","qty":1,"qty":2,"unit_price":1}]`), errInvalidField.Code},
		{"place/line null", "POST", place, order("lines", `[null]`), errInvalidField.Code},
		{"place/line array", "POST", place, order("lines", `[[]]`), errInvalidField.Code},
		{"place/lines object", "POST", place, order("lines", `{}`), errInvalidField.Code},
		{"set price/truncated", "POST", price, `{"base_price":`, errMalformedJSON.Code},
		{"set price/null", "POST", price, `null`, errMalformedJSON.Code},
		{"set price/unknown field", "POST", price, `{"base_price":1,"currency":"EUR","sku":"x"}`, errUnknownField.Code},
		{"set price/duplicate key", "POST", price, `{"base_price":1,"currency":"EUR","base_price":2}`, errInvalidField.Code},
		{"set price/body over limit", "POST", price, pad(okPrice), errBodyTooLarge.Code},

		// Order ids.
		{"place/order id missing", "POST", place, order("order_id", "-"), errInvalidOrderID.Code},
		{"place/order id empty", "POST", place, order("order_id", `""`), errInvalidOrderID.Code},
		{"place/order id 129 bytes", "POST", place, order("order_id", `"`+long+`"`), errInvalidOrderID.Code},
		{"place/order id number", "POST", place, order("order_id", `1`), errInvalidField.Code},
		{"get order/id 129 bytes", "GET", place + "/" + long, ``, errInvalidOrderID.Code},
		{"get order/bad escape", "GET", place + "/%zz", ``, errNotFound.Code},

		// The ids fraud scoring keys on.
		{"place/user id missing", "POST", place, order("user_id", "-"), errInvalidUserID.Code},
		{"place/user id empty", "POST", place, order("user_id", `""`), errInvalidUserID.Code},
		{"place/user id 129 bytes", "POST", place, order("user_id", `"`+long+`"`), errInvalidUserID.Code},
		{"place/user id control", "POST", place, order("user_id", `"u\n"`), errInvalidUserID.Code},
		{"place/device id missing", "POST", place, order("device_id", "-"), errInvalidDeviceID.Code},
		{"place/device id 129 bytes", "POST", place, order("device_id", `"`+long+`"`), errInvalidDeviceID.Code},
		{"place/device id control", "POST", place, order("device_id", `"d\u0000"`), errInvalidDeviceID.Code},
		{"place/payment id missing", "POST", place, order("payment_id", "-"), errInvalidPaymentID.Code},
		{"place/payment id empty", "POST", place, order("payment_id", `""`), errInvalidPaymentID.Code},
		{"place/payment id 129 bytes", "POST", place, order("payment_id", `"`+long+`"`), errInvalidPaymentID.Code},
		{"get user/id 129 bytes", "GET", "/v1/fraud/users/" + long, ``, errInvalidUserID.Code},
		{"get user/id newline", "GET", "/v1/fraud/users/u%0A", ``, errInvalidUserID.Code},
		{"get user/id invalid UTF-8", "GET", "/v1/fraud/users/u%FF", ``, errInvalidUserID.Code},

		// Currencies.
		{"place/currency empty", "POST", place, order("currency", `""`), errInvalidCurrency.Code},
		{"place/currency lower case", "POST", place, order("currency", `"eur"`), errInvalidCurrency.Code},
		{"place/currency 4 letters", "POST", place, order("currency", `"EURO"`), errInvalidCurrency.Code},
		{"set price/currency missing", "POST", price, `{"base_price":1}`, errInvalidCurrency.Code},
		{"set price/currency digits", "POST", price, `{"base_price":1,"currency":"978"}`, errInvalidCurrency.Code},

		// Lines.
		{"place/lines missing", "POST", place, order("lines", "-"), errInvalidLines.Code},
		{"place/lines empty", "POST", place, order("lines", `[]`), errInvalidLines.Code},
		{"place/lines null", "POST", place, order("lines", `null`), errInvalidLines.Code},
		{"place/lines 1001", "POST", place, order("lines", manyLines(1001)), errInvalidLines.Code},
		{"place/duplicate sku", "POST", place, order("lines", `[{"sku":"a","qty":1,"unit_price":1},{"sku":"a","qty":2,"unit_price":1}]`), errDuplicateSKU.Code},
		{"place/line sku missing", "POST", place, order("lines", `[{"qty":1,"unit_price":1}]`), errInvalidSKU.Code},
		{"place/line sku 129 bytes", "POST", place, order("lines", line(`"`+long+`"`, `1`, `1`)), errInvalidSKU.Code},
		{"place/line sku newline", "POST", place, order("lines", line(`"a\nb"`, `1`, `1`)), errInvalidSKU.Code},
		{"place/line qty 0", "POST", place, order("lines", line(`"a"`, `0`, `1`)), errInvalidQty.Code},
		{"place/line qty missing", "POST", place, order("lines", `[{"sku":"a","unit_price":1}]`), errInvalidQty.Code},
		{"place/line qty above max", "POST", place, order("lines", line(`"a"`, `1000000001`, `1`)), errInvalidQty.Code},
		{"place/line qty fraction", "POST", place, order("lines", line(`"a"`, `1.5`, `1`)), errInvalidField.Code},
		{"place/line unit price missing", "POST", place, order("lines", `[{"sku":"a","qty":1}]`), errInvalidPrice.Code},
		{"place/line unit price null", "POST", place, order("lines", line(`"a"`, `1`, `null`)), errInvalidPrice.Code},
		{"place/line unit price negative", "POST", place, order("lines", line(`"a"`, `1`, `-1`)), errInvalidPrice.Code},
		{"place/line unit price above max", "POST", place, order("lines", line(`"a"`, `1`, `1000000000001`)), errInvalidPrice.Code},
		{"place/line unit price fraction", "POST", place, order("lines", line(`"a"`, `1`, `9.99`)), errInvalidField.Code},
		{"place/second line bad", "POST", place, order("lines", `[{"sku":"a","qty":1,"unit_price":1},{"sku":"b","qty":-1,"unit_price":1}]`), errInvalidQty.Code},

		// Prices.
		{"set price/base price missing", "POST", price, `{"currency":"EUR"}`, errInvalidPrice.Code},
		{"set price/base price negative", "POST", price, `{"base_price":-1,"currency":"EUR"}`, errInvalidPrice.Code},
		{"set price/base price above max", "POST", price, `{"base_price":1000000000001,"currency":"EUR"}`, errInvalidPrice.Code},
		{"set price/base price string", "POST", price, `{"base_price":"1","currency":"EUR"}`, errInvalidField.Code},
		{"set price/command id empty", "POST", price, `{"base_price":1,"currency":"EUR","command_id":""}`, errInvalidCommandID.Code},
		{"set price/command id of the SDKs' derived form", "POST", price, `{"base_price":1,"currency":"EUR","command_id":"sdk:k:p"}`, errDerivedID.Code},
		{"set price/command id 129 bytes", "POST", price, `{"base_price":1,"currency":"EUR","command_id":"` + long + `"}`, errInvalidCommandID.Code},
		{"set price/sku 129 bytes", "POST", "/v1/prices/" + long, okPrice, errInvalidSKU.Code},
		{"set price/sku NUL", "POST", "/v1/prices/a%00", okPrice, errInvalidSKU.Code},
		{"get price/sku newline", "GET", "/v1/prices/a%0A", ``, errInvalidSKU.Code},
		{"history/sku 129 bytes", "GET", "/v1/prices/" + long + "/history", ``, errInvalidSKU.Code},
		{"history/limit 0", "GET", history + "?limit=0", ``, errInvalidLimit.Code},
		{"history/limit 101", "GET", history + "?limit=101", ``, errInvalidLimit.Code},
		{"history/limit negative", "GET", history + "?limit=-1", ``, errInvalidLimit.Code},
		{"history/limit empty", "GET", history + "?limit=", ``, errInvalidLimit.Code},
		{"history/limit word", "GET", history + "?limit=all", ``, errInvalidLimit.Code},
		{"history/limit beyond int64", "GET", history + "?limit=99999999999999999999", ``, errInvalidLimit.Code},

		// Methods and paths.
		{"get orders", "GET", place, ``, errMethodNotAllowed.Code},
		{"put order", "PUT", place + "/o-1", order(), errMethodNotAllowed.Code},
		{"post order by id", "POST", place + "/o-1", order(), errMethodNotAllowed.Code},
		{"delete price", "DELETE", price, ``, errMethodNotAllowed.Code},
		{"post history", "POST", history, okPrice, errMethodNotAllowed.Code},
		{"post fraud user", "POST", user, `{}`, errMethodNotAllowed.Code},
		{"prices root", "GET", "/v1/prices", ``, errNotFound.Code},
		{"empty sku price", "POST", "/v1/prices/", okPrice, errNotFound.Code},
		{"fraud users root", "GET", "/v1/fraud/users", ``, errNotFound.Code},
		{"fraud devices", "GET", "/v1/fraud/devices/d-1", ``, errNotFound.Code},
		{"history too deep", "GET", history + "/x", ``, errNotFound.Code},
	}
}

func TestOrderBadRequestsSendNothing(t *testing.T) {
	const maxBody = 64 << 10
	for _, ready := range []bool{true, false} {
		t.Run(fmt.Sprintf("ready=%v", ready), func(t *testing.T) {
			e := newOrderEnv(t, Options{MaxBodyBytes: maxBody})
			e.mustDo(t, "POST", "/v1/orders", orderBody("o-1", "u-1", "sku-1"), 201)
			e.setReady(ready)
			before := e.saga.sent()
			for _, b := range OrderBadRequests(maxBody) {
				t.Run(b.Name, func(t *testing.T) {
					checkError(t, e.do(b.Method, b.URI, b.Body), b.Code)
					if n := e.saga.sent(); n != before {
						t.Fatalf("ready=%v: the request sent %d message(s)", ready, n-before)
					}
				})
			}
		})
	}
}

func TestOrderBadRequestNamesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, b := range OrderBadRequests(1024) {
		if seen[b.Name] {
			t.Errorf("duplicate name %q", b.Name)
		}
		seen[b.Name] = true
		if _, ok := byCode(b.Code); !ok {
			t.Errorf("%s: code %q not in the catalogue", b.Name, b.Code)
		}
	}
}

// TestOrderLimitsAreInclusive sends the largest valid value of every
// bounded input; each must be accepted by the API.
func TestOrderLimitsAreInclusive(t *testing.T) {
	e := newOrderEnv(t, Options{MaxBodyBytes: 1 << 20})
	max := strings.Repeat("m", 128)
	lines := make([]string, 1000)
	for i := range lines {
		lines[i] = fmt.Sprintf(`{"sku":"%s%03d","qty":1000000000,"unit_price":1000000000000}`, strings.Repeat("s", 125), i)
	}
	lines[0] = `{"sku":"été/1","qty":1,"unit_price":0}`
	body := fmt.Sprintf(`{"order_id":%q,"user_id":"üser %s","device_id":%q,"payment_id":%q,"currency":"JPY","lines":[%s]}`,
		max, strings.Repeat("u", 122), max, max, strings.Join(lines, ","))
	// The API takes the order; the saga rejects it, for its total (10^21
	// a line) does not fit an int64, and the API shows that total as null.
	r := e.mustDo(t, "POST", "/v1/orders", body, 409)
	if got := decode[orderRejectedJSON](t, r); got.Reason != "invalid_order" || got.Detail != "total overflows" || len(e.saga.sentOrders()) != 1 {
		t.Errorf("answer %+v with %d events sent; want the saga's invalid_order", got, len(e.saga.sentOrders()))
	}
	if o := decode[orderStateJSON](t, e.mustDo(t, "GET", "/v1/orders/"+max, ``, 200)); o.Total != nil || len(o.Lines) != 1000 {
		t.Errorf("order total %v with %d lines, want null and 1000", o.Total, len(o.Lines))
	}
	e.mustDo(t, "POST", "/v1/prices/"+strings.Repeat("s", 128), `{"base_price":1000000000000,"currency":"EUR","command_id":"`+max+`"}`, 202)
	e.mustDo(t, "POST", "/v1/prices/p", `{"base_price":0,"currency":"EUR"}`, 202)
	e.mustDo(t, "GET", "/v1/prices/p/history?limit=100", ``, 200)
	e.mustDo(t, "GET", "/v1/prices/p/history?limit=1", ``, 200)
}
