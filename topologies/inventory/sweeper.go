package inventory

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/lovoo/goka/storage"

	"github.com/titan-commerce/titan/internal/punctuate"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
	"github.com/titan-commerce/titan/schemas/codec"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// Sweeper makes reservation expiry fire on SKUs that see no traffic. On
// each tick it reads the local state of the table partitions this instance
// owns, finds the open reservations past their deadline and sends an Expire
// command for each, keyed by the SKU, through the commands topic.
//
// Why this is reliable: the sweeper only proposes; the processor decides,
// in the SKU's partition order, with the same Decide every other command
// goes through. A proposal lost to a crash is made again on the next tick
// by whichever instance owns the partition then; one made twice, or by two
// instances during a rebalance, finds the reservation already expired and
// yields nothing. Reading goka's storage while goka writes it is what the
// storage contract allows (many readers, one writer).
//
// A proposal is not repeated while it is in flight: the sweeper keeps the
// offset Kafka acknowledged for it and proposes again only once the SKU's
// state has passed that offset with the reservation still open, which a
// lost or failed proposal shows. A processor that lags therefore gets one
// Expire per reservation, not one per tick.
type Sweeper struct {
	local    func() []storage.Storage
	send     SendFunc
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger

	// inFlight maps a proposal (sku, order) to its Expire command. Only
	// Run's goroutine touches it.
	inFlight map[proposal]sent
}

type sent struct {
	offset   int64     // acknowledged offset of the Expire command
	lastSeen time.Time // last sweep that found the reservation due
}

// forgetAfter bounds how long a proposal no sweep finds due any more is
// remembered. Partitions close and reopen during a rebalance, so "not seen
// in this sweep" alone must not end it.
const forgetAfter = time.Minute

// SendFunc produces commands keyed by SKU and returns, for each, the
// offset Kafka acknowledged, or -1 where the send failed.
type SendFunc func(context.Context, []*inventoryv1.Command) ([]int64, error)

type proposal struct{ sku, orderID string }

// sendTimeout bounds one pass's send: ten intervals, at least ten seconds,
// so a broker that does not answer holds up no more than a few passes.
func sendTimeout(interval time.Duration) time.Duration { return max(10*interval, 10*time.Second) }

// ExpireCommandID is the id of the expiry proposed for a reservation: in
// Titan's namespace, and the same from every instance and sweep.
func ExpireCommandID(sku, orderID string, expiresAt time.Time) string {
	return fmt.Sprintf("%sexpire:%s:%s:%d", schemas.ReservedPrefix, sku, orderID, expiresAt.UnixMilli())
}

// NewSweeper returns a sweeper over the storages local returns (the
// recovered partitions of the table this instance owns) that sends with
// send.
func NewSweeper(local func() []storage.Storage, send SendFunc, interval time.Duration, log *slog.Logger) *Sweeper {
	if log == nil {
		log = slog.Default()
	}
	return &Sweeper{local: local, send: send, interval: interval, now: time.Now, log: log, inFlight: map[proposal]sent{}}
}

// Run sweeps every interval until ctx ends.
func (s *Sweeper) Run(ctx context.Context) error {
	return punctuate.Every(ctx, s.interval, s.log, "expiry sweep", s.Sweep)
}

// Sweep runs one pass and returns once its commands are acknowledged. It
// is not safe for concurrent use.
func (s *Sweeper) Sweep(ctx context.Context) error {
	now := s.now()
	var (
		cmds []*inventoryv1.Command
		keys []proposal
	)
	for _, st := range s.local() {
		due, err := dueIn(st, now)
		if err != nil {
			return err
		}
		for _, d := range due {
			key := proposal{d.sku, d.orderID}
			if p, ok := s.inFlight[key]; ok && d.stateOffset < p.offset {
				p.lastSeen = now
				s.inFlight[key] = p
				continue
			}
			keys = append(keys, key)
			cmds = append(cmds, inventory.CommandToWire(inventory.Command{
				ID:      ExpireCommandID(d.sku, d.orderID, d.expiresAt),
				Kind:    inventory.KindExpire,
				SKU:     d.sku,
				OrderID: d.orderID,
				Time:    now,
			}))
		}
	}
	for key, p := range s.inFlight {
		if now.Sub(p.lastSeen) > forgetAfter {
			delete(s.inFlight, key)
		}
	}
	if len(cmds) == 0 {
		return nil
	}
	s.log.Debug("expiring reservations", "count", len(cmds))
	// A send waits at most a few sweeps: what it could not deliver is
	// proposed again by the next sweep that finds it due.
	sctx, cancel := context.WithTimeout(ctx, sendTimeout(s.interval))
	defer cancel()
	offsets, err := s.send(sctx, cmds)
	for i, key := range keys {
		if i < len(offsets) && offsets[i] >= 0 {
			s.inFlight[key] = sent{offset: offsets[i], lastSeen: now}
		} else {
			delete(s.inFlight, key)
		}
	}
	return err
}

// nextExpiry reads SkuState.next_expiry_ms from an encoded state without
// decoding the rest: a sweep looks at every SKU of its partitions, and
// most have nothing due. It returns -1 for bytes it cannot read, so the
// caller decodes them and reports the error.
func nextExpiry(b []byte) int64 {
	const field = 6 // inventoryv1.SkuState.next_expiry_ms
	v, ok := codec.PeekVarint(b, field)
	if !ok {
		return -1
	}
	return int64(v)
}

type due struct {
	sku, orderID string
	expiresAt    time.Time
	// stateOffset is the offset of the last command from the internal
	// topic, where expiries go, that the SKU's state includes.
	stateOffset int64
}

// dueIn finds the due reservations of a table partition. It reads each
// SKU's own key and, by its next deadline, only those of SKUs with one
// due; it steps over the keys of SKUs' memories with one seek per SKU. The
// storage must sort keys and position Seek on the entry found, as Titan's
// (state.Storage) does.
func dueIn(st storage.Storage, now time.Time) ([]due, error) {
	it, err := st.Iterator()
	if err != nil {
		return nil, fmt.Errorf("inventory: sweep: %w", err)
	}
	defer it.Release()
	var out []due
	for ok := it.Next(); ok; {
		key := it.Key()
		if i := bytes.IndexByte(key, 0); i >= 0 {
			// A SKU's memory: the next SKU's key sorts after all of it.
			past := append(bytes.Clone(key[:i]), 1)
			ok = it.Seek(past)
			continue
		}
		v, err := it.Value()
		if err != nil {
			return nil, fmt.Errorf("inventory: sweep: %w", err)
		}
		if next := nextExpiry(v); next == 0 || next > now.UnixMilli() {
			ok = it.Next()
			continue
		}
		sku := string(key)
		stored, err := decodeStored(v)
		if err != nil {
			return nil, err
		}
		mem := stored.memory(st, sku)
		for _, r := range inventory.DueIn(stored.head, mem, now) {
			out = append(out, due{sku: sku, orderID: r.OrderID, expiresAt: r.ExpiresAt, stateOffset: stored.head.InternalOffset})
		}
		if mem.err != nil {
			return nil, fmt.Errorf("inventory: sweep: %w", mem.err)
		}
		ok = it.Next()
	}
	return out, it.Err()
}
