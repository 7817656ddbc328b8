package flashsaletopo_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka"

	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/internal/proctest"
	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
	"github.com/titan-commerce/titan/topologies/flashsaletopo"
	"github.com/titan-commerce/titan/topologies/inventorytopo"
)

// Bounds on the waits of a sale, counted from the last attempt sent; the
// sale windows themselves are in each test.
const (
	// answerWait bounds how long the attempts may take to be answered.
	answerWait = 5 * time.Minute
	// settleWait bounds how long the settlement may take once the sale has
	// ended and every attempt is answered.
	settleWait = time.Minute
)

// TestFlashSaleSellsExactly runs a sale of 5,000 units on three instances
// under 100,000 attempts from 20,000 buyers, a tenth of them sent twice,
// and checks that exactly the units sold, to nobody above the limit, each
// attempt answered once, and that the inventory settled what was sold.
func TestFlashSaleSellsExactly(t *testing.T) {
	began := time.Now()
	d := newDeployment(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()

	var nodes []*node
	for _, id := range []string{"a", "b", "c"} {
		nodes = append(nodes, d.start(ctx, id, t.TempDir()))
	}
	if err := d.waitStable(ctx, 3, nodesReady(nodes...)); err != nil {
		t.Fatal(err)
	}
	t.Logf("3 instances balanced after %v", time.Since(began).Round(time.Millisecond))

	il, rl := d.inventoryLog(), d.resultLog()
	sv := d.saleView(ctx)
	iv := d.startView(ctx, d.inv.Table(), inventorytopo.HeadCodec)
	b := d.buyer()
	// About 3,000 messages a second for 37 s, in a window of 55 s.
	const (
		attempts = 100_000
		batch    = 300
		pace     = 100 * time.Millisecond
		window   = 55 * time.Second
	)
	now := time.Now()
	s := flashsale.Sale{ID: "fs-exact", SKU: "sku-fs-exact", Units: 5_000, Start: ms(now), End: ms(now.Add(window)),
		PerUserLimit: 2, PriceMinor: 1999, Buckets: 8}
	const restocked = 6_000
	d.openSale(ctx, b, il, sv, s, restocked)

	w := newWorkload(1, s, d.router, 20_000)
	sending := time.Now()
	if err := produce(ctx, b, w, scaled(attempts), batch, pace, nil); err != nil {
		t.Fatal(err)
	}
	w.logSent(t, sending)
	d.awaitAnswers(ctx, t, w, rl, sv, sending)

	o := checkResults(t, w, rl)
	if o.sold != s.Units {
		t.Errorf("sold %d of %d units", o.sold, s.Units)
	}
	checkIndex(ctx, t, d, w, rl)
	d.checkEnd(ctx, t, il, sv, iv, s, o, restocked)
	t.Logf("%s; elapsed %v", o, time.Since(began).Round(time.Millisecond))
}

// TestFlashSaleSurvivesSIGKILL runs a sale on three titan processes and
// kills one with SIGKILL while the sale is selling; the attempts keep
// coming, the others take its partitions over from the changelogs, and it
// comes back on its old state directory. The sale must still sell exactly
// its units, each attempt answered once, and settle.
func TestFlashSaleSurvivesSIGKILL(t *testing.T) {
	began := time.Now()
	d := newDeployment(t)
	ctx, cancel := context.WithTimeout(t.Context(), 12*time.Minute)
	defer cancel()

	bin := proctest.Build(ctx, t)
	t.Logf("built titan in %v", time.Since(began).Round(time.Millisecond))
	logDir := t.TempDir()
	ids := []string{"p1", "p2", "p3"}
	dirs := map[string]string{}
	procs := map[string]*proctest.Proc{}
	for _, id := range ids {
		dirs[id] = t.TempDir()
		procs[id] = d.spawn(bin, id, dirs[id], logDir)
	}
	alive := func() (bool, string) {
		for _, id := range ids {
			if procs[id].Exited() {
				return false, id + " exited"
			}
		}
		return true, ""
	}
	for _, id := range ids {
		if err := procs[id].WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.waitStable(ctx, 3, alive); err != nil {
		t.Fatal(err)
	}
	t.Logf("3 processes ready and balanced after %v", time.Since(began).Round(time.Millisecond))

	il, rl := d.inventoryLog(), d.resultLog()
	sv := d.saleView(ctx)
	iv := d.startView(ctx, d.inv.Table(), inventorytopo.HeadCodec)
	b := d.buyer()
	// The sale opens slowly, about 330 messages a second, so units are
	// still left when the victim dies; then about 1,650 a second for 25 s,
	// long enough to go on through the takeover, in a window of 75 s.
	const (
		attempts  = 40_000
		rampBatch = 30
		batch     = 150
		pace      = 100 * time.Millisecond
		window    = 75 * time.Second
		killAfter = 600
	)
	now := time.Now()
	s := flashsale.Sale{ID: "fs-kill", SKU: "sku-fs-kill", Units: 2_000, Start: ms(now), End: ms(now.Add(window)),
		PerUserLimit: 2, PriceMinor: 2500, Buckets: 8}
	const restocked = 3_000
	d.openSale(ctx, b, il, sv, s, restocked)

	// The victim holds the sale key, bucket 0 beside it, and a share of
	// the buyers.
	victim, err := d.owner(ctx, d.router.Sale(s.ID))
	if err != nil {
		t.Fatal(err)
	}
	w := newWorkload(2, s, d.router, 8_000)
	var killedAt, restartedAt, lastCheck time.Time
	restart := func() {
		procs[victim] = d.spawn(bin, victim, dirs[victim], logDir)
		restartedAt = time.Now()
		t.Logf("restarted %s %v after the kill", victim, restartedAt.Sub(killedAt).Round(time.Millisecond))
	}
	between := func(sent int) error {
		switch {
		case killedAt.IsZero() && sent >= scaled(killAfter):
			left := unitsLeft(sv, d.router, s)
			procs[victim].Kill()
			killedAt = time.Now()
			t.Logf("SIGKILL %s after %d attempts, %v into the sale, with %s", victim, sent, killedAt.Sub(s.Start).Round(time.Millisecond), left)
		case !killedAt.IsZero() && restartedAt.IsZero() && time.Since(lastCheck) > time.Second:
			// Back once the others have taken its partitions over.
			lastCheck = time.Now()
			if ok, _ := d.stable(ctx, 2); ok {
				restart()
			}
		}
		return nil
	}
	sending := time.Now()
	err = produce(ctx, b, w, scaled(killAfter), rampBatch, pace, between)
	if err == nil {
		err = produce(ctx, b, w, scaled(attempts), batch, pace, between)
	}
	if err != nil {
		t.Fatal(err)
	}
	w.logSent(t, sending)
	if restartedAt.IsZero() {
		if err := d.waitStable(ctx, 2, func() (bool, string) { return true, "" }); err != nil {
			t.Fatal(err)
		}
		restart()
	}
	if err := procs[victim].WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.waitStable(ctx, 3, alive); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s back and balanced %v after the restart", victim, time.Since(restartedAt).Round(time.Millisecond))
	d.awaitAnswers(ctx, t, w, rl, sv, sending)

	o := checkResults(t, w, rl)
	if o.sold != s.Units {
		t.Errorf("sold %d of %d units", o.sold, s.Units)
	}
	d.checkEnd(ctx, t, il, sv, iv, s, o, restocked)
	for _, id := range ids {
		if procs[id].Exited() {
			t.Errorf("%s exited: %v", id, procs[id].State())
		}
	}
	t.Logf("%s; elapsed %v", o, time.Since(began).Round(time.Millisecond))
}

// TestFlashSaleWindow sends attempts one at a time around a sale's window,
// limit and units, for a sale with one bucket and one with four, and checks
// each answer. The window lies an hour ahead: a bucket judges an attempt by
// the attempt's own time, so the edges can be hit to the millisecond
// without waiting for them, and no settler closes the sale meanwhile. The
// deployment lets a purchase be stamped that far ahead of the time Kafka
// received it (its TimeWindow), as none would by default.
func TestFlashSaleWindow(t *testing.T) {
	began := time.Now()
	d := newDeployment(t)
	d.window = schemas.TimeWindow{Ahead: 3 * time.Hour, Behind: time.Hour}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	n := d.start(ctx, "a", t.TempDir())
	if err := d.waitStable(ctx, 1, nodesReady(n)); err != nil {
		t.Fatal(err)
	}
	il, rl := d.inventoryLog(), d.resultLog()
	sv := d.saleView(ctx)
	b := d.buyer()
	start := ms(time.Now().Add(time.Hour))
	for _, s := range []flashsale.Sale{
		{ID: "fs-w1", SKU: "sku-fs-w1", Units: 3, Start: start, End: start.Add(time.Hour), PerUserLimit: 2, PriceMinor: 700, Buckets: 1},
		{ID: "fs-w4", SKU: "sku-fs-w4", Units: 6, Start: start, End: start.Add(time.Hour), PerUserLimit: 2, PriceMinor: 900, Buckets: 4},
	} {
		d.openSale(ctx, b, il, sv, s, 10)
		w := &workload{sale: s, router: d.router}
		for i, st := range windowSteps(s) {
			m := st.msg
			if st.again > 0 {
				m = w.attempts[st.again-1]
			} else {
				m.Kind, m.SaleID, m.Key = flashsale.KindPurchase, s.ID, d.router.User(s.ID, m.UserID)
				m.IdempotencyKey, m.Bucket = fmt.Sprintf("step-%02d", i), flashsale.BucketOf(m.UserID, s.Buckets)
				w.attempts = append(w.attempts, m)
			}
			// A retry is answered again, with a copy of the first answer.
			copies := len(rl.byKey[flashsale.PurchaseKey(m.SaleID, m.IdempotencyKey)]) + 1
			b.send(ctx, m)
			if err := b.flush(ctx); err != nil {
				t.Fatal(err)
			}
			res, err := rl.await(ctx, m, copies)
			if err != nil {
				t.Fatal(err)
			}
			if got := describeResult(res); got != st.want {
				t.Errorf("%s step %d, %s (%s qty %d at start%+v, bucket %d): %s, want %s",
					s.ID, i, st.what, m.UserID, m.Qty, m.Time.Sub(s.Start), m.Bucket, got, st.want)
			}
		}
		o := checkResults(t, w, rl)
		if o.sold != s.Units {
			t.Errorf("%s: sold %d of %d units", s.ID, o.sold, s.Units)
		}
		checkBuckets(ctx, t, sv, d.router, s, o, false)
		// Every buyer who got a unit belongs to bucket 0, which so had to
		// borrow all the other buckets' shares.
		if buckets, err := bucketStates(sv, d.router, s); err != nil {
			t.Error(err)
		} else if got, want := buckets[0].Received, s.Units-s.Share(0); got != want {
			t.Errorf("%s: bucket 0 received %d units from the others, want %d", s.ID, got, want)
		}
		t.Logf("%s (%d buckets): %d attempts, %s", s.ID, s.Buckets, len(w.attempts), o)
	}
	t.Logf("elapsed %v", time.Since(began).Round(time.Millisecond))
}

// step is one attempt of TestFlashSaleWindow and its expected answer: a new
// attempt (msg, with user, qty and time) or, when again is set, a retry of
// attempt again-1.
type step struct {
	what  string
	msg   flashsale.Message
	again int
	want  string
}

// windowSteps walks s through its edges: outside the window, above the
// limit, up to the limit, then buyers from the first buyer's bucket until
// the units are gone (which makes that bucket borrow the others' units),
// then one buyer from each bucket, who finds nothing left.
func windowSteps(s flashsale.Sale) []step {
	const purchased = "purchased"
	home := userIn(s, 0, 0)
	attempt := func(user string, qty int64, at time.Time) flashsale.Message {
		return flashsale.Message{UserID: user, Qty: qty, Time: at}
	}
	ahead := func(d time.Duration) time.Time { return s.Start.Add(d) }
	steps := []step{
		{what: "a millisecond before the start", msg: attempt(home, 1, ahead(-time.Millisecond)), want: flashsale.ReasonNotStarted},
		{what: "at the end", msg: attempt(home, 1, s.End), want: flashsale.ReasonEnded},
		{what: "after the end", msg: attempt(home, 1, s.End.Add(time.Minute)), want: flashsale.ReasonEnded},
		{what: "above the limit", msg: attempt(home, s.PerUserLimit+1, s.Start), want: flashsale.ReasonLimitExceeded},
		{what: "exactly at the start", msg: attempt(home, 1, s.Start), want: purchased},
		{what: "past the limit with one held", msg: attempt(home, 2, ahead(time.Millisecond)), want: flashsale.ReasonLimitExceeded},
		{what: "up to the limit", msg: attempt(home, 1, ahead(2*time.Millisecond)), want: purchased},
		{what: "at the limit", msg: attempt(home, 1, ahead(3*time.Millisecond)), want: flashsale.ReasonLimitExceeded},
	}
	retryAtStart := len(steps) - 4 + 1
	for i := int64(1); i <= s.Units-2; i++ {
		steps = append(steps, step{what: "a neighbour buys", msg: attempt(userIn(s, 0, int(i)), 1, ahead(time.Second)), want: purchased})
	}
	for b := range s.Buckets {
		steps = append(steps, step{what: fmt.Sprintf("a buyer of bucket %d after the last unit", b),
			msg: attempt(userIn(s, b, 100), 1, s.End.Add(-time.Millisecond)), want: flashsale.ReasonSoldOut})
	}
	steps = append(steps,
		step{what: "two units after the last", msg: attempt(userIn(s, 0, 101), 2, ahead(time.Minute)), want: flashsale.ReasonSoldOut},
		step{what: "before the start, after the last unit", msg: attempt(userIn(s, 0, 102), 1, ahead(-time.Minute)), want: flashsale.ReasonNotStarted},
		step{what: "a retry of the purchase at the start", again: retryAtStart, want: purchased},
	)
	return steps
}

// userIn names the n-th user, in a fixed order, whose attempts go to
// bucket b of s.
func userIn(s flashsale.Sale, b, n int) string {
	for i := 0; ; i++ {
		u := fmt.Sprintf("w-user-%d", i)
		if flashsale.BucketOf(u, s.Buckets) == b {
			if n == 0 {
				return u
			}
			n--
		}
	}
}

func describeResult(r flashsale.Result) string {
	if r.Status == flashsale.StatusPurchased {
		return "purchased"
	}
	return r.Reason
}

// awaitAnswers waits until every attempt of w has a result, logging the
// progress now and then, and reports when the last came relative to the end.
func (d *deployment) awaitAnswers(ctx context.Context, t *testing.T, w *workload, rl *resultLog, sv *goka.View, sending time.Time) {
	t.Helper()
	actx, cancel := context.WithTimeout(ctx, answerWait)
	defer cancel()
	next := time.Now().Add(15 * time.Second)
	err := rl.pollUntil(actx, "every attempt answered", func() (bool, string) {
		if time.Now().After(next) {
			next = time.Now().Add(15 * time.Second)
			t.Logf("after %v: %d of %d attempts answered; %s", time.Since(sending).Round(time.Second),
				len(rl.byKey), len(w.attempts), parkedSummary(sv, d.router, w.sale))
		}
		return w.answered(rl)
	})
	if err != nil {
		t.Fatalf("%v; %d of %d attempts answered", err, w.countAnswered(rl), len(w.attempts))
	}
	t.Logf("every attempt answered %v after the first was sent, %v before the end",
		time.Since(sending).Round(time.Millisecond), time.Until(w.sale.End).Round(time.Millisecond))
}

// checkEnd waits for the sale's end and its settlement, then checks the
// inventory and the buckets.
func (d *deployment) checkEnd(ctx context.Context, t *testing.T, il *inventoryLog, sv, iv *goka.View, s flashsale.Sale, o outcome, restocked int64) {
	t.Helper()
	deadline := s.End
	if time.Now().After(deadline) {
		deadline = time.Now()
	}
	sctx, cancel := context.WithDeadline(ctx, deadline.Add(settleWait))
	defer cancel()
	settled := checkSettlement(sctx, t, d, il, sv, iv, s, o.sold, restocked)
	t.Logf("%s, %v after the end", settled, time.Since(s.End).Round(time.Millisecond))
	checkBuckets(sctx, t, sv, d.router, s, o, true)
	if n := o.rejected[flashsale.ReasonEnded]; n > 0 {
		// Every attempt was sent inside the window: these reached their
		// bucket only after it had closed.
		t.Logf("%d attempts sent inside the window were answered %q", n, flashsale.ReasonEnded)
	}
}

// checkIndex checks that the purchase index the API polls holds, for every
// attempt, its one result.
func checkIndex(ctx context.Context, t *testing.T, d *deployment, w *workload, l *resultLog) {
	t.Helper()
	v := d.startView(ctx, d.fs.PurchasesTable(), flashsaletopo.ResultCodec)
	e := &errs{t: t, what: "purchase index"}
	defer e.done()
	err := waitFor(ctx, "purchase index complete", func() (bool, string) {
		for _, m := range w.attempts {
			key := flashsale.PurchaseKey(m.SaleID, m.IdempotencyKey)
			if val, err := v.Get(key); err != nil || val == nil {
				return false, fmt.Sprintf("%s: %v", key, err)
			}
		}
		return true, ""
	})
	if err != nil {
		e.errorf("%v", err)
		return
	}
	for _, m := range w.attempts {
		key := flashsale.PurchaseKey(m.SaleID, m.IdempotencyKey)
		val, _ := v.Get(key)
		if got := val.(flashsale.Result); got != l.byKey[key][0] {
			e.errorf("%s: index %+v, events %+v", key, got, l.byKey[key][0])
		}
	}
}

// owner names the process whose flash-sale group holds key's partition.
func (d *deployment) owner(ctx context.Context, key string) (string, error) {
	p := partition.Partition([]byte(key), partitions)
	described, err := d.adm.DescribeGroups(ctx, string(d.fs.Group))
	if err != nil {
		return "", err
	}
	for _, m := range described[string(d.fs.Group)].Members {
		c, ok := m.Assigned.AsConsumer()
		if !ok {
			continue
		}
		for _, tp := range c.Topics {
			if tp.Topic == string(d.fs.Commands) && containsPartition(tp.Partitions, p) {
				return strings.TrimSuffix(strings.TrimPrefix(m.ClientID, "titan-"), "-flashsale"), nil
			}
		}
	}
	return "", fmt.Errorf("no member holds partition %d of %s", p, d.fs.Commands)
}

func containsPartition(ps []int32, p int32) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

// --- checks ---

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

// outcome is what the results say a sale did.
type outcome struct {
	sold      int64
	purchased int
	copies    int // results published beyond the first of each attempt
	rejected  map[string]int
	byUser    map[string]int64
	byBucket  map[int]int64
}

// checkResults checks every attempt of w has results, all copies the same,
// each consistent with its attempt, and no buyer above the limit.
func checkResults(t *testing.T, w *workload, l *resultLog) outcome {
	t.Helper()
	e := &errs{t: t, what: "results"}
	defer e.done()
	for _, b := range l.bad {
		e.errorf("bad record %s", b)
	}
	o := outcome{rejected: map[string]int{}, byUser: map[string]int64{}, byBucket: map[int]int64{}}
	sent := map[string]bool{}
	for _, m := range w.attempts {
		key := flashsale.PurchaseKey(m.SaleID, m.IdempotencyKey)
		sent[key] = true
		res := l.byKey[key]
		if len(res) == 0 {
			e.errorf("no result for %s", key)
			continue
		}
		o.copies += len(res) - 1
		for _, r := range res[1:] {
			if r != res[0] {
				e.errorf("%s has two results:\n %+v\n %+v", key, res[0], r)
			}
		}
		r := res[0]
		if r.UserID != m.UserID || r.Qty != m.Qty || r.Bucket != m.Bucket || !r.Time.Equal(m.Time) {
			e.errorf("%s: result %+v does not answer attempt %+v", key, r, m)
		}
		switch r.Status {
		case flashsale.StatusPurchased:
			if r.Reason != "" || r.PriceMinor != w.sale.PriceMinor {
				e.errorf("%s: purchased with reason %q at price %d, sale price %d", key, r.Reason, r.PriceMinor, w.sale.PriceMinor)
			}
			o.sold += r.Qty
			o.purchased++
			o.byUser[r.UserID] += r.Qty
			o.byBucket[r.Bucket] += r.Qty
		case flashsale.StatusRejected:
			o.rejected[r.Reason]++
		default:
			e.errorf("%s: status %v", key, r.Status)
		}
	}
	for key, res := range l.byKey {
		if strings.HasPrefix(key, w.sale.ID+"/") && !sent[key] {
			e.errorf("result for an attempt never sent: %+v", res[0])
		}
	}
	for user, n := range o.byUser {
		if n > w.sale.PerUserLimit {
			e.errorf("%s bought %d, limit %d", user, n, w.sale.PerUserLimit)
		}
	}
	return o
}

func (o outcome) String() string {
	return fmt.Sprintf("sold=%d purchases=%d rejected=%v republished=%d buyers=%d", o.sold, o.purchased, o.rejected, o.copies, len(o.byUser))
}

// checkBuckets waits until the buckets of s, as v shows them, hold every
// unit exactly once (no grant still in flight) and, if closed, have closed;
// then it checks each bucket's ledger and that each sold what the results
// say it sold.
func checkBuckets(ctx context.Context, t *testing.T, v *goka.View, r *flashsale.Keys, s flashsale.Sale, o outcome, closed bool) {
	t.Helper()
	var buckets []flashsale.BucketState
	err := waitFor(ctx, "buckets of "+s.ID+" closed and balanced", func() (bool, string) {
		var err error
		if buckets, err = bucketStates(v, r, s); err != nil {
			return false, err.Error()
		}
		var held, sold int64
		for b, bs := range buckets {
			if bs.Closed != closed || len(bs.Parked) > 0 || bs.Sold != o.byBucket[b] {
				return false, fmt.Sprintf("bucket %d: closed %v, parked %d, sold %d (results %d)", b, bs.Closed, len(bs.Parked), bs.Sold, o.byBucket[b])
			}
			held += bs.Available + bs.Sold
			sold += bs.Sold
		}
		if held != s.Units || sold != o.sold {
			return false, fmt.Sprintf("available+sold %d of %d units, sold %d (results %d)", held, s.Units, sold, o.sold)
		}
		return true, ""
	})
	if err != nil {
		t.Error(err)
	}
	e := &errs{t: t, what: "buckets"}
	defer e.done()
	var moved int64
	for b, bs := range buckets {
		if bs.Sale != s || bs.Bucket != b || !bs.Opened {
			e.errorf("bucket %d: sale %+v bucket %d opened %v", b, bs.Sale, bs.Bucket, bs.Opened)
		}
		if bs.Available < 0 || bs.Sold < 0 || bs.Received < 0 || bs.Given < 0 {
			e.errorf("bucket %d: negative count %+v", b, bs)
		}
		if s.Share(b)+bs.Received-bs.Given != bs.Available+bs.Sold {
			e.errorf("bucket %d: share %d + received %d - given %d != available %d + sold %d",
				b, s.Share(b), bs.Received, bs.Given, bs.Available, bs.Sold)
		}
		moved += bs.Received - bs.Given
	}
	if moved != 0 {
		e.errorf("buckets received %d units more than were given", moved)
	}
}

// checkSettlement waits for the sale's settlement in the inventory and
// checks the SKU's ledger: the units sold went out of stock exactly once and
// the rest of the allocation came back.
func checkSettlement(ctx context.Context, t *testing.T, d *deployment, il *inventoryLog, sv, iv *goka.View, s flashsale.Sale, sold, restocked int64) string {
	t.Helper()
	order := flashsale.AllocationOrder(s.ID)
	settle := flashsale.SettleCommandID(s.ID)
	err := il.pollUntil(ctx, "settlement of "+s.ID, func() (bool, string) {
		_, ok := il.results[settle]
		return ok, fmt.Sprintf("%d events of %s", len(il.allocations[order]), order)
	})
	if err != nil {
		t.Fatal(err)
	}
	ev := il.results[settle]
	want := inventory.Stock{OnHand: restocked - sold, Sold: sold}
	if ev.Type != inventory.EventCommitted || ev.Qty != sold || ev.Stock != want {
		t.Errorf("settlement: %v %s qty %d stock %+v, want committed %d leaving %+v", ev.Type, ev.Reason, ev.Qty, ev.Stock, sold, want)
	}
	e := &errs{t: t, what: "allocation"}
	defer e.done()
	for _, x := range il.allocations[order] {
		ok := x.Type == inventory.EventReserved && x.CommandID == flashsale.AllocateCommandID(s.ID) && x.Qty == s.Units ||
			x.Type == inventory.EventCommitted && x.CommandID == settle && x.Qty == sold
		if !ok {
			e.errorf("%s: unexpected %v by %s qty %d reason %q", order, x.Type, x.CommandID, x.Qty, x.Reason)
		}
	}
	for _, b := range il.bad {
		e.errorf("bad record %s", b)
	}

	var st inventory.Head
	err = waitFor(ctx, "inventory table shows the settlement", func() (bool, string) {
		val, err := iv.Get(s.SKU)
		if err != nil || val == nil {
			return false, fmt.Sprintf("%v %v", val, err)
		}
		st = val.(inventory.Head)
		// The settlement is Titan's own command, on the internal topic.
		return st.InternalOffset >= ev.Offset, fmt.Sprintf("internal offset %d of %d", st.InternalOffset, ev.Offset)
	})
	if err != nil {
		t.Error(err)
	}
	if st.Stock != want || st.Stock.OnHand+st.Stock.Sold != restocked {
		t.Errorf("%s: stock %+v, want %+v (restocked %d)", s.SKU, st.Stock, want, restocked)
	}
	// The allocation's own end is in its events, checked above.
	if err := inventory.CheckHead(st); err != nil {
		t.Errorf("%s: %v", s.SKU, err)
	}

	var ss flashsale.SaleState
	err = waitFor(ctx, "sale key settled", func() (bool, string) {
		var err error
		ss, err = saleState(sv, d.router, s.ID)
		return err == nil && ss.Settled(), fmt.Sprintf("%+v %v", ss.Reports, err)
	})
	if err != nil {
		t.Error(err)
	}
	var reported int64
	for _, n := range ss.Reports {
		reported += n
	}
	if len(ss.Reports) != s.Buckets || reported != sold {
		t.Errorf("sale %s: reports %v (sum %d), want %d buckets summing to %d", s.ID, ss.Reports, reported, s.Buckets, sold)
	}
	return fmt.Sprintf("settled: %v qty %d stock %+v", ev.Type, ev.Qty, st.Stock)
}
