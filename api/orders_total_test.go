package api

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

// TestOrderTotalBeyondInt64 places orders whose total does not fit an
// int64 (one line's product, and a sum of lines that each fit), through
// the fakes: the saga rejects them, and the API must show a null total,
// not the wrapped negative one.
func TestOrderTotalBeyondInt64(t *testing.T) {
	for _, c := range []struct {
		name, lines string
	}{
		// 10^9 units at 10^12: each factor is at its bound, the product is 10^21.
		{"product", `{"sku":"a","qty":1000000000,"unit_price":1000000000000}`},
		// 9*10^18 fits; twice that does not.
		{"sum", `{"sku":"a","qty":9000000,"unit_price":1000000000000},{"sku":"b","qty":9000000,"unit_price":1000000000000}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newOrderEnv(t, Options{})
			body := `{"order_id":"o-big","user_id":"u-1","device_id":"d-1","payment_id":"c-1","lines":[` + c.lines + `]}`
			r := e.mustDo(t, "POST", "/v1/orders", body, 409)
			if got := decode[orderRejectedJSON](t, r); got.Status != "rejected" || got.Reason != "invalid_order" {
				t.Errorf("answer %+v, want rejected invalid_order", got)
			}
			r = e.mustDo(t, "GET", "/v1/orders/o-big", ``, 200)
			checkFields(t, r, sagaOrderFields)
			if total := fields(t, r)["total"]; total != nil {
				t.Errorf("total %v, want null: %s", total, r)
			}
			o := decode[orderStateJSON](t, r)
			if o.Status != "rejected" || o.Reason != "invalid_order" || o.Total != nil {
				t.Errorf("order %+v", o)
			}
			for _, l := range o.Lines {
				if l.Qty <= 0 || l.UnitPrice <= 0 {
					t.Errorf("line %+v: the lines must read as sent", l)
				}
			}
		})
	}
}

// TestOrderTotalAtInt64Max: a total of exactly MaxInt64 fits and shows.
func TestOrderTotalAtInt64Max(t *testing.T) {
	o := &ordersv1.Order{Lines: []*ordersv1.LineState{
		{Sku: "a", Qty: 1, UnitPriceMinor: math.MaxInt64 - 7},
		{Sku: "b", Qty: 7, UnitPriceMinor: 1},
	}}
	if total, ok := orderTotal(o); !ok || total != math.MaxInt64 {
		t.Errorf("total %d, %v; want MaxInt64", total, ok)
	}
	o.Lines[1].Qty = 8
	if total, ok := orderTotal(o); ok {
		t.Errorf("total %d reported as fitting", total)
	}
}

// TestCheckedArithmetic compares mulInt64 and addInt64 with exact
// arithmetic at the edges of int64 and on random values of every size.
func TestCheckedArithmetic(t *testing.T) {
	edges := []int64{0, 1, -1, 2, -2, 3, 1 << 31, -(1 << 31), 1 << 32, 3037000499, 3037000500, -3037000500,
		math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1, math.MaxInt64 / 2, math.MinInt64 / 2}
	fixed := len(edges)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		// Values of every magnitude, both signs.
		v := int64(rng.Uint64() >> rng.UintN(64))
		if rng.IntN(2) == 0 {
			v = -v
		}
		edges = append(edges, v)
	}
	check := func(op string, a, b int64, got int64, ok bool, exact *big.Int) {
		t.Helper()
		switch {
		case exact.IsInt64() && (!ok || got != exact.Int64()):
			t.Fatalf("%d %s %d = %d, %v; want %s", a, op, b, got, ok, exact)
		case !exact.IsInt64() && ok:
			t.Fatalf("%d %s %d = %d reported as fitting; the exact result is %s", a, op, b, got, exact)
		}
	}
	for i, a := range edges {
		// Every edge against every edge, and each random value against a
		// few others: the pairs that matter without 4 million of them.
		others := edges[:fixed]
		if i < fixed {
			others = edges
		}
		for _, b := range others {
			got, ok := mulInt64(a, b)
			check("*", a, b, got, ok, new(big.Int).Mul(big.NewInt(a), big.NewInt(b)))
			got, ok = addInt64(a, b)
			check("+", a, b, got, ok, new(big.Int).Add(big.NewInt(a), big.NewInt(b)))
		}
	}
}
