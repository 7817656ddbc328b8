package state_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/titan-commerce/titan/state"
)

// These tests simulate machine crashes with Pebble's crashable in-memory
// filesystem: a crash clone keeps what was synced and, if asked, a random
// part of what was not. Most of them reopen the clones with unclean state
// trusted, to check what Pebble itself keeps; by default it is discarded
// (unclean_test.go).

const crashRoot = "/state"

var trustUnclean = state.WithTrustUncleanState(true)

func crashBuilder(t *testing.T, fs vfs.FS, opts ...state.Option) *state.Builder {
	t.Helper()
	b, err := state.NewBuilder(crashRoot, append(opts, state.WithFS(fs), state.WithCacheSize(1<<20))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// changelog is a run of records as goka applies them: record i sets or
// deletes a key, then the offset becomes i.
type changelog []record

type record struct {
	key   string
	value []byte // nil deletes
}

func newChangelog(n int) changelog {
	log := make(changelog, n)
	for i := range log {
		log[i].key = fmt.Sprintf("key-%02d", i%30)
		if i%5 != 4 {
			// Pebble hands the log to the filesystem in 32 KiB blocks when
			// not syncing; values this size fill several during a test.
			log[i].value = fmt.Appendf(nil, "value-%d-%s", i, strings.Repeat("x", 300))
		}
	}
	return log
}

// apply writes records [from, to) as goka would, value then offset.
func (log changelog) apply(t *testing.T, st *state.Storage, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		var err error
		if r := log[i]; r.value == nil {
			err = st.Delete(r.key)
		} else {
			err = st.Set(r.key, r.value)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SetOffset(int64(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// upTo is the state after records [0, n).
func (log changelog) upTo(n int) map[string]string {
	m := map[string]string{}
	for _, r := range log[:n] {
		if r.value == nil {
			delete(m, r.key)
		} else {
			m[r.key] = string(r.value)
		}
	}
	return m
}

func contents(t *testing.T, st *state.Storage) map[string]string {
	t.Helper()
	it, err := st.Iterator()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Release()
	m := map[string]string{}
	for it.Next() {
		v, err := it.Value()
		if err != nil {
			t.Fatal(err)
		}
		m[string(it.Key())] = string(v)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSyncAlwaysSurvivesCrash(t *testing.T) {
	fs := vfs.NewCrashableMem()
	st := openStorage(t, crashBuilder(t, fs, state.WithSync(state.SyncAlways)), "t", 0)
	log := newChangelog(200)
	log.apply(t, st, 0, 50)
	if err := st.MarkRecovered(); err != nil {
		t.Fatal(err)
	}
	log.apply(t, st, 50, 200)

	crashed := fs.CrashClone(vfs.CrashCloneCfg{})
	mustClose(t, st)

	after := openStorage(t, crashBuilder(t, crashed, trustUnclean), "t", 0)
	defer mustClose(t, after)
	if off, err := after.GetOffset(-1); err != nil || off != 199 {
		t.Errorf("offset after crash = %d, %v, want 199", off, err)
	}
	if got, want := contents(t, after), log.upTo(200); !maps.Equal(got, want) {
		t.Errorf("state after crash differs from the changelog:\n got %v\nwant %v", got, want)
	}
}

// TestRecoveryIsSyncedByMarkRecovered: recovery writes are not synced one by
// one; MarkRecovered syncs them all.
func TestRecoveryIsSyncedByMarkRecovered(t *testing.T) {
	for _, policy := range []state.SyncPolicy{state.SyncNone, state.SyncAlways} {
		t.Run(policy.String(), func(t *testing.T) {
			fs := vfs.NewCrashableMem()
			st := openStorage(t, crashBuilder(t, fs, state.WithSync(policy)), "t", 0)
			log := newChangelog(100)
			log.apply(t, st, 0, 100)

			before := fs.CrashClone(vfs.CrashCloneCfg{})
			if err := st.MarkRecovered(); err != nil {
				t.Fatal(err)
			}
			after := fs.CrashClone(vfs.CrashCloneCfg{})
			mustClose(t, st)

			b := openStorage(t, crashBuilder(t, before, trustUnclean), "t", 0)
			if off, _ := b.GetOffset(-1); off != -1 {
				t.Errorf("a crash during recovery kept offset %d: recovery writes were synced", off)
			}
			mustClose(t, b)

			a := openStorage(t, crashBuilder(t, after, trustUnclean), "t", 0)
			defer mustClose(t, a)
			if off, err := a.GetOffset(-1); err != nil || off != 99 {
				t.Errorf("offset after MarkRecovered and a crash = %d, %v, want 99", off, err)
			}
			if got, want := contents(t, a), log.upTo(100); !maps.Equal(got, want) {
				t.Errorf("state after MarkRecovered and a crash:\n got %v\nwant %v", got, want)
			}
		})
	}
}

// TestSyncNoneCrashKeepsOffsetBehindValues: with SyncNone a crash loses an
// arbitrary part of the unsynced writes, yet what survives is consistent:
// the state is the changelog applied up to the stored offset, or one record
// further (its value written, its offset not yet). That is what a storage
// that trusts unclean state relies on; one that does not discards it.
func TestSyncNoneCrashKeepsOffsetBehindValues(t *testing.T) {
	fs := vfs.NewCrashableMem()
	st := openStorage(t, crashBuilder(t, fs, state.WithSync(state.SyncNone), trustUnclean), "t", 0)
	// Each step writes more than one 32 KiB block of write-ahead log, so a
	// block is always handed to the filesystem during it.
	const step = 150
	log := newChangelog(50 + 7*step)
	log.apply(t, st, 0, 50)
	if err := st.MarkRecovered(); err != nil {
		t.Fatal(err)
	}

	var clones []*vfs.MemFS
	for i := 50; i < len(log); i += step {
		before := walBytes(t, fs)
		log.apply(t, st, i, i+step)
		// Pebble's flush goroutine writes full blocks; a clone taken before
		// it has run (it can be starved with GOMAXPROCS=1) would lose the
		// whole step and exercise nothing.
		waitWALBeyond(t, fs, before)
		// Keeping every unsynced block models a process crash; keeping some
		// models a machine crash that wrote back part of the page cache.
		for _, percent := range []int{100, 95, 80, 50} {
			rng := rand.New(rand.NewPCG(uint64(i), uint64(percent)))
			clones = append(clones, fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: percent, RNG: rng}))
		}
	}
	mustClose(t, st)

	var offsets []int64
	for i, crashed := range clones {
		after := openStorage(t, crashBuilder(t, crashed, trustUnclean), "t", 0)
		off, err := after.GetOffset(-1)
		if err != nil {
			t.Fatal(err)
		}
		if off < 49 {
			t.Errorf("crash %d: offset %d is before the one MarkRecovered synced (49)", i, off)
		}
		offsets = append(offsets, off)
		got := contents(t, after)
		n := int(off) + 1
		if !maps.Equal(got, log.upTo(n)) && (n == len(log) || !maps.Equal(got, log.upTo(n+1))) {
			t.Errorf("crash %d: state does not match the changelog up to offset %d:\n got %v\nwant %v", i, off, got, log.upTo(n))
		}
		mustClose(t, after)
	}
	// Guard the test itself: the clones must have cut the log at different
	// places, or nothing was exercised.
	distinct := slices.Compact(slices.Sorted(slices.Values(offsets)))
	if len(distinct) < 3 {
		t.Errorf("crash clones recovered only offsets %v", distinct)
	}
}

// TestCleanCloseIsDurable: Close syncs whatever SyncNone left unsynced, and
// its clean-shutdown marker, so a machine crash right after it costs no
// recovery even though unclean state is not trusted.
func TestCleanCloseIsDurable(t *testing.T) {
	fs := vfs.NewCrashableMem()
	st := openStorage(t, crashBuilder(t, fs, state.WithSync(state.SyncNone)), "t", 0)
	log := newChangelog(100)
	if err := st.MarkRecovered(); err != nil {
		t.Fatal(err)
	}
	log.apply(t, st, 0, 100)
	mustClose(t, st)

	after := openStorage(t, crashBuilder(t, fs.CrashClone(vfs.CrashCloneCfg{})), "t", 0)
	defer mustClose(t, after)
	if off, err := after.GetOffset(-1); err != nil || off != 99 {
		t.Errorf("offset after Close and a crash = %d, %v, want 99", off, err)
	}
	if got, want := contents(t, after), log.upTo(100); !maps.Equal(got, want) {
		t.Errorf("state after Close and a crash:\n got %v\nwant %v", got, want)
	}
}

// walBytes is how much write-ahead log of partition t/0 has reached the
// filesystem.
func walBytes(t *testing.T, fs vfs.FS) int64 {
	t.Helper()
	dir := fs.PathJoin(crashRoot, "t", "0")
	names, err := fs.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, name := range names {
		if !strings.HasSuffix(name, ".log") {
			continue
		}
		info, err := fs.Stat(fs.PathJoin(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		n += info.Size()
	}
	return n
}

// waitWALBeyond waits for Pebble's flush goroutine to write the log past n
// bytes. The bound only catches a write that never comes.
func waitWALBeyond(t *testing.T, fs vfs.FS, n int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for walBytes(t, fs) <= n {
		select {
		case <-ctx.Done():
			t.Fatalf("the write-ahead log stayed at %d bytes: Pebble never wrote a full block", n)
		case <-tick.C:
		}
	}
}

// TestRecoveryWritesAreReadBeforeTheyAreApplied: goka's recovery writes are
// held back and applied to Pebble in batches, yet every read sees every
// write made before it, through Get, Has and iterators, across batches.
func TestRecoveryWritesAreReadBeforeTheyAreApplied(t *testing.T) {
	st := openStorage(t, crashBuilder(t, vfs.NewMem()), "t", 0)
	defer mustClose(t, st)
	// About 3 MiB of values: the writes span several batches.
	log := newChangelog(10_000)
	for i := 0; i < len(log); i += 997 {
		end := min(len(log), i+997)
		log.apply(t, st, i, end)
		want := log.upTo(end)
		if got := contents(t, st); !maps.Equal(got, want) {
			t.Fatalf("after %d records the iterator sees %d keys, want %d", end, len(got), len(want))
		}
		for k := range 30 {
			key := fmt.Sprintf("key-%02d", k)
			v, err := st.Get(key)
			if err != nil {
				t.Fatal(err)
			}
			has, err := st.Has(key)
			if err != nil {
				t.Fatal(err)
			}
			w, ok := want[key]
			if has != ok || string(v) != w || (v == nil) == ok {
				t.Fatalf("after %d records %s = %q (has %v), want %q (has %v)", end, key, v, has, w, ok)
			}
		}
		if off, err := st.GetOffset(-1); err != nil || off != int64(end-1) {
			t.Fatalf("after %d records offset = %d, %v", end, off, err)
		}
	}
	if err := st.MarkRecovered(); err != nil {
		t.Fatal(err)
	}
	if got, want := contents(t, st), log.upTo(len(log)); !maps.Equal(got, want) {
		t.Errorf("after MarkRecovered the state differs from the changelog")
	}
}

// TestUntrustedOffsetReachesPebbleOnClose: where unclean state is not
// trusted, the offsets goka sets after recovery stay in memory, since a
// crash discards the state anyway, and Close writes the last one before
// the marker vouches for the state.
func TestUntrustedOffsetReachesPebbleOnClose(t *testing.T) {
	fs := vfs.NewCrashableMem()
	st := openStorage(t, crashBuilder(t, fs), "t", 0)
	log := newChangelog(200)
	log.apply(t, st, 0, 50)
	if err := st.MarkRecovered(); err != nil {
		t.Fatal(err)
	}
	log.apply(t, st, 50, 200)
	if off, err := st.GetOffset(-1); err != nil || off != 199 {
		t.Errorf("offset = %d, %v, want 199", off, err)
	}
	if v, err := st.Get("__offset"); err != nil || string(v) != "199" {
		t.Errorf(`Get("__offset") = %q, %v, want "199"`, v, err)
	}

	// Looked at as if it were trusted, a crash now would show the offset
	// MarkRecovered stored: the later ones never reached Pebble.
	crashed := fs.CrashClone(vfs.CrashCloneCfg{})
	c := openStorage(t, crashBuilder(t, crashed, trustUnclean), "t", 0)
	if off, err := c.GetOffset(-1); err != nil || off != 49 {
		t.Errorf("offset on disk before Close = %d, %v, want 49", off, err)
	}
	mustClose(t, c)

	mustClose(t, st)
	after := openStorage(t, crashBuilder(t, fs.CrashClone(vfs.CrashCloneCfg{})), "t", 0)
	defer mustClose(t, after)
	if off, err := after.GetOffset(-1); err != nil || off != 199 {
		t.Errorf("offset after Close = %d, %v, want 199", off, err)
	}
	if got, want := contents(t, after), log.upTo(200); !maps.Equal(got, want) {
		t.Errorf("state after Close differs from the changelog")
	}
}
