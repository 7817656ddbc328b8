package instance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/titan-commerce/titan/api"
	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkatest"
)

// TestReadsAnswerDuringRebalance: while a second instance joins the
// inventory's groups and later leaves, so that the first instance's
// processors give up partitions and take them back, every read from the
// first instance's API answers 200 with the stock it holds and says how
// stale it may be (Titan-View-Lag, Titan-View-Age-Ms), even while its
// /readyz answers 503 for the processors restoring their partitions.
func TestReadsAnswerDuringRebalance(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	f := start(ctx, t, instance.TopologyInventory)
	f.waitReady(ctx)
	const sku = "sku-read-through"
	if status, body, err := f.post(ctx, "/v1/inventory/"+sku+"/restock", map[string]any{"qty": 9}); err != nil || status != http.StatusOK {
		t.Fatalf("restock: %d %s %v", status, body, err)
	}

	// The restock's answer comes from its result event; the view the reads
	// come from follows the table's changelog a moment later, and says how
	// fresh it is once the instance has looked up the changelog's end since
	// (every 250 ms): until then a read carries no freshness headers.
	err := kafkatest.WaitFor(ctx, "the view holding the restock, its freshness known", func() (bool, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.base+"/v1/inventory/"+sku, nil)
		resp, err := f.http.Do(req)
		if err != nil {
			return false, err.Error()
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var s stockJSON
		return resp.StatusCode == http.StatusOK && json.Unmarshal(body, &s) == nil && s.OnHand == 9 &&
			resp.Header.Get(api.HeaderViewLag) != "", fmt.Sprintf("%s %v", body, resp.Header)
	})
	if err != nil {
		t.Fatal(err)
	}
	reads := startReading(ctx, t, f, sku, 9)

	// A second instance joins: the first gives up some partitions.
	peerCtx, stopPeer := context.WithCancel(context.Background())
	peerDone := make(chan error, 1)
	peer, err := instance.New(ctx, instance.Config{
		Topologies: []string{instance.TopologyInventory}, Brokers: f.brokers, Namespace: f.ns,
		StateDir: t.TempDir(), Partitions: partitions, InstanceID: "peer",
		Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() { peerDone <- peer.Run(peerCtx) }()
	defer func() {
		stopPeer()
		<-peerDone
	}()
	f.waitAssigned(ctx, func(n int) bool { return n > 0 && n < partitions }, "fewer partitions once the peer joined")

	// The peer leaves: the first takes every partition back.
	stopPeer()
	select {
	case err := <-peerDone:
		if err != nil {
			t.Errorf("peer run: %v", err)
		}
		peerDone <- nil // for the deferred wait
	case <-time.After(stopWait):
		t.Fatalf("the peer did not stop within %v", stopWait)
	}
	f.waitAssigned(ctx, func(n int) bool { return n == partitions }, "every partition back once the peer left")
	f.waitReady(ctx)

	got := reads.stop()
	t.Logf("%d reads during the rebalances; %d while /readyz said 503; largest lag %d, largest age %v",
		got.n, got.whileNotReady, got.maxLag, got.maxAge)
	if got.n == 0 {
		t.Fatal("no read was made")
	}
	for _, e := range got.errs {
		t.Error(e)
	}
}

// reading polls a SKU's stock and the instance's readiness until stopped.
type reading struct {
	cancel context.CancelFunc
	done   chan readResults
}

type readResults struct {
	n, whileNotReady int
	maxLag           int64
	maxAge           time.Duration
	errs             []string
}

func startReading(ctx context.Context, t *testing.T, f *fixture, sku string, onHand int64) *reading {
	ctx, cancel := context.WithCancel(ctx)
	r := &reading{cancel: cancel, done: make(chan readResults, 1)}
	go func() {
		var res readResults
		defer func() { r.done <- res }()
		fail := func(format string, args ...any) {
			if len(res.errs) < 10 {
				res.errs = append(res.errs, fmt.Sprintf(format, args...))
			}
		}
		for ctx.Err() == nil {
			ready, _, _ := f.get(ctx, "/readyz")
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.base+"/v1/inventory/"+sku, nil)
			resp, err := f.http.Do(req)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				fail("read: %v", err)
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			res.n++
			if ready != http.StatusOK {
				res.whileNotReady++
			}
			var s stockJSON
			lag, lagErr := strconv.ParseInt(resp.Header.Get(api.HeaderViewLag), 10, 64)
			age, ageErr := strconv.ParseInt(resp.Header.Get(api.HeaderViewAge), 10, 64)
			switch {
			case resp.StatusCode != http.StatusOK:
				fail("read: %d %s", resp.StatusCode, body)
			case json.Unmarshal(body, &s) != nil || s.OnHand != onHand:
				fail("read: %s, want on hand %d", body, onHand)
			case lagErr != nil || ageErr != nil || lag < 0 || age < 0:
				fail("read without freshness headers: %v", resp.Header)
			default:
				res.maxLag = max(res.maxLag, lag)
				res.maxAge = max(res.maxAge, time.Duration(age)*time.Millisecond)
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return r
}

func (r *reading) stop() readResults {
	r.cancel()
	return <-r.done
}

// waitAssigned waits until the partitions the instance's inventory
// processor holds, as /readyz tells them, satisfy ok.
func (f *fixture) waitAssigned(ctx context.Context, ok func(int) bool, what string) {
	f.t.Helper()
	err := kafkatest.WaitFor(ctx, what, func() (bool, string) {
		_, body, err := f.get(ctx, "/readyz")
		if err != nil {
			return false, err.Error()
		}
		var r readyz
		if err := json.Unmarshal(body, &r); err != nil {
			return false, string(body)
		}
		for _, c := range r.Components {
			if c.Name == instance.TopologyInventory && len(c.Tables) > 0 {
				n := c.Tables[0].PartitionsTotal
				return ok(n), fmt.Sprintf("%d partitions held: %s", n, body)
			}
		}
		return false, string(body)
	})
	if err != nil {
		f.t.Fatal(err)
	}
}
