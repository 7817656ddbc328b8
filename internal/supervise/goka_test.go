package supervise_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/storage"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/supervise"
)

// TestGokaProcessorBrokerGone: a goka processor whose broker goes away
// (every connection refused) returns an error from Run; the supervisor
// treats it as any failure, and keeps building the processor again with
// backoff, each build failing while the broker is away, until it is back.
// The broker is an in-process kfake cluster, closed and started again on
// the same port.
func TestGokaProcessorBrokerGone(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process Kafka twice")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	port := freePort(t)
	cluster := startKafka(ctx, t, port)
	brokers := []string{fmt.Sprintf("127.0.0.1:%d", port)}

	var builds, resets atomic.Int32
	graph := goka.DefineGroup("supervised",
		goka.Input("clicks", new(codec.String), func(ctx goka.Context, msg any) { ctx.SetValue(msg) }),
		goka.Persist(new(codec.String)),
	)
	build := func(context.Context) (supervise.Runner, error) {
		builds.Add(1)
		cfg := gokaopts.Config{Brokers: brokers, Replication: 1, Storage: storage.MemoryBuilder(), ClientID: "supervised",
			Logger: slog.New(slog.DiscardHandler)}
		p, err := goka.NewProcessor(brokers, graph, cfg.Processor(gokaopts.OutputsFirst)...)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
	first, err := build(ctx)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedWriter{}
	sup, err := supervise.New(supervise.Options{
		Backoff: supervise.Backoff{Min: 100 * time.Millisecond, Max: time.Second, Healthy: time.Minute},
		Logger:  slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	err = sup.Add(supervise.Component{Name: "supervised", First: first, New: build,
		Reset: func(context.Context, error) error { resets.Add(1); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sup.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Logf("Run at shutdown: %v", err)
		}
	}()

	status := func() supervise.Status { return sup.Health()[0] }
	waitFor(ctx, t, "the processor to run", func() bool { return status().State == supervise.Running })

	cluster.Close()
	gone := time.Now()
	waitFor(ctx, t, "the processor to fail", func() bool { return status().Failures > 0 })
	st := status()
	t.Logf("failed %v after the broker went: %v", time.Since(gone).Round(time.Millisecond), st.Err)
	if st.Err == nil || errors.Is(st.Err, supervise.ErrStopped) {
		t.Errorf("the processor's Run returned %v, want the consumer group's error", st.Err)
	}
	// Builds fail while the broker is away: each is one more failure.
	waitFor(ctx, t, "builds to fail", func() bool { return status().Failures >= 3 })
	if st := status(); st.State != supervise.Failed || !strings.Contains(st.Err.Error(), "build") {
		t.Errorf("with the broker away: %+v, want failed builds", st)
	}

	startKafka(ctx, t, port)
	waitFor(ctx, t, "the processor to run again", func() bool { return status().State == supervise.Running })
	if b, r := builds.Load(), resets.Load(); b < 4 || r < 1 {
		t.Errorf("%d builds and %d resets, want the first, one per failed build, the last; a reset per failed run", b, r)
	}
	if l := logs.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "component=supervised") ||
		!strings.Contains(l, "connection refused") {
		t.Errorf("the failure is not in the log at error level with the component's name:\n%s", l)
	}
	t.Logf("back after %d builds and %d failures", builds.Load(), status().Failures)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startKafka starts a one-broker kfake cluster on port with the input
// topic, closed when the test ends if not before.
func startKafka(ctx context.Context, t *testing.T, port int) *kfake.Cluster {
	t.Helper()
	var (
		c   *kfake.Cluster
		err error
	)
	// The port of a cluster just closed can take a moment to be free.
	for range 50 {
		if c, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port)); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if resp, err := kadm.NewClient(cl).CreateTopics(ctx, 2, 1, nil, "clicks"); err != nil || resp.Error() != nil {
		t.Fatalf("create clicks: %v %v", err, resp.Error())
	}
	return c
}

func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// lockedWriter collects the supervisor's log, echoed under -v.
type lockedWriter struct {
	mu sync.Mutex
	w  strings.Builder
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if testing.Verbose() {
		os.Stderr.Write(p)
	}
	return l.w.Write(p)
}
