package localindex_test

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/lovoo/goka/storage"

	"github.com/titan-commerce/titan/internal/localindex"
	"github.com/titan-commerce/titan/state"
)

// byValue indexes keys "k/<x>" as "~i/<x>" while their value is not
// "closed", and no other key.
func byValue(name string) localindex.Rule {
	return localindex.Rule{
		Name:   name,
		Prefix: []byte("~i"),
		Derive: func(key, value []byte) ([]byte, bool) {
			x, ok := bytes.CutPrefix(key, []byte("k/"))
			if !ok {
				return nil, false
			}
			return append([]byte("~i/"), x...), value != nil && string(value) != "closed"
		},
	}
}

type fixture struct {
	t   *testing.T
	dir string
}

func newFixture(t *testing.T) *fixture { return &fixture{t: t, dir: t.TempDir()} }

// open opens partition 0 of table "t" with rule r, or with no rule if r
// is nil.
func (f *fixture) open(r *localindex.Rule) storage.Storage {
	f.t.Helper()
	b, err := state.NewBuilder(f.dir, state.WithCacheSize(1<<20))
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { b.Close() })
	build := b.Build
	if r != nil {
		build = localindex.Builder(b.Build, "t", *r)
	}
	st, err := build("t", 0)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := st.Open(); err != nil {
		f.t.Fatal(err)
	}
	return st
}

func keys(t *testing.T, st storage.Storage) []string {
	t.Helper()
	it, err := st.Iterator()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Release()
	var out []string
	for it.Next() {
		out = append(out, string(it.Key()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustClose(t *testing.T, st storage.Storage) {
	t.Helper()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWritesKeepTheIndex(t *testing.T) {
	f := newFixture(t)
	r := byValue("v1")
	st := f.open(&r)
	defer mustClose(t, st)
	for _, k := range []string{"k/a", "k/b", "other", "k/c", "k/d"} {
		if err := st.Set(k, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	// A value that does not keep its derived key deletes it.
	if err := st.Set("k/d", []byte("closed")); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete("k/b"); err != nil {
		t.Fatal(err)
	}
	// Deleting a key that was never there deletes its derived key too,
	// which was not there either.
	if err := st.Delete("k/zz"); err != nil {
		t.Fatal(err)
	}
	want := []string{"k/a", "k/c", "k/d", "other", "~i", "~i/a", "~i/c"}
	if got := keys(t, st); !slices.Equal(got, want) {
		t.Errorf("keys = %q, want %q", got, want)
	}
}

// A storage that loads its changelog in bulk (state.WithBulkLoad) writes
// around the index; opening empty, the index is built after the load.
func TestBulkLoadIsIndexed(t *testing.T) {
	load := func(_ context.Context, _ string, _ int32, add func(state.Record) error) error {
		for i, r := range []state.Record{
			{Key: []byte("k/a"), Value: []byte("x")},
			{Key: []byte("k/b"), Value: []byte("x")},
			{Key: []byte("k/c"), Value: []byte("x")},
			{Key: []byte("k/b"), Value: nil},
			{Key: []byte("k/c"), Value: []byte("closed")},
			{Key: []byte("other"), Value: []byte("x")},
		} {
			r.Offset = int64(i)
			if err := add(r); err != nil {
				return err
			}
		}
		return nil
	}
	// A rule whose keys move is built by reading the load back, the
	// others as it is written.
	for _, moves := range []bool{false, true} {
		b, err := state.NewBuilder(t.TempDir(), state.WithCacheSize(1<<20), state.WithBulkLoad(load))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		r := byValue("v1")
		r.Moves = moves
		st, err := localindex.Builder(b.Build, "t", r)("t", 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Open(); err != nil {
			t.Fatal(err)
		}
		want := []string{"k/a", "k/c", "other", "~i", "~i/a"}
		if got := keys(t, st); !slices.Equal(got, want) {
			t.Errorf("moves %v: keys = %q, want %q", moves, got, want)
		}
		if off, err := st.GetOffset(-1); err != nil || off != 5 {
			t.Errorf("moves %v: GetOffset = %d, %v, want 5", moves, off, err)
		}
		// The index is complete: writes keep it so.
		if err := st.Set("k/c", []byte("x")); err != nil {
			t.Fatal(err)
		}
		if got := keys(t, st); !slices.Contains(got, "~i/c") {
			t.Errorf("moves %v: keys after a write = %q", moves, got)
		}
		mustClose(t, st)
	}
}

func TestOpenIndexesWhatWasStoredWithoutTheRule(t *testing.T) {
	f := newFixture(t)
	plain := f.open(nil)
	for _, k := range []string{"k/a", "k/b", "other"} {
		if err := plain.Set(k, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := plain.Set("k/c", []byte("closed")); err != nil {
		t.Fatal(err)
	}
	mustClose(t, plain)

	r := byValue("v1")
	st := f.open(&r)
	if got, want := keys(t, st), []string{"k/a", "k/b", "k/c", "other", "~i", "~i/a", "~i/b"}; !slices.Equal(got, want) {
		t.Errorf("keys after the first open with the rule = %q, want %q", got, want)
	}
	// A derived key the rule would not write: an open under the same
	// name leaves the index alone, one under another name rebuilds it.
	if err := st.Set("~i/stale", []byte{1}); err != nil {
		t.Fatal(err)
	}
	mustClose(t, st)

	again := f.open(&r)
	if !slices.Contains(keys(t, again), "~i/stale") {
		t.Errorf("an open under the same rule rebuilt the index")
	}
	mustClose(t, again)

	r2 := byValue("v2")
	rebuilt := f.open(&r2)
	defer mustClose(t, rebuilt)
	if got, want := keys(t, rebuilt), []string{"k/a", "k/b", "k/c", "other", "~i", "~i/a", "~i/b"}; !slices.Equal(got, want) {
		t.Errorf("keys after an open under a new rule = %q, want %q", got, want)
	}
	if v, err := rebuilt.Get("~i"); err != nil || string(v) != "v2" {
		t.Errorf("rule name = %q, %v, want v2", v, err)
	}
}

// TestRecoveryRebuildsTheIndex: goka recovers a table by writing each
// changelog record through the storage, so a storage rebuilt from the
// changelog holds the index of what the changelog holds.
func TestRecoveryRebuildsTheIndex(t *testing.T) {
	f := newFixture(t)
	r := byValue("v1")
	st := f.open(&r)
	defer mustClose(t, st)
	changelog := []struct {
		key   string
		value []byte
	}{{"k/a", []byte("1")}, {"k/b", []byte("1")}, {"k/a", nil}, {"k/c", []byte("1")}, {"k/b", []byte("2")}}
	want := map[string]bool{}
	for i, rec := range changelog {
		var err error
		if rec.value == nil {
			err = st.Delete(rec.key)
			delete(want, rec.key)
		} else {
			err = st.Set(rec.key, rec.value)
			want[rec.key] = true
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SetOffset(int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.MarkRecovered(); err != nil {
		t.Fatal(err)
	}
	var index []string
	for _, k := range keys(t, st) {
		if x, ok := bytes.CutPrefix([]byte(k), []byte("~i/")); ok {
			index = append(index, "k/"+string(x))
		}
	}
	if got := slices.Sorted(maps.Keys(want)); !slices.Equal(index, got) {
		t.Errorf("index holds %q, want %q", index, got)
	}
}

// TestMovingKeys: under a rule whose keys follow the value, a write moves
// the derived key, and a delete, or a value that keeps none, drops it.
func TestMovingKeys(t *testing.T) {
	r := localindex.Rule{
		Name:   "at-v1",
		Prefix: []byte("~t"),
		Moves:  true,
		// "k/<x>" with value "<t>" is indexed as "~t/<t>/<x>"; "-" keeps none.
		Derive: func(key, value []byte) ([]byte, bool) {
			x, ok := bytes.CutPrefix(key, []byte("k/"))
			if !ok || value == nil || string(value) == "-" {
				return nil, false
			}
			return []byte("~t/" + string(value) + "/" + string(x)), true
		},
	}
	st := newFixture(t).open(&r)
	defer mustClose(t, st)
	for _, w := range [][2]string{{"k/a", "1"}, {"k/b", "2"}, {"k/a", "3"}, {"k/c", "1"}, {"k/b", "2"}, {"k/c", "-"}, {"k/d", "4"}} {
		if err := st.Set(w[0], []byte(w[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Delete("k/d"); err != nil {
		t.Fatal(err)
	}
	want := []string{"k/a", "k/b", "k/c", "~t", "~t/2/b", "~t/3/a"}
	if got := keys(t, st); !slices.Equal(got, want) {
		t.Errorf("keys = %q, want %q", got, want)
	}
}
