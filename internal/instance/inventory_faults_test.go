package instance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/faults"
	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas/codec"
	"github.com/titan-commerce/titan/sdk"
)

// TestInventorySurvivesFailedWrites: while the inventory's state writes
// fail, its processor stops on every command instead of dead-lettering it,
// the instance keeps serving and says which part failed and why, and once
// the writes work again the processor recovers by itself and every command
// gets its result.
func TestInventorySurvivesFailedWrites(t *testing.T) {
	inventorySurvives(t, (*faults.Injector).FailWrites)
}

// TestInventorySurvivesFailedSends: the same while its sends fail; the
// processor then stops with state written locally whose changelog records
// and events never reached Kafka.
func TestInventorySurvivesFailedSends(t *testing.T) {
	inventorySurvives(t, (*faults.Injector).FailSends)
}

func inventorySurvives(t *testing.T, fail func(*faults.Injector, bool)) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	f := start(ctx, t, instance.TopologyInventory)
	f.waitReady(ctx)
	names := f.inst.Names()
	p, err := sdk.NewProducer(f.brokers, sdk.WithClientID("titan-test-faults"), sdk.WithCommandsTopic(string(names.Commands)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	events := newEventLog(f.reader(string(names.Events)))
	var w ledgerWorkload

	// State from before the fault, which the processor carries across.
	w.send(ctx, t, p, "before")
	events.await(ctx, t, w.ids)

	fail(f.faults, true)
	w.send(ctx, t, p, "during")
	// Two failures: the rebuilt processor failed again, after a backoff.
	st := f.waitFailing(ctx, instance.TopologyInventory, 2)
	t.Logf("/readyz while failing: %+v", st)
	f.checkLogged(instance.TopologyInventory)
	if writes, sends := f.faults.Failed(); writes+sends == 0 {
		t.Fatal("the fault was never hit")
	}
	fail(f.faults, false)

	f.waitReady(ctx)
	w.send(ctx, t, p, "after")
	events.await(ctx, t, w.ids)

	republished := events.checkOneResultEach(t, w.ids)
	w.checkLedgers(ctx, t, f, events)
	f.checkNoDeadLetters(ctx, string(names.DeadLetters))
	f.checkMetrics(ctx, string(names.Group))
	writes, sends := f.faults.Failed()
	t.Logf("%d commands, %d results republished; %d writes and %d sends failed", len(w.ids), republished, writes, sends)
}

// ledgerWorkload sends, per phase and SKU, a restock of 4 and three
// reservations of 2, the first committed and the second released: with
// what earlier phases left, some reservations fit and some are rejected.
type ledgerWorkload struct {
	ids []string
	// restocked sums the restocks sent per SKU.
	restocked map[string]int64
}

var ledgerSKUs = []string{"sku-a", "sku-b", "sku-c", "sku-d", "sku-e", "sku-f"}

func (w *ledgerWorkload) send(ctx context.Context, t *testing.T, p *sdk.Producer, phase string) {
	t.Helper()
	if w.restocked == nil {
		w.restocked = map[string]int64{}
	}
	now := time.Now()
	for _, sku := range ledgerSKUs {
		order := func(n int) string { return fmt.Sprintf("o-%s-%s-%d", phase, sku, n) }
		cmds := []inventory.Command{{ID: "r-" + phase + "-" + sku, Kind: inventory.KindRestock, SKU: sku, Qty: 4}}
		for n := range 3 {
			cmds = append(cmds, inventory.Command{ID: fmt.Sprintf("v-%s-%s-%d", phase, sku, n), Kind: inventory.KindReserve,
				SKU: sku, OrderID: order(n), Qty: 2, TTL: time.Hour})
		}
		cmds = append(cmds,
			inventory.Command{ID: "c-" + phase + "-" + sku, Kind: inventory.KindCommit, SKU: sku, OrderID: order(0)},
			inventory.Command{ID: "l-" + phase + "-" + sku, Kind: inventory.KindRelease, SKU: sku, OrderID: order(1)})
		for _, c := range cmds {
			c.Time = now
			if _, err := p.SendCommand(ctx, inventory.CommandToWire(c)); err != nil {
				t.Fatal(err)
			}
			w.ids = append(w.ids, c.ID)
		}
		w.restocked[sku] += 4
	}
}

// checkLedgers checks each SKU's ledger, as its last event and the API
// show it, against the restocks sent and the reservations the events say
// are open: on hand plus sold is what was restocked, reserved is what the
// open reservations hold, nothing is negative.
func (w *ledgerWorkload) checkLedgers(ctx context.Context, t *testing.T, f *fixture, l *eventLog) {
	t.Helper()
	for _, sku := range ledgerSKUs {
		open := map[string]int64{}
		var sold int64
		var last inventory.Event
		seen := map[string]bool{}
		for _, e := range l.bySKU[sku] {
			if e.IsResult() && seen[e.CommandID] {
				continue // the first result republished
			}
			seen[e.CommandID] = true
			switch e.Type {
			case inventory.EventReserved:
				open[e.OrderID] = e.Qty
			case inventory.EventCommitted:
				delete(open, e.OrderID)
				sold += e.Qty
			case inventory.EventReleased, inventory.EventExpired:
				delete(open, e.OrderID)
			}
			if e.Seq >= last.Seq {
				last = e
			}
		}
		var reserved int64
		for _, q := range open {
			reserved += q
		}
		s := last.Stock
		if s.OnHand+s.Sold != w.restocked[sku] || s.Sold != sold || s.Reserved != reserved ||
			s.OnHand < 0 || s.Reserved < 0 || s.Sold < 0 || s.Reserved > s.OnHand {
			t.Errorf("%s: ledger %+v; restocked %d, sold %d by the events, %d reserved by %d open reservations",
				sku, s, w.restocked[sku], sold, reserved, len(open))
		}
		// The API's view is a copy of the table; it may trail by a moment.
		var got struct {
			OnHand   int64 `json:"on_hand"`
			Reserved int64 `json:"reserved"`
			Sold     int64 `json:"sold"`
		}
		err := pollUntil(ctx, "the API's stock of "+sku, func() (bool, string) {
			status, body, err := f.get(ctx, "/v1/inventory/"+sku)
			if err != nil || status != http.StatusOK || json.Unmarshal(body, &got) != nil {
				return false, fmt.Sprintf("%d %s %v", status, body, err)
			}
			return got.OnHand == s.OnHand && got.Reserved == s.Reserved && got.Sold == s.Sold, string(body)
		}, func(ctx context.Context) { <-ctx.Done() })
		if err != nil {
			t.Error(err)
		}
	}
}

// eventLog reads the inventory events topic and indexes it.
type eventLog struct {
	cl      *kgo.Client
	results map[string][]string // canonical results by command id
	bySKU   map[string][]inventory.Event
	bad     []string
}

func newEventLog(cl *kgo.Client) *eventLog {
	return &eventLog{cl: cl, results: map[string][]string{}, bySKU: map[string][]inventory.Event{}}
}

var canonical = proto.MarshalOptions{Deterministic: true}

func (l *eventLog) poll(ctx context.Context) {
	dec := codec.Event()
	l.cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
		w, err := dec.DecodeMessage(r.Value)
		if err != nil {
			l.bad = append(l.bad, fmt.Sprintf("%d/%d: %v", r.Partition, r.Offset, err))
			return
		}
		e := inventory.EventFromWire(w)
		l.bySKU[e.SKU] = append(l.bySKU[e.SKU], e)
		if e.IsResult() {
			b, err := canonical.Marshal(w)
			if err != nil {
				l.bad = append(l.bad, err.Error())
			}
			l.results[e.CommandID] = append(l.results[e.CommandID], string(b))
		}
	})
}

// await reads until every command in ids has a result.
func (l *eventLog) await(ctx context.Context, t *testing.T, ids []string) {
	t.Helper()
	err := pollUntil(ctx, "results of every command", func() (bool, string) {
		for _, id := range ids {
			if len(l.results[id]) == 0 {
				return false, id
			}
		}
		return true, ""
	}, l.poll)
	if err != nil {
		t.Fatal(err)
	}
}

// checkOneResultEach checks that each command has one result: any copies
// are the first republished, byte for byte. It returns how many commands
// had copies.
func (l *eventLog) checkOneResultEach(t *testing.T, ids []string) (republished int) {
	t.Helper()
	if len(l.bad) > 0 {
		t.Errorf("undecodable events: %v", l.bad)
	}
	for _, id := range ids {
		rs := l.results[id]
		if distinct := len(slices.Compact(slices.Sorted(slices.Values(rs)))); distinct != 1 {
			t.Errorf("command %s has %d different results", id, distinct)
		}
		if len(rs) > 1 {
			republished++
		}
	}
	for id := range l.results {
		if !slices.Contains(ids, id) && !strings.HasPrefix(id, "titan:") {
			t.Errorf("a result for %s, which no one sent", id)
		}
	}
	return republished
}
