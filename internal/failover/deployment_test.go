package failover_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/internal/proctest"
	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/topologies/flashsaletopo"
	"github.com/titan-commerce/titan/topologies/inventorytopo"
)

const (
	partitions  = 8
	replication = 3
)

// sessionArgs sets the instances' --group-session-timeout from TITAN_FAILOVER_SESSION_TIMEOUT, to
// measure failover with another timeout than the default (cluster.sh accepts down to 1 s). The
// tests run with the default: at 2 s, on a busy 2-core machine, a ledger went back several steps
// after a broker kill, most likely members dropped from their group while still sending, whose late
// writes nothing fences off without transactions (see BENCHMARKS.md, "Failover").
func sessionArgs(t *testing.T) []string {
	v := os.Getenv("TITAN_FAILOVER_SESSION_TIMEOUT")
	if v == "" {
		return nil
	}
	if _, err := time.ParseDuration(v); err != nil {
		t.Fatalf("TITAN_FAILOVER_SESSION_TIMEOUT=%q: %v", v, err)
	}
	return []string{"--group-session-timeout", v}
}

// logDir is where the instances' logs go: TITAN_FAILOVER_LOG_DIR/<test> when that is set (kept
// after the test, for reading a failover's timeline), else a directory the test removes.
func logDir(t *testing.T) string {
	root := os.Getenv("TITAN_FAILOVER_LOG_DIR")
	if root == "" {
		return t.TempDir()
	}
	dir := filepath.Join(root, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// deployment is one test's namespace on the cluster and the titan processes that run it.
type deployment struct {
	t       *testing.T
	cl      *kafkatest.Cluster
	brokers []string
	ns      string
	inv     inventorytopo.Names
	fs      flashsaletopo.Names
	router  *flashsale.Keys
	adm     *kadm.Client
	bin     string
	logDir  string

	mu struct {
		sync.Mutex
		procs map[string]*proctest.Proc
		dirs  map[string]string
	}
}

func newDeployment(ctx context.Context, t *testing.T) *deployment {
	t.Helper()
	cl := kafkatest.NewCluster(t)
	ns := kafkatest.Prefix(t)
	d := &deployment{t: t, cl: cl, brokers: cl.Brokers, ns: ns, inv: inventorytopo.NamesFor(ns), fs: flashsaletopo.NamesFor(ns),
		router: flashsale.NewKeys(partitions), adm: cl.Admin(), logDir: logDir(t)}
	d.mu.procs = map[string]*proctest.Proc{}
	d.mu.dirs = map[string]string{}
	// Registered before any process starts, so it runs after they are killed.
	kafkatest.DeleteNamespace(t, d.adm, ns)
	// The cluster must be whole before the test breaks it.
	if err := cl.WaitInSync(ctx, ""); err != nil {
		t.Fatal(err)
	}
	d.bin = proctest.Build(ctx, t)
	return d
}

// spawn starts `titan run` as id, on the state directory id had before if it ran already.
func (d *deployment) spawn(id string) *proctest.Proc {
	d.t.Helper()
	d.mu.Lock()
	dir, ok := d.mu.dirs[id]
	if !ok {
		dir = d.t.TempDir()
		d.mu.dirs[id] = dir
	}
	d.mu.Unlock()
	args := []string{"--brokers", strings.Join(d.brokers, ","), "--namespace", d.ns,
		"--state-dir", dir, "--partitions", fmt.Sprint(partitions), "--replication", fmt.Sprint(replication),
		"--instance-id", id, "--sweep-interval", "250ms",
		"--topologies", instance.TopologyInventory + "," + instance.TopologyFlashSale}
	p := proctest.Spawn(d.t, d.bin, id, d.logDir, append(args, sessionArgs(d.t)...)...)
	d.mu.Lock()
	d.mu.procs[id] = p
	d.mu.Unlock()
	return p
}

func (d *deployment) proc(id string) *proctest.Proc {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mu.procs[id]
}

// start spawns the instances and waits until each is ready and every group is stable with all of
// them.
func (d *deployment) start(ctx context.Context, ids ...string) {
	d.t.Helper()
	began := time.Now()
	for _, id := range ids {
		d.spawn(id)
	}
	for _, id := range ids {
		if err := d.proc(id).WaitReady(ctx); err != nil {
			d.t.Fatal(err)
		}
	}
	if err := d.waitStable(ctx, len(ids)); err != nil {
		d.t.Fatal(err)
	}
	d.t.Logf("%d instances ready and balanced after %v", len(ids), time.Since(began).Round(time.Millisecond))
}

// groups lists each consumer group with the input topic whose partitions say how its work is
// split.
func (d *deployment) groups() map[goka.Group]goka.Stream {
	return map[goka.Group]goka.Stream{
		d.inv.Group:         d.inv.Commands,
		d.inv.OrdersGroup:   d.inv.OrderEvents,
		d.fs.Group:          d.fs.Commands,
		d.fs.PurchasesGroup: d.fs.Events,
	}
}

// stable reports whether every group is stable with exactly members members, each holding part of
// the partitions.
func (d *deployment) stable(ctx context.Context, members int) (bool, string) {
	var names []string
	for g := range d.groups() {
		names = append(names, string(g))
	}
	described, err := d.describeGroups(ctx, names...)
	if err != nil {
		return false, err.Error()
	}
	for g, topic := range d.groups() {
		dg, ok := described[string(g)]
		switch {
		case !ok:
			return false, string(g) + " not described"
		case dg.Err != nil:
			return false, fmt.Sprintf("%s: %v", g, dg.Err)
		case dg.State != "Stable" || len(dg.Members) != members:
			return false, fmt.Sprintf("%s: %s with %d members", g, dg.State, len(dg.Members))
		}
		total := 0
		for _, m := range dg.Members {
			c, ok := m.Assigned.AsConsumer()
			held := 0
			for _, tp := range c.Topics {
				if ok && tp.Topic == string(topic) {
					held += len(tp.Partitions)
				}
			}
			if held == 0 {
				return false, fmt.Sprintf("%s: %s holds nothing", g, m.ClientID)
			}
			total += held
		}
		if total != partitions {
			return false, fmt.Sprintf("%s: %d of %d partitions assigned", g, total, partitions)
		}
	}
	return true, ""
}

// describeGroups describes groups through a client of its own: a client that asked a coordinator
// the test then killed was seen to keep asking it, so a long-lived one never saw the group settle.
func (d *deployment) describeGroups(ctx context.Context, groups ...string) (kadm.DescribedGroups, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.brokers...), kgo.DialTimeout(2*time.Second))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return kadm.NewClient(cl).DescribeGroups(ctx, groups...)
}

func (d *deployment) waitStable(ctx context.Context, members int) error {
	return kafkatest.WaitFor(ctx, fmt.Sprintf("groups stable with %d members", members), func() (bool, string) {
		return d.stable(ctx, members)
	})
}

// assignment maps each instance id to the partitions of topic group assigns it.
func (d *deployment) assignment(ctx context.Context, group goka.Group, topic goka.Stream) (map[string][]int32, error) {
	described, err := d.describeGroups(ctx, string(group))
	if err != nil {
		return nil, err
	}
	dg := described[string(group)]
	if dg.Err != nil {
		return nil, dg.Err
	}
	out := map[string][]int32{}
	for _, m := range dg.Members {
		c, ok := m.Assigned.AsConsumer()
		if !ok {
			continue
		}
		// Client ids are titan-<instance>-<role>.
		id, _, _ := strings.Cut(strings.TrimPrefix(m.ClientID, "titan-"), "-")
		for _, tp := range c.Topics {
			if tp.Topic == string(topic) {
				out[id] = append(out[id], tp.Partitions...)
			}
		}
		slices.Sort(out[id])
	}
	return out, nil
}

// owner names the instance whose group holds the partition of key in topic.
func (d *deployment) owner(ctx context.Context, group goka.Group, topic goka.Stream, key string) (string, int32, error) {
	p := partition.Partition([]byte(key), partitions)
	assigned, err := d.assignment(ctx, group, topic)
	if err != nil {
		return "", p, err
	}
	for id, ps := range assigned {
		if slices.Contains(ps, p) {
			return id, p, nil
		}
	}
	return "", p, fmt.Errorf("no member of %s holds %s/%d: %v", group, topic, p, assigned)
}

// checkAlive reports every instance of ids that exited.
func (d *deployment) checkAlive(ids ...string) {
	d.t.Helper()
	for _, id := range ids {
		if p := d.proc(id); p.Exited() {
			d.t.Errorf("%s exited: %s", id, p.State())
		}
	}
}

// checkPeerRemoved reports a kill of victim that no other instance saw through its liveness beacon
// (internal/liveness): its partitions then moved only after the session timeout.
func (d *deployment) checkPeerRemoved(victim string, ids ...string) {
	d.t.Helper()
	removals := 0
	for _, id := range ids {
		if id != victim {
			removals += strings.Count(d.logFile(id), `msg="removed a dead peer's members"`)
		}
	}
	if removals == 0 {
		d.t.Errorf("no instance removed the group members of %s after its kill", victim)
	}
}

// logFile returns the log of instance id, for a failure's diagnosis.
func (d *deployment) logFile(id string) string {
	b, err := os.ReadFile(d.proc(id).LogPath)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// prober asks every instance, a few times a second, for /healthz and for a stock and a sale read,
// and remembers what each answered, so a test can tell that an instance went on serving through a
// fault. An instance the test itself killed is left out from the kill until it is started again.
type prober struct {
	d      *deployment
	client *http.Client
	sku    string
	saleID string
	cancel context.CancelFunc
	done   chan struct{}

	mu struct {
		sync.Mutex
		down map[string]bool
		// by instance: answers by route and status, and what failed outright
		answers  map[string]map[string]int
		failures map[string][]string
	}
}

func (d *deployment) probe(sku, saleID string, ids ...string) *prober {
	ctx, cancel := context.WithCancel(context.Background())
	p := &prober{d: d, client: &http.Client{Timeout: 10 * time.Second}, sku: sku, saleID: saleID, cancel: cancel,
		done: make(chan struct{})}
	p.mu.down = map[string]bool{}
	p.mu.answers = map[string]map[string]int{}
	p.mu.failures = map[string][]string{}
	go p.run(ctx, ids)
	d.t.Cleanup(p.stop)
	return p
}

// setDown leaves id out of the probes (true) or takes it back in once it is ready again.
func (p *prober) setDown(id string, down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.down[id] = down
}

func (p *prober) run(ctx context.Context, ids []string) {
	defer close(p.done)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.once(ctx, id)
			}()
		}
		wg.Wait()
	}
}

func (p *prober) once(ctx context.Context, id string) {
	for _, route := range []string{"/healthz", "/v1/inventory/" + p.sku, "/v1/flash-sales/" + p.saleID} {
		p.mu.Lock()
		down := p.mu.down[id]
		p.mu.Unlock()
		proc := p.d.proc(id)
		if down || proc == nil {
			return
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+proc.Addr+route, nil)
		if err != nil {
			return
		}
		began := time.Now()
		resp, err := p.client.Do(req)
		if ctx.Err() != nil {
			return
		}
		name := strings.SplitN(strings.TrimPrefix(route, "/"), "/", 3)
		key := strings.Join(name[:min(2, len(name))], "/")
		p.mu.Lock()
		if p.mu.down[id] {
			// Killed while the request was out.
			p.mu.Unlock()
			return
		}
		if err != nil {
			p.mu.failures[id] = append(p.mu.failures[id], fmt.Sprintf("%s %s after %v: %v",
				began.Format("15:04:05.000"), route, time.Since(began).Round(time.Millisecond), err))
		} else {
			resp.Body.Close()
			if p.mu.answers[id] == nil {
				p.mu.answers[id] = map[string]int{}
			}
			p.mu.answers[id][fmt.Sprintf("%s %d", key, resp.StatusCode)]++
			// Reads as well as health: a view that has caught up once
			// serves its copy while it reconnects, however stale.
			if resp.StatusCode != http.StatusOK {
				p.mu.failures[id] = append(p.mu.failures[id], fmt.Sprintf("%s %s answered %d", began.Format("15:04:05.000"), route, resp.StatusCode))
			}
		}
		p.mu.Unlock()
	}
}

func (p *prober) stop() {
	p.cancel()
	<-p.done
}

// check stops the probes and fails the test for every probe that got no answer, or an answer
// other than 200, from an instance the test had not killed; it logs what each instance answered.
func (p *prober) check() {
	p.d.t.Helper()
	p.stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, answers := range p.mu.answers {
		keys := make([]string, 0, len(answers))
		for k := range answers {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s×%d", k, answers[k]))
		}
		p.d.t.Logf("%s answered: %s", id, strings.Join(parts, ", "))
		if answers["v1/inventory 200"] == 0 {
			p.d.t.Errorf("%s never answered a stock read with 200", id)
		}
	}
	for id, failed := range p.mu.failures {
		p.d.t.Errorf("%s stopped serving %d times, e.g. %v", id, len(failed), failed[:min(len(failed), 5)])
	}
}
