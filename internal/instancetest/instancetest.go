// Package instancetest runs a Titan instance for a test, against the test
// broker of internal/kafkatest, in a namespace of the test's own.
package instancetest

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkatest"
)

// stopWait bounds a graceful stop: goka drains its partitions and commits
// before Run returns.
const stopWait = 2 * time.Minute

// readyWait bounds the wait for a new instance to be ready, whatever ctx allows.
const readyWait = 2 * time.Minute

// Run builds and runs an instance of cfg and returns it once it is ready,
// or fails the test when ctx ends or readyWait passes first. The instance
// is built with ctx, which must last as long as it runs. What cfg leaves
// empty is the test's: Brokers from kafkatest.Brokers, Namespace from
// kafkatest.Prefix, a temporary StateDir, the namespace as InstanceID, and
// a Logger of warnings to stderr. The instance stops when the test ends,
// and the namespace's topics and groups go after that.
func Run(ctx context.Context, t *testing.T, cfg instance.Config) *instance.Instance {
	t.Helper()
	if len(cfg.Brokers) == 0 {
		cfg.Brokers = kafkatest.Brokers(t)
	}
	if cfg.Namespace == "" {
		cfg.Namespace = kafkatest.Prefix(t)
	}
	if cfg.StateDir == "" {
		cfg.StateDir = t.TempDir()
	}
	if cfg.InstanceID == "" {
		cfg.InstanceID = cfg.Namespace
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	// Registered before the instance starts, so it runs after it stopped.
	kafkatest.DeleteNamespace(t, kafkatest.Admin(t, cfg.Brokers), cfg.Namespace)
	inst, err := instance.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Not derived from ctx: the test decides when the instance stops, and
	// waits for it.
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inst.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("instance: %v", err)
			}
		case <-time.After(stopWait):
			t.Errorf("the instance did not stop within %v", stopWait)
		}
	})
	wait, cancel := context.WithTimeout(ctx, readyWait)
	defer cancel()
	if err := kafkatest.WaitFor(wait, "instance ready", func() (bool, string) { return inst.Ready(), "recovering" }); err != nil {
		t.Fatal(err)
	}
	return inst
}
