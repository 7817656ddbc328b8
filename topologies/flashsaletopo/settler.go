package flashsaletopo

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

// Settler is the flash sales' clock, a punctuator (internal/punctuate)
// over the sale keys of the partitions this instance owns. It proposes, on
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
// Each is idempotent where it lands, so a message repeated, or sent by the
// next owner after a rebalance, changes nothing; the settler repeats it
// every resendAfter until the sale key has moved on.
type Settler struct {
	*punctuate.Punctuator[*flashsalev1.Message]
	router *flashsale.Keys
	now    func() time.Time
	log    *slog.Logger
}

const resendAfter = 5 * time.Second

// SendFunc produces Titan's own flash-sale messages keyed by their key and
// returns the offset of each, -1 where its send failed.
type SendFunc func(context.Context, []*flashsalev1.Message) ([]int64, error)

// NewSettler returns a settler over the storages local returns (the
// recovered partitions of the flash-sale table this instance owns).
func NewSettler(local func() []storage.Storage, send SendFunc, r *flashsale.Keys, interval time.Duration, log *slog.Logger) *Settler {
	if log == nil {
		log = slog.Default()
	}
	s := &Settler{router: r, now: time.Now, log: log}
	s.Punctuator = punctuate.New(punctuate.Config[*flashsalev1.Message]{
		What: "flash-sale settle", Interval: interval, ResendAfter: resendAfter,
		Local: local, Due: s.due, Send: send, Log: log,
		Now: func() time.Time { return s.now() },
	})
	return s
}

// Settle runs one pass. It is not safe for concurrent use.
func (s *Settler) Settle(ctx context.Context) error { return s.Pass(ctx) }

// due proposes what the sales of one partition need at now.
func (s *Settler) due(st storage.Storage, now time.Time, propose func(punctuate.Proposal[*flashsalev1.Message])) error {
	sales, err := saleStates(st)
	if err != nil {
		return err
	}
	send := func(m flashsale.Message, sent func()) {
		propose(punctuate.Proposal[*flashsalev1.Message]{Key: m.Key, For: m.Kind.String(),
			Msg: flashsale.MessageToWire(m), Sent: sent})
	}
	for _, sale := range sales {
		id := sale.Sale.ID
		switch {
		case sale.Overdue(now):
			send(flashsale.Message{Kind: flashsale.KindAbandon, SaleID: id, Key: s.router.Sale(id), Time: now}, func() {
				s.log.Warn("flash-sale creation overdue: abandoning it", "sale", id, "sku", sale.Sale.SKU,
					"created_at", sale.CreatedAt, "deadline", sale.Deadline)
			})
		case sale.Closing() && !now.Before(sale.Sale.End):
			for b := range sale.Sale.Buckets {
				if _, ok := sale.Reports[b]; !ok {
					send(flashsale.Message{Kind: flashsale.KindClose, SaleID: id, Key: s.router.Bucket(id, b), Bucket: b, Time: now}, nil)
				}
			}
		}
	}
	return nil
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
