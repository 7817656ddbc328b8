package instance

import (
	"context"
	"errors"
	"log/slog"
	"strings"
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
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/internal/supervise"
)

// TestViewRebuiltAfterFailure: a goka view the API reads fails (here its
// storage cannot open, the one failure an auto-reconnecting view returns);
// the supervisor builds another, and the view the API holds answers from
// the new one.
func TestViewRebuiltAfterFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process Kafka")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	const table = goka.Table("stock-table")
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(partition.Kgo()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if resp, err := kadm.NewClient(cl).CreateTopics(ctx, 2, 1, nil, string(table)); err != nil || resp.Error() != nil {
		t.Fatalf("create %s: %v %v", table, err, resp.Error())
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: string(table), Key: []byte("sku-1"), Value: []byte("7")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	var refuse atomic.Bool
	refuse.Store(true)
	store := func(topic string, p int32) (storage.Storage, error) {
		return &refusingStorage{Storage: storage.NewMemory(), refuse: &refuse}, nil
	}
	i := &Instance{brokers: brokers, log: slog.New(slog.DiscardHandler)}
	if i.sup, err = supervise.New(supervise.Options{Logger: i.log,
		Backoff: supervise.Backoff{Min: 50 * time.Millisecond, Max: 200 * time.Millisecond, Healthy: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	cfg := gokaopts.Config{Brokers: brokers, Replication: 1, Storage: store, Logger: i.log}
	v, err := i.newView(table, new(codec.String), cfg.View()...)
	if err != nil {
		t.Fatal(err)
	}
	first := v.current()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- i.sup.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("supervisor run: %v", err)
		}
	}()

	health := func() supervise.Status { return i.sup.Health()[0] }
	for health().Failures == 0 {
		sleepOrFail(ctx, t, "the view to fail")
	}
	// goka formats the storage's error into its own with %v.
	if st := health(); st.Name != "view "+string(table) || st.Err == nil || !strings.Contains(st.Err.Error(), errRefused.Error()) || v.Recovered() {
		t.Errorf("after the failure: %+v, recovered %t; want the view named with its error, not recovered", st, v.Recovered())
	}
	refuse.Store(false)
	for !v.Recovered() {
		sleepOrFail(ctx, t, "the rebuilt view to recover")
	}
	if v.current() == first {
		t.Error("the API's view still reads the failed incarnation")
	}
	if got, err := v.Get("sku-1"); err != nil || got != "7" {
		t.Errorf("Get through the rebuilt view = %v, %v, want 7", got, err)
	}
	if !i.sup.Ready() {
		t.Errorf("not ready once the view recovered: %+v", i.sup.Health())
	}
}

var errRefused = errors.New("storage refused to open")

// refusingStorage fails Open while refuse is set.
type refusingStorage struct {
	storage.Storage
	refuse *atomic.Bool
}

func (s *refusingStorage) Open() error {
	if s.refuse.Load() {
		return errRefused
	}
	return s.Storage.Open()
}

func sleepOrFail(ctx context.Context, t *testing.T, what string) {
	t.Helper()
	select {
	case <-ctx.Done():
		t.Fatalf("timed out waiting for %s", what)
	case <-time.After(20 * time.Millisecond):
	}
}
