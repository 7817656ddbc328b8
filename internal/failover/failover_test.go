package failover_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/processors/flashsale"
)

var instances = []string{"p1", "p2", "p3"}

// The load every test runs: 300 commands and 200 purchase attempts a second, about 40 results a
// second in each partition, so a partition's silence shows to within some 25 ms.
const (
	commandsPerTick = 15
	buysPerTick     = 10
)

// scenario is one test's deployment with its load running and everything it will check.
type scenario struct {
	t         *testing.T
	d         *deployment
	sale      flashsale.Sale
	restocked int64 // units of the sale's SKU
	cmds      *commands
	buys      *purchases
	load      *load
	probe     *prober
	began     time.Time
}

// setup starts three instances on the cluster, opens a sale of units units for window, and
// starts the load and the probes.
func setup(ctx context.Context, t *testing.T, name string, seed uint64, units int64, window time.Duration) *scenario {
	t.Helper()
	s := &scenario{t: t, d: newDeployment(ctx, t), restocked: units + units/2, began: time.Now()}
	d := s.d
	d.start(ctx, instances...)
	if err := d.stampAppendTime(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Millisecond)
	s.sale = flashsale.Sale{ID: "fs-" + name, SKU: "fs-sku-" + name, Units: units, Start: now, End: now.Add(window),
		PerUserLimit: 2, PriceMinor: 1999, Buckets: 4}
	d.openSale(ctx, instances[0], s.sale, s.restocked)
	s.cmds = newCommands(seed, name, 100)
	s.buys = newPurchases(seed, s.sale, d.router, 4000)
	s.probe = d.probe(s.cmds.skus[0], s.sale.ID, instances...)
	s.load = d.startLoad(s.cmds, s.buys, commandsPerTick, buysPerTick)
	t.Logf("sale %s of %d units open until %s; load started", s.sale.ID, units, s.sale.End.Format("15:04:05"))
	return s
}

// stampAppendTime has the broker stamp every record of the inventory's events topic with the time
// it appended it (the test's instrument for failover times: a record held up in a producer's
// retries would otherwise carry the time it was first batched). Titan reads no timestamp there.
func (d *deployment) stampAppendTime(ctx context.Context) error {
	resps, err := d.adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "message.timestamp.type", Value: ptr("LogAppendTime")}},
		string(d.inv.Events))
	if err == nil {
		for _, r := range resps {
			err = r.Err
		}
	}
	return err
}

func ptr(s string) *string { return &s }

// sleep waits for d while the load runs.
func (s *scenario) sleep(ctx context.Context, d time.Duration) {
	s.t.Helper()
	select {
	case <-ctx.Done():
		s.t.Fatal(ctx.Err())
	case <-time.After(d):
	}
}

// finish stops the load, waits until every command and attempt is answered and the sale settled,
// and runs every check; it returns the events it read, for the failover times.
func (s *scenario) finish(ctx context.Context) *eventLog {
	t, d := s.t, s.d
	t.Helper()
	// Every scenario sells its sale out through the fault and after it, so
	// that "sold exactly out" is what the checks below hold it to.
	if err := d.waitSoldOut(ctx, instances[1], s.sale); err != nil {
		t.Fatal(err)
	}
	if err := s.load.stop(ctx); err != nil {
		t.Fatalf("the load's sends: %v", err)
	}
	t.Logf("sent %d commands (%d distinct, %d re-sent) and %d purchase attempts (%d distinct, %d retried) in %v",
		s.cmds.sends, len(s.cmds.sent), s.cmds.resends, s.buys.sends, len(s.buys.attempts), s.buys.retries,
		time.Since(s.began).Round(time.Second))
	s.probe.check()
	d.checkAlive(instances...)

	actx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	events, results := d.eventLog(), d.resultLog()
	if err := events.pollUntil(actx, "every command answered", func() (bool, string) { return events.answered(s.cmds) }); err != nil {
		t.Fatal(err)
	}
	// The load's reservations live at most 2.5 s; the sweeper proposes an
	// expiry within a second of its deadline.
	if err := events.pollUntil(actx, "the ledgers at rest", events.quiet(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := results.pollUntil(actx, "every attempt answered", func() (bool, string) { return results.answered(s.buys) }); err != nil {
		t.Fatal(err)
	}
	republished := checkResults(t, s.cmds, events)
	o := d.checkPurchases(s.buys, results)
	if o.sold != s.sale.Units {
		t.Errorf("the purchase results sell %d of the sale's %d units", o.sold, s.sale.Units)
	}
	settled := d.checkSale(ctx, instances[1], s.sale, o, events, s.restocked)
	distinct, copies, late := d.checkLedgers(ctx, s.cmds, events, instances...)
	d.checkNoDeadLetters(ctx)
	d.checkAlive(instances...)
	t.Logf("inventory: %d events (%d copies, %d published after a later one of their SKU), %d results republished; sale: %s; %s",
		distinct, copies, late, republished, o, settled)
	return events
}

// checkNoDeadLetters reads both dead-letter topics: nothing the test sent is invalid, so a dead
// letter is a command a failure turned into one.
func (d *deployment) checkNoDeadLetters(ctx context.Context) {
	d.t.Helper()
	for _, topic := range []string{string(d.inv.DeadLetters), string(d.fs.DeadLetters)} {
		records, err := kafkatest.ReadAll(ctx, d.brokers, d.adm, topic)
		if err != nil {
			d.t.Fatal(err)
		}
		for _, r := range records[:min(len(records), 5)] {
			d.t.Errorf("dead letter at %s %d/%d: %s", topic, r.Partition, r.Offset, r.Value)
		}
		if len(records) > 5 {
			d.t.Errorf("%d more dead letters in %s", len(records)-5, topic)
		}
	}
}

// restartWhenBalanced starts instance id again once the others hold all its partitions, and waits
// until it is ready and the groups are balanced over all three.
func (s *scenario) restartWhenBalanced(ctx context.Context, id string) {
	t, d := s.t, s.d
	t.Helper()
	if err := d.waitStable(ctx, len(instances)-1); err != nil {
		t.Fatal(err)
	}
	d.spawn(id)
	if err := d.proc(id).WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.waitStable(ctx, len(instances)); err != nil {
		t.Fatal(err)
	}
	s.probe.setDown(id, false)
}

// TestBrokerKilledAndRestarted kills one broker with SIGKILL under load, lets the instances run on
// the other two for a while, and starts it again. No instance may exit or stop serving, and
// nothing may be lost or applied twice.
func TestBrokerKilledAndRestarted(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 12*time.Minute)
	defer cancel()
	s := setup(ctx, t, "broker", 1, 4000, 75*time.Second)
	d := s.d
	s.sleep(ctx, 8*time.Second)
	// The node that leads the most of the inventory's partitions, so the kill moves the most.
	victim, err := busiestNode(ctx, d.cl, string(d.inv.Commands), string(d.inv.Events), string(d.inv.Table()))
	if err != nil {
		t.Fatal(err)
	}
	affected := d.ledBy(ctx, victim)
	controller := d.activeController(ctx)
	killedAt := time.Now()
	if err := d.cl.Kill(ctx, victim); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed node %d, which led inventory partitions %v (the active controller: node %d)", victim, affected, controller)
	s.sleep(ctx, 20*time.Second)
	d.checkAlive(instances...)
	if err := d.cl.Start(ctx, victim); err != nil {
		t.Fatal(err)
	}
	t.Logf("node %d back %v after the kill", victim, time.Since(killedAt).Round(time.Millisecond))
	s.sleep(ctx, 10*time.Second)
	events := s.finish(ctx)
	s.logGaps("broker kill", events, killedAt, affected)
}

// TestSaleLeaderKilled kills the broker that leads the flash sale's partition while the sale sells
// out. The sale must still sell exactly its units, answer each attempt once, and settle.
func TestSaleLeaderKilled(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 12*time.Minute)
	defer cancel()
	s := setup(ctx, t, "leader", 2, 3000, 60*time.Second)
	d := s.d
	// About a third of the units go in the first two seconds.
	s.sleep(ctx, 2*time.Second)
	p := partition.Partition([]byte(d.router.Sale(s.sale.ID)), partitions)
	victim, err := d.cl.Leader(ctx, string(d.fs.Commands), p)
	if err != nil {
		t.Fatal(err)
	}
	table, _ := d.cl.Leader(ctx, string(d.fs.Table()), p)
	affected := d.ledBy(ctx, victim)
	controller := d.activeController(ctx)
	killedAt := time.Now()
	if err := d.cl.Kill(ctx, victim); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed node %d, leader of the sale's partition %d (its table's leader was node %d; the active controller: node %d)",
		victim, p, table, controller)
	s.sleep(ctx, 20*time.Second)
	if err := d.cl.Start(ctx, victim); err != nil {
		t.Fatal(err)
	}
	s.sleep(ctx, 5*time.Second)
	events := s.finish(ctx)
	s.logGaps("sale leader kill", events, killedAt, affected)
}

// TestInstanceKilled kills one instance with SIGKILL under load and starts it again once the
// others hold its partitions. Its purpose is the failover time of an instance: how long the
// partitions it owned stay silent.
func TestInstanceKilled(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 12*time.Minute)
	defer cancel()
	s := setup(ctx, t, "instance", 4, 3000, 50*time.Second)
	d := s.d
	s.sleep(ctx, 6*time.Second)
	// Not the instance the test reads the sale through.
	victim := instances[2]
	owned, err := d.assignment(ctx, d.inv.Group, d.inv.Commands)
	if err != nil || len(owned[victim]) == 0 {
		t.Fatalf("inventory partitions of %s: %v %v", victim, owned, err)
	}
	s.probe.setDown(victim, true)
	killedAt := time.Now()
	d.proc(victim).Kill()
	t.Logf("killed %s, which owned inventory partitions %v", victim, owned[victim])
	s.restartWhenBalanced(ctx, victim)
	t.Logf("%s back and balanced %v after the kill", victim, time.Since(killedAt).Round(time.Millisecond))
	d.checkPeerRemoved(victim, instances...)
	events := s.finish(ctx)
	s.logGaps("instance kill", events, killedAt, owned[victim])
}

// TestInstanceAndBrokerKilled kills an instance and a broker with SIGKILL at the same moment: the
// instance that holds the sale's partition, and the broker that leads one of its inventory
// partitions. The others take its partitions over while the cluster moves leaders; then both come
// back.
func TestInstanceAndBrokerKilled(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 12*time.Minute)
	defer cancel()
	s := setup(ctx, t, "both", 3, 4000, 75*time.Second)
	d := s.d
	s.sleep(ctx, 8*time.Second)
	victim, _, err := d.owner(ctx, d.fs.Group, d.fs.Commands, d.router.Sale(s.sale.ID))
	if err != nil {
		t.Fatal(err)
	}
	owned, err := d.assignment(ctx, d.inv.Group, d.inv.Commands)
	if err != nil || len(owned[victim]) == 0 {
		t.Fatalf("inventory partitions of %s: %v %v", victim, owned, err)
	}
	node, err := d.cl.Leader(ctx, string(d.inv.Commands), owned[victim][0])
	if err != nil {
		t.Fatal(err)
	}
	controller := d.activeController(ctx)
	s.probe.setDown(victim, true)
	killedAt := time.Now()
	done := make(chan error, 1)
	go func() { done <- d.cl.Kill(ctx, node) }()
	d.proc(victim).Kill()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("killed %s (inventory partitions %v) and node %d together (the active controller: node %d)", victim, owned[victim], node, controller)
	s.restartWhenBalanced(ctx, victim)
	t.Logf("%s back and balanced %v after the kill", victim, time.Since(killedAt).Round(time.Millisecond))
	if err := d.cl.Start(ctx, node); err != nil {
		t.Fatal(err)
	}
	s.sleep(ctx, 8*time.Second)
	events := s.finish(ctx)
	s.logGaps("instance and broker kill", events, killedAt, owned[victim])
}

// busiestNode is the node that leads the most partitions of topics.
func busiestNode(ctx context.Context, cl *kafkatest.Cluster, topics ...string) (int, error) {
	count := map[int]int{}
	for _, topic := range topics {
		leaders, err := cl.Leaders(ctx, topic)
		if err != nil {
			return 0, err
		}
		for _, n := range leaders {
			count[n]++
		}
	}
	best := 0
	for n := 1; n <= kafkatest.ClusterNodes; n++ {
		if count[n] > count[best] {
			best = n
		}
	}
	return best, nil
}

// activeController is the node leading the controller quorum, for the logs: a broker kill that
// takes it costs the cluster a controller election before it fences the dead broker. 0 when the
// cluster does not say.
func (d *deployment) activeController(ctx context.Context) int {
	n, err := d.cl.ActiveController(ctx)
	if err != nil {
		d.t.Logf("the active controller: %v", err)
	}
	return n
}

// ledBy lists the inventory partitions whose commands, events or table node leads.
func (d *deployment) ledBy(ctx context.Context, node int) []int32 {
	d.t.Helper()
	var out []int32
	for _, topic := range []string{string(d.inv.Commands), string(d.inv.Events), string(d.inv.Table())} {
		leaders, err := d.cl.Leaders(ctx, topic)
		if err != nil {
			d.t.Fatal(err)
		}
		for p, n := range leaders {
			if n == node && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return out
}

// logGaps logs, for each partition, how long the inventory's results stopped around at while the
// load still sent into it, and the median and the longest over the partitions the fault hit and
// over those it did not: these stop only for the rebalances, and a fault that holds them up longer
// shows there.
func (s *scenario) logGaps(what string, l *eventLog, at time.Time, hit []int32) {
	t := s.t
	t.Helper()
	var hits, others []time.Duration
	var line []string
	for p := range int32(partitions) {
		g, ended, ok := gapAround(l.byPartition[p], at, s.cmds.lastSent[p])
		if !ok {
			continue
		}
		mark := ""
		if slices.Contains(hit, p) {
			hits = append(hits, g)
			mark = "*"
		} else {
			others = append(others, g)
		}
		line = append(line, fmt.Sprintf("%d%s=%v(+%v)", p, mark, g.Round(time.Millisecond), ended.Sub(at).Round(time.Millisecond)))
	}
	t.Logf("%s at %s: results stopped for %v (* the partitions hit; in brackets when they resumed, after the fault); hit p50 %v max %v; not hit p50 %v max %v",
		what, at.UTC().Format("15:04:05.000"), line, median(hits).Round(time.Millisecond), slices.Max(append(hits, 0)).Round(time.Millisecond),
		median(others).Round(time.Millisecond), slices.Max(append(others, 0)).Round(time.Millisecond))
}
