package state_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/lovoo/goka/storage"

	"github.com/titan-commerce/titan/state"
)

func mustClose(t testing.TB, st storage.Storage) {
	t.Helper()
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestReopenKeepsDataAndOffset(t *testing.T) {
	b := newBuilder(t)
	st := openStorage(t, b, "orders", 3)
	if err := st.Set("a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := st.Set("b", []byte{}); err != nil {
		t.Fatal(err)
	}
	// Offset 0 is the first record of a changelog; goka's LevelDB storage
	// loses it.
	if err := st.SetOffset(0); err != nil {
		t.Fatal(err)
	}
	mustClose(t, st)

	st = openStorage(t, b, "orders", 3)
	defer mustClose(t, st)
	if st.Recovered() {
		t.Errorf("a reopened storage reports recovered before MarkRecovered")
	}
	if off, err := st.GetOffset(-1); err != nil || off != 0 {
		t.Errorf("GetOffset after reopen = %d, %v, want 0", off, err)
	}
	if v, err := st.Get("a"); err != nil || string(v) != "1" {
		t.Errorf("Get(a) after reopen = %q, %v", v, err)
	}
	if v, err := st.Get("b"); err != nil || v == nil || len(v) != 0 {
		t.Errorf("Get(b) after reopen = %#v, %v, want empty non-nil", v, err)
	}
}

func TestValuesAreCopied(t *testing.T) {
	st := openStorage(t, newBuilder(t), "t", 0)
	defer mustClose(t, st)

	buf := []byte("value")
	if err := st.Set("k", buf); err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXXX")
	got, err := st.Get("k")
	if err != nil || string(got) != "value" {
		t.Fatalf("Get after the caller reused its buffer = %q, %v", got, err)
	}
	copy(got, "YYYYY")
	if again, _ := st.Get("k"); string(again) != "value" {
		t.Errorf("modifying what Get returned changed the storage: %q", again)
	}
}

func TestReservedOffsetKey(t *testing.T) {
	st := openStorage(t, newBuilder(t), "t", 0)
	defer mustClose(t, st)

	// Before any offset, the key is simply absent.
	if v, err := st.Get("__offset"); err != nil || v != nil {
		t.Errorf("Get(__offset) with no offset = %q, %v", v, err)
	}
	if err := st.SetOffset(12); err != nil {
		t.Fatal(err)
	}
	for name, write := range map[string]func() error{
		"Set":    func() error { return st.Set("__offset", []byte("99")) },
		"Delete": func() error { return st.Delete("__offset") },
	} {
		err := write()
		if !errors.Is(err, state.ErrReservedKey) {
			t.Errorf("%s(__offset) = %v, want ErrReservedKey", name, err)
		}
		var opErr *state.OpError
		if !errors.As(err, &opErr) || opErr.Topic != "t" || opErr.Partition != 0 || opErr.Key != "__offset" {
			t.Errorf("%s(__offset) error %#v does not say where it happened", name, opErr)
		}
	}
	if off, err := st.GetOffset(-1); err != nil || off != 12 {
		t.Errorf("GetOffset after rejected writes = %d, %v, want 12", off, err)
	}
	// As with goka's LevelDB storage, reads of the key show the offset.
	if v, err := st.Get("__offset"); err != nil || string(v) != "12" {
		t.Errorf("Get(__offset) = %q, %v, want %q", v, err, "12")
	}
	if ok, err := st.Has("__offset"); err != nil || !ok {
		t.Errorf("Has(__offset) = %v, %v, want true", ok, err)
	}
}

func TestClosedStorage(t *testing.T) {
	b := newBuilder(t)
	built, err := b.Build("t", 0)
	if err != nil {
		t.Fatal(err)
	}
	wantAllClosed(t, "before Open", built)
	// goka closes a storage whose Open failed; closing one never opened is fine.
	if err := built.Close(); err != nil {
		t.Errorf("Close before Open: %v", err)
	}
	if err := built.Open(); !errors.Is(err, state.ErrClosed) {
		t.Errorf("Open after Close = %v, want ErrClosed", err)
	}

	st := openStorage(t, b, "t", 1)
	mustClose(t, st)
	mustClose(t, st)
	wantAllClosed(t, "after Close", st)
	if err := st.Open(); !errors.Is(err, state.ErrClosed) {
		t.Errorf("Open after Close = %v, want ErrClosed", err)
	}
}

func wantAllClosed(t *testing.T, when string, st storage.Storage) {
	t.Helper()
	errs := map[string]error{}
	_, errs["Get"] = st.Get("k")
	_, errs["Has"] = st.Has("k")
	errs["Set"] = st.Set("k", []byte("v"))
	errs["Delete"] = st.Delete("k")
	_, errs["GetOffset"] = st.GetOffset(-1)
	errs["SetOffset"] = st.SetOffset(1)
	errs["MarkRecovered"] = st.MarkRecovered()
	_, errs["Iterator"] = st.Iterator()
	_, errs["IteratorWithRange"] = st.IteratorWithRange([]byte("a"), nil)
	for op, err := range errs {
		if !errors.Is(err, state.ErrClosed) {
			t.Errorf("%s %s = %v, want ErrClosed", op, when, err)
		}
	}
}

func TestOpenTwiceInOneProcess(t *testing.T) {
	b := newBuilder(t)
	first := openStorage(t, b, "t", 0)
	if err := first.Open(); !errors.Is(err, state.ErrInUse) {
		t.Errorf("second Open of the same storage = %v, want ErrInUse", err)
	}
	second, err := b.Build("t", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Open(); !errors.Is(err, state.ErrInUse) {
		t.Errorf("Open of a second storage for the same partition = %v, want ErrInUse", err)
	}
	mustClose(t, second)
	if err := first.Set("k", []byte("v")); err != nil {
		t.Errorf("the first storage stopped working: %v", err)
	}
	mustClose(t, first)
	// Close released the directory lock.
	again := openStorage(t, b, "t", 0)
	defer mustClose(t, again)
	if v, err := again.Get("k"); err != nil || string(v) != "v" {
		t.Errorf("Get after reopening = %q, %v", v, err)
	}
}

func TestCloseEndsHeldIterators(t *testing.T) {
	st := openStorage(t, newBuilder(t), "t", 0)
	for _, k := range []string{"a", "b", "c"} {
		if err := st.Set(k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	it, err := st.Iterator()
	if err != nil {
		t.Fatal(err)
	}
	if !it.Next() {
		t.Fatal("Next = false")
	}
	mustClose(t, st)
	if it.Next() {
		t.Errorf("Next on an iterator of a closed storage = true")
	}
	if k := it.Key(); k != nil {
		t.Errorf("Key = %q, want nil", k)
	}
	if v, err := it.Value(); v != nil || !errors.Is(err, state.ErrClosed) {
		t.Errorf("Value = %q, %v, want nil, ErrClosed", v, err)
	}
	if err := it.Err(); !errors.Is(err, state.ErrClosed) {
		t.Errorf("Err = %v, want ErrClosed", err)
	}
	it.Release()
}

// TestIteratorSlicesOutliveClose: what Key and Value returned stays intact
// when Close ends the iterator before its owner is done reading it, as when
// goka revokes a partition under a sweeper. Pebble's own slices point into
// block-cache memory that closing the database frees; builds with -race
// poison freed blocks, which this test would see.
func TestIteratorSlicesOutliveClose(t *testing.T) {
	st := openStorage(t, newBuilder(t, state.WithMemTableSize(64<<10)), "t", 0)
	value := bytes.Repeat([]byte("v"), 1000)
	// Far more than a memtable, so the first keys are read from sstables
	// through the block cache.
	for i := range 2000 {
		if err := st.Set(fmt.Sprintf("key-%05d", i), value); err != nil {
			t.Fatal(err)
		}
	}
	it, err := st.Iterator()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Release()
	if !it.Next() {
		t.Fatal("Next = false")
	}
	k := it.Key()
	v, err := it.Value()
	if err != nil {
		t.Fatal(err)
	}
	mustClose(t, st)
	if string(k) != "key-00000" || !bytes.Equal(v, value) {
		t.Errorf("after Close the entry read before it is %q = %.20q..., want %q = %.20q...", k, v, "key-00000", value)
	}
}

func TestRegistry(t *testing.T) {
	b := newBuilder(t)
	if ps := b.Open("t"); len(ps) != 0 {
		t.Fatalf("Open before any storage = %v", ps)
	}
	sts := map[int32]*state.Storage{}
	for _, p := range []int32{2, 0, 1} {
		sts[p] = openStorage(t, b, "t", p)
	}
	other := openStorage(t, b, "u", 0)
	defer mustClose(t, other)
	notOpened, err := b.Build("t", 7)
	if err != nil {
		t.Fatal(err)
	}
	defer notOpened.Close()

	wantPartitions(t, b, "t", sts, 0, 1, 2)
	if err := sts[1].MarkRecovered(); err != nil {
		t.Fatal(err)
	}
	for _, p := range b.Open("t") {
		if got, want := p.Storage.Recovered(), p.Partition == 1; got != want {
			t.Errorf("partition %d Recovered = %v, want %v", p.Partition, got, want)
		}
	}
	mustClose(t, sts[1])
	wantPartitions(t, b, "t", sts, 0, 2)
	mustClose(t, sts[0])
	mustClose(t, sts[2])
	wantPartitions(t, b, "t", sts)
	if ps := b.Open("nope"); len(ps) != 0 {
		t.Errorf("Open of an unknown topic = %v", ps)
	}
}

func wantPartitions(t *testing.T, b *state.Builder, topic string, sts map[int32]*state.Storage, want ...int32) {
	t.Helper()
	ps := b.Open(topic)
	var got []int32
	for _, p := range ps {
		got = append(got, p.Partition)
		if p.Storage != sts[p.Partition] {
			t.Errorf("partition %d lists another storage", p.Partition)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("Open(%q) lists partitions %v, want %v", topic, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("Open(%q) lists partitions %v, want %v", topic, got, want)
		}
	}
}

func TestNewBuilderValidatesOptions(t *testing.T) {
	root := t.TempDir()
	for name, tc := range map[string]struct {
		root string
		opts []state.Option
	}{
		"empty root":          {"", nil},
		"zero sync policy":    {root, []state.Option{state.WithSync(0)}},
		"unknown sync policy": {root, []state.Option{state.WithSync(9)}},
		"zero cache":          {root, []state.Option{state.WithCacheSize(0)}},
		"negative cache":      {root, []state.Option{state.WithCacheSize(-1)}},
		"tiny memtable":       {root, []state.Option{state.WithMemTableSize(1024)}},
		"huge memtable":       {root, []state.Option{state.WithMemTableSize(8 << 30)}},
		"nil logger":          {root, []state.Option{state.WithLogger(nil)}},
		"last option wins":    {root, []state.Option{state.WithCacheSize(1 << 20), state.WithCacheSize(0)}},
	} {
		if _, err := state.NewBuilder(tc.root, tc.opts...); !errors.Is(err, state.ErrInvalidOption) {
			t.Errorf("%s: NewBuilder = %v, want ErrInvalidOption", name, err)
		}
	}
	b, err := state.NewBuilder(filepath.Join(root, "nested", "dir"),
		state.WithSync(state.SyncAlways), state.WithCacheSize(1<<20),
		state.WithMemTableSize(1<<20), state.WithLogger(slog.Default()),
		state.WithTrustUncleanState(true))
	if err != nil {
		t.Fatalf("NewBuilder with valid options: %v", err)
	}
	b.Close()
}

func TestBuildValidatesTopicPartition(t *testing.T) {
	b := newBuilder(t)
	for _, topic := range []string{"", ".", "..", "a/b", "../x", `a\b`, "a b", "ü", strings.Repeat("x", 250)} {
		if _, err := b.Build(topic, 0); !errors.Is(err, state.ErrInvalidTopic) {
			t.Errorf("Build(%q, 0) = %v, want ErrInvalidTopic", topic, err)
		}
	}
	if _, err := b.Build("t", -1); !errors.Is(err, state.ErrInvalidTopic) {
		t.Errorf("Build(t, -1) = %v, want ErrInvalidTopic", err)
	}
	for _, topic := range []string{"orders-table", "a.b_c-1", strings.Repeat("x", 249)} {
		st, err := b.Build(topic, 0)
		if err != nil {
			t.Errorf("Build(%q, 0): %v", topic, err)
			continue
		}
		st.Close()
	}
}

func TestBuilderClose(t *testing.T) {
	b, err := state.NewBuilder(t.TempDir(), state.WithCacheSize(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	open := openStorage(t, b, "t", 0)
	built, err := b.Build("t", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Builder.Close: %v", err)
	}
	if _, err := b.Build("t", 2); !errors.Is(err, state.ErrClosed) {
		t.Errorf("Build after Builder.Close = %v, want ErrClosed", err)
	}
	if err := built.Open(); !errors.Is(err, state.ErrClosed) {
		t.Errorf("Open after Builder.Close = %v, want ErrClosed", err)
	}
	// A storage that was open keeps its cache reference and keeps working.
	for i := range 1000 {
		if err := open.Set(strings.Repeat("k", i%50+1), bytes.Repeat([]byte("v"), 1000)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := open.Get("kk"); err != nil {
		t.Errorf("Get after Builder.Close: %v", err)
	}
	mustClose(t, open)
}

func TestCorruptStoredOffset(t *testing.T) {
	root := t.TempDir()
	b, err := state.NewBuilder(root)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mustClose(t, openStorage(t, b, "t", 0))

	rewriteOffset(t, filepath.Join(root, "t", "0"), []byte("not a number"))

	st, err := b.Build("t", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Open(); !errors.Is(err, state.ErrCorruptOffset) {
		t.Errorf("Open with a corrupt offset = %v, want ErrCorruptOffset", err)
	}
	st.Close()
	// The failed Open released both the directory lock and the partition,
	// and left the clean-shutdown marker: it changed nothing, so the repaired
	// database is still trusted.
	rewriteOffset(t, filepath.Join(root, "t", "0"), []byte("41"))
	fixed := openStorage(t, b, "t", 0)
	defer mustClose(t, fixed)
	if off, err := fixed.GetOffset(-1); err != nil || off != 41 {
		t.Errorf("GetOffset after repair = %d, %v, want 41", off, err)
	}
}

// rewriteOffset writes the offset key behind the storage's back.
func rewriteOffset(t *testing.T, dir string, value []byte) {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietPebble{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte("__offset"), value, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

type quietPebble struct{}

func (quietPebble) Infof(string, ...any)              {}
func (quietPebble) Errorf(string, ...any)             {}
func (quietPebble) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

func TestLogsCarryPartition(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	st := openStorage(t, newBuilder(t, state.WithLogger(l)), "orders", 4)
	if err := st.SetOffset(17); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkRecovered(); err != nil {
		t.Fatal(err)
	}
	mustClose(t, st)
	if out := buf.String(); !strings.Contains(out, "storage recovered") ||
		!strings.Contains(out, "topic=orders") || !strings.Contains(out, "partition=4") ||
		!strings.Contains(out, "offset=17") {
		t.Errorf("log lacks the recovery line with topic, partition and offset:\n%s", out)
	}
}

func TestLast(t *testing.T) {
	st := openStorage(t, newBuilder(t), "t", 0)
	defer mustClose(t, st)
	for _, k := range []string{"a", "b\x00k1", "b\x00k2", "b\x00k3", "c"} {
		if err := st.Set(k, []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetOffset(7); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		start, limit, want string
		ok                 bool
	}{
		{"b\x00k", "b\x00l", "b\x00k3", true},
		{"b\x00k", "b\x00k3", "b\x00k2", true},
		{"", "", "c", true},
		{"d", "", "", false},
		{"b\x00l", "b\x00k", "", false},
		// The offset key is the last in these ranges, and is never one.
		{"", "a", "", false},
		{"", "__p", "", false},
	} {
		k, v, ok, err := st.Last([]byte(tc.start), []byte(tc.limit))
		if err != nil || ok != tc.ok || string(k) != tc.want || (ok && string(v) != "v"+tc.want) {
			t.Errorf("Last(%q, %q) = %q, %q, %v, %v; want %q, %v", tc.start, tc.limit, k, v, ok, err, tc.want, tc.ok)
		}
	}
}
