package failover_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
	"github.com/titan-commerce/titan/schemas/codec"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// seenEvent is one record of the inventory's events topic.
type seenEvent struct {
	partition int32
	offset    int64
	at        time.Time // the record's timestamp: when Titan produced it
	ev        inventory.Event
	// canon identifies the event's content: two records with equal canon are one event published
	// twice.
	canon string
}

var canonicalOpts = proto.MarshalOptions{Deterministic: true}

func canonical(e inventory.Event) string {
	b, err := canonicalOpts.Marshal(inventory.EventToWire(e))
	if err != nil {
		panic(err)
	}
	return string(b)
}

// eventLog reads the inventory's events topic from the start and indexes what it saw.
type eventLog struct {
	cl      *kgo.Client
	next    map[int32]int64
	bySKU   map[string][]seenEvent
	results map[string][]seenEvent // by command id
	// byPartition holds every record's timestamp in offset order, for the failover times.
	byPartition map[int32][]time.Time
	records     int
	// lastRead is when the last record was read.
	lastRead time.Time
	bad      []string
}

func (d *deployment) eventLog() *eventLog {
	d.t.Helper()
	return &eventLog{cl: d.reader(string(d.inv.Events)), next: map[int32]int64{}, bySKU: map[string][]seenEvent{},
		results: map[string][]seenEvent{}, byPartition: map[int32][]time.Time{}}
}

// reader consumes topic from the start, without a group.
func (d *deployment) reader(topic string) *kgo.Client {
	d.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(cl.Close)
	return cl
}

func (l *eventLog) poll(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	dec := codec.Event()
	l.cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
		l.records++
		l.lastRead = time.Now()
		l.next[r.Partition] = r.Offset + 1
		l.byPartition[r.Partition] = append(l.byPartition[r.Partition], r.Timestamp)
		w, err := dec.DecodeMessage(r.Value)
		if err != nil {
			l.bad = append(l.bad, fmt.Sprintf("%d/%d: %v", r.Partition, r.Offset, err))
			return
		}
		e := inventory.EventFromWire(w)
		s := seenEvent{partition: r.Partition, offset: r.Offset, at: r.Timestamp, ev: e, canon: canonical(e)}
		if string(r.Key) != e.SKU {
			l.bad = append(l.bad, fmt.Sprintf("%d/%d: key %q for sku %q", r.Partition, r.Offset, r.Key, e.SKU))
		}
		l.bySKU[e.SKU] = append(l.bySKU[e.SKU], s)
		if e.IsResult() {
			l.results[e.CommandID] = append(l.results[e.CommandID], s)
		}
	})
}

// pollUntil reads until cond holds or ctx ends.
func (l *eventLog) pollUntil(ctx context.Context, what string, cond func() (bool, string)) error {
	for {
		ok, detail := cond()
		if ok {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w; still missing: %s", what, ctx.Err(), detail)
		}
		l.poll(ctx)
	}
}

// quiet reports whether no event has come for d. Every command answered
// is not yet the end: the load's short reservations expire after its last
// command, by the sweeper's Expire commands, and each moves its SKU's
// ledger once more.
func (l *eventLog) quiet(d time.Duration) func() (bool, string) {
	return func() (bool, string) {
		since := time.Since(l.lastRead)
		return since >= d, fmt.Sprintf("the last event came %v ago", since.Round(time.Millisecond))
	}
}

// answered reports whether every command of c has a result.
func (l *eventLog) answered(c *commands) (bool, string) {
	var missing []string
	for _, cmd := range c.sent {
		if len(l.results[cmd.GetCommandId()]) == 0 {
			missing = append(missing, cmd.GetCommandId())
		}
	}
	if len(missing) == 0 {
		return true, ""
	}
	return false, fmt.Sprintf("%d of %d commands without a result (e.g. %v); %d events read",
		len(missing), len(c.sent), missing[:min(len(missing), 5)], l.records)
}

// errs reports the first few of many similar failures and counts the rest.
type errs struct {
	t    *testing.T
	what string
	n    int
}

func (e *errs) errorf(format string, args ...any) {
	e.t.Helper()
	e.n++
	if e.n <= 10 {
		e.t.Errorf(e.what+": "+format, args...)
	}
}

func (e *errs) done() {
	e.t.Helper()
	if e.n > 10 {
		e.t.Errorf("%s: %d more failures", e.what, e.n-10)
	}
}

// ledger is what one SKU's events say of it.
type ledger struct {
	last      inventory.Stock // after the last distinct event
	restocked int64
	sold      int64
	open      int64 // units of the reservations still open
	distinct  int
	copies    int // records beyond the first of an event
	late      int // distinct events the topic holds after one with a higher seq
}

// checkResults checks that every command of c has results, that all of them are copies of one
// event of the kind the command asks for, and that no client command the test did not send has a
// result.
func checkResults(t *testing.T, c *commands, l *eventLog) (republished int) {
	t.Helper()
	e := &errs{t: t, what: "inventory results"}
	defer e.done()
	for _, b := range l.bad {
		e.errorf("bad record %s", b)
	}
	for _, cmd := range c.sent {
		res := l.results[cmd.GetCommandId()]
		if len(res) == 0 {
			e.errorf("no result for %s", cmd.GetCommandId())
			continue
		}
		republished += len(res) - 1
		for _, r := range res[1:] {
			if r.canon != res[0].canon {
				e.errorf("%s has two results:\n %+v (%d/%d)\n %+v (%d/%d)", cmd.GetCommandId(),
					res[0].ev, res[0].partition, res[0].offset, r.ev, r.partition, r.offset)
			}
		}
		if want := resultTypes(cmd); !slices.Contains(want, res[0].ev.Type) {
			e.errorf("%s got %v (%s), want one of %v", cmd.GetCommandId(), res[0].ev.Type, res[0].ev.Reason, want)
		}
	}
	for id, res := range l.results {
		if strings.HasPrefix(id, c.prefix+"-") && c.byID[id] == nil {
			e.errorf("result for a command never sent: %+v", res[0].ev)
		}
	}
	return republished
}

func resultTypes(c *inventoryv1.Command) []inventory.EventType {
	switch c.GetKind().(type) {
	case *inventoryv1.Command_Restock:
		return []inventory.EventType{inventory.EventRestocked}
	case *inventoryv1.Command_Reserve:
		return []inventory.EventType{inventory.EventReserved, inventory.EventRejected}
	case *inventoryv1.Command_Commit:
		return []inventory.EventType{inventory.EventCommitted, inventory.EventRejected}
	case *inventoryv1.Command_Release:
		return []inventory.EventType{inventory.EventReleased, inventory.EventRejected}
	}
	return nil
}

// chain walks one SKU's distinct events in the order of their sequence numbers and checks that
// they form one history: numbers that start at 1 and never skip nor repeat (a gap is a command
// applied whose events were lost; a repeat is one applied twice), each event's ledger the previous
// one's moved by exactly that event, each reservation made once and ended at most once, with its
// units. The topic's order is not the history's: a successor publishes again the events of
// commands whose state reached the changelog before their events reached the topic, when it
// replays their records, and a SKU's two input topics may replay later than new commands on the
// other one. Consumers order a SKU's events by Seq (inventory.IndexEvent does); lg.late counts
// the events the topic holds after a later one.
func chain(e *errs, sku string, seen []seenEvent) ledger {
	var (
		lg      ledger
		seq     int64
		done    = map[string]bool{}
		stage   = map[string]inventory.EventType{}
		qty     = map[string]int64{}
		prevLoc string
		history []seenEvent
		highest int64
		// The command of seq, and whether its result is in: one command
		// per number, its result last.
		seqCmd    string
		seqResult bool
	)
	for _, s := range seen {
		if done[s.canon] {
			lg.copies++
			continue
		}
		done[s.canon] = true
		if s.ev.Seq < highest {
			lg.late++
		}
		highest = max(highest, s.ev.Seq)
		history = append(history, s)
	}
	// Stable: a command's expiries come before its result, in one publication.
	slices.SortStableFunc(history, func(a, b seenEvent) int { return cmp.Compare(a.ev.Seq, b.ev.Seq) })
	for _, s := range history {
		lg.distinct++
		ev := s.ev
		loc := fmt.Sprintf("%s at %d/%d (%s by %s, seq %d)", sku, s.partition, s.offset, ev.Type, ev.CommandID, ev.Seq)
		switch {
		case ev.Seq == seq+1:
			seq, seqCmd, seqResult = ev.Seq, ev.CommandID, ev.IsResult()
		case ev.Seq == seq && seq > 0 && ev.CommandID == seqCmd && !seqResult:
			// Another event of the same command: expiries it found due come before its result.
			seqResult = ev.IsResult()
		default:
			e.errorf("%s follows seq %d (%s): a command lost or applied twice", loc, seq, prevLoc)
			seq, seqCmd, seqResult = max(seq, ev.Seq), ev.CommandID, ev.IsResult()
		}
		prevLoc = loc
		want := lg.last
		switch ev.Type {
		case inventory.EventRestocked:
			want.OnHand += ev.Qty
			lg.restocked += ev.Qty
		case inventory.EventReserved:
			if _, made := stage[ev.OrderID]; made {
				e.errorf("%s: order %s reserved again", loc, ev.OrderID)
			}
			stage[ev.OrderID], qty[ev.OrderID] = ev.Type, ev.Qty
			want.Reserved += ev.Qty
		case inventory.EventCommitted, inventory.EventReleased, inventory.EventExpired:
			if stage[ev.OrderID] != inventory.EventReserved {
				e.errorf("%s: order %s ended while %v", loc, ev.OrderID, stage[ev.OrderID])
			}
			// A commit may sell part of a reservation (a flash sale's
			// settlement of what it sold) and returns the rest; every other
			// end returns all of it.
			if ev.Qty != qty[ev.OrderID] && (ev.Type != inventory.EventCommitted || ev.Qty > qty[ev.OrderID]) {
				e.errorf("%s: %d units of a reservation of %d", loc, ev.Qty, qty[ev.OrderID])
			}
			stage[ev.OrderID] = ev.Type
			want.Reserved -= qty[ev.OrderID]
			if ev.Type == inventory.EventCommitted {
				want.OnHand -= ev.Qty
				want.Sold += ev.Qty
				lg.sold += ev.Qty
			}
		}
		if ev.Stock != want {
			e.errorf("%s: ledger %+v, the one before it moved by the event gives %+v", loc, ev.Stock, want)
		}
		if ev.Stock.OnHand < 0 || ev.Stock.Reserved < 0 || ev.Stock.Sold < 0 || ev.Stock.Available() < 0 {
			e.errorf("%s: negative ledger %+v", loc, ev.Stock)
		}
		lg.last = ev.Stock
	}
	for order, st := range stage {
		if st == inventory.EventReserved {
			lg.open += qty[order]
		}
	}
	return lg
}

// checkLedgers chains every SKU's events and checks each ledger against the commands sent: on
// hand plus sold is what was restocked, reserved is what the open reservations hold, and the API
// of every instance ends up showing the ledger the events end with.
func (d *deployment) checkLedgers(ctx context.Context, c *commands, l *eventLog, ids ...string) (distinct, copies, late int) {
	t := d.t
	t.Helper()
	e := &errs{t: t, what: "ledgers"}
	defer e.done()
	final := map[string]inventory.Stock{}
	for _, sku := range slices.Sorted(maps.Keys(l.bySKU)) {
		lg := chain(e, sku, l.bySKU[sku])
		distinct += lg.distinct
		copies += lg.copies
		late += lg.late
		final[sku] = lg.last
		if !strings.HasPrefix(sku, "sku-") {
			continue // the flash sale's SKU, which checkSale checks
		}
		k := lg.last
		if lg.restocked != c.restocked[sku] {
			e.errorf("%s: restocked events sum to %d, restocks sent to %d", sku, lg.restocked, c.restocked[sku])
		}
		if k.OnHand+k.Sold != c.restocked[sku] {
			e.errorf("%s: on hand %d + sold %d != restocked %d", sku, k.OnHand, k.Sold, c.restocked[sku])
		}
		if k.Reserved != lg.open {
			e.errorf("%s: reserved %d, the open reservations hold %d", sku, k.Reserved, lg.open)
		}
		if k.Sold != lg.sold {
			e.errorf("%s: sold %d, commits sum to %d", sku, k.Sold, lg.sold)
		}
	}
	for _, sku := range c.skus {
		if _, ok := final[sku]; !ok && c.restocked[sku] > 0 {
			e.errorf("%s: restocked %d and no event", sku, c.restocked[sku])
		}
	}
	for _, id := range ids {
		d.checkAPIStock(ctx, e, id, final)
	}
	return distinct, copies, late
}

// checkAPIStock waits until instance id's API shows every SKU's final ledger.
func (d *deployment) checkAPIStock(ctx context.Context, e *errs, id string, final map[string]inventory.Stock) {
	cl := &http.Client{Timeout: 10 * time.Second}
	base := "http://" + d.proc(id).Addr
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, sku := range slices.Sorted(maps.Keys(final)) {
		want := final[sku]
		var got stockJSON
		err := kafkatest.WaitFor(wctx, id+" shows "+sku, func() (bool, string) {
			resp, err := cl.Get(base + "/v1/inventory/" + sku)
			if err != nil {
				return false, err.Error()
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return false, resp.Status
			}
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				return false, err.Error()
			}
			return got.stock() == want, fmt.Sprintf("%+v", got)
		})
		if err != nil {
			e.errorf("%s: %s: the events end with %+v: %v", id, sku, want, err)
		}
	}
}

// stockJSON is the API's answer to a stock read.
type stockJSON struct {
	OnHand   int64 `json:"on_hand"`
	Reserved int64 `json:"reserved"`
	Sold     int64 `json:"sold"`
}

func (s stockJSON) stock() inventory.Stock {
	return inventory.Stock{OnHand: s.OnHand, Reserved: s.Reserved, Sold: s.Sold}
}

// reservedCommand reports whether id is one of Titan's own command ids (the sweeper's expiries,
// a flash sale's allocation and settlement).
func reservedCommand(id string) bool { return schemas.Reserved(id) }
