package orders

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/lovoo/goka/storage"

	"github.com/titan-commerce/titan/internal/localindex"
	"github.com/titan-commerce/titan/internal/punctuate"
	"github.com/titan-commerce/titan/schemas/codec"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

// Deadlines ends orders that stopped moving. goka has no timers, so on each
// tick it reads the open orders of the table partitions this instance owns
// (OpenOrders lists them, so a tick costs what is open, not what the table
// has ever held) and notes, for every open order, when it first saw its current step count
// (orders.Order.Steps, which grows with every change). An order whose count
// has not changed for the step timeout gets a Timeout on the saga topic,
// keyed by the order id, carrying that count.
//
// Why this is safe: the scanner only proposes; the saga decides, in the
// order's partition order, with orders.Timeout, which rejects the order as
// timed_out only if it is still open with the same step count. A Timeout
// that arrives after the order moved on changes nothing, as does one sent
// twice, or by two instances during a rebalance. The wait is measured on
// this instance's clock because an order's own times are its events',
// which may lie in the past; a new owner of a partition starts its watch
// afresh, so a rebalance can only lengthen a wait, never cut it short.
type Deadlines struct {
	local    func() []storage.Storage
	send     func(context.Context, []*ordersv1.SagaMessage) error
	timeout  time.Duration
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger
	// watch holds, per open order, the step count last seen, since when,
	// and when a Timeout was last sent for it. Only Run's goroutine
	// touches it.
	watch map[string]watched
}

type watched struct {
	steps      int64
	since      time.Time
	sent, seen time.Time
}

// NewDeadlines returns a scanner over the storages local returns (the
// recovered partitions of the saga's table this instance owns) that times
// out orders still for timeout, looking every interval.
func NewDeadlines(local func() []storage.Storage, send func(context.Context, []*ordersv1.SagaMessage) error,
	timeout, interval time.Duration, log *slog.Logger) *Deadlines {
	if log == nil {
		log = slog.Default()
	}
	return &Deadlines{local: local, send: send, timeout: timeout, interval: interval, now: time.Now, log: log,
		watch: map[string]watched{}}
}

// Run scans every interval until ctx ends.
func (d *Deadlines) Run(ctx context.Context) error {
	return punctuate.Every(ctx, d.interval, d.log, "order deadline scan", d.Scan)
}

// Scan makes one pass and returns once its Timeouts are acknowledged. It is
// not safe for concurrent use.
func (d *Deadlines) Scan(ctx context.Context) error {
	now := d.now()
	var msgs []*ordersv1.SagaMessage
	for _, st := range d.local() {
		err := eachOpen(st, func(order string, steps int64) {
			w, ok := d.watch[order]
			if !ok || w.steps != steps {
				w = watched{steps: steps, since: now}
			}
			w.seen = now
			// A Timeout not applied within the timeout is sent again: it
			// may have been lost with a crash of the sender.
			if now.Sub(w.since) >= d.timeout && now.Sub(w.sent) >= d.timeout {
				w.sent = now
				msgs = append(msgs, &ordersv1.SagaMessage{OrderId: order, TimestampMs: now.UnixMilli(),
					Kind: &ordersv1.SagaMessage_Timeout{Timeout: &ordersv1.Timeout{Steps: steps}}})
			}
			d.watch[order] = w
		})
		if err != nil {
			return err
		}
	}
	// Orders that ended, or whose partition went to another instance, are
	// forgotten; a partition that comes back is watched afresh.
	for order, w := range d.watch {
		if w.seen != now {
			delete(d.watch, order)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	d.log.Warn("orders stalled past the step timeout", "count", len(msgs), "timeout", d.timeout)
	// A Timeout not delivered within the scan interval is sent again by a
	// later scan.
	sctx, cancel := context.WithTimeout(ctx, max(d.interval, 10*time.Second))
	defer cancel()
	if err := d.send(sctx, msgs); err != nil {
		for _, m := range msgs {
			w := d.watch[m.GetOrderId()]
			w.sent = time.Time{}
			d.watch[m.GetOrderId()] = w
		}
		return err
	}
	return nil
}

// OpenOrders lists the open orders of a table partition under keys
// "\xffo<order id>" that exist only in the local store
// (internal/localindex): a scan reads the orders still open, not every
// order the table has ever held. No order id starts with 0xff, which no
// UTF-8 text holds.
var OpenOrders = localindex.Rule{
	Name:   "open-orders-v1",
	Prefix: []byte(openPrefix),
	Derive: func(key, value []byte) ([]byte, bool) {
		return append([]byte(openPrefix), key...), value != nil && openSteps(value) > 0
	},
}

const openPrefix = "\xffo"

// eachOpen calls fn with the id and step count of every open order in st,
// a storage that keeps OpenOrders.
func eachOpen(st storage.Storage, fn func(order string, steps int64)) error {
	it, err := st.IteratorWithRange([]byte(openPrefix), nil)
	if err != nil {
		return fmt.Errorf("orders: deadline scan: %w", err)
	}
	defer it.Release()
	for it.Next() {
		order, ok := bytes.CutPrefix(it.Key(), []byte(openPrefix))
		if !ok || len(order) == 0 {
			// The index's own name.
			continue
		}
		v, err := st.Get(string(order))
		if err != nil {
			return fmt.Errorf("orders: deadline scan: %w", err)
		}
		if steps := openSteps(v); steps > 0 {
			fn(string(order), steps)
		}
	}
	return it.Err()
}

// openSteps reads ordersv1.Order.open_steps from an encoded order without
// decoding the rest: most orders in a table have ended. It returns 0 for
// bytes it cannot read; the saga would fail on them too.
func openSteps(b []byte) int64 {
	const field = 15 // ordersv1.Order.open_steps
	v, _ := codec.PeekVarint(b, field)
	return int64(v)
}
