package api

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

// jsonStrings are ids that need every kind of escape encoding/json makes.
var jsonStrings = []string{
	"", "sku-1", `quote"back\slash`, "<script>&amp;</script>", "tab\tnl\nret\rbs\bff\f",
	"\x00\x01\x1f\x7f", "€ unicode ☃", "\u2028\u2029", "bad \xff utf8 \xc3", "\xed\xa0\x80 surrogate",
	"/slash/", "emoji 🧊",
}

// equalJSON fails unless got is what json.Marshal writes for v.
func equalJSON(t *testing.T, got []byte, v any) {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("append encoder wrote\n%s\nencoding/json writes\n%s", got, want)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range jsonStrings {
		equalJSON(t, appendJSONString(nil, s), s)
	}
}

func TestStockJSONAppend(t *testing.T) {
	for _, s := range jsonStrings {
		for _, n := range []int64{0, 1, -1, 42, math.MaxInt64, math.MinInt64} {
			v := stockJSON{SKU: s, OnHand: n, Reserved: -n, Available: n / 2, Sold: n ^ 5, Offset: n - 1}
			equalJSON(t, v.appendJSON(nil), v)
			// The handler appends into a buffer of its own: what is in
			// front stays as it is.
			got := v.appendJSON([]byte("prefix"))
			equalJSON(t, bytes.TrimPrefix(got, []byte("prefix")), v)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		equalJSON(t, appendJSONString(nil, s), s)
	})
}

func FuzzStockJSONAppend(f *testing.F) {
	for i, s := range jsonStrings {
		f.Add(s, int64(i), int64(-i), int64(math.MaxInt64), int64(math.MinInt64), int64(i*1000))
	}
	f.Fuzz(func(t *testing.T, sku string, onHand, reserved, sold, available, offset int64) {
		v := stockJSON{SKU: sku, OnHand: onHand, Reserved: reserved, Available: available, Sold: sold, Offset: offset}
		equalJSON(t, v.appendJSON(nil), v)
	})
}

func TestPurchaseJSONAppend(t *testing.T) {
	for i, s := range jsonStrings {
		v := purchaseJSON{Status: "rejected", Reason: s, SaleID: s, UserID: "u-" + s, Qty: int64(i), IdempotencyKey: s,
			Price: math.MaxInt64 - int64(i), Bucket: -i}
		equalJSON(t, v.appendJSON(nil), v)
	}
}

func TestFlashSaleJSONAppend(t *testing.T) {
	for i, s := range jsonStrings {
		v := flashSaleJSON{ID: s, SKU: s + "x", Status: "active", Reason: s, Allocated: int64(i), Sold: -1, Remaining: math.MinInt64,
			StartsAt: "2026-12-04T18:00:00.123Z", EndsAt: s, PerUserLimit: 2, Price: 1999, Settled: i%2 == 0,
			Settlement: "pending", SettlementReason: s}
		for n := range i % 4 {
			v.Buckets = append(v.Buckets, bucketJSON{Bucket: n, Available: int64(i * n), Sold: int64(-n)})
		}
		if i%3 == 0 {
			v.Buckets = []bucketJSON{}
		}
		equalJSON(t, v.appendJSON(nil), v)
	}
}

func FuzzPurchaseJSONAppend(f *testing.F) {
	for i, s := range jsonStrings {
		f.Add(s, s, s, s, int64(i), int64(-i), i)
	}
	f.Fuzz(func(t *testing.T, status, reason, user, key string, qty, price int64, bucket int) {
		v := purchaseJSON{Status: status, Reason: reason, SaleID: reason + key, UserID: user, Qty: qty, IdempotencyKey: key, Price: price, Bucket: bucket}
		equalJSON(t, v.appendJSON(nil), v)
	})
}

func FuzzFlashSaleJSONAppend(f *testing.F) {
	for i, s := range jsonStrings {
		f.Add(s, s, s, int64(i), int64(-i), i%2 == 0, uint8(i))
	}
	f.Fuzz(func(t *testing.T, id, status, reason string, units, sold int64, settled bool, buckets uint8) {
		v := flashSaleJSON{ID: id, SKU: reason, Status: status, Reason: reason, Allocated: units, Sold: sold, Remaining: units - sold,
			StartsAt: id, EndsAt: status, PerUserLimit: sold, Price: units, Settled: settled, Settlement: status, SettlementReason: reason}
		if buckets > 0 {
			v.Buckets = []bucketJSON{}
		}
		for n := range int(buckets) - 1 {
			v.Buckets = append(v.Buckets, bucketJSON{Bucket: n, Available: units + int64(n), Sold: sold - int64(n)})
		}
		equalJSON(t, v.appendJSON(nil), v)
	})
}

func TestRecommendationsJSONAppend(t *testing.T) {
	scores := []float64{0, 1, -1, 0.5, 1e-6, 9.99e-7, 1e-7, 1.5e-300, 1e20, 1e21, 123456789.125, math.MaxFloat64,
		math.SmallestNonzeroFloat64, 2.5e-10, 0.1 + 0.2, 1.0 / 3}
	var recs []recommendationJSON
	for i, s := range jsonStrings {
		f := scores[i%len(scores)]
		recs = append(recs, recommendationJSON{SKU: s, Score: f, ViewScore: -f, PurchaseScore: f / 7, Reason: s})
	}
	for _, v := range []itemRecommendationsJSON{{}, {SKU: "a", K: 10, Recommendations: []recommendationJSON{}}, {SKU: "<b>", K: 3, Recommendations: recs}} {
		equalJSON(t, v.appendJSON(nil), v)
	}
	for _, v := range []userRecommendationsJSON{{}, {UserID: "u\u2028", K: 100, Recommendations: recs}} {
		equalJSON(t, v.appendJSON(nil), v)
	}
}

func FuzzRecommendationsJSONAppend(f *testing.F) {
	f.Add("sku", 1.5, 1e-9, 3e21, 7)
	f.Fuzz(func(t *testing.T, sku string, a, b, c float64, k int) {
		for _, x := range []float64{a, b, c} {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return
			}
		}
		v := itemRecommendationsJSON{SKU: sku, K: k, Recommendations: []recommendationJSON{{SKU: sku, Score: a, ViewScore: b, PurchaseScore: c, Reason: sku}}}
		equalJSON(t, v.appendJSON(nil), v)
	})
}
