package api

import (
	"reflect"
	"regexp"
	"testing"
	"time"

	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
)

var (
	priceFields       = []string{"sku", "currency", "base_price", "price", "contributions", "version", "updated_at"}
	priceChangeFields = []string{"sku", "currency", "base_price", "price", "contributions", "cause", "version", "command_id", "at"}
)

func TestSetPrice(t *testing.T) {
	e := newOrderEnv(t, Options{})
	before := time.Now()
	r := e.mustDo(t, "POST", "/v1/prices/sku%2F1", `{"base_price":1999,"currency":"EUR","command_id":"p-1"}`, 202)
	after := time.Now()
	checkFields(t, r, []string{"command_id", "partition", "offset"})
	if got := decode[priceAcceptedJSON](t, r); got != (priceAcceptedJSON{CommandID: "p-1", Partition: 2, Offset: 0}) {
		t.Errorf("answer %+v", got)
	}
	cmds := e.saga.sentPricing()
	if len(cmds) != 1 {
		t.Fatalf("%d commands sent", len(cmds))
	}
	c := cmds[0]
	if c.GetCommandId() != "p-1" || c.GetSku() != "sku/1" || c.GetSetBase().GetPriceMinor() != 1999 ||
		c.GetSetBase().GetCurrency() != "EUR" || c.GetTimestampMs() < before.UnixMilli() || c.GetTimestampMs() > after.UnixMilli() {
		t.Errorf("command %v", c)
	}

	r = e.mustDo(t, "GET", "/v1/prices/sku%2F1", ``, 200)
	checkFields(t, r, priceFields)
	got := decode[priceJSON](t, r)
	want := priceJSON{SKU: "sku/1", Currency: "EUR", BasePrice: 1999, Price: 1999, Contributions: []contributionJSON{},
		Version: 1, UpdatedAt: formatMs(c.GetTimestampMs())}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("price %+v, want %+v", got, want)
	}

	// Without a command id the API makes one; each request is its own.
	var ids []string
	for range 2 {
		ids = append(ids, decode[priceAcceptedJSON](t, e.mustDo(t, "POST", "/v1/prices/sku-2", `{"base_price":0,"currency":"USD"}`, 202)).CommandID)
	}
	if hex := regexp.MustCompile(`^[0-9a-f]{32}$`); !hex.MatchString(ids[0]) || !hex.MatchString(ids[1]) || ids[0] == ids[1] {
		t.Errorf("generated ids %q", ids)
	}
}

// TestGetPriceContributions: the price in force comes from PriceAt at the
// deps' clock, with its contributions; version and time are those of the
// latest change.
func TestGetPriceContributions(t *testing.T) {
	e := newOrderEnv(t, Options{})
	cur := &pricingv1.PriceChanged{Sku: "sku-1", Currency: "EUR", BaseMinor: 1000, PriceMinor: 850, Cause: "campaign_started",
		TimestampMs: 1_700_000_000_000, Version: 7, Contributions: []*pricingv1.Contribution{
			{Rule: "campaign:spring", AmountMinor: -200, Detail: "20% off"},
			{Rule: "demand", AmountMinor: 50, Detail: "+5%"},
		}}
	e.saga.prices.set("sku-1", &pricingv1.SkuPrice{Sku: "sku-1", BaseMinor: 1000, Currency: "EUR", Current: cur})
	var at time.Time
	e.s.deps.OrderSaga.PriceAt = func(sp *pricingv1.SkuPrice, now time.Time) (*pricingv1.Quote, bool) {
		at = now
		return fakePriceAt(sp, now)
	}
	got := decode[priceJSON](t, e.mustDo(t, "GET", "/v1/prices/sku-1", ``, 200))
	want := priceJSON{SKU: "sku-1", Currency: "EUR", BasePrice: 1000, Price: 850, Version: 7,
		UpdatedAt: "2023-11-14T22:13:20Z", Contributions: []contributionJSON{
			{Rule: "campaign:spring", Amount: -200, Detail: "20% off"}, {Rule: "demand", Amount: 50, Detail: "+5%"},
		}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("price %+v, want %+v", got, want)
	}
	if !at.Equal(e.saga.now) {
		t.Errorf("PriceAt at %v, want the deps' clock %v", at, e.saga.now)
	}

	// A SKU the table holds without a price in force (a campaign before
	// any base price) has no price.
	e.saga.prices.set("sku-2", &pricingv1.SkuPrice{Sku: "sku-2", Campaigns: []*pricingv1.Campaign{{Id: "c"}}})
	checkError(t, e.do("GET", "/v1/prices/sku-2", ``), errPriceNotFound.Code)
	checkError(t, e.do("GET", "/v1/prices/sku-3", ``), errPriceNotFound.Code)
}

func TestGetPriceHistory(t *testing.T) {
	e := newOrderEnv(t, Options{})
	for i, p := range []string{"100", "200", "300"} {
		e.mustDo(t, "POST", "/v1/prices/sku-1", `{"base_price":`+p+`,"currency":"EUR","command_id":"p-`+itoa(i)+`"}`, 202)
	}
	// A repeated command changes nothing.
	e.mustDo(t, "POST", "/v1/prices/sku-1", `{"base_price":100,"currency":"EUR","command_id":"p-0"}`, 202)

	r := e.mustDo(t, "GET", "/v1/prices/sku-1/history", ``, 200)
	checkFields(t, r, []string{"sku", "changes"})
	h := decode[priceHistoryJSON](t, r)
	if h.SKU != "sku-1" || len(h.Changes) != 3 {
		t.Fatalf("history %+v", h)
	}
	for i, c := range h.Changes {
		if c.Version != int64(3-i) || c.Price != int64(300-100*i) || c.CommandID != "p-"+itoa(2-i) || c.Cause != "base_price" {
			t.Errorf("change %d: %+v", i, c)
		}
	}
	two := decode[priceHistoryJSON](t, e.mustDo(t, "GET", "/v1/prices/sku-1/history?limit=2", ``, 200))
	if !reflect.DeepEqual(two.Changes, h.Changes[:2]) {
		t.Errorf("limit 2: %+v", two.Changes)
	}
	raw := decode[struct {
		SKU     string           `json:"sku"`
		Changes []map[string]any `json:"changes"`
	}](t, e.mustDo(t, "GET", "/v1/prices/sku-1/history?limit=100", ``, 200))
	for _, c := range raw.Changes {
		for _, f := range priceChangeFields {
			if _, ok := c[f]; !ok || len(c) != len(priceChangeFields) {
				t.Errorf("change %v, want the fields %v", c, priceChangeFields)
			}
		}
	}

	// The latest change may be in current before the bounded history.
	sp := &pricingv1.SkuPrice{Sku: "sku-2",
		History: []*pricingv1.PriceChanged{{Version: 1}, {Version: 2}},
		Current: &pricingv1.PriceChanged{Version: 3}}
	e.saga.prices.set("sku-2", sp)
	h = decode[priceHistoryJSON](t, e.mustDo(t, "GET", "/v1/prices/sku-2/history", ``, 200))
	if len(h.Changes) != 3 || h.Changes[0].Version != 3 || h.Changes[2].Version != 1 {
		t.Errorf("history %+v", h.Changes)
	}
	if len(sp.History) != 2 {
		t.Error("reading the history changed the table's value")
	}
	checkError(t, e.do("GET", "/v1/prices/sku-3/history", ``), errPriceNotFound.Code)
}
