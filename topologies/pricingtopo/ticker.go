package pricingtopo

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/lovoo/goka/storage"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/localindex"
	"github.com/titan-commerce/titan/internal/punctuate"
	"github.com/titan-commerce/titan/processors/pricing"
	"github.com/titan-commerce/titan/schemas"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
)

// Ticker publishes the price changes time alone causes (a campaign starting
// or ending, a demand interval closing) on SKUs that see no traffic: a
// punctuator (internal/punctuate) whose pass reads, in the table
// partitions this instance owns, the due part of the index of every SKU's
// pricing.NextChange (nextChangeIndex) and proposes, for each SKU whose
// change has come, a tick command, keyed by the SKU, on the internal
// commands topic.
//
// The processor decides a tick with the same Apply every other command goes
// through, and publishes each change at its boundary's time whatever the
// tick's. A tick sent twice, or by two instances during a rebalance, finds
// nothing left to publish.
//
// A tick is not repeated while it is in flight: once Kafka has acknowledged
// a tick for a SKU's due time, the SKU is skipped until its state shows
// another due time, which processing the tick always brings (the clock
// passes the due time, and NextChange is after the clock). Pricing states
// carry no command offset to tell a lagging processor from a lost tick, so
// a tick still unprocessed after resendAfter is sent again: a lagging
// processor gets one more tick per SKU per resendAfter, not one per pass.
//
// A tick is stamped with this instance's wall clock, so a clock running
// ahead of the producers' moves a SKU's clock ahead by as much; the
// commands then timed behind it are decided at the SKU's clock, as any
// late input is.
type Ticker struct {
	*punctuate.Punctuator[*pricingv1.Command]
	now func() time.Time
}

// resendAfter is how long an acknowledged tick may stay unprocessed before
// it is sent again. It outlasts a partition takeover (10-16 s), the usual
// reason a tick waits, and bounds how long a tick the processor somehow
// never applied delays a SKU's price.
const resendAfter = 30 * time.Second

// SendFunc produces commands to the commands topic, keyed by SKU, and
// returns the offset of each, -1 where its send failed.
type SendFunc func(context.Context, []*pricingv1.Command) ([]int64, error)

// NewTicker returns a ticker over the storages local returns (the
// recovered partitions of the table this instance owns) that sends with
// send every interval.
func NewTicker(local func() []storage.Storage, send SendFunc, interval time.Duration, log *slog.Logger) *Ticker {
	t := &Ticker{now: time.Now}
	t.Punctuator = punctuate.New(punctuate.Config[*pricingv1.Command]{
		What: "price tick", Interval: interval, ResendAfter: resendAfter,
		Local: local, Due: t.due, Send: send, Log: log,
		Now: func() time.Time { return t.now() },
	})
	return t
}

// due proposes a tick for every SKU of st whose next change has come.
func (t *Ticker) due(st storage.Storage, now time.Time, propose func(punctuate.Proposal[*pricingv1.Command])) error {
	return t.eachDue(st, now, func(sku string, due time.Time) error {
		propose(punctuate.Proposal[*pricingv1.Command]{Key: sku, For: strconv.FormatInt(due.UnixMilli(), 10),
			Msg: TickCommand(sku, due, now)})
		return nil
	})
}

// TickCommand is the tick for a SKU whose next change is due, sent at now.
// Its id names the due time, so every tick for the same boundary has the
// same id wherever and however often it is sent.
func TickCommand(sku string, due, now time.Time) *pricingv1.Command {
	return pricing.CommandToWire(pricing.Command{
		ID:   fmt.Sprintf("%stick:%s:%d", schemas.ReservedPrefix, sku, due.UnixMilli()),
		Kind: pricing.KindTick,
		SKU:  sku,
		Time: now,
	})
}

// eachDue calls fn for every SKU of st whose next change is at or before
// now, with that time, in order of time. It reads the part of the
// partition's next-change index that is due, not every SKU.
func (t *Ticker) eachDue(st storage.Storage, now time.Time, fn func(sku string, due time.Time) error) error {
	it, err := st.IteratorWithRange([]byte(nextChangePrefix), dueLimit(now))
	if err != nil {
		return fmt.Errorf("pricing: tick: %w", err)
	}
	defer it.Release()
	for it.Next() {
		// Filtered here too: not every storage keeps a range's order and
		// bounds as Titan's does (goka's in-memory one, in tests).
		sku, due, ok := fromNextChangeIndex(it.Key())
		if !ok || due.After(now) {
			continue
		}
		if err := fn(sku, due); err != nil {
			return err
		}
	}
	return it.Err()
}

// nextChangeIndex orders every SKU of a partition that has a change
// coming by the time of that change, under keys
// "\xffc<8-byte time><sku>" that exist only in the local store
// (internal/localindex): the ticker reads what is due instead of every
// SKU. The index key moves with the state's next change, so every write
// of the table reads the state it replaces; prices are written far less
// often than the ticker would read them. A state the index cannot decode
// gets no key: the processor could not apply a tick to it either.
var nextChangeIndex = localindex.Rule{
	Name:   "next-change-v1",
	Prefix: []byte(nextChangePrefix),
	Moves:  true,
	Derive: func(key, value []byte) ([]byte, bool) {
		if value == nil {
			return nil, false
		}
		due, err := nextChange(value)
		if err != nil || due.IsZero() {
			return nil, false
		}
		out := make([]byte, 0, len(nextChangePrefix)+8+len(key))
		out = append(out, nextChangePrefix...)
		out = binary.BigEndian.AppendUint64(out, uint64(due.UnixMilli())^(1<<63))
		return append(out, key...), true
	},
}

const nextChangePrefix = "\xffc"

// dueLimit is where the index's entries due at or before now end.
func dueLimit(now time.Time) []byte {
	return binary.BigEndian.AppendUint64([]byte(nextChangePrefix), uint64(now.UnixMilli()+1)^(1<<63))
}

// fromNextChangeIndex reads an index key; false for the index's own name.
func fromNextChangeIndex(key []byte) (sku string, due time.Time, ok bool) {
	rest, ok := bytes.CutPrefix(key, []byte(nextChangePrefix))
	if !ok || len(rest) <= 8 {
		return "", time.Time{}, false
	}
	ms := int64(binary.BigEndian.Uint64(rest) ^ (1 << 63))
	return string(rest[8:]), time.UnixMilli(ms), true
}

// Fields of pricingv1.SkuPrice that pricing.NextChange never reads and
// that make up most of a stored state: up to Policy.HistoryLimit published
// changes and Policy.MaxApplied remembered command ids. The next-change
// index reads the state this way at every write, twice (the value written
// and the one it replaces), and once per SKU when a store is indexed.
var skippedFields = map[protowire.Number]bool{
	6: true, // current
	7: true, // history
	8: true, // applied
}

// nextChange is pricing.NextChange of an encoded state. It decodes the
// state without the fields in skippedFields rather than reading only the
// fields NextChange needs, so the decision stays in the pricing package,
// and a field added to the state later is read unless it is listed here.
func nextChange(b []byte) (time.Time, error) {
	kept := make([]byte, 0, len(b))
	for rest := b; len(rest) > 0; {
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 {
			return time.Time{}, fmt.Errorf("decode state: %w", protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, rest[n:])
		if m < 0 {
			return time.Time{}, fmt.Errorf("decode state: %w", protowire.ParseError(m))
		}
		if !skippedFields[num] {
			kept = append(kept, rest[:n+m]...)
		}
		rest = rest[n+m:]
	}
	var w pricingv1.SkuPrice
	if err := proto.Unmarshal(kept, &w); err != nil {
		return time.Time{}, fmt.Errorf("decode state: %w", err)
	}
	return pricing.NextChange(pricing.StateFromWire(&w)), nil
}
