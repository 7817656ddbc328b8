package flashsale

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/lovoo/goka/storage"

	"github.com/titan-commerce/titan/processors/flashsale"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
)

// Settler ends sales whose end has passed. goka has no timers, so on each
// tick it reads the sale keys in the partitions this instance owns and, for
// every ended sale not yet settled, sends Close to each of its buckets. A
// bucket that closes reports what it sold to the sale key, which settles
// the sale with the inventory once all have. Close and the reports are
// idempotent, so a Close repeated on the next tick, or by the next owner
// after a rebalance, changes nothing; the settler repeats it every
// resendAfter until the sale shows settled.
type Settler struct {
	local    func() []storage.Storage
	send     func(context.Context, []*flashsalev1.Message) error
	router   *Router
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger
	// sent remembers when each sale was last closed; only Run's goroutine
	// touches it.
	sent map[string]time.Time
}

const resendAfter = 5 * time.Second

// NewSettler returns a settler over the storages local returns (the
// recovered partitions of the flash-sale table this instance owns).
func NewSettler(local func() []storage.Storage, send func(context.Context, []*flashsalev1.Message) error, r *Router, interval time.Duration, log *slog.Logger) *Settler {
	if log == nil {
		log = slog.Default()
	}
	return &Settler{local: local, send: send, router: r, interval: interval, now: time.Now, log: log, sent: map[string]time.Time{}}
}

// Run settles every interval until ctx ends.
func (s *Settler) Run(ctx context.Context) error {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := s.Settle(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("flash-sale settle failed", "err", err)
			}
		}
	}
}

// Settle runs one pass. It is not safe for concurrent use.
func (s *Settler) Settle(ctx context.Context) error {
	now := s.now()
	var msgs []*flashsalev1.Message
	for _, st := range s.local() {
		sales, err := endedSales(st, now)
		if err != nil {
			return err
		}
		for _, sale := range sales {
			if at, ok := s.sent[sale.ID]; ok && now.Sub(at) < resendAfter {
				continue
			}
			s.sent[sale.ID] = now
			for b := range sale.Buckets {
				msgs = append(msgs, flashsale.MessageToWire(flashsale.Message{
					Kind: flashsale.KindClose, SaleID: sale.ID, Key: s.router.Bucket(sale.ID, b), Bucket: b, Time: now,
				}))
			}
		}
	}
	for id, at := range s.sent {
		if now.Sub(at) > time.Hour {
			delete(s.sent, id)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return s.send(ctx, msgs)
}

// endedSales lists the sales in st past their end and not settled. Sale
// keys sort together under their prefix, so only they are read.
func endedSales(st storage.Storage, now time.Time) ([]flashsale.Sale, error) {
	it, err := st.IteratorWithRange([]byte("s:"), []byte("s;"))
	if err != nil {
		return nil, fmt.Errorf("flashsale: settle: %w", err)
	}
	defer it.Release()
	var out []flashsale.Sale
	for it.Next() {
		v, err := it.Value()
		if err != nil {
			return nil, fmt.Errorf("flashsale: settle: %w", err)
		}
		decoded, err := StateCodec{}.Decode(v)
		if err != nil {
			return nil, err
		}
		sale := decoded.(flashsale.State).Sale
		if sale != nil && sale.Defined && !sale.Settled && !now.Before(sale.Sale.End) {
			out = append(out, sale.Sale)
		}
	}
	return out, it.Err()
}
