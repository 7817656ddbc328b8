package orderstopo

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/lovoo/goka/storage"

	"github.com/titan-commerce/titan/internal/localindex"
	"github.com/titan-commerce/titan/internal/punctuate"
	"github.com/titan-commerce/titan/schemas/codec"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

// Deadlines ends orders that stopped moving: a punctuator
// (internal/punctuate) whose pass reads the open orders of the table
// partitions this instance owns (OpenOrders lists them, so a pass costs what
// is open, not what the table has ever held) and notes, for every open
// order, when it first saw its current step count (orders.Order.Steps,
// which grows with every change). An order whose count has not changed for
// the step timeout gets a Timeout on the saga topic, keyed by the order id,
// carrying that count; one not applied within the timeout is sent again, as
// a crash may have lost it.
//
// Why this is safe: the saga decides, in the order's partition order, with
// orders.Timeout, which rejects the order as timed_out only if it is still
// open with the same step count. A Timeout that arrives after the order
// moved on changes nothing, as does one sent twice, or by two instances
// during a rebalance. The wait is measured on this instance's clock because
// an order's own times are its events', which may lie in the past; a new
// owner of a partition starts its watch afresh, so a rebalance can only
// lengthen a wait, never cut it short.
type Deadlines struct {
	*punctuate.Punctuator[*ordersv1.SagaMessage]
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger
	// watch holds, per open order, the step count last seen, since when,
	// and the last pass that saw it. Only the punctuator's passes touch it.
	watch    map[string]watched
	lastPass time.Time
}

type watched struct {
	steps       int64
	since, seen time.Time
}

// SendFunc produces saga messages keyed by order id and returns the offset
// of each, -1 where its send failed.
type SendFunc func(context.Context, []*ordersv1.SagaMessage) ([]int64, error)

// NewDeadlines returns a scanner over the storages local returns (the
// recovered partitions of the saga's table this instance owns) that times
// out orders still for timeout, looking every interval.
func NewDeadlines(local func() []storage.Storage, send SendFunc, timeout, interval time.Duration, log *slog.Logger) *Deadlines {
	if log == nil {
		log = slog.Default()
	}
	d := &Deadlines{timeout: timeout, now: time.Now, log: log, watch: map[string]watched{}}
	d.Punctuator = punctuate.New(punctuate.Config[*ordersv1.SagaMessage]{
		What: "order deadline scan", Interval: interval, ResendAfter: timeout,
		Local: local, Begin: d.begin, Due: d.due, Send: send, Log: log,
		Now: func() time.Time { return d.now() },
	})
	return d
}

// Scan makes one pass and returns once its Timeouts are acknowledged. It is
// not safe for concurrent use.
func (d *Deadlines) Scan(ctx context.Context) error { return d.Pass(ctx) }

// begin forgets the orders the last pass did not see: they ended, or their
// partition went to another instance; one that comes back is watched
// afresh.
func (d *Deadlines) begin(now time.Time, _ []storage.Storage) {
	for order, w := range d.watch {
		if w.seen != d.lastPass {
			delete(d.watch, order)
		}
	}
	d.lastPass = now
}

// due proposes a Timeout for every open order of st whose step count has
// not moved for the timeout.
func (d *Deadlines) due(st storage.Storage, now time.Time, propose func(punctuate.Proposal[*ordersv1.SagaMessage])) error {
	return eachOpen(st, func(order string, steps int64) {
		w, ok := d.watch[order]
		if !ok || w.steps != steps {
			w = watched{steps: steps, since: now}
		}
		w.seen = now
		d.watch[order] = w
		if now.Sub(w.since) < d.timeout {
			return
		}
		propose(punctuate.Proposal[*ordersv1.SagaMessage]{Key: order, For: strconv.FormatInt(steps, 10),
			Msg: &ordersv1.SagaMessage{OrderId: order, TimestampMs: now.UnixMilli(),
				Kind: &ordersv1.SagaMessage_Timeout{Timeout: &ordersv1.Timeout{Steps: steps}}},
			Sent: func() {
				d.log.Warn("order stalled past the step timeout: timing it out", "order", order, "steps", steps, "timeout", d.timeout)
			},
		})
	})
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
