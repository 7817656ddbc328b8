package ordergen

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/schemas"
)

func smallConfig(seed int64) Config {
	cfg := DefaultConfig()
	cfg.Seed = seed
	cfg.Users, cfg.LegitOrders, cfg.SKUs = 500, 2000, 100
	cfg.MismatchRate = 0.05
	return cfg
}

func TestReproducible(t *testing.T) {
	a, b, c := Generate(smallConfig(7)), Generate(smallConfig(7)), Generate(smallConfig(8))
	if len(a.Events) != len(b.Events) {
		t.Fatalf("same seed: %d and %d events", len(a.Events), len(b.Events))
	}
	for i := range a.Events {
		x, y := a.Events[i], b.Events[i]
		if !proto.Equal(x.Order, y.Order) || x.Pattern != y.Pattern || x.Incident != y.Incident || x.Mismatch != y.Mismatch {
			t.Fatalf("same seed, event %d differs: %v / %v", i, x, y)
		}
	}
	for i := range a.Catalog {
		if a.Catalog[i] != b.Catalog[i] {
			t.Fatalf("same seed, catalog item %d differs", i)
		}
	}
	same := len(a.Events) == len(c.Events)
	for i := 0; same && i < len(a.Events); i++ {
		same = proto.Equal(a.Events[i].Order, c.Events[i].Order)
	}
	if same {
		t.Error("another seed gave the same day")
	}
}

func TestDayShape(t *testing.T) {
	cfg := smallConfig(3)
	day := Generate(cfg)
	prices := map[string]int64{}
	for _, it := range day.Catalog {
		prices[it.SKU] = it.Price
		if it.Currency != cfg.Currency || it.Price <= 0 {
			t.Fatalf("catalog item %+v", it)
		}
	}
	end := cfg.Start.Add(24 * time.Hour)
	ids := map[string]bool{}
	placed := map[string]int{}
	incidents := map[string]map[int]int{}
	var legit, mismatched int
	demand := map[string]int64{}
	var prev int64
	for i, e := range day.Events {
		ev := e.Order
		if err := schemas.ValidateOrderEvent(ev); err != nil {
			t.Fatalf("event %d invalid: %v (%v)", i, err, ev)
		}
		if ids[ev.GetEventId()] {
			t.Fatalf("event id %s twice", ev.GetEventId())
		}
		ids[ev.GetEventId()] = true
		ts := time.UnixMilli(ev.GetTimestampMs())
		if ts.Before(cfg.Start) || !ts.Before(end) || ev.GetTimestampMs() < prev {
			t.Fatalf("event %d at %v: out of the day or out of order", i, ts)
		}
		prev = ev.GetTimestampMs()
		if f := ev.GetPaymentFailed(); f != nil {
			if placed[ev.GetOrderId()] == 0 {
				t.Fatalf("payment failure before its order %s", ev.GetOrderId())
			}
			continue
		}
		placed[ev.GetOrderId()]++
		wrong := false
		for _, l := range ev.GetPlaced().GetLines() {
			wrong = wrong || l.GetUnitPriceMinor() != prices[l.GetSku()]
			demand[l.GetSku()] += l.GetQty()
		}
		if wrong != e.Mismatch {
			t.Fatalf("order %s: mismatch label %v, prices off %v", ev.GetOrderId(), e.Mismatch, wrong)
		}
		if e.Pattern == PatternLegit {
			legit++
			if e.Mismatch {
				mismatched++
			}
			continue
		}
		if incidents[e.Pattern] == nil {
			incidents[e.Pattern] = map[int]int{}
		}
		incidents[e.Pattern][e.Incident]++
	}
	if legit != cfg.LegitOrders {
		t.Errorf("%d legit orders, want %d", legit, cfg.LegitOrders)
	}
	if share := float64(mismatched) / float64(legit); share < 0.03 || share > 0.07 {
		t.Errorf("mismatch share %.3f, want about %.2f", share, cfg.MismatchRate)
	}
	for p, want := range map[string]struct{ incidents, lo, hi int }{
		PatternCardTesting:     {cfg.CardTesting, 10, 40},
		PatternAccountTakeover: {cfg.AccountTakeovers, 3, 6},
		PatternVelocity:        {cfg.VelocityAbusers, 10, 40},
	} {
		if len(incidents[p]) != want.incidents {
			t.Errorf("%s: %d incidents, want %d", p, len(incidents[p]), want.incidents)
		}
		for inc, n := range incidents[p] {
			if n < want.lo || n > want.hi {
				t.Errorf("%s incident %d: %d orders, want %d..%d", p, inc, n, want.lo, want.hi)
			}
		}
	}
	scarce := 0
	for _, it := range day.Catalog {
		if it.Scarce {
			scarce++
			if it.Stock >= demand[it.SKU] {
				t.Errorf("scarce %s: stock %d for demand %d", it.SKU, it.Stock, demand[it.SKU])
			}
		} else if it.Stock < demand[it.SKU] {
			t.Errorf("%s: stock %d below demand %d", it.SKU, it.Stock, demand[it.SKU])
		}
	}
	if scarce != ScarceSKUs {
		t.Errorf("%d scarce SKUs, want %d", scarce, ScarceSKUs)
	}
}

func TestTakeoverVictimsHaveHistory(t *testing.T) {
	day := Generate(smallConfig(5))
	first := map[string]int64{}
	for _, e := range day.Events {
		p := e.Order.GetPlaced()
		if p == nil {
			continue
		}
		if e.Pattern == PatternLegit {
			if _, ok := first[p.GetUserId()]; !ok {
				first[p.GetUserId()] = e.Order.GetTimestampMs()
			}
			continue
		}
		if e.Pattern == PatternAccountTakeover {
			f, ok := first[p.GetUserId()]
			if !ok || e.Order.GetTimestampMs()-f < time.Hour.Milliseconds() {
				t.Fatalf("takeover order %s of %s without an hour of history", e.Order.GetOrderId(), p.GetUserId())
			}
		}
	}
}

func TestRates(t *testing.T) {
	day := Generate(smallConfig(9))
	flagged := map[string]bool{}
	for _, e := range day.Events {
		if e.Placed() {
			// Flag every planted order and no legit one, except that the
			// velocity orders are left without a decision.
			if e.Pattern != PatternVelocity {
				flagged[e.Order.GetOrderId()] = e.Pattern != PatternLegit
			}
		}
	}
	rep := Rates(day, flagged, true)
	if r := rep.Pattern(PatternCardTesting); r.Share() != 1 || r.Excluded != smallConfig(9).CardTesting {
		t.Errorf("card testing %v", r)
	}
	if r := rep.Pattern(PatternVelocity); r.Share() != 0 || r.Missing != r.Orders || r.Orders == 0 {
		t.Errorf("velocity %v", r)
	}
	if fp := rep.FalsePositives; fp.Flagged != 0 || fp.Orders != smallConfig(9).LegitOrders || fp.Excluded != 0 {
		t.Errorf("false positives %v", fp)
	}
	all := Rates(day, flagged, false)
	if a, b := all.Pattern(PatternAccountTakeover), rep.Pattern(PatternAccountTakeover); a.Orders != b.Orders+b.Excluded {
		t.Errorf("excluding firsts: %v vs %v", a, b)
	}
	t.Log(rep)
}
