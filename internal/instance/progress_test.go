package instance

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/state"
)

// TestProgress: a view's partition behind its changelog reports the
// records it lacks and the time it last held them all; /readyz's table
// figures count the partitions restored and the records behind.
func TestProgress(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	const topic = "stock-table"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.RecordPartitioner(partition.Kgo()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Three records for "k" in its partition, none in the other.
	for range 3 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	p := partition.Partition([]byte("k"), 2)
	procs, err := state.NewBuilder(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	views, err := state.NewBuilder(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = procs.Close(); _ = views.Close() }()
	for n := range int32(2) {
		st, err := views.Build(topic, n)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Open(); err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if n == p {
			// The view applied the first of the three.
			if err := st.SetOffset(0); err != nil {
				t.Fatal(err)
			}
		} else if err := st.MarkRecovered(); err != nil {
			t.Fatal(err)
		}
	}

	now := time.Unix(1000, 0)
	pr := newProgress(kadm.NewClient(cl), procs, views)
	pr.now = func() time.Time { return now }
	pr.watch(topic)
	if _, _, ok := pr.freshness(topic, "k"); ok {
		t.Error("freshness known before the first look-up")
	}
	pr.sample(ctx)
	if lag, _, ok := pr.freshness(topic, "k"); ok || lag != 2 {
		t.Errorf("freshness of a partition never caught up: lag %d ok %t, want 2 and unknown", lag, ok)
	}
	got := pr.table(tableRef{topic: topic, view: true})
	if got.PartitionsTotal != 2 || got.PartitionsRestored != 1 || got.RecordsBehind != 2 {
		t.Errorf("table %+v, want 1 of 2 restored, 2 records behind", got)
	}

	// The view applies the rest; a later look-up finds it caught up.
	st := views.Open(topic)[p].Storage
	if err := st.SetOffset(2); err != nil {
		t.Fatal(err)
	}
	pr.sample(ctx)
	now = now.Add(700 * time.Millisecond)
	if lag, age, ok := pr.freshness(topic, "k"); !ok || lag != 0 || age != 700*time.Millisecond {
		t.Errorf("freshness after catching up: lag %d age %v ok %t, want 0, 700ms", lag, age, ok)
	}
	// A write the view has not applied shows at the next look-up, and the
	// age keeps counting from the last time it held everything.
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pr.sample(ctx)
	now = now.Add(time.Second)
	if lag, age, ok := pr.freshness(topic, "k"); !ok || lag != 1 || age != 1700*time.Millisecond {
		t.Errorf("freshness behind again: lag %d age %v ok %t, want 1, 1.7s", lag, age, ok)
	}
}
