package inventorytopo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// Batches of the workload: at most one batch of this many commands per
// pace, which puts 20,000 commands over about 10 s.
const (
	batch = 200
	pace  = 100 * time.Millisecond
)

// TestTwoInstances runs two instances sharing the partitions of one
// deployment under a mixed workload, then checks the events and the table
// against a replay of the commands topic through Decide, and the ledger
// invariants against the commands sent.
func TestTwoInstances(t *testing.T) {
	began := time.Now()
	d := newDeployment(t)
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()

	a := d.start(ctx, "a", t.TempDir())
	b := d.start(ctx, "b", t.TempDir())
	assigned := d.waitBalanced(ctx, a, b)
	t.Logf("balanced after %v: %v", time.Since(began).Round(time.Millisecond), assigned)

	l := d.eventLog()
	v := d.startView(ctx)
	w := newWorkload(1, "two", 200)
	s := d.sender()
	produced := time.Now()
	if err := produce(ctx, s, w, 20_000, batch, pace); err != nil {
		t.Fatal(err)
	}
	t.Logf("produced %d commands in %v", w.sends, time.Since(produced).Round(time.Millisecond))

	summary := d.verify(ctx, w, l, v)
	if st, after, err := d.assignment(ctx); err != nil || st != "Stable" || !slices.Equal(after["a"], assigned["a"]) {
		t.Logf("assignment changed during the run: %s %v (%v)", st, after, err)
	}
	t.Logf("%s elapsed=%v (from first send %v)", summary, time.Since(began).Round(time.Millisecond),
		time.Since(produced).Round(time.Millisecond))
}

// TestInstanceStoppedMidRun stops one of two instances a third of the way
// through the workload: the other must take its partitions over from the
// changelogs, which its own state directory never held. The stopped
// instance then restarts on its old state directory and rejoins.
func TestInstanceStoppedMidRun(t *testing.T) {
	began := time.Now()
	d := newDeployment(t)
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()

	// a alone first, so b's directory only ever holds what b is given
	// when it joins.
	aDir := t.TempDir()
	a := d.start(ctx, "a", aDir)
	d.waitBalanced(ctx, a)
	b := d.start(ctx, "b", t.TempDir())
	assigned := d.waitBalanced(ctx, a, b)
	table := d.names.Table()
	var fresh []int32
	for _, p := range assigned["a"] {
		if !slices.Contains(b.localPartitions(table), p) {
			fresh = append(fresh, p)
		}
	}
	if len(fresh) == 0 {
		t.Fatalf("b already holds state for all of a's partitions %v: nothing to take over from the changelog", assigned["a"])
	}
	t.Logf("balanced after %v: %v; b has no state for %v", time.Since(began).Round(time.Millisecond), assigned, fresh)

	l := d.eventLog()
	v := d.startView(ctx)
	w := newWorkload(2, "stop", 200)
	s := d.sender()
	const total = 12_000
	if err := produce(ctx, s, w, total/3, batch, pace); err != nil {
		t.Fatal(err)
	}
	// a stops while the commands keep coming; b must take a's partitions
	// over, recovering them from the changelog.
	type takeover struct {
		assigned map[string][]int32
		took     time.Duration
		err      error
	}
	taken := make(chan takeover, 1)
	go func() {
		stopAt := time.Now()
		if err := a.stop(); err != nil {
			taken <- takeover{err: fmt.Errorf("stopping a: %w", err)}
			return
		}
		assigned, err := d.balanced(ctx, b)
		taken <- takeover{assigned: assigned, took: time.Since(stopAt), err: err}
	}()
	if err := produce(ctx, s, w, total-total/3, batch, pace); err != nil {
		t.Fatal(err)
	}
	tk := <-taken
	if tk.err != nil {
		t.Fatal(tk.err)
	}
	t.Logf("a stopped in %v; b held %v %v after the stop began", a.took.Round(time.Millisecond),
		tk.assigned["b"], tk.took.Round(time.Millisecond))
	t.Logf("takeover: %s", d.verify(ctx, w, l, v))
	if local := b.localPartitions(table); !isSuperset(local, fresh) {
		t.Errorf("b's state dir holds %v, missing some of the partitions it took over %v", local, fresh)
	}

	restartAt := time.Now()
	a2 := d.start(ctx, "a", aDir)
	again := d.waitBalanced(ctx, a2, b)
	t.Logf("a rejoined after %v: %v", time.Since(restartAt).Round(time.Millisecond), again)
	if err := produce(ctx, s, w, 3_000, batch, pace); err != nil {
		t.Fatal(err)
	}
	t.Logf("after restart: %s elapsed=%v", d.verify(ctx, w, l, v), time.Since(began).Round(time.Millisecond))
}

func isSuperset(set, sub []int32) bool {
	for _, p := range sub {
		if !slices.Contains(set, p) {
			return false
		}
	}
	return true
}

// TestDeadLetters sends records the processor cannot apply, straight to
// the commands topic, and checks each lands in the dead-letter topic with
// its reason and bytes while the commands after it are still applied.
func TestDeadLetters(t *testing.T) {
	began := time.Now()
	d := newDeployment(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	d.waitBalanced(ctx, d.start(ctx, "a", t.TempDir()))

	cmd := func(id, sku string, qty int64) []byte {
		b, err := proto.Marshal(inventory.CommandToWire(inventory.Command{
			ID: id, Kind: inventory.KindRestock, SKU: sku, Qty: qty, Time: time.Now(),
		}))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// A string field whose length runs past the end of the record.
	malformed := []byte{0x0a, 0x7f, 'x'}
	if proto.Unmarshal(malformed, new(inventoryv1.Command)) == nil {
		t.Fatal("the malformed record decodes")
	}
	bad := []struct {
		key    string
		value  []byte
		reason string
	}{
		{"dl-1", malformed, "decode"},
		{"dl-2", cmd("dl-zero", "dl-2", 0), "invalid_qty"},
		{"dl-3", cmd("dl-other", "dl-4", 5), "key_mismatch"},
	}
	raw, err := kgo.NewClient(kgo.SeedBrokers(d.brokers...), kgo.RecordPartitioner(partition.Kgo()),
		kgo.DefaultProduceTopic(string(d.names.Commands)))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	type at struct {
		partition int32
		offset    int64
	}
	where := map[string]at{}
	for _, r := range bad {
		rec, err := raw.ProduceSync(ctx, &kgo.Record{Key: []byte(r.key), Value: r.value}).First()
		if err != nil {
			t.Fatal(err)
		}
		where[r.key] = at{rec.Partition, rec.Offset}
	}

	l := d.eventLog()
	s := d.sender()
	var valid []string
	for _, sku := range []string{"dl-1", "dl-2", "dl-3", "dl-4"} {
		id := "ok-" + sku
		s.send(ctx, inventory.CommandToWire(inventory.Command{ID: id, Kind: inventory.KindRestock, SKU: sku, Qty: 7, Time: time.Now()}))
		valid = append(valid, id)
	}
	if err := s.flush(ctx); err != nil {
		t.Fatal(err)
	}
	err = l.pollUntil(ctx, "results of the valid commands", func() (bool, string) {
		for _, id := range valid {
			if len(l.results[id]) == 0 {
				return false, id
			}
		}
		return true, ""
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range valid {
		// Nothing rejected was applied: each SKU holds only its restock.
		if ev := l.results[id][0].ev; ev.Type != inventory.EventRestocked || ev.Stock != (inventory.Stock{OnHand: 7}) {
			t.Errorf("%s: %v %+v, want restocked to 7 on hand", id, ev.Type, ev.Stock)
		}
	}

	letters := readDeadLetters(ctx, t, d)
	if len(letters) != len(bad) {
		t.Errorf("dead letters for %v, want %d", keysOf(letters), len(bad))
	}
	for _, r := range bad {
		dl, ok := letters[r.key]
		if !ok {
			t.Errorf("no dead letter for %s", r.key)
			continue
		}
		if dl.Reason != r.reason || string(dl.Value) != string(r.value) || dl.Topic != string(d.names.Commands) ||
			dl.Topology != string(d.names.Group) || dl.Partition != where[r.key].partition || dl.Offset != where[r.key].offset {
			t.Errorf("%s: dead letter %+v, want reason %q, value %x from %s %d/%d", r.key, dl, r.reason, r.value,
				d.names.Commands, where[r.key].partition, where[r.key].offset)
		}
	}
	t.Logf("dead letters=%d results=%d elapsed=%v", len(letters), len(l.results), time.Since(began).Round(time.Millisecond))
}

// readDeadLetters waits until the inventory group has committed every
// command, then reads the whole dead-letter topic and returns the letters
// by key.
func readDeadLetters(ctx context.Context, t *testing.T, d *deployment) map[string]observe.DeadLetter {
	t.Helper()
	ends, err := d.endOffsets(ctx, d.names.Commands)
	if err == nil {
		err = d.waitCommitted(ctx, d.names.Commands, ends)
	}
	if err == nil {
		ends, err = d.endOffsets(ctx, d.names.DeadLetters)
	}
	if err != nil {
		t.Fatal(err)
	}
	records, err := d.readTopic(ctx, d.names.DeadLetters, ends)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]observe.DeadLetter{}
	for _, r := range records {
		var dl observe.DeadLetter
		if err := json.Unmarshal(r.Value, &dl); err != nil {
			t.Errorf("dead letter %d/%d is not JSON: %v: %q", r.Partition, r.Offset, err, r.Value)
			continue
		}
		if dl.Key != string(r.Key) || dl.Partition != r.Partition || dl.Time.IsZero() {
			t.Errorf("dead letter at %d/%d keyed %q: %+v", r.Partition, r.Offset, r.Key, dl)
		}
		if _, dup := out[dl.Key]; dup {
			t.Errorf("two dead letters for %s", dl.Key)
		}
		out[dl.Key] = dl
	}
	return out
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// model is what Decide makes of the two commands topics, replayed in the
// order the processor applied them, as its callback does.
type model struct {
	states     map[string]inventory.State
	events     map[string][]inventory.Event
	expireCmds int
	// idleExpires counts Expire commands that found nothing to expire:
	// proposed again before the first was processed, or beaten by a
	// command that expired the reservation lazily.
	idleExpires int
	deadLetters int
	broken      []string // states Decide produced that CheckState refused
}

// replay decides every valid command of both topics. Each topic's commands
// of one SKU are applied in offset order, and the two interleave as the
// processor interleaved them, which its events tell: the event with the
// SKU's next sequence number names the next command that changed it (its
// topic and offset), and whatever of either topic comes before that one
// changed nothing (a repeat, an idle expiry), so where exactly it went does
// not matter.
func replay(c settledCommands, l *eventLog, policy inventory.Policy) *model {
	m := &model{states: map[string]inventory.State{}, events: map[string][]inventory.Event{}}
	type queue struct{ cmds [2][]inventory.Command } // public, internal
	queues := map[string]*queue{}
	window := schemas.DefaultTimeWindow()
	for topic, records := range [2][]*kgo.Record{c.public, c.internal} {
		internal := topic == 1
		for _, r := range records {
			var w inventoryv1.Command
			check := schemas.CheckClientCommand
			if internal {
				check = schemas.CheckInternalCommand
			}
			if proto.Unmarshal(r.Value, &w) != nil || schemas.ValidateCommand(&w) != nil || check(&w) != nil ||
				w.GetSku() != string(r.Key) || (!internal && window.Check("timestamp_ms", w.GetTimestampMs(), r.Timestamp) != nil) {
				m.deadLetters++
				continue
			}
			cmd := inventory.CommandFromWire(&w, r.Partition, r.Offset)
			cmd.Internal = internal
			q := queues[cmd.SKU]
			if q == nil {
				q = &queue{}
				queues[cmd.SKU] = q
			}
			q.cmds[topic] = append(q.cmds[topic], cmd)
		}
	}
	for sku, q := range queues {
		type place struct {
			internal bool
			offset   int64
		}
		bySeq := map[int64]place{}
		for _, s := range l.bySKU[sku] {
			if _, seen := bySeq[s.ev.Seq]; !seen {
				bySeq[s.ev.Seq] = place{s.ev.Internal, s.ev.Offset}
			}
		}
		s := inventory.NewState()
		apply := func(cmd inventory.Command) {
			if cmd.Kind == inventory.KindExpire {
				m.expireCmds++
			}
			next, events := inventory.Decide(s, cmd, policy)
			if err := inventory.CheckState(next); err != nil {
				m.broken = append(m.broken, fmt.Sprintf("%d/%d: %v", cmd.Partition, cmd.Offset, err))
				return
			}
			if cmd.Kind == inventory.KindExpire && len(events) == 0 {
				m.idleExpires++
			}
			s = next
			m.events[sku] = append(m.events[sku], events...)
		}
		var at [2]int
		for {
			p, ok := bySeq[s.Seq+1]
			if !ok {
				break
			}
			topic := 0
			if p.internal {
				topic = 1
			}
			cmds := q.cmds[topic]
			for at[topic] < len(cmds) && cmds[at[topic]].Offset < p.offset {
				apply(cmds[at[topic]])
				at[topic]++
			}
			if at[topic] == len(cmds) || cmds[at[topic]].Offset != p.offset {
				m.broken = append(m.broken, fmt.Sprintf("%s: sequence %d names %+v, which neither topic holds", sku, s.Seq+1, p))
				break
			}
			seq := s.Seq
			apply(cmds[at[topic]])
			at[topic]++
			if s.Seq != seq+1 {
				// The model decided otherwise than the processor; the
				// comparison of events shows where.
				break
			}
		}
		for topic := range q.cmds {
			for ; at[topic] < len(q.cmds[topic]); at[topic]++ {
				apply(q.cmds[topic][at[topic]])
			}
		}
		m.states[sku] = s
	}
	return m
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

// distinct returns the canonical forms of seq in order of first appearance
// and how often each appears.
func distinct(seq []string) ([]string, map[string]int) {
	var firsts []string
	counts := map[string]int{}
	for _, c := range seq {
		if counts[c] == 0 {
			firsts = append(firsts, c)
		}
		counts[c]++
	}
	return firsts, counts
}

// compareModel checks that each SKU's events, in the order the events topic
// holds them, are the events the model yields. goka delivers at least
// once: a command processed again after a rebalance publishes a copy of
// an event already published, which is allowed, and counted as redelivered.
func compareModel(t *testing.T, m *model, l *eventLog) (redelivered int) {
	t.Helper()
	e := &errs{t: t, what: "model check"}
	defer e.done()
	for _, b := range m.broken {
		e.errorf("Decide broke an invariant at %s", b)
	}
	skus := map[string]bool{}
	for sku := range m.events {
		skus[sku] = true
	}
	for sku := range l.bySKU {
		skus[sku] = true
	}
	for _, sku := range slices.Sorted(maps.Keys(skus)) {
		var want, got []string
		for _, ev := range m.events[sku] {
			want = append(want, canonical(ev))
		}
		byCanon := map[string]seenEvent{}
		for _, s := range l.bySKU[sku] {
			got = append(got, s.canon)
			byCanon[s.canon] = s
		}
		wantFirst, wantN := distinct(want)
		gotFirst, gotN := distinct(got)
		if i := firstDiff(wantFirst, gotFirst); i >= 0 {
			e.errorf("%s: event %d of %d (model) / %d (topic) differs:\n model: %s\n topic: %s",
				sku, i, len(wantFirst), len(gotFirst), describe(wantFirst, i), describe(gotFirst, i))
			continue
		}
		for c, n := range gotN {
			if n < wantN[c] {
				e.errorf("%s: event published %d times, model %d times: %+v", sku, n, wantN[c], byCanon[c].ev)
			}
			redelivered += n - wantN[c]
		}
	}
	return redelivered
}

func firstDiff(a, b []string) int {
	for i := range max(len(a), len(b)) {
		if i >= len(a) || i >= len(b) || a[i] != b[i] {
			return i
		}
	}
	return -1
}

func describe(canons []string, i int) string {
	if i >= len(canons) {
		return "(none)"
	}
	var w inventoryv1.Event
	if err := proto.Unmarshal([]byte(canons[i]), &w); err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%+v", inventory.EventFromWire(&w))
}

// eventStats is what the events topic says happened.
type eventStats struct {
	results, republished            int
	reserved, committed, released   int
	expiredBySweeper, expiredLazily int
	rejected                        map[string]int
	open, sold, restocked           map[string]int64
}

// checkEvents checks the events against the commands sent: every client
// command has exactly one distinct result of the kind its command asks
// for, and each reservation (SKU and order) is made at most once and ends
// at most once, after it was made.
func checkEvents(t *testing.T, w *workload, l *eventLog) eventStats {
	t.Helper()
	st := eventStats{rejected: map[string]int{}, open: map[string]int64{}, sold: map[string]int64{}, restocked: map[string]int64{}}
	e := &errs{t: t, what: "events"}
	defer e.done()
	for _, b := range l.bad {
		e.errorf("bad record %s", b)
	}
	for _, c := range w.cmds {
		res := l.results[c.GetCommandId()]
		if len(res) == 0 {
			e.errorf("no result for %s", c.GetCommandId())
			continue
		}
		st.results += len(res)
		st.republished += len(res) - 1
		for _, r := range res[1:] {
			if r.canon != res[0].canon {
				e.errorf("%s has two results:\n %+v\n %+v", c.GetCommandId(), res[0].ev, r.ev)
			}
		}
		if want := resultTypes(c); !slices.Contains(want, res[0].ev.Type) {
			e.errorf("%s (%T) got %v, want one of %v", c.GetCommandId(), c.GetKind(), res[0].ev.Type, want)
		}
		if res[0].ev.Type == inventory.EventRejected {
			st.rejected[res[0].ev.Reason]++
		}
	}
	for id, res := range l.results {
		if w.byID[id] == nil {
			e.errorf("result for a command never sent: %+v", res[0].ev)
		}
	}
	for sku, seen := range l.bySKU {
		checkLifecycles(e, sku, seen, &st)
	}
	return st
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

// checkLifecycles walks one SKU's distinct events in order and follows each
// order's reservation through them.
func checkLifecycles(e *errs, sku string, seen []seenEvent, st *eventStats) {
	const (
		none = iota
		open
		ended
	)
	stage := map[string]int{}
	qty := map[string]int64{}
	done := map[string]bool{}
	for _, s := range seen {
		if done[s.canon] {
			continue
		}
		done[s.canon] = true
		ev := s.ev
		switch ev.Type {
		case inventory.EventRestocked:
			st.restocked[sku] += ev.Qty
		case inventory.EventReserved:
			if stage[ev.OrderID] != none {
				e.errorf("%s/%s reserved again at %d/%d", sku, ev.OrderID, s.partition, s.offset)
			}
			stage[ev.OrderID], qty[ev.OrderID] = open, ev.Qty
			st.reserved++
		case inventory.EventCommitted, inventory.EventReleased, inventory.EventExpired:
			if stage[ev.OrderID] != open {
				e.errorf("%s/%s %v at %d/%d while not open (stage %d)", sku, ev.OrderID, ev.Type, s.partition, s.offset, stage[ev.OrderID])
			}
			if ev.Qty != qty[ev.OrderID] {
				e.errorf("%s/%s %v of %d units, reserved %d", sku, ev.OrderID, ev.Type, ev.Qty, qty[ev.OrderID])
			}
			stage[ev.OrderID] = ended
			switch {
			case ev.Type == inventory.EventCommitted:
				st.committed++
				st.sold[sku] += ev.Qty
			case ev.Type == inventory.EventReleased:
				st.released++
			case strings.HasPrefix(ev.CommandID, schemas.ReservedPrefix+"expire:"):
				st.expiredBySweeper++
			default:
				st.expiredLazily++
			}
		}
	}
	for order, sg := range stage {
		if sg == open {
			st.open[sku] += qty[order]
		}
	}
}

// checkStates checks every SKU's final ledger against the events and the
// restocks sent.
func checkStates(t *testing.T, w *workload, st eventStats, states map[string]inventory.State) {
	t.Helper()
	e := &errs{t: t, what: "final state"}
	defer e.done()
	for _, sku := range w.skus {
		s, ok := states[sku]
		if !ok {
			s = inventory.NewState()
		}
		k := s.Stock
		if err := inventory.CheckState(s); err != nil {
			e.errorf("%s: %v", sku, err)
		}
		if k.OnHand < 0 || k.Reserved < 0 || k.Sold < 0 || k.Available() < 0 {
			e.errorf("%s: negative in %+v", sku, k)
		}
		if st.restocked[sku] != w.restocked[sku] {
			e.errorf("%s: restocked events sum to %d, restocks sent to %d", sku, st.restocked[sku], w.restocked[sku])
		}
		if k.OnHand+k.Sold != w.restocked[sku] {
			e.errorf("%s: on hand %d + sold %d != restocked %d", sku, k.OnHand, k.Sold, w.restocked[sku])
		}
		if k.Reserved+k.Available()+k.Sold != w.restocked[sku] {
			e.errorf("%s: reserved %d + available %d + sold %d != restocked %d", sku, k.Reserved, k.Available(), k.Sold, w.restocked[sku])
		}
		if k.Reserved != st.open[sku] {
			e.errorf("%s: reserved %d, reservations left open by the events hold %d", sku, k.Reserved, st.open[sku])
		}
		if k.Sold != st.sold[sku] {
			e.errorf("%s: sold %d, committed events sum to %d", sku, k.Sold, st.sold[sku])
		}
	}
}

// compareStates checks the table's states against the model's.
func compareStates(t *testing.T, m *model, got map[string]inventory.State) {
	t.Helper()
	e := &errs{t: t, what: "table vs model"}
	defer e.done()
	for sku, want := range m.states {
		// The table lists reservations by order id.
		want.Reservations = slices.Clone(want.Reservations)
		slices.SortFunc(want.Reservations, func(a, b inventory.Reservation) int { return strings.Compare(a.OrderID, b.OrderID) })
		g, _ := canonicalOpts.Marshal(inventory.StateToWire(got[sku]))
		w, _ := canonicalOpts.Marshal(inventory.StateToWire(want))
		if string(g) != string(w) {
			e.errorf("%s: table and model differ:\n table: %s\n model: %s", sku, summarize(got[sku]), summarize(want))
		}
	}
}

// quiesceWait bounds how long the events may take to show every result
// and every short reservation's end once the last command is sent.
const quiesceWait = 3 * time.Minute

func summarize(s inventory.State) string {
	open := 0
	for _, r := range s.Reservations {
		if r.Status == inventory.StatusOpen {
			open++
		}
	}
	return fmt.Sprintf("stock %+v offset %d clock %s reservations %d (open %d) applied %d",
		s.Stock, s.Offset, s.Clock.Format(time.RFC3339Nano), len(s.Reservations), open, len(s.Applied))
}

// verify waits for the deployment to settle, then runs every check and
// returns a one-line summary of the counts.
func (d *deployment) verify(ctx context.Context, w *workload, l *eventLog, v *goka.View) string {
	t := d.t
	t.Helper()
	qctx, cancel := context.WithTimeout(ctx, quiesceWait)
	defer cancel()
	if err := l.pollUntil(qctx, "quiescence", func() (bool, string) { return w.quiet(l) }); err != nil {
		t.Fatal(err)
	}
	cmds, m, states := d.snapshot(qctx, l, v)
	redelivered := compareModel(t, m, l)
	st := checkEvents(t, w, l)
	compareStates(t, m, states)
	checkStates(t, w, st, states)
	if m.deadLetters != 0 {
		t.Errorf("%d commands would be dead letters", m.deadLetters)
	}
	var stateBytes, maxBytes int
	for _, s := range states {
		n := proto.Size(inventory.StateToWire(s))
		stateBytes += n
		maxBytes = max(maxBytes, n)
	}
	return fmt.Sprintf("sent=%d distinct=%d duplicates=%d (immediate %d, late %d) expire_cmds=%d (idle %d) records=%d "+
		"results=%d (republished %d, redelivered %d) reserved=%d committed=%d released=%d "+
		"expired=%d (sweeper %d, lazy %d) rejected=%v state_bytes avg=%d max=%d",
		w.sends, len(w.cmds), w.dupNow+w.dupLate, w.dupNow, w.dupLate, m.expireCmds, m.idleExpires, len(cmds.public)+len(cmds.internal),
		st.results, st.republished, redelivered, st.reserved, st.committed, st.released,
		st.expiredBySweeper+st.expiredLazily, st.expiredBySweeper, st.expiredLazily, st.rejected,
		stateBytes/max(len(states), 1), maxBytes)
}

// snapshot settles the deployment, replays the commands and reads the
// table. A sweeper proposal that read a reservation just before it ended
// can still land after settle has looked; the table then holds a command
// past the ends that were read, and the snapshot is taken again.
func (d *deployment) snapshot(ctx context.Context, l *eventLog, v *goka.View) (settledCommands, *model, map[string]inventory.State) {
	t := d.t
	t.Helper()
	for attempt := 1; ; attempt++ {
		cmds, err := d.settle(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		m := replay(cmds, l, d.policy)
		states, err := d.viewStates(ctx, v, m.states)
		if err != nil {
			// The comparison with the model shows where they part.
			t.Error(err)
			return cmds, m, states
		}
		late := 0
		for sku, s := range states {
			p := partition.Partition([]byte(sku), partitions)
			if s.Offset >= cmds.publicEnds[p] || s.InternalOffset >= cmds.internalEnds[p] {
				late++
			}
		}
		if late == 0 || attempt == 3 {
			return cmds, m, states
		}
		t.Logf("%d SKUs saw commands after settling; settling again", late)
	}
}
