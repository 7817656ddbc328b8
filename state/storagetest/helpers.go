package storagetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/lovoo/goka/storage"
)

type entry struct{ key, value string }

func (e entry) String() string { return fmt.Sprintf("%q=%q", e.key, e.value) }

func mustSet(t testing.TB, st storage.Storage, key, value string) {
	t.Helper()
	if err := st.Set(key, []byte(value)); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

// setKeys stores each key with the value "v"+key.
func setKeys(t testing.TB, st storage.Storage, keys ...string) {
	t.Helper()
	for _, k := range keys {
		mustSet(t, st, k, "v"+k)
	}
}

func mustDelete(t testing.TB, st storage.Storage, key string) {
	t.Helper()
	if err := st.Delete(key); err != nil {
		t.Fatalf("Delete(%q): %v", key, err)
	}
}

func mustSetOffset(t testing.TB, st storage.Storage, off int64) {
	t.Helper()
	if err := st.SetOffset(off); err != nil {
		t.Fatalf("SetOffset(%d): %v", off, err)
	}
}

func wantGet(t testing.TB, st storage.Storage, key string, want []byte) {
	t.Helper()
	got, err := st.Get(key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if (got == nil) != (want == nil) || string(got) != string(want) {
		t.Errorf("Get(%q) = %s, want %s", key, show(got), show(want))
	}
}

func show(b []byte) string {
	if b == nil {
		return "nil"
	}
	return fmt.Sprintf("%q", b)
}

func wantHas(t testing.TB, st storage.Storage, key string, want bool) {
	t.Helper()
	got, err := st.Has(key)
	if err != nil {
		t.Fatalf("Has(%q): %v", key, err)
	}
	if got != want {
		t.Errorf("Has(%q) = %v, want %v", key, got, want)
	}
}

func wantOffset(t testing.TB, st storage.Storage, def, want int64) {
	t.Helper()
	got, err := st.GetOffset(def)
	if err != nil {
		t.Fatalf("GetOffset(%d): %v", def, err)
	}
	if got != want {
		t.Errorf("GetOffset(%d) = %d, want %d", def, got, want)
	}
}

func mustIterator(t testing.TB, st storage.Storage) storage.Iterator {
	t.Helper()
	it, err := st.Iterator()
	if err != nil {
		t.Fatalf("Iterator: %v", err)
	}
	return it
}

// drain reads the rest of it, copying keys and values (the iterator may
// reuse its buffers), and releases it.
func drain(t testing.TB, it storage.Iterator) []entry {
	t.Helper()
	defer it.Release()
	var es []entry
	for it.Next() {
		v, err := it.Value()
		if err != nil {
			t.Fatalf("Value at %q: %v", it.Key(), err)
		}
		es = append(es, entry{string(it.Key()), string(v)})
	}
	if err := it.Err(); err != nil {
		t.Fatalf("iteration: %v", err)
	}
	return es
}

func iterAll(t testing.TB, st storage.Storage) []entry {
	t.Helper()
	return drain(t, mustIterator(t, st))
}

func iterRange(t testing.TB, st storage.Storage, start, limit []byte) []entry {
	t.Helper()
	it, err := st.IteratorWithRange(start, limit)
	if err != nil {
		t.Fatalf("IteratorWithRange(%q, %q): %v", start, limit, err)
	}
	return drain(t, it)
}

// wantEntries compares with key, value, key, value, ...
func wantEntries(t testing.TB, what string, got []entry, kvs ...string) {
	t.Helper()
	var want []entry
	for i := 0; i+1 < len(kvs); i += 2 {
		want = append(want, entry{kvs[i], kvs[i+1]})
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s yields %s, want %s", what, showEntries(got), showEntries(want))
	}
}

func wantKeys(t testing.TB, what string, got []entry, keys ...string) {
	t.Helper()
	var gotKeys []string
	for _, e := range got {
		gotKeys = append(gotKeys, e.key)
	}
	if !slices.Equal(gotKeys, keys) {
		t.Errorf("%s yields keys %q, want %q", what, gotKeys, keys)
	}
}

func showEntries(es []entry) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, e := range es {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(e.String())
	}
	b.WriteByte(']')
	return b.String()
}

func wantNext(t testing.TB, it storage.Iterator, key string) {
	t.Helper()
	if !it.Next() {
		t.Fatalf("Next = false, want entry %q (Err %v)", key, it.Err())
	}
	if k := string(it.Key()); k != key {
		t.Fatalf("Next moved to %q, want %q", k, key)
	}
}

func wantEnd(t testing.TB, it storage.Iterator) {
	t.Helper()
	if it.Next() {
		t.Fatalf("Next moved to %q, want the end", it.Key())
	}
}

// wantSeek seeks to key and wants to land on at, or fail if at is "".
func wantSeek(t testing.TB, it storage.Iterator, key, at string) {
	t.Helper()
	ok := it.Seek([]byte(key))
	switch {
	case at == "" && ok:
		t.Fatalf("Seek(%q) landed on %q, want no entry", key, it.Key())
	case at != "" && !ok:
		t.Fatalf("Seek(%q) = false, want %q", key, at)
	case at != "" && string(it.Key()) != at:
		t.Fatalf("Seek(%q) landed on %q, want %q", key, it.Key(), at)
	}
}
