package state_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/titan-commerce/titan/state"
)

// logBuffer collects a builder's log lines; storages log from goka's
// goroutines, hence the lock.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) option() state.Option {
	return state.WithLogger(slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo})))
}

// warnings returns the log lines at level WARN.
func (l *logBuffer) warnings() []string {
	var out []string
	for line := range strings.Lines(l.String()) {
		if strings.Contains(line, "level=WARN") {
			out = append(out, line)
		}
	}
	return out
}

// TestCleanRestartKeepsState: a storage closed cleanly is reopened, by a new
// builder as a new process would, with its values and offset, without a
// warning.
func TestCleanRestartKeepsState(t *testing.T) {
	root := t.TempDir()
	var logs logBuffer
	b, err := state.NewBuilder(root, logs.option())
	if err != nil {
		t.Fatal(err)
	}
	st := openStorage(t, b, "t", 0)
	log := newChangelog(100)
	log.apply(t, st, 0, 100)
	mustClose(t, st)
	b.Close()

	b, err = state.NewBuilder(root, logs.option())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	st = openStorage(t, b, "t", 0)
	defer mustClose(t, st)
	if off, err := st.GetOffset(-1); err != nil || off != 99 {
		t.Errorf("offset after a clean restart = %d, %v, want 99", off, err)
	}
	if got, want := contents(t, st), log.upTo(100); !maps.Equal(got, want) {
		t.Errorf("state after a clean restart:\n got %v\nwant %v", got, want)
	}
	if w := logs.warnings(); len(w) != 0 {
		t.Errorf("a first open and a clean restart logged warnings: %q", w)
	}
}

// TestUncleanShutdownDiscardsState: a process that dies with a partition
// open leaves no marker, so the next Open deletes the database and goka
// recovers the partition from the changelog. The same crash with unclean
// state trusted shows that the clone did hold the data.
func TestUncleanShutdownDiscardsState(t *testing.T) {
	memfs := vfs.NewCrashableMem()
	st := openStorage(t, crashBuilder(t, memfs), "t", 3)
	log := newChangelog(200)
	log.apply(t, st, 0, 50)
	if err := st.MarkRecovered(); err != nil {
		t.Fatal(err)
	}
	log.apply(t, st, 50, 200)
	// A process crash: the OS keeps every write the process made.
	processCrash := func() *vfs.MemFS {
		return memfs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 100, RNG: rand.New(rand.NewPCG(1, 2))})
	}
	crashed, trusted := processCrash(), processCrash()
	mustClose(t, st)

	var logs logBuffer
	after := openStorage(t, crashBuilder(t, crashed, logs.option()), "t", 3)
	if off, err := after.GetOffset(-1); err != nil || off != -1 {
		t.Errorf("GetOffset after an unclean shutdown = %d, %v, want the default -1", off, err)
	}
	if got := contents(t, after); len(got) != 0 {
		t.Errorf("state after an unclean shutdown has %d keys, want none", len(got))
	}
	w := logs.warnings()
	if len(w) != 1 || !strings.Contains(w[0], "topic=t") || !strings.Contains(w[0], "partition=3") {
		t.Errorf("want one warning naming topic and partition, got %q", w)
	}
	// The state rebuilt from the changelog is trusted after a clean Close.
	log.apply(t, after, 0, 200)
	mustClose(t, after)
	again := openStorage(t, crashBuilder(t, crashed), "t", 3)
	if off, err := again.GetOffset(-1); err != nil || off != 199 {
		t.Errorf("offset after recovering and a clean Close = %d, %v, want 199", off, err)
	}
	mustClose(t, again)

	kept := openStorage(t, crashBuilder(t, trusted, trustUnclean), "t", 3)
	defer mustClose(t, kept)
	if off, err := kept.GetOffset(-1); err != nil || off < 49 {
		t.Errorf("trusted crash clone kept offset %d, %v: the test crashed nothing", off, err)
	}
}

// TestOpenConsumesMarker: the marker vouches for one clean Close only; a
// crash after the storage was reopened is unclean again.
func TestOpenConsumesMarker(t *testing.T) {
	memfs := vfs.NewCrashableMem()
	b := crashBuilder(t, memfs)
	st := openStorage(t, b, "t", 0)
	log := newChangelog(100)
	log.apply(t, st, 0, 50)
	mustClose(t, st)

	st = openStorage(t, b, "t", 0)
	if off, err := st.GetOffset(-1); err != nil || off != 49 {
		t.Fatalf("offset after a clean reopen = %d, %v, want 49", off, err)
	}
	log.apply(t, st, 50, 100)
	if err := st.MarkRecovered(); err != nil {
		t.Fatal(err)
	}
	crashed := memfs.CrashClone(vfs.CrashCloneCfg{})
	mustClose(t, st)

	after := openStorage(t, crashBuilder(t, crashed), "t", 0)
	defer mustClose(t, after)
	if off, err := after.GetOffset(-1); err != nil || off != -1 {
		t.Errorf("GetOffset after a crash of a reopened storage = %d, %v, want -1", off, err)
	}
}

// TestUncleanShutdownOnDisk does the same on the real filesystem: a copy of
// a partition's directory taken while its database is open is what a killed
// process leaves behind.
func TestUncleanShutdownOnDisk(t *testing.T) {
	root := t.TempDir()
	st := openStorage(t, newBuilderAt(t, root), "t", 0)
	log := newChangelog(100)
	log.apply(t, st, 0, 100)
	// Pebble holds the tail of its log in memory until something syncs; a
	// killed process would lose it, the copy must not.
	if err := st.MarkRecovered(); err != nil {
		t.Fatal(err)
	}
	copies := []string{t.TempDir(), t.TempDir()}
	for _, dst := range copies {
		copyTree(t, root, dst)
	}
	mustClose(t, st)

	after := openStorage(t, newBuilderAt(t, copies[0]), "t", 0)
	defer mustClose(t, after)
	if off, err := after.GetOffset(-1); err != nil || off != -1 {
		t.Errorf("GetOffset after an unclean shutdown = %d, %v, want the default -1", off, err)
	}
	if got := contents(t, after); len(got) != 0 {
		t.Errorf("state after an unclean shutdown has %d keys, want none", len(got))
	}

	kept := openStorage(t, newBuilderAt(t, copies[1], trustUnclean), "t", 0)
	defer mustClose(t, kept)
	if off, err := kept.GetOffset(-1); err != nil || off != 99 {
		t.Errorf("trusted copy has offset %d, %v, want 99: the copy was not a live database", off, err)
	}
	if got, want := contents(t, kept), log.upTo(100); !maps.Equal(got, want) {
		t.Errorf("trusted copy:\n got %v\nwant %v", got, want)
	}
}

// TestOpenRefusesDatabaseInUse: a database that another owner has open has
// no marker either; Open must refuse it rather than delete it. Two builders
// on one root stand in for two processes.
func TestOpenRefusesDatabaseInUse(t *testing.T) {
	root := t.TempDir()
	first := openStorage(t, newBuilderAt(t, root), "t", 0)
	if err := first.Set("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	second, err := newBuilderAt(t, root).Build("t", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Open(); err == nil || errors.Is(err, state.ErrInUse) {
		t.Errorf("Open of a database another builder holds = %v, want a lock error", err)
	}
	second.Close()
	if v, err := first.Get("k"); err != nil || string(v) != "v" {
		t.Errorf("Get from the holder after a refused Open = %q, %v", v, err)
	}
	mustClose(t, first)

	third := openStorage(t, newBuilderAt(t, root), "t", 0)
	defer mustClose(t, third)
	if v, err := third.Get("k"); err != nil || string(v) != "v" {
		t.Errorf("Get after the holder closed cleanly = %q, %v", v, err)
	}
}

func newBuilderAt(t *testing.T, root string, opts ...state.Option) *state.Builder {
	t.Helper()
	b, err := state.NewBuilder(root, append(opts, state.WithCacheSize(1<<20))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// copyTree copies the files under src to dst. Files may vanish while a live
// database is copied (a flush or compaction deleting them); they are skipped,
// as they would be missing after a kill at that moment.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		err = copyFile(path, to)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}
