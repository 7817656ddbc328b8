package inventorytopo

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

// Sweeper makes reservation expiry fire on SKUs that see no traffic: a
// punctuator (internal/punctuate) whose pass reads the local state of the
// table partitions this instance owns, finds the open reservations past
// their deadline and proposes an Expire command for each, keyed by the
// SKU, on the internal commands topic. The processor decides it, in the
// SKU's partition order, with the same Decide every other command goes
// through; one made twice, or by two instances during a rebalance, finds
// the reservation already expired and yields nothing.
//
// A proposal is not repeated while it is in flight: the punctuator keeps
// the offset Kafka acknowledged for it, and the SKU's head the offset of
// the last internal command it applied (Proposal.Applied), so an Expire is
// proposed again only once the SKU's state has passed it with the
// reservation still open, which a lost or failed proposal shows. A
// processor that lags therefore gets one Expire per reservation, not one
// per pass.
//
// What a pass costs follows what is due, not the size of the catalogue:
// the expiry index (store.go) lists a partition's open reservations by
// deadline, and a pass reads the due part of it and the heads of the SKUs
// it names. The index lists every reservation whose expiry key is stored.
// A reservation can be open without one: named by a head's redo whose
// writes an incarnation did not live to make, or kept inside a SKU still
// in layout 1 until its next command. Both are in the partition when the
// sweeper first sees it, since this instance's processor writes neither:
// so it walks the partition's heads once, walkBudget of them a pass, and
// watches the SKUs it finds so (unlisted) until their next command makes
// them ordinary. Such a reservation due before the walk reaches it is
// found by the walk itself.
type Sweeper struct {
	*punctuate.Punctuator[*inventoryv1.Command]
	now func() time.Time
	// partitions holds what the sweeper knows of each storage it has
	// seen. Only the punctuator's passes touch it.
	partitions map[storage.Storage]*partitionSweep
}

// partitionSweep is a partition's walk and what it found.
type partitionSweep struct {
	// walk is the key of the head the walk goes on from; nil before the
	// first pass and once walked is set.
	walk   []byte
	walked bool
	// watch holds the SKUs with open reservations that the index may not
	// list.
	watch map[string]bool
}

// walkBudget is how many heads of a partition a pass walks over until it
// has walked them all: about 5 % of a core for 8 partitions on the
// benchmark machine, and a walk of 125,000 SKUs a partition in 4 minutes.
// A reservation the index cannot list is rare (see Sweeper), and one due
// before the walk reaches it expires that much late.
const walkBudget = 500

// SendFunc produces commands keyed by SKU and returns, for each, the
// offset Kafka acknowledged, or -1 where the send failed.
type SendFunc func(context.Context, []*inventoryv1.Command) ([]int64, error)

// ExpireCommandID is the id of the expiry proposed for a reservation: in
// Titan's namespace, and the same from every instance and pass.
func ExpireCommandID(sku, orderID string, expiresAt time.Time) string {
	return fmt.Sprintf("%sexpire:%s:%s:%d", schemas.ReservedPrefix, sku, orderID, expiresAt.UnixMilli())
}

// NewSweeper returns a sweeper over the storages local returns (the
// recovered partitions of the table this instance owns) that sends with
// send.
func NewSweeper(local func() []storage.Storage, send SendFunc, interval time.Duration, log *slog.Logger) *Sweeper {
	s := &Sweeper{now: time.Now, partitions: map[storage.Storage]*partitionSweep{}}
	s.Punctuator = punctuate.New(punctuate.Config[*inventoryv1.Command]{
		// The state says how far it has read, so ResendAfter only bounds
		// how long a proposal no pass finds due any more is remembered.
		What: "expiry sweep", Interval: interval, ResendAfter: time.Minute,
		Local: local, Begin: s.begin, Due: s.due, Send: send, Log: log,
		Now: func() time.Time { return s.now() },
	})
	return s
}

// Sweep runs one pass and returns once its commands are acknowledged. It
// is not safe for concurrent use.
func (s *Sweeper) Sweep(ctx context.Context) error { return s.Pass(ctx) }

// begin lets go of the storages closed since the last pass.
func (s *Sweeper) begin(_ time.Time, local []storage.Storage) {
	partitions := make(map[storage.Storage]*partitionSweep, len(local))
	for _, st := range local {
		ps := s.partitions[st]
		if ps == nil {
			ps = &partitionSweep{watch: map[string]bool{}}
		}
		partitions[st] = ps
	}
	s.partitions = partitions
}

// due proposes an Expire for every due reservation of st.
func (s *Sweeper) due(st storage.Storage, now time.Time, propose func(punctuate.Proposal[*inventoryv1.Command])) error {
	due, err := dueIn(st, now, s.partitions[st], walkBudget)
	if err != nil {
		return err
	}
	for _, d := range due {
		propose(punctuate.Proposal[*inventoryv1.Command]{
			Key:     d.sku + "\x00" + d.orderID,
			Tracked: true,
			Applied: d.stateOffset,
			Msg: inventory.CommandToWire(inventory.Command{
				ID:      ExpireCommandID(d.sku, d.orderID, d.expiresAt),
				Kind:    inventory.KindExpire,
				SKU:     d.sku,
				OrderID: d.orderID,
				Time:    now,
			}),
		})
	}
	return nil
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

// dueIn finds the due reservations of a table partition: those of the SKUs
// the expiry index lists as due and of those ps watches, and, while ps has
// not walked the partition, those of the next budget heads of its walk
// (see Sweeper). A SKU found twice is looked at once.
func dueIn(st storage.Storage, now time.Time, ps *partitionSweep, budget int) ([]due, error) {
	skus, err := dueSKUs(st, now)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(skus))
	for _, sku := range skus {
		seen[sku] = true
	}
	for sku := range ps.watch {
		if !seen[sku] {
			seen[sku] = true
			skus = append(skus, sku)
		}
	}
	var out []due
	for _, sku := range skus {
		v, err := st.Get(sku)
		if err != nil {
			return nil, fmt.Errorf("inventory: sweep: %w", err)
		}
		if v == nil {
			delete(ps.watch, sku)
			continue
		}
		stored, err := decodeStored(v)
		if err != nil {
			return nil, err
		}
		if ps.watch[sku] {
			if u, err := unlisted(st, stored); err != nil {
				return nil, err
			} else if !u {
				delete(ps.watch, sku)
			}
		}
		if out, err = appendDue(out, st, sku, stored, now); err != nil {
			return nil, err
		}
	}
	if ps.walked {
		return out, nil
	}
	next, err := walkHeads(st, ps.walk, budget, func(key, v []byte) error {
		if seen[string(key)] {
			return nil
		}
		if nextExpiry(v) == 0 {
			// No open reservation.
			return nil
		}
		stored, err := decodeStored(v)
		if err != nil {
			return err
		}
		u, err := unlisted(st, stored)
		if err != nil {
			return err
		}
		if u {
			ps.watch[string(key)] = true
		}
		out, err = appendDue(out, st, string(key), stored, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	ps.walk, ps.walked = next, next == nil
	return out, nil
}

// unlisted reports whether the SKU whose own key holds v may have open
// reservations the expiry index does not list: kept inside a value of
// layout 1, or named by the value's redo with their expiry keys not
// written.
func unlisted(st storage.Storage, v stored) (bool, error) {
	if v.legacy != nil {
		return v.head.NextExpiry != (time.Time{}), nil
	}
	for _, w := range v.redo {
		if w.value == nil || !isExpiryKey(w.key) {
			continue
		}
		have, err := st.Get(w.key)
		if err != nil {
			return false, fmt.Errorf("inventory: sweep: %w", err)
		}
		if have == nil {
			return true, nil
		}
	}
	return false, nil
}

// dueSKUs lists, once each, the SKUs the expiry index names with a
// deadline at or before now.
func dueSKUs(st storage.Storage, now time.Time) ([]string, error) {
	it, err := st.IteratorWithRange([]byte(expiryIndexPrefix), dueKey(now))
	if err != nil {
		return nil, fmt.Errorf("inventory: sweep: %w", err)
	}
	defer it.Release()
	var skus []string
	seen := map[string]bool{}
	for it.Next() {
		sku, _, ok := fromExpiryIndex(it.Key())
		if ok && !seen[sku] {
			seen[sku] = true
			skus = append(skus, sku)
		}
	}
	return skus, it.Err()
}

// walkHeads calls fn with the key and value of each SKU's own key from
// from on, budget of them, stepping over SKUs' memories with one seek per
// SKU and stopping before the expiry index. It returns the key of the
// head after the last one it handed over, or nil once it has reached the
// end. The storage must sort keys and position Seek on the entry found,
// as Titan's (state.Storage) does.
func walkHeads(st storage.Storage, from []byte, budget int, fn func(key, value []byte) error) ([]byte, error) {
	it, err := st.IteratorWithRange(from, []byte(expiryIndexPrefix))
	if err != nil {
		return nil, fmt.Errorf("inventory: sweep: %w", err)
	}
	defer it.Release()
	for ok := it.Next(); ok; {
		key := it.Key()
		if i := bytes.IndexByte(key, 0); i >= 0 {
			// A SKU's memory: the next SKU's key sorts after all of it.
			past := append(bytes.Clone(key[:i]), 1)
			ok = it.Seek(past)
			continue
		}
		if budget == 0 {
			return bytes.Clone(key), nil
		}
		budget--
		v, err := it.Value()
		if err != nil {
			return nil, fmt.Errorf("inventory: sweep: %w", err)
		}
		if err := fn(key, v); err != nil {
			return nil, err
		}
		ok = it.Next()
	}
	return nil, it.Err()
}

// appendDue appends the due reservations of the SKU whose own key holds
// stored.
func appendDue(out []due, st storage.Storage, sku string, stored stored, now time.Time) ([]due, error) {
	mem := stored.memory(st, sku)
	for _, r := range inventory.DueIn(stored.head, mem, now) {
		out = append(out, due{sku: sku, orderID: r.OrderID, expiresAt: r.ExpiresAt, stateOffset: stored.head.InternalOffset})
	}
	if mem.err != nil {
		return nil, fmt.Errorf("inventory: sweep: %w", mem.err)
	}
	return out, nil
}
