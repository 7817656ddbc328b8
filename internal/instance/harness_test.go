package instance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/api"
	"github.com/titan-commerce/titan/internal/faults"
	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/supervise"
)

const (
	partitions = 4
	// stopWait bounds a graceful shutdown: goka drains its partitions and
	// commits before Run returns.
	stopWait = 90 * time.Second
)

// fixture is one instance with the API and the fault-injection hook, in a
// namespace of its own on the shared broker.
type fixture struct {
	t       testing.TB
	brokers []string
	ns      string
	adm     *kadm.Client
	faults  *faults.Injector
	logs    *logBuffer
	inst    *instance.Instance
	base    string
	http    *http.Client
}

// start builds and runs an instance of the topologies; it stops when the
// test ends, and its topics go after that.
func start(ctx context.Context, t testing.TB, topologies ...string) *fixture {
	t.Helper()
	return startWith(ctx, t, nil, topologies...)
}

// startWith is start with the configuration changed by with, if not nil.
func startWith(ctx context.Context, t testing.TB, with func(*instance.Config), topologies ...string) *fixture {
	t.Helper()
	brokers := kafkatest.Brokers(t)
	f := &fixture{t: t, brokers: brokers, ns: kafkatest.Prefix(t), adm: kafkatest.Admin(t, brokers),
		faults: &faults.Injector{}, logs: &logBuffer{}, http: &http.Client{Timeout: 10 * time.Second}}
	// Registered before the instance starts, so it runs after it stopped.
	kafkatest.DeleteNamespace(t, f.adm, f.ns)
	cfg := instance.Config{
		Topologies:    topologies,
		Brokers:       brokers,
		Namespace:     f.ns,
		StateDir:      t.TempDir(),
		HTTPAddr:      "127.0.0.1:0",
		Partitions:    partitions,
		InstanceID:    "faults",
		SweepInterval: 200 * time.Millisecond,
		// Short, so a test sees several restarts while a fault lasts and
		// the instance back soon after it ends.
		RestartBackoff: supervise.Backoff{Min: 200 * time.Millisecond, Max: 2 * time.Second, Healthy: time.Minute},
		Faults:         f.faults,
		Logger:         slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if with != nil {
		with(&cfg)
	}
	inst, err := instance.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.inst, f.base = inst, "http://"+inst.HTTPAddr()
	// Not derived from the test's context: the test decides when the
	// instance stops, and waits for it.
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inst.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("instance run: %v", err)
			}
		case <-time.After(stopWait):
			t.Errorf("the instance did not stop within %v", stopWait)
		}
		if t.Failed() {
			t.Logf("instance log (warnings and errors):\n%s", f.logs.String())
		}
	})
	return f
}

// get requests path from the API.
func (f *fixture) get(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := f.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// post sends a JSON command to the API.
func (f *fixture) post(ctx context.Context, path string, body any) (int, []byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.base+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// readyz is the body of /readyz.
type readyz struct {
	Code       string                `json:"code"`
	Components []api.ComponentStatus `json:"components"`
}

// waitReady waits until /readyz answers 200 and Ready agrees.
func (f *fixture) waitReady(ctx context.Context) {
	f.t.Helper()
	err := kafkatest.WaitFor(ctx, "the instance ready", func() (bool, string) {
		status, body, err := f.get(ctx, "/readyz")
		if err != nil {
			return false, err.Error()
		}
		return status == http.StatusOK && f.inst.Ready(), fmt.Sprintf("%d %s", status, body)
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// waitFailing waits until /readyz answers 503 naming component with the
// injected failure, at least failures times over, checking on every poll
// that /healthz still answers 200, and returns what /readyz said.
func (f *fixture) waitFailing(ctx context.Context, component string, failures int) api.ComponentStatus {
	f.t.Helper()
	var seen api.ComponentStatus
	err := kafkatest.WaitFor(ctx, component+" failing in /readyz", func() (bool, string) {
		if status, body, err := f.get(ctx, "/healthz"); err != nil || status != http.StatusOK {
			f.t.Errorf("/healthz while %s fails: %d %s %v", component, status, body, err)
		}
		status, body, err := f.get(ctx, "/readyz")
		if err != nil {
			return false, err.Error()
		}
		var r readyz
		if status != http.StatusServiceUnavailable || json.Unmarshal(body, &r) != nil || r.Code != "not_ready" {
			return false, fmt.Sprintf("%d %s", status, body)
		}
		for _, c := range r.Components {
			if c.Name == component && strings.Contains(c.Error, faults.ErrInjected.Error()) && c.Failures >= failures &&
				(c.State == string(supervise.Failed) || c.State == string(supervise.Recovering)) {
				seen = c
				return true, ""
			}
		}
		return false, string(body)
	})
	if err != nil {
		f.t.Fatal(err)
	}
	if f.inst.Ready() {
		f.t.Errorf("Ready() is true while /readyz names %s failed", component)
	}
	return seen
}

// checkLogged checks that the instance logged component's failure at Error
// level, with its name and the injected error.
func (f *fixture) checkLogged(component string) {
	f.t.Helper()
	for _, line := range f.logs.lines("ERROR") {
		if strings.Contains(line, "component="+component+" ") && strings.Contains(line, faults.ErrInjected.Error()) {
			return
		}
	}
	f.t.Errorf("no error line names %s and the injected failure", component)
}

// checkMetrics checks that the lag metrics report group's processors,
// which only the incarnation running now can, and that the processors'
// block cache is exported.
func (f *fixture) checkMetrics(ctx context.Context, group string) {
	f.t.Helper()
	status, body, err := f.get(ctx, "/metrics")
	if err != nil || status != http.StatusOK {
		f.t.Fatalf("/metrics: %d %v", status, err)
	}
	lag, cache := false, false
	for line := range strings.Lines(string(body)) {
		lag = lag || strings.HasPrefix(line, "titan_processor_consumer_lag{") && strings.Contains(line, `topology="`+group+`"`)
		cache = cache || strings.HasPrefix(line, `titan_state_block_cache_capacity_bytes{store="processors"} `)
	}
	if !lag {
		f.t.Errorf("/metrics has no consumer lag of %s after the restarts", group)
	}
	if !cache {
		f.t.Errorf("/metrics has no block cache of the processors' state")
	}
}

// checkNoDeadLetters reads the whole dead-letter topic: nothing that
// failed may have become a dead letter.
func (f *fixture) checkNoDeadLetters(ctx context.Context, topic string) {
	f.t.Helper()
	records, err := kafkatest.ReadAll(ctx, f.brokers, f.adm, topic)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, r := range records {
		f.t.Errorf("dead letter at %s %d/%d: %s", topic, r.Partition, r.Offset, r.Value)
	}
}

// reader consumes topic from the start, without a group.
func (f *fixture) reader(topic string) *kgo.Client {
	f.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(cl.Close)
	return cl
}

// pollUntil calls poll until cond holds or ctx ends.
func pollUntil(ctx context.Context, what string, cond func() (bool, string), poll func(context.Context)) error {
	for {
		ok, detail := cond()
		if ok {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w; still missing: %s", what, ctx.Err(), detail)
		}
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		poll(pctx)
		cancel()
	}
}

// logBuffer collects the instance's log; goka and the supervisor log from
// their own goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) lines(level string) []string {
	var out []string
	for line := range strings.Lines(l.String()) {
		if strings.Contains(line, "level="+level) {
			out = append(out, line)
		}
	}
	return out
}
