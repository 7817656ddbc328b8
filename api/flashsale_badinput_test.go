package api

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// FlashSaleBadRequests lists bad inputs for the flash-sale endpoints, aimed
// at sale, which the caller has made exist and be active with stock to
// spare for its SKU, so each request fails for the one reason it names
// whether or not the instance is ready. now is the time the end of a new
// sale is judged against; maxBody is the server's MaxBodyBytes.
func FlashSaleBadRequests(sale string, now time.Time, maxBody int) []BadRequest {
	var (
		create   = "/v1/flash-sales"
		get      = create + "/" + sale
		purchase = get + "/purchases"
		poll     = purchase + "/k-1"
		long     = strings.Repeat("x", 129)
		start    = now.Add(-time.Minute).UTC().Format(time.RFC3339)
		end      = now.Add(time.Hour).UTC().Format(time.RFC3339)
	)
	// def builds a create body from the valid one with some fields
	// replaced (raw JSON values) or, given "-", left out.
	def := func(kv ...string) string {
		fields := [][2]string{
			{"id", `"new-sale"`}, {"sku", `"sku-x"`}, {"units", `10`}, {"starts_at", `"` + start + `"`},
			{"ends_at", `"` + end + `"`}, {"per_user_limit", `1`}, {"price", `100`}, {"buckets", `2`},
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
	buy := func(user, qty, key string) string {
		var parts []string
		for _, f := range [][2]string{{"user_id", user}, {"qty", qty}, {"idempotency_key", key}} {
			if f[1] != "-" {
				parts = append(parts, fmt.Sprintf("%q:%s", f[0], f[1]))
			}
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	at := func(d time.Duration) string { return `"` + now.Add(d).UTC().Format(time.RFC3339Nano) + `"` }
	// ms is d after a millisecond boundary an hour ahead: times are kept
	// to the millisecond.
	ms := func(d time.Duration) string { return at(now.Add(time.Hour).Truncate(time.Millisecond).Sub(now) + d) }
	pad := func(body string) string { return strings.Repeat(" ", maxBody+1-len(body)) + body }
	okBuy := buy(`"u-1"`, `1`, `"k-1"`)
	return []BadRequest{
		// Bodies.
		{"create/truncated", "POST", create, `{"id":`, errMalformedJSON.Code},
		{"create/empty body", "POST", create, ``, errMalformedJSON.Code},
		{"create/array", "POST", create, `[]`, errMalformedJSON.Code},
		{"create/null", "POST", create, `null`, errMalformedJSON.Code},
		{"create/trailing garbage", "POST", create, def() + `x`, errMalformedJSON.Code},
		{"create/two objects", "POST", create, def() + def(), errMalformedJSON.Code},
		{"create/unknown field", "POST", create, strings.TrimSuffix(def(), "}") + `,"qty":1}`, errUnknownField.Code},
		{"create/upper-case key", "POST", create, strings.Replace(def(), `"units"`, `"Units"`, 1), errUnknownField.Code},
		{"create/duplicate key", "POST", create, strings.TrimSuffix(def(), "}") + `,"units":11}`, errInvalidField.Code},
		{"create/body over limit", "POST", create, pad(def()), errBodyTooLarge.Code},
		{"purchase/truncated", "POST", purchase, `{"user_id"`, errMalformedJSON.Code},
		{"purchase/empty body", "POST", purchase, ``, errMalformedJSON.Code},
		{"purchase/null", "POST", purchase, `null`, errMalformedJSON.Code},
		{"purchase/unknown field", "POST", purchase, strings.TrimSuffix(okBuy, "}") + `,"price":1}`, errUnknownField.Code},
		{"purchase/duplicate key", "POST", purchase, strings.TrimSuffix(okBuy, "}") + `,"qty":2}`, errInvalidField.Code},
		{"purchase/trailing garbage", "POST", purchase, okBuy + `]`, errMalformedJSON.Code},
		{"purchase/body over limit", "POST", purchase, pad(okBuy), errBodyTooLarge.Code},

		// Sale ids.
		{"create/id missing", "POST", create, def("id", "-"), errInvalidSaleID.Code},
		{"create/id empty", "POST", create, def("id", `""`), errInvalidSaleID.Code},
		{"create/id 65 chars", "POST", create, def("id", `"`+strings.Repeat("i", 65)+`"`), errInvalidSaleID.Code},
		{"create/id colon", "POST", create, def("id", `"a:b"`), errInvalidSaleID.Code},
		{"create/id slash", "POST", create, def("id", `"a/b"`), errInvalidSaleID.Code},
		{"create/id space", "POST", create, def("id", `"a b"`), errInvalidSaleID.Code},
		{"create/id non-ASCII", "POST", create, def("id", `"été"`), errInvalidSaleID.Code},
		{"create/id dot", "POST", create, def("id", `"."`), errInvalidSaleID.Code},
		{"create/id dot dot", "POST", create, def("id", `".."`), errInvalidSaleID.Code},
		{"create/id number", "POST", create, def("id", `1`), errInvalidField.Code},
		{"get/id 65 chars", "GET", create + "/" + strings.Repeat("i", 65), ``, errInvalidSaleID.Code},
		{"get/id escaped slash", "GET", create + "/a%2Fb", ``, errInvalidSaleID.Code},
		{"get/id NUL", "GET", create + "/a%00", ``, errInvalidSaleID.Code},
		{"purchase/id colon", "POST", create + "/a:b/purchases", okBuy, errInvalidSaleID.Code},
		{"purchase/id space", "POST", create + "/a%20b/purchases", okBuy, errInvalidSaleID.Code},
		{"poll/id 65 chars", "GET", create + "/" + strings.Repeat("i", 65) + "/purchases/k", ``, errInvalidSaleID.Code},

		// SKUs.
		{"create/sku missing", "POST", create, def("sku", "-"), errInvalidSKU.Code},
		{"create/sku 129 bytes", "POST", create, def("sku", `"`+long+`"`), errInvalidSKU.Code},
		{"create/sku newline", "POST", create, def("sku", `"a\nb"`), errInvalidSKU.Code},

		// Units.
		{"create/units missing", "POST", create, def("units", "-"), errInvalidUnits.Code},
		{"create/units 0", "POST", create, def("units", `0`), errInvalidUnits.Code},
		{"create/units negative", "POST", create, def("units", `-1`), errInvalidUnits.Code},
		{"create/units above max", "POST", create, def("units", `1000000001`), errInvalidUnits.Code},
		{"create/units fraction", "POST", create, def("units", `1.5`), errInvalidField.Code},
		{"create/units string", "POST", create, def("units", `"10"`), errInvalidField.Code},

		// Times.
		{"create/starts_at missing", "POST", create, def("starts_at", "-"), errInvalidStartsAt.Code},
		{"create/starts_at word", "POST", create, def("starts_at", `"now"`), errInvalidStartsAt.Code},
		{"create/starts_at no zone", "POST", create, def("starts_at", `"2030-01-01T00:00:00"`), errInvalidStartsAt.Code},
		{"create/starts_at date only", "POST", create, def("starts_at", `"2030-01-01"`), errInvalidStartsAt.Code},
		{"create/starts_at number", "POST", create, def("starts_at", `1700000000`), errInvalidField.Code},
		{"create/ends_at missing", "POST", create, def("ends_at", "-"), errInvalidEndsAt.Code},
		{"create/ends_at word", "POST", create, def("ends_at", `"later"`), errInvalidEndsAt.Code},
		{"create/ends_at equal to starts_at", "POST", create, def("ends_at", `"`+start+`"`), errInvalidEndsAt.Code},
		{"create/ends_at within the same ms", "POST", create, def("starts_at", ms(0), "ends_at", ms(time.Microsecond)), errInvalidEndsAt.Code},
		{"create/ends_at before starts_at", "POST", create, def("starts_at", at(2*time.Hour), "ends_at", at(time.Hour)), errInvalidEndsAt.Code},
		{"create/ends_at past", "POST", create, def("starts_at", at(-2*time.Hour), "ends_at", at(-time.Hour)), errInvalidEndsAt.Code},
		{"create/ends_at past 6 days", "POST", create, def("ends_at", at(6*24*time.Hour+time.Minute)), errInvalidEndsAt.Code},

		// Limits, prices, buckets.
		{"create/per_user_limit missing", "POST", create, def("per_user_limit", "-"), errInvalidPerUserLimit.Code},
		{"create/per_user_limit 0", "POST", create, def("per_user_limit", `0`), errInvalidPerUserLimit.Code},
		{"create/per_user_limit negative", "POST", create, def("per_user_limit", `-3`), errInvalidPerUserLimit.Code},
		{"create/per_user_limit above max", "POST", create, def("per_user_limit", `1000000001`), errInvalidPerUserLimit.Code},
		{"create/price missing", "POST", create, def("price", "-"), errInvalidPrice.Code},
		{"create/price null", "POST", create, def("price", `null`), errInvalidPrice.Code},
		{"create/price negative", "POST", create, def("price", `-1`), errInvalidPrice.Code},
		{"create/price above max", "POST", create, def("price", `1000000000001`), errInvalidPrice.Code},
		{"create/price fraction", "POST", create, def("price", `9.99`), errInvalidField.Code},
		{"create/buckets 0", "POST", create, def("buckets", `0`), errInvalidBuckets.Code},
		{"create/buckets 257", "POST", create, def("buckets", `257`), errInvalidBuckets.Code},
		{"create/buckets negative", "POST", create, def("buckets", `-1`), errInvalidBuckets.Code},
		{"create/buckets beyond int64", "POST", create, def("buckets", `9223372036854775808`), errInvalidField.Code},

		// Purchases.
		{"purchase/user_id missing", "POST", purchase, buy(`-`, `1`, `"k"`), errInvalidUserID.Code},
		{"purchase/user_id empty", "POST", purchase, buy(`""`, `1`, `"k"`), errInvalidUserID.Code},
		{"purchase/user_id 129 bytes", "POST", purchase, buy(`"`+long+`"`, `1`, `"k"`), errInvalidUserID.Code},
		{"purchase/user_id control", "POST", purchase, buy(`"a\u0007"`, `1`, `"k"`), errInvalidUserID.Code},
		{"purchase/user_id number", "POST", purchase, buy(`7`, `1`, `"k"`), errInvalidField.Code},
		{"purchase/user_id Titan's", "POST", purchase, buy(`"titan:u"`, `1`, `"k"`), errReservedID.Code},
		{"purchase/qty missing", "POST", purchase, buy(`"u"`, `-`, `"k"`), errInvalidPurchaseQty.Code},
		{"purchase/qty 0", "POST", purchase, buy(`"u"`, `0`, `"k"`), errInvalidPurchaseQty.Code},
		{"purchase/qty negative", "POST", purchase, buy(`"u"`, `-1`, `"k"`), errInvalidPurchaseQty.Code},
		{"purchase/qty above max", "POST", purchase, buy(`"u"`, `1001`, `"k"`), errInvalidPurchaseQty.Code},
		{"purchase/qty fraction", "POST", purchase, buy(`"u"`, `0.5`, `"k"`), errInvalidField.Code},
		{"purchase/key missing", "POST", purchase, buy(`"u"`, `1`, `-`), errInvalidIdempotencyKey.Code},
		{"purchase/key empty", "POST", purchase, buy(`"u"`, `1`, `""`), errInvalidIdempotencyKey.Code},
		{"purchase/key 129 bytes", "POST", purchase, buy(`"u"`, `1`, `"`+long+`"`), errInvalidIdempotencyKey.Code},
		{"purchase/key newline", "POST", purchase, buy(`"u"`, `1`, `"k\n"`), errInvalidIdempotencyKey.Code},
		{"purchase/key Titan's", "POST", purchase, buy(`"u"`, `1`, `"titan:k"`), errReservedID.Code},
		{"poll/key 129 bytes", "GET", purchase + "/" + long, ``, errInvalidIdempotencyKey.Code},
		{"poll/key newline", "GET", purchase + "/k%0A", ``, errInvalidIdempotencyKey.Code},
		{"poll/key bad escape", "GET", purchase + "/%zz", ``, errNotFound.Code},

		// Methods and paths.
		{"get sales", "GET", create, ``, errMethodNotAllowed.Code},
		{"delete sale", "DELETE", get, ``, errMethodNotAllowed.Code},
		{"put sale", "PUT", get, def(), errMethodNotAllowed.Code},
		{"get purchases", "GET", purchase, ``, errMethodNotAllowed.Code},
		{"post poll", "POST", poll, okBuy, errMethodNotAllowed.Code},
		{"empty sale id", "POST", create + "//purchases", okBuy, errNotFound.Code},
		{"poll too deep", "GET", poll + "/x", ``, errNotFound.Code},
	}
}

const testSale = "fs-1"

// seedSale makes testSale exist and be active, with stock to spare for
// the SKU of the create requests.
func seedSale(t *testing.T, e *flashEnv) {
	t.Helper()
	e.create(t, activeSale(testSale, "sku-s", 10, 2, 2))
	e.restock(t, "sku-x", 1000)
}

func TestFlashSaleBadRequestsSendNothing(t *testing.T) {
	const maxBody = 1024
	for _, ready := range []bool{true, false} {
		t.Run(fmt.Sprintf("ready=%v", ready), func(t *testing.T) {
			e := newFlashEnv(t, Options{MaxBodyBytes: maxBody})
			seedSale(t, e)
			e.setReady(ready)
			before := e.sentAll()
			for _, b := range FlashSaleBadRequests(testSale, time.Now(), maxBody) {
				t.Run(b.Name, func(t *testing.T) {
					checkError(t, e.do(b.Method, b.URI, b.Body), b.Code)
					if n := e.sentAll(); n != before {
						t.Fatalf("ready=%v: the request sent %d message(s)", ready, n-before)
					}
				})
			}
		})
	}
}

func TestFlashSaleBadRequestNamesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, b := range FlashSaleBadRequests(testSale, time.Now(), 1024) {
		if seen[b.Name] {
			t.Errorf("duplicate name %q", b.Name)
		}
		seen[b.Name] = true
		if _, ok := byCode(b.Code); !ok {
			t.Errorf("%s: code %q not in the catalogue", b.Name, b.Code)
		}
	}
}

// TestFlashSaleLimitsAreInclusive sends the largest (and smallest) valid
// value of every bounded input; each must be accepted.
func TestFlashSaleLimitsAreInclusive(t *testing.T) {
	e := newFlashEnv(t, Options{})
	now := time.Now()
	id := strings.Repeat("a", 64)
	e.restock(t, "sku-1", 1_000_000_000)
	body := fmt.Sprintf(`{"id":%q,"sku":"sku-1","units":1000000000,"starts_at":%q,"ends_at":%q,"per_user_limit":1000000000,"price":1000000000000,"buckets":256}`,
		id, now.Add(-time.Hour).UTC().Format(time.RFC3339), now.Add(6*24*time.Hour-time.Minute).UTC().Format(time.RFC3339Nano))
	sale := decode[flashSaleJSON](t, e.mustDo(t, "POST", "/v1/flash-sales", body, 201))
	if sale.Allocated != 1_000_000_000 || len(sale.Buckets) != 256 || sale.Price != 1_000_000_000_000 {
		t.Errorf("sale %+v", sale.Allocated)
	}
	// Every character the id alphabet allows, and a zero price.
	e.restock(t, "sku-2", 1)
	e.mustDo(t, "POST", "/v1/flash-sales", activeSaleBody("Az09._-", "sku-2", 0), 201)

	user, key := strings.Repeat("u", 128), "é/"+strings.Repeat("k", 125)
	p := decode[purchaseJSON](t, e.buy(t, id, user, 1000, key, 201))
	if p.UserID != user || p.IdempotencyKey != key || p.Qty != 1000 {
		t.Errorf("purchase %+v", p)
	}
	e.mustDo(t, "GET", "/v1/flash-sales/"+id+"/purchases/%C3%A9%2F"+strings.Repeat("k", 125), ``, 200)
}

func activeSaleBody(id, sku string, price int64) string {
	s := activeSale(id, sku, 1, 1, 1)
	s.price = price
	return s.body()
}
