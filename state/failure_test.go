package state_test

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/internal/faults"
	"github.com/titan-commerce/titan/state"
)

const appliedTopic = goka.Stream("applied")

// TestFailedSendRecoversFromChangelog runs a processor shaped like the
// flash sale's and the order saga's: it emits what a click yields before it
// writes its state, and a click its state already covers yields nothing.
// Its sends fail for a while, so it stops with local values whose changelog
// records and outputs never reached Kafka, and is built again in the same
// process on the same builder. With the table distrusted the new processor
// recovers from the changelog and every click's output is there in the
// end; trusted, as it was before Distrust existed, the clicks that failed
// are skipped and their outputs are lost, which is what the first case
// guards against.
func TestFailedSendRecoversFromChangelog(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an in-process Kafka and two processor runs per case")
	}
	for _, distrust := range []bool{true, false} {
		t.Run(fmt.Sprintf("distrust=%t", distrust), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			k := newKafka(ctx, t)
			if resp, err := k.admin.CreateTopics(ctx, partitions, 1, nil, string(appliedTopic)); err != nil || resp.Error() != nil {
				t.Fatalf("create %s: %v %v", appliedTopic, err, resp.Error())
			}
			b, err := state.NewBuilder(t.TempDir(), state.WithCacheSize(1<<20))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			var in faults.Injector
			out := k.outputs(t)

			first := k.startApplier(ctx, t, b, &in)
			want := map[string]int64{}
			k.produce(ctx, t, want, 100, 0)
			out.await(ctx, t, 100)

			in.FailSends(true)
			k.produce(ctx, t, want, 60, 100)
			var runErr error
			select {
			case runErr = <-first:
			case <-ctx.Done():
				t.Fatal("the processor did not stop when its sends failed")
			}
			if runErr == nil || !strings.Contains(runErr.Error(), faults.ErrInjected.Error()) {
				t.Fatalf("Run after failed sends = %v, want the injected failure", runErr)
			}
			if open := b.Open(string(counterTable)); len(open) != 0 {
				t.Fatalf("%d storages still open after the processor stopped", len(open))
			}
			in.FailSends(false)
			if distrust {
				if err := b.Distrust(string(counterTable)); err != nil {
					t.Fatal(err)
				}
			}

			second := k.startApplier(ctx, t, b, &in)
			k.waitCommitted(ctx, t)
			// goka commits a click once its outputs are acknowledged.
			out.readToEnd(ctx, t, k)
			missing := out.missing(ctx, t, k)
			if distrust && len(missing) != 0 {
				t.Errorf("clicks without an output after recovering from the changelog: %v", missing)
			}
			if !distrust && len(missing) == 0 {
				t.Errorf("no output lost on trusted local state: the sends failed too late to test anything")
			}
			if got := k.applied(t, b); !maps.Equal(got, want) {
				t.Errorf("clicks applied per key:\n got %v\nwant %v", got, want)
			}
			cancel()
			if err := <-second; err != nil && ctx.Err() == nil {
				t.Errorf("second run: %v", err)
			}
			t.Logf("distrust=%t: %d clicks without an output, %d outputs for 160 clicks", distrust, len(missing), out.records)
		})
	}
}

// applierState is what the processor keeps per key: how many clicks it has
// applied and the offset of the last, as "count/offset".
type applierState struct {
	count, last int64
}

func (s applierState) encode() string { return fmt.Sprintf("%d/%d", s.count, s.last) }

func decodeApplier(v string) (applierState, error) {
	c, l, ok := strings.Cut(v, "/")
	count, err1 := strconv.ParseInt(c, 10, 64)
	last, err2 := strconv.ParseInt(l, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return applierState{}, fmt.Errorf("state %q", v)
	}
	return applierState{count, last}, nil
}

// startApplier runs the processor on b with in's switches and returns where
// its Run ends. A click's key lives in one partition, so offsets grow per
// key and the last one says which clicks the state covers.
func (k *kafka) startApplier(ctx context.Context, t *testing.T, b *state.Builder, in *faults.Injector) <-chan error {
	t.Helper()
	graph := goka.DefineGroup(counterGroup,
		goka.Input(clicksTopic, new(codec.String), func(ctx goka.Context, _ any) {
			s := applierState{last: -1}
			if v := ctx.Value(); v != nil {
				var err error
				if s, err = decodeApplier(v.(string)); err != nil {
					ctx.Fail(err)
				}
			}
			if ctx.Offset() <= s.last {
				return
			}
			s.count, s.last = s.count+1, ctx.Offset()
			ctx.Emit(appliedTopic, ctx.Key(), fmt.Sprintf("%d/%d", ctx.Partition(), ctx.Offset()))
			ctx.SetValue(s.encode())
		}),
		goka.Output(appliedTopic, new(codec.String)),
		goka.Persist(new(codec.String)),
	)
	tmc := goka.NewTopicManagerConfig()
	tmc.Table.Replication = 1
	tmc.Stream.Replication = 1
	p, err := goka.NewProcessor(k.brokers, graph,
		goka.WithStorageBuilder(in.Storage(b.Build)),
		goka.WithTopicManagerBuilder(goka.TopicManagerBuilderWithConfig(saramaConfig(), tmc)),
		goka.WithConsumerGroupBuilder(goka.ConsumerGroupBuilderWithConfig(saramaConfig())),
		goka.WithConsumerSaramaBuilder(goka.SaramaConsumerBuilderWithConfig(saramaConfig())),
		goka.WithProducerBuilder(in.Producer(goka.ProducerBuilderWithConfig(saramaConfig()))),
		goka.WithLogger(newGokaLogger(t)),
	)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return done
}

// waitCommitted waits until the group has committed every click.
func (k *kafka) waitCommitted(ctx context.Context, t *testing.T) {
	t.Helper()
	ends := k.ends(ctx, t, clicksTopic)
	for {
		committed, err := k.admin.FetchOffsets(ctx, string(counterGroup))
		if err != nil {
			t.Fatal(err)
		}
		behind := 0
		for p, end := range ends {
			if c, ok := committed.Lookup(string(clicksTopic), p); !ok || c.At < end {
				behind++
			}
		}
		if behind == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d partitions of %s not committed", behind, clicksTopic)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// applied reads the clicks per key from the open storages.
func (k *kafka) applied(t *testing.T, b *state.Builder) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	for _, p := range b.Open(string(counterTable)) {
		it, err := p.Storage.Iterator()
		if err != nil {
			t.Fatal(err)
		}
		for it.Next() {
			v, err := it.Value()
			if err != nil {
				t.Fatal(err)
			}
			s, err := decodeApplier(string(v))
			if err != nil {
				t.Fatal(err)
			}
			got[string(it.Key())] = s.count
		}
		it.Release()
	}
	return got
}

// outputLog reads the applied topic and keeps which clicks, as
// "partition/offset" of the clicks topic, have an output.
type outputLog struct {
	cl      *kgo.Client
	next    map[int32]int64
	seen    map[string]bool
	records int
}

func (k *kafka) outputs(t *testing.T) *outputLog {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.brokers...), kgo.ConsumeTopics(string(appliedTopic)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &outputLog{cl: cl, next: map[int32]int64{}, seen: map[string]bool{}}
}

func (l *outputLog) poll(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	l.cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
		l.records++
		l.next[r.Partition] = r.Offset + 1
		l.seen[string(r.Value)] = true
	})
}

// await reads until at least n records have come.
func (l *outputLog) await(ctx context.Context, t *testing.T, n int) {
	t.Helper()
	for l.records < n {
		if ctx.Err() != nil {
			t.Fatalf("%d of %d outputs", l.records, n)
		}
		l.poll(ctx)
	}
}

// readToEnd reads every output written so far.
func (l *outputLog) readToEnd(ctx context.Context, t *testing.T, k *kafka) {
	t.Helper()
	ends := k.ends(ctx, t, appliedTopic)
	for {
		behind := false
		for p, end := range ends {
			if l.next[p] < end {
				behind = true
			}
		}
		if !behind {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("outputs read to %v, the topic ends at %v", l.next, ends)
		}
		l.poll(ctx)
	}
}

// missing lists the clicks without an output. kfake numbers a plain
// topic's records from 0 without gaps, so the end offsets name them all.
func (l *outputLog) missing(ctx context.Context, t *testing.T, k *kafka) []string {
	t.Helper()
	var out []string
	for p, end := range k.ends(ctx, t, clicksTopic) {
		for o := int64(0); o < end; o++ {
			if id := fmt.Sprintf("%d/%d", p, o); !l.seen[id] {
				out = append(out, id)
			}
		}
	}
	return out
}

func (k *kafka) ends(ctx context.Context, t *testing.T, topic goka.Stream) map[int32]int64 {
	t.Helper()
	listed, err := k.admin.ListEndOffsets(ctx, string(topic))
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}
