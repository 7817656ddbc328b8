package state_test

import (
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/titan-commerce/titan/state"
)

// TestDistrustDiscardsClosedPartitions: partitions of a failed owner's
// topic, closed cleanly, are discarded by the next Open in this process and
// by a new process; another topic keeps its state, and a partition
// recovered and closed cleanly afterwards is trusted again.
func TestDistrustDiscardsClosedPartitions(t *testing.T) {
	root := t.TempDir()
	var logs logBuffer
	b := newBuilderAt(t, root, logs.option())
	log := newChangelog(60)
	for _, tp := range []struct {
		topic     string
		partition int32
	}{{"t", 0}, {"t", 1}, {"u", 0}} {
		st := openStorage(t, b, tp.topic, tp.partition)
		log.apply(t, st, 0, 60)
		mustClose(t, st)
	}

	if err := b.Distrust("t"); err != nil {
		t.Fatal(err)
	}
	if w := logs.warnings(); len(w) != 2 || !strings.Contains(w[0], "topic=t") {
		t.Errorf("Distrust of two partitions logged %q, want one warning each", w)
	}

	st := openStorage(t, b, "t", 0)
	if off, err := st.GetOffset(-1); err != nil || off != -1 {
		t.Errorf("GetOffset after Distrust = %d, %v, want the default -1", off, err)
	}
	if got := contents(t, st); len(got) != 0 {
		t.Errorf("state after Distrust has %d keys, want none", len(got))
	}
	// Recovered from the changelog and closed cleanly, it is trusted again.
	log.apply(t, st, 0, 60)
	mustClose(t, st)
	st = openStorage(t, b, "t", 0)
	if off, err := st.GetOffset(-1); err != nil || off != 59 {
		t.Errorf("offset after a recovery and a clean Close = %d, %v, want 59", off, err)
	}
	mustClose(t, st)

	// A new process finds the marker gone too: the distrust is on disk.
	other := newBuilderAt(t, root)
	st = openStorage(t, other, "t", 1)
	if got := contents(t, st); len(got) != 0 {
		t.Errorf("a new builder found %d keys in a distrusted partition, want none", len(got))
	}
	mustClose(t, st)
	st = openStorage(t, other, "u", 0)
	if got, want := contents(t, st), log.upTo(60); !maps.Equal(got, want) {
		t.Errorf("Distrust of t changed u:\n got %v\nwant %v", got, want)
	}
	mustClose(t, st)
}

// TestDistrustOpenPartition: a storage open when its topic is distrusted
// keeps serving, then closes without the marker.
func TestDistrustOpenPartition(t *testing.T) {
	b := newBuilder(t)
	st := openStorage(t, b, "t", 2)
	log := newChangelog(40)
	log.apply(t, st, 0, 40)
	if err := b.Distrust("t"); err != nil {
		t.Fatal(err)
	}
	if got, want := contents(t, st), log.upTo(40); !maps.Equal(got, want) {
		t.Errorf("an open storage changed under Distrust:\n got %v\nwant %v", got, want)
	}
	if err := st.Set("after", []byte("v")); err != nil {
		t.Errorf("Set after Distrust: %v", err)
	}
	mustClose(t, st)

	st = openStorage(t, b, "t", 2)
	defer mustClose(t, st)
	if got := contents(t, st); len(got) != 0 {
		t.Errorf("state after Distrust and Close has %d keys, want none", len(got))
	}
}

// TestDistrustRacesClose: whichever of Close and Distrust comes first, the
// next Open discards the state. A Close that has already written its
// marker when Distrust arrives must not leave it behind.
func TestDistrustRacesClose(t *testing.T) {
	b := newBuilder(t)
	for i := range 40 {
		st := openStorage(t, b, "t", 0)
		if err := st.Set("k", []byte("v")); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var closeErr, distrustErr error
		wg.Add(2)
		go func() { defer wg.Done(); closeErr = st.Close() }()
		go func() { defer wg.Done(); distrustErr = b.Distrust("t") }()
		wg.Wait()
		if closeErr != nil || distrustErr != nil {
			t.Fatalf("round %d: Close %v, Distrust %v", i, closeErr, distrustErr)
		}
		st = openStorage(t, b, "t", 0)
		if v, err := st.Get("k"); err != nil || v != nil {
			t.Fatalf("round %d: Get after Close raced Distrust = %q, %v, want nothing", i, v, err)
		}
		mustClose(t, st)
	}
}

// TestDistrustRefusals: a topic with no state is nothing to do, an invalid
// name is refused, and a partition another process holds is reported and
// left alone.
func TestDistrustRefusals(t *testing.T) {
	root := t.TempDir()
	b := newBuilderAt(t, root)
	if err := b.Distrust("never-opened"); err != nil {
		t.Errorf("Distrust of a topic without state: %v", err)
	}
	if err := b.Distrust("../escape"); !errors.Is(err, state.ErrInvalidTopic) {
		t.Errorf("Distrust of an invalid topic = %v, want ErrInvalidTopic", err)
	}

	held := openStorage(t, newBuilderAt(t, root), "t", 0)
	if err := held.Set("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	var op *state.OpError
	if err := b.Distrust("t"); !errors.As(err, &op) || op.Op != "distrust" || op.Partition != 0 {
		t.Errorf("Distrust of a partition another builder holds = %v, want an OpError for it", err)
	}
	mustClose(t, held)
	again := openStorage(t, b, "t", 0)
	defer mustClose(t, again)
	if v, err := again.Get("k"); err != nil || string(v) != "v" {
		t.Errorf("a refused Distrust changed the holder's state: %q, %v", v, err)
	}
}

// TestDistrustSurvivesCrash: the marker's removal is synced, so a machine
// crash right after Distrust does not bring the trust back.
func TestDistrustSurvivesCrash(t *testing.T) {
	memfs := vfs.NewCrashableMem()
	b := crashBuilder(t, memfs)
	st := openStorage(t, b, "t", 0)
	newChangelog(30).apply(t, st, 0, 30)
	mustClose(t, st)
	if err := b.Distrust("t"); err != nil {
		t.Fatal(err)
	}
	crashed := memfs.CrashClone(vfs.CrashCloneCfg{})
	after := openStorage(t, crashBuilder(t, crashed), "t", 0)
	defer mustClose(t, after)
	if off, err := after.GetOffset(-1); err != nil || off != -1 {
		t.Errorf("GetOffset after Distrust and a crash = %d, %v, want the default -1", off, err)
	}
}
