package state_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/storage"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/state"
)

// TestProcessorResumesFromLocalState runs a goka processor that counts
// messages per key on an in-process Kafka (kfake), with its state in this
// package. Restarted on the same directory it must resume from the stored
// offset without replaying the changelog; restarted on an empty one it must
// rebuild everything from the changelog. Counts must be right every time.
func TestProcessorResumesFromLocalState(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process Kafka and three processor runs")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	defer cancel()
	k := newKafka(ctx, t)

	want := map[string]int64{}
	dir := t.TempDir()

	// First run: count 300 messages from scratch.
	run := k.startCounter(ctx, t, dir)
	k.produce(ctx, t, want, 300, 0)
	run.waitCaughtUp(ctx, t, k, want)
	if n := run.recovered.Load(); n != 0 {
		t.Errorf("first run recovered %d changelog records from an empty changelog", n)
	}
	run.stop(ctx, t)

	// Same directory: nothing to replay, and counting goes on from there.
	run = k.startCounter(ctx, t, dir)
	run.waitCaughtUp(ctx, t, k, want)
	if n := run.recovered.Load(); n != 0 {
		t.Errorf("restart on the same directory replayed %d changelog records, want 0", n)
	}
	k.produce(ctx, t, want, 200, 300)
	run.waitCaughtUp(ctx, t, k, want)
	run.stop(ctx, t)

	// Empty directory: the whole changelog is replayed.
	run = k.startCounter(ctx, t, t.TempDir())
	run.waitCaughtUp(ctx, t, k, want)
	if n, total := run.recovered.Load(), k.changelogLength(ctx, t); n != total {
		t.Errorf("restart on an empty directory replayed %d changelog records, want all %d", n, total)
	} else {
		t.Logf("restart on an empty directory replayed all %d changelog records", n)
	}
	run.stop(ctx, t)
}

// TestProcessorRecoversAfterUncleanStop: goka closes every storage when its
// context ends, so a processor cannot be abandoned mid-run from inside the
// test process. A copy of the state directory taken while the processor runs
// is what a kill -9 at that moment leaves behind; a processor started on it
// must throw every partition away and rebuild it from the changelog, and
// then be trusted again after a clean stop.
func TestProcessorRecoversAfterUncleanStop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process Kafka and three processor runs")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	k := newKafka(ctx, t)

	want := map[string]int64{}
	dir, killed := t.TempDir(), t.TempDir()
	run := k.startCounter(ctx, t, dir)
	k.produce(ctx, t, want, 300, 0)
	run.waitCaughtUp(ctx, t, k, want)
	copyTree(t, dir, killed)
	run.stop(ctx, t)

	var logs logBuffer
	run = k.startCounter(ctx, t, killed, logs.option())
	run.waitCaughtUp(ctx, t, k, want)
	if n, total := run.recovered.Load(), k.changelogLength(ctx, t); n != total {
		t.Errorf("start after an unclean stop replayed %d changelog records, want all %d", n, total)
	}
	if w := logs.warnings(); len(w) != partitions {
		t.Errorf("start after an unclean stop logged %d warnings, want one per partition (%d): %q", len(w), partitions, w)
	}
	k.produce(ctx, t, want, 200, 300)
	run.waitCaughtUp(ctx, t, k, want)
	run.stop(ctx, t)

	run = k.startCounter(ctx, t, killed)
	run.waitCaughtUp(ctx, t, k, want)
	if n := run.recovered.Load(); n != 0 {
		t.Errorf("clean restart after a recovery replayed %d changelog records, want 0", n)
	}
	run.stop(ctx, t)
}

const (
	counterGroup = goka.Group("counter")
	clicksTopic  = goka.Stream("clicks")
	partitions   = 4
)

var counterTable = goka.GroupTable(counterGroup)

type kafka struct {
	brokers []string
	client  *kgo.Client
	admin   *kadm.Client
}

func newKafka(ctx context.Context, t *testing.T) *kafka {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()
	// Producers into a goka topic must partition as goka does (sarama's
	// FNV-1a), or the processor would own the wrong keys.
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(kgo.SaramaCompatHasher(fnv32a))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	admin := kadm.NewClient(client)
	for topic, configs := range map[string]map[string]*string{
		string(clicksTopic):  nil,
		string(counterTable): {"cleanup.policy": kadm.StringPtr("compact")},
	} {
		resp, err := admin.CreateTopics(ctx, partitions, 1, configs, topic)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatalf("create topic %s: %v", topic, err)
		}
	}
	return &kafka{brokers: brokers, client: client, admin: admin}
}

func fnv32a(b []byte) uint32 {
	h := fnv.New32a()
	h.Write(b)
	return h.Sum32()
}

// produce sends n clicks over 20 keys and adds them to want.
func (k *kafka) produce(ctx context.Context, t *testing.T, want map[string]int64, n, from int) {
	t.Helper()
	recs := make([]*kgo.Record, 0, n)
	for i := from; i < from+n; i++ {
		key := fmt.Sprintf("user-%02d", i%20)
		want[key]++
		recs = append(recs, &kgo.Record{Topic: string(clicksTopic), Key: []byte(key), Value: []byte("click")})
	}
	if err := k.client.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// changelogEnds returns the next offset of each changelog partition.
func (k *kafka) changelogEnds(ctx context.Context) (map[int32]int64, error) {
	listed, err := k.admin.ListEndOffsets(ctx, string(counterTable))
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, err
	}
	ends := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	return ends, nil
}

func (k *kafka) changelogLength(ctx context.Context, t *testing.T) int64 {
	t.Helper()
	ends, err := k.changelogEnds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, end := range ends {
		n += end
	}
	return n
}

// saramaConfig returns a fresh config per goka builder: goka's builders
// write the client id and partitioner into the config they are given.
func saramaConfig() *sarama.Config {
	cfg := goka.DefaultConfig()
	cfg.Version = sarama.V2_1_0_0
	// The test produces before the first run has joined the group.
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Producer.Flush.Frequency = 5 * time.Millisecond
	return cfg
}

type counterRun struct {
	builder   *state.Builder
	cancel    context.CancelFunc
	done      chan error
	recovered atomic.Int64 // changelog records goka replayed into storage
}

func (k *kafka) startCounter(ctx context.Context, t *testing.T, dir string, opts ...state.Option) *counterRun {
	t.Helper()
	b, err := state.NewBuilder(dir, append(opts, state.WithCacheSize(1<<20))...)
	if err != nil {
		t.Fatal(err)
	}
	r := &counterRun{builder: b, done: make(chan error, 1)}
	graph := goka.DefineGroup(counterGroup,
		goka.Input(clicksTopic, new(codec.String), func(ctx goka.Context, _ any) {
			var n int64
			if v := ctx.Value(); v != nil {
				n = v.(int64)
			}
			ctx.SetValue(n + 1)
		}),
		goka.Persist(new(codec.Int64)),
	)
	tmc := goka.NewTopicManagerConfig()
	tmc.Table.Replication = 1
	tmc.Stream.Replication = 1
	p, err := goka.NewProcessor(k.brokers, graph,
		goka.WithStorageBuilder(b.Build),
		goka.WithTopicManagerBuilder(goka.TopicManagerBuilderWithConfig(saramaConfig(), tmc)),
		goka.WithConsumerGroupBuilder(goka.ConsumerGroupBuilderWithConfig(saramaConfig())),
		goka.WithConsumerSaramaBuilder(goka.SaramaConsumerBuilderWithConfig(saramaConfig())),
		goka.WithProducerBuilder(goka.ProducerBuilderWithConfig(saramaConfig())),
		goka.WithUpdateCallback(func(uc goka.UpdateContext, s storage.Storage, key string, value []byte) error {
			r.recovered.Add(1)
			return goka.DefaultUpdate(uc, s, key, value)
		}),
		goka.WithLogger(newGokaLogger(t)),
	)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	go func() { r.done <- p.Run(runCtx) }()
	return r
}

// waitCaughtUp waits until every partition is open and recovered, its stored
// offset is the last record of its changelog partition, and the counts in
// storage are want.
func (r *counterRun) waitCaughtUp(ctx context.Context, t *testing.T, k *kafka, want map[string]int64) {
	t.Helper()
	var last string
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, why, err := r.caughtUp(ctx, k, want)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		last = why
		select {
		case err := <-r.done:
			t.Fatalf("processor stopped while waiting (%s): %v", last, err)
		case <-ctx.Done():
			t.Fatalf("processor did not catch up: %s", last)
		case <-tick.C:
		}
	}
}

func (r *counterRun) caughtUp(ctx context.Context, k *kafka, want map[string]int64) (bool, string, error) {
	open := r.builder.Open(string(counterTable))
	if len(open) != partitions {
		return false, fmt.Sprintf("%d of %d partitions open", len(open), partitions), nil
	}
	ends, err := k.changelogEnds(ctx)
	if err != nil {
		return false, "", err
	}
	got := map[string]int64{}
	for _, p := range open {
		if !p.Storage.Recovered() {
			return false, fmt.Sprintf("partition %d recovering", p.Partition), nil
		}
		off, err := p.Storage.GetOffset(-1)
		if err != nil {
			return false, "", err
		}
		if off != ends[p.Partition]-1 {
			return false, fmt.Sprintf("partition %d at offset %d, changelog ends at %d", p.Partition, off, ends[p.Partition]), nil
		}
		if err := readCounts(p.Storage, got); err != nil {
			return false, "", err
		}
	}
	if !maps.Equal(got, want) {
		return false, fmt.Sprintf("counts %v, want %v", got, want), nil
	}
	return true, "", nil
}

func readCounts(st *state.Storage, into map[string]int64) error {
	it, err := st.Iterator()
	if err != nil {
		return err
	}
	defer it.Release()
	for it.Next() {
		raw, err := it.Value()
		if err != nil {
			return err
		}
		n, err := new(codec.Int64).Decode(raw)
		if err != nil {
			return err
		}
		into[string(it.Key())] = n.(int64)
	}
	return it.Err()
}

func (r *counterRun) stop(ctx context.Context, t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("processor run: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("processor did not stop")
	}
	if open := r.builder.Open(string(counterTable)); len(open) != 0 {
		t.Errorf("%d partitions still open after the processor stopped", len(open))
	}
	r.builder.Close()
}

// gokaLogger sends goka's log lines to the test log while the test runs;
// goka's goroutines can outlive a failing test, and t.Log after the end
// panics.
type gokaLogger struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func newGokaLogger(t *testing.T) *gokaLogger {
	l := &gokaLogger{t: t}
	t.Cleanup(func() {
		l.mu.Lock()
		l.done = true
		l.mu.Unlock()
	})
	return l
}

func (l *gokaLogger) log(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done && testing.Verbose() {
		l.t.Log(s)
	}
}

func (l *gokaLogger) Print(args ...any)                 { l.log(fmt.Sprint(args...)) }
func (l *gokaLogger) Println(args ...any)               { l.log(fmt.Sprint(args...)) }
func (l *gokaLogger) Printf(format string, args ...any) { l.log(fmt.Sprintf(format, args...)) }
