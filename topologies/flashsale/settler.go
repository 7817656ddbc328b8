package flashsale

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/lovoo/goka/storage"

	"github.com/titan-commerce/titan/internal/punctuate"
	"github.com/titan-commerce/titan/processors/flashsale"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
)

// Settler is the flash sales' clock. goka has no timers, so on each tick it
// reads the sale keys in the partitions this instance owns and sends, on
// the internal topic:
//
//   - Abandon to every sale whose creation is past its deadline with the
//     inventory's answer still missing; the sale key checks the deadline
//     against the Abandon's time, fails the creation and releases the
//     allocation;
//   - Close to each bucket of every sale past its end that is not settled;
//     a bucket that closes reports what it sold to the sale key, which
//     settles the sale with the inventory once all have.
//
// Each is idempotent where it lands, so a message repeated on the next
// tick, or by the next owner after a rebalance, changes nothing; the
// settler repeats it every resendAfter until the sale key has moved on.
type Settler struct {
	local    func() []storage.Storage
	send     func(context.Context, []*flashsalev1.Message) error
	router   *flashsale.Keys
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger
	// sent remembers when each message was last sent, by the key it went
	// to; only Run's goroutine touches it.
	sent map[string]time.Time
}

const resendAfter = 5 * time.Second

// NewSettler returns a settler over the storages local returns (the
// recovered partitions of the flash-sale table this instance owns).
func NewSettler(local func() []storage.Storage, send func(context.Context, []*flashsalev1.Message) error, r *flashsale.Keys, interval time.Duration, log *slog.Logger) *Settler {
	if log == nil {
		log = slog.Default()
	}
	return &Settler{local: local, send: send, router: r, interval: interval, now: time.Now, log: log, sent: map[string]time.Time{}}
}

// Run settles every interval until ctx ends.
func (s *Settler) Run(ctx context.Context) error {
	return punctuate.Every(ctx, s.interval, s.log, "flash-sale settle", s.Settle)
}

// Settle runs one pass. It is not safe for concurrent use.
func (s *Settler) Settle(ctx context.Context) error {
	now := s.now()
	var msgs []*flashsalev1.Message
	due := func(m flashsale.Message) bool {
		if at, ok := s.sent[m.Key]; ok && now.Sub(at) < resendAfter {
			return false
		}
		s.sent[m.Key] = now
		msgs = append(msgs, flashsale.MessageToWire(m))
		return true
	}
	for _, st := range s.local() {
		sales, err := saleStates(st)
		if err != nil {
			return err
		}
		for _, sale := range sales {
			id := sale.Sale.ID
			switch {
			case sale.Overdue(now):
				if due(flashsale.Message{Kind: flashsale.KindAbandon, SaleID: id, Key: s.router.Sale(id), Time: now}) {
					s.log.Warn("flash-sale creation overdue: abandoning it", "sale", id, "sku", sale.Sale.SKU,
						"created_at", sale.CreatedAt, "deadline", sale.Deadline)
				}
			case sale.Closing() && !now.Before(sale.Sale.End):
				for b := range sale.Sale.Buckets {
					if _, ok := sale.Reports[b]; !ok {
						due(flashsale.Message{Kind: flashsale.KindClose, SaleID: id, Key: s.router.Bucket(id, b), Bucket: b, Time: now})
					}
				}
			}
		}
	}
	for key, at := range s.sent {
		if now.Sub(at) > time.Hour {
			delete(s.sent, key)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	// What a pass could not deliver is sent again after resendAfter.
	sctx, cancel := context.WithTimeout(ctx, max(10*s.interval, 10*time.Second))
	defer cancel()
	return s.send(sctx, msgs)
}

// saleStates reads the sale keys in st. They sort together under their
// prefix, so only they are read.
func saleStates(st storage.Storage) ([]flashsale.SaleState, error) {
	it, err := st.IteratorWithRange([]byte("s:"), []byte("s;"))
	if err != nil {
		return nil, fmt.Errorf("flashsale: settle: %w", err)
	}
	defer it.Release()
	var out []flashsale.SaleState
	for it.Next() {
		v, err := it.Value()
		if err != nil {
			return nil, fmt.Errorf("flashsale: settle: %w", err)
		}
		decoded, err := StateCodec.Decode(v)
		if err != nil {
			return nil, err
		}
		if sale := decoded.(flashsale.State).Sale; sale != nil {
			out = append(out, *sale)
		}
	}
	return out, it.Err()
}
