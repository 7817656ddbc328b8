package state_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/titan-commerce/titan/state"
)

// TestConcurrentUse runs what a processor does to its partitions at once:
// one writer per partition, offsets set from several goroutines as producer
// acks are, readers iterating, and a sweeper walking every open partition
// through Builder.Open, which keeps going while the partitions close under it.
// Run it with -race.
func TestConcurrentUse(t *testing.T) {
	const partitions = 2
	b := newBuilder(t, state.WithCacheSize(1<<20), state.WithMemTableSize(64<<10))
	sts := make([]*state.Storage, partitions)
	for p := range sts {
		sts[p] = openStorage(t, b, "t", int32(p))
		if err := sts[p].MarkRecovered(); err != nil {
			t.Fatal(err)
		}
	}

	readCtx, stopReaders := context.WithCancel(t.Context())
	defer stopReaders()
	sweepCtx, stopSweeper := context.WithCancel(t.Context())
	defer stopSweeper()
	var writers, readers sync.WaitGroup
	for _, st := range sts {
		writers.Go(func() { writeValues(t, st) })
		for g := range offsetSetters {
			writers.Go(func() { setOffsets(t, st, g) })
		}
		readers.Go(func() { readRanges(readCtx, t, st) })
	}
	var sw sweeper
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		sw.run(sweepCtx, t, b)
	}()

	writers.Wait()
	stopReaders()
	readers.Wait()

	// Close while the sweeper may be mid-scan; it stops only after the
	// partitions are gone.
	want := make([]int64, partitions)
	for p, st := range sts {
		off, err := st.GetOffset(-1)
		if err != nil {
			t.Fatal(err)
		}
		want[p] = off
		mustClose(t, st)
	}
	stopSweeper()
	<-swept
	if ps := b.Open("t"); len(ps) != 0 {
		t.Errorf("closed partitions still listed: %v", ps)
	}
	t.Logf("sweeper read %d entries; %d scans ended by Close", sw.entries, sw.endedByClose)

	// What GetOffset said before Close is what was stored, although the
	// offsets came from several goroutines at once.
	for p := range sts {
		st := openStorage(t, b, "t", int32(p))
		if off, err := st.GetOffset(-1); err != nil || off != want[p] {
			t.Errorf("partition %d: stored offset %d, %v; GetOffset said %d before Close", p, off, err, want[p])
		}
		mustClose(t, st)
	}
}

const (
	concurrentKeys = 64
	offsetSetters  = 4
)

func concurrentKey(i int) string { return fmt.Sprintf("key-%03d", i%concurrentKeys) }

// belongs reports whether v was written for k: every value names its key, so
// a reader can tell a torn or misplaced one.
func belongs(k, v []byte) bool {
	return bytes.HasPrefix(v, k) && len(v) > len(k) && v[len(k)] == '='
}

func writeValues(t *testing.T, st *state.Storage) {
	for i := range 2000 {
		k := concurrentKey(i)
		var err error
		if i%9 == 8 {
			err = st.Delete(k)
		} else {
			err = st.Set(k, fmt.Appendf(nil, "%s=%d", k, i))
		}
		if err != nil {
			t.Errorf("write: %v", err)
			return
		}
	}
}

func setOffsets(t *testing.T, st *state.Storage, g int) {
	for j := range 300 {
		if err := st.SetOffset(int64(j*offsetSetters + g)); err != nil {
			t.Errorf("SetOffset: %v", err)
			return
		}
	}
}

func readRanges(ctx context.Context, t *testing.T, st *state.Storage) {
	for i := 0; ctx.Err() == nil; i++ {
		k := concurrentKey(i * 7)
		if v, err := st.Get(k); err != nil || (v != nil && !belongs([]byte(k), v)) {
			t.Errorf("Get(%q) = %q, %v", k, v, err)
			return
		}
		it, err := st.IteratorWithRange([]byte("key-01"), []byte("key-03"))
		if err != nil {
			t.Errorf("IteratorWithRange: %v", err)
			return
		}
		for it.Next() {
			if k := it.Key(); !bytes.HasPrefix(k, []byte("key-01")) && !bytes.HasPrefix(k, []byte("key-02")) {
				t.Errorf("range yielded %q", k)
			}
		}
		it.Release()
	}
}

// sweeper reads every partition the builder lists, as an expiry sweeper
// would, and copes with partitions closing at any point.
type sweeper struct {
	entries, endedByClose int
}

func (sw *sweeper) run(ctx context.Context, t *testing.T, b *state.Builder) {
	for ctx.Err() == nil {
		for _, p := range b.Open("t") {
			if err := sw.scan(p); err != nil {
				t.Errorf("sweeper: partition %d: %v", p.Partition, err)
				return
			}
		}
	}
}

func (sw *sweeper) scan(p state.Partition) error {
	it, err := p.Storage.Iterator()
	if errors.Is(err, state.ErrClosed) {
		return nil
	}
	if err != nil {
		return err
	}
	defer it.Release()
	var prev []byte
	for it.Next() {
		k := it.Key()
		v, err := it.Value()
		if errors.Is(err, state.ErrClosed) {
			break
		}
		if err != nil || !belongs(k, v) || bytes.Compare(prev, k) >= 0 || string(k) == "__offset" {
			return fmt.Errorf("%q=%q after %q (%v)", k, v, prev, err)
		}
		prev = append(prev[:0], k...)
		sw.entries++
	}
	if err := it.Err(); errors.Is(err, state.ErrClosed) {
		sw.endedByClose++
	} else if err != nil {
		return err
	}
	return nil
}
