package api

import (
	"sync"
	"time"

	"github.com/titan-commerce/titan/processors/flashsale"
)

// soldCounts remembers, per sale, the most its buckets have been seen to
// have sold: admission's one cached verdict per sale. What a bucket sells
// only grows (a take adds to Sold, nothing takes from it), so a count read
// from a view at any time, however stale, is a lower bound on what the
// processor has sold, and what it leaves is an upper bound on what any
// bucket can still sell. An attempt for more than that is rejected from
// the count alone; any other reads the buckets as before and raises the
// count. Once a sale has sold out, each attempt costs one look-up here
// instead of a read of every bucket.
type soldCounts struct {
	mu struct {
		sync.Mutex
		sales map[string]soldCount
	}
}

// soldCount is the count for one definition of a sale: a sale recreated
// under its id with another definition starts again from nothing.
type soldCount struct {
	sale flashsale.Sale
	sold int64
}

func newSoldCounts() *soldCounts {
	c := &soldCounts{}
	c.mu.sales = map[string]soldCount{}
	return c
}

// left is at most what the sale's buckets can still sell.
func (c *soldCounts) left(sale flashsale.Sale) int64 {
	c.mu.Lock()
	sc, ok := c.mu.sales[sale.ID]
	c.mu.Unlock()
	if !ok || !sc.sale.Equal(sale) {
		return sale.Units
	}
	return sale.Units - sc.sold
}

// saw raises the sale's count to sold, read from its buckets at now. A
// sale's first count drops those of sales that have ended, which
// admission rejects before it looks here.
func (c *soldCounts) saw(sale flashsale.Sale, sold int64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sc, ok := c.mu.sales[sale.ID]
	switch {
	case ok && sc.sale.Equal(sale):
		if sold > sc.sold {
			sc.sold = sold
			c.mu.sales[sale.ID] = sc
		}
		return
	case !ok:
		for id, sc := range c.mu.sales {
			if !now.Before(sc.sale.End) {
				delete(c.mu.sales, id)
			}
		}
	}
	c.mu.sales[sale.ID] = soldCount{sale: sale, sold: sold}
}
