package state_test

import (
	"testing"

	"github.com/lovoo/goka/storage"
	"github.com/syndtr/goleveldb/leveldb"

	"github.com/titan-commerce/titan/state"
	"github.com/titan-commerce/titan/state/storagetest"
)

// newBuilder returns a builder on a fresh directory, closed with the test.
func newBuilder(t testing.TB, opts ...state.Option) *state.Builder {
	t.Helper()
	b, err := state.NewBuilder(t.TempDir(), opts...)
	if err != nil {
		t.Fatalf("NewBuilder: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// openStorage builds and opens topic/partition. The caller closes it.
func openStorage(t testing.TB, b *state.Builder, topic string, partition int32) *state.Storage {
	t.Helper()
	st, err := b.Build(topic, partition)
	if err != nil {
		t.Fatalf("Build(%s, %d): %v", topic, partition, err)
	}
	if err := st.Open(); err != nil {
		t.Fatalf("Open %s/%d: %v", topic, partition, err)
	}
	return st.(*state.Storage)
}

func TestConformancePebble(t *testing.T) {
	for _, policy := range []state.SyncPolicy{state.SyncNone, state.SyncAlways} {
		t.Run(policy.String(), func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T) storage.Storage {
				return openStorage(t, newBuilder(t, state.WithSync(policy)), "conformance", 0)
			})
		})
	}
}

// TestConformanceGokaMemory runs the suite against goka's in-memory storage,
// the reference for goka's semantics in its own tests. It agrees everywhere
// except where the listed deviations say.
func TestConformanceGokaMemory(t *testing.T) {
	storagetest.RunWithDeviations(t, func(t *testing.T) storage.Storage {
		st := storage.NewMemory()
		if err := st.Open(); err != nil {
			t.Fatal(err)
		}
		return st
	}, storagetest.Deviations{
		"SeekBetween":         "memory Seek looks for a key with the given prefix instead of the first key >= it",
		"SeekBackward":        "memory Seek only scans forward from the current position",
		"RangeHalfOpen":       "memory ranges include the limit key",
		"RangeUnboundedStart": "memory ranges include the limit key",
		"RangeAll":            "memory IteratorWithRange(nil, nil) only yields the empty key",
		"RangeSeek":           "memory Seek looks for a prefix and ignores the range's start",
	})
}

// TestConformanceGokaLevelDB runs the suite against goka's default storage.
func TestConformanceGokaLevelDB(t *testing.T) {
	storagetest.RunWithDeviations(t, func(t *testing.T) storage.Storage {
		db, err := leveldb.OpenFile(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		st, err := storage.New(db)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Open(); err != nil {
			t.Fatal(err)
		}
		return st
	}, storagetest.Deviations{
		"NilValueRejected":  "LevelDB stores a nil value as an empty one",
		"OffsetZero":        "LevelDB treats offset 0 as no offset and never writes it",
		"OffsetNotSeekable": "LevelDB's Seek can land on the offset key",
		"CloseIdempotent":   "LevelDB's Close panics the second time (close of closed channel)",
	})
}
