package api

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/titan-commerce/titan/processors/flashsale"
)

func TestSoldCounts(t *testing.T) {
	now := time.Now()
	sale := flashsale.Sale{ID: "fs-1", SKU: "sku-1", Units: 10, Start: now.Add(-time.Minute), End: now.Add(time.Hour), PerUserLimit: 1, Buckets: 2}
	c := newSoldCounts()
	if got := c.left(sale); got != 10 {
		t.Fatalf("left of a sale never seen = %d, want its units", got)
	}
	c.saw(sale, 6, now)
	c.saw(sale, 4, now) // a lagging replica's count does not lower it
	if got := c.left(sale); got != 4 {
		t.Fatalf("left = %d, want 4", got)
	}
	again := sale
	again.Units = 20
	if got := c.left(again); got != 20 {
		t.Fatalf("left of another definition under the id = %d, want 20", got)
	}
	c.saw(again, 1, now)
	if got := c.left(again); got != 19 {
		t.Fatalf("left after the new definition's count = %d, want 19", got)
	}
	// A new sale's first count drops the sales that have ended.
	c.saw(flashsale.Sale{ID: "fs-2", Units: 5, End: now.Add(time.Hour)}, 0, now.Add(2*time.Hour))
	if _, kept := c.mu.sales[sale.ID]; kept {
		t.Fatal("an ended sale's count was kept")
	}
}

// TestAdmissionNeverRejectsWhatSells: random purchases on sales of one to
// four buckets, with the replica's view frozen and caught up at random.
// Whenever admission rejects an attempt as sold out without sending it,
// the buckets the processor holds have fewer units left between them than
// the attempt asks for, so no bucket, borrowing or not, could have sold
// it; and nothing oversells.
func TestAdmissionNeverRejectsWhatSells(t *testing.T) {
	for seed := range uint64(32) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 11))
			e := newFlashEnv(t, Options{})
			units, buckets := 10+rng.Int64N(40), 1+rng.IntN(4)
			id := fmt.Sprintf("fs-%d", seed)
			e.create(t, activeSale(id, "sku-1", units, 1000, buckets))
			var sale flashsale.Sale
			rejected := 0
			for i := range 150 {
				if rng.IntN(5) == 0 {
					e.fs.setMode(fakeFlashMode{frozenView: rng.IntN(2) == 0})
				}
				qty := 1 + rng.Int64N(4)
				left, st := e.fs.unitsLeft(id)
				sale = st
				n := e.sentAll()
				r := e.do("POST", "/v1/flash-sales/"+id+"/purchases", purchaseBody(fmt.Sprintf("u-%d", rng.IntN(20)), qty, fmt.Sprintf("k-%d", i)))
				if r.status != 201 && r.status != 409 {
					t.Fatalf("attempt %d: %d %s", i, r.status, r.body)
				}
				got := decode[purchaseJSON](t, r)
				if r.status == 409 && got.Reason == flashsale.ReasonSoldOut && e.sentAll() == n {
					rejected++
					if left >= qty {
						t.Fatalf("attempt %d for %d: admission rejected it with %d units left in the buckets", i, qty, left)
					}
				}
			}
			if left, _ := e.fs.unitsLeft(id); left < 0 {
				t.Fatalf("oversold: %d units left of %d", left, sale.Units)
			}
			if rejected == 0 {
				t.Logf("seed %d: no admission rejections (units %d, buckets %d)", seed, units, buckets)
			}
		})
	}
}

// unitsLeft is what the processor's buckets of a sale hold between them,
// a bucket not opened yet counting its share, and the sale's definition.
func (f *fakeFlash) unitsLeft(id string) (int64, flashsale.Sale) {
	f.run.Lock()
	defer f.run.Unlock()
	st := f.run.state[f.router.Sale(id)]
	if st.Sale == nil {
		return 0, flashsale.Sale{}
	}
	sale := st.Sale.Sale
	var left int64
	for b := range sale.Buckets {
		bs := f.run.state[f.router.Bucket(id, b)].Bucket
		if bs == nil || !bs.Opened {
			left += sale.Share(b)
			continue
		}
		left += bs.Available
	}
	return left, sale
}
