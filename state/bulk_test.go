package state_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/titan-commerce/titan/state"
)

// fakeLog is a Loader over records in memory. failAt, when positive,
// fails the load before the record at that index.
type fakeLog struct {
	records []state.Record
	failAt  int
	calls   int
}

var errBroken = errors.New("broken")

func (c *fakeLog) load(ctx context.Context, _ string, _ int32, add func(state.Record) error) error {
	c.calls++
	for i, r := range c.records {
		if c.failAt > 0 && i == c.failAt {
			return errBroken
		}
		if err := add(r); err != nil {
			return err
		}
	}
	return nil
}

// randomChangelog writes n records over a few keys, some of them deletes
// and some empty values, at offsets with gaps as compaction leaves them.
// Some keys share their first 16 bytes, where the load's sort compares
// keys by a prefix first, and some end in NUL bytes, which that prefix
// pads with.
func randomChangelog(r *rand.Rand, n int) []state.Record {
	var out []state.Record
	off := int64(r.IntN(3))
	for range n {
		key := fmt.Appendf(nil, "k%03d", r.IntN(40))
		switch r.IntN(4) {
		case 0:
			key = fmt.Appendf(nil, "a-sixteen-bytes-%d", r.IntN(12))
		case 1:
			key = append(key, make([]byte, r.IntN(14))...)
		}
		rec := state.Record{Key: key, Offset: off}
		switch r.IntN(6) {
		case 0: // a delete
		case 1:
			rec.Value = []byte{}
		default:
			rec.Value = fmt.Appendf(nil, "v%d", off)
		}
		out = append(out, rec)
		off += 1 + int64(r.IntN(2))
	}
	return out
}

// applied is what goka makes of records applied one by one: the last value
// of each key, none for a key whose last record is a delete.
func applied(records []state.Record) map[string]string {
	m := map[string]string{}
	for _, r := range records {
		if r.Value == nil {
			delete(m, string(r.Key))
		} else {
			m[string(r.Key)] = string(r.Value)
		}
	}
	return m
}

func sameContents(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d keys, want %d", len(got), len(want))
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %q (present %v), want %q", k, g, ok, v)
		}
	}
}

func TestBulkLoadHoldsWhatRecordByRecordWould(t *testing.T) {
	// Small chunks: a key's records span several sstables, and a later
	// table's delete must hide an earlier one's value.
	state.SetBulkChunk(t, 400)
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, seed))
			c := &fakeLog{records: randomChangelog(r, 1+r.IntN(300))}
			st := openStorage(t, newBuilder(t, state.WithBulkLoad(c.load)), "t", 0)
			defer mustClose(t, st)
			sameContents(t, contents(t, st), applied(c.records))
			last := c.records[len(c.records)-1].Offset
			if off, err := st.GetOffset(-1); err != nil || off != last {
				t.Errorf("GetOffset = %d, %v, want %d", off, err, last)
			}
			if v, err := st.Get(string(c.records[0].Key)); err != nil {
				t.Fatal(err)
			} else if want, ok := applied(c.records)[string(c.records[0].Key)]; ok && (v == nil || string(v) != want) {
				t.Errorf("Get = %q, want %q", v, want)
			}
		})
	}
}

// byKey derives "~d/<key>" from every key whose value is not empty, as
// internal/localindex's rules do.
var byKey = state.Derived{
	Derive: func(key, value []byte) ([]byte, bool) {
		return append([]byte("~d/"), key...), len(value) > 0
	},
	Value:   []byte{1},
	NameKey: []byte("~d"),
	Name:    []byte("v1"),
}

func TestBulkLoadWritesDerivedKeys(t *testing.T) {
	state.SetBulkChunk(t, 400)
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			c := &fakeLog{records: randomChangelog(r, 1+r.IntN(300))}
			st, err := newBuilder(t, state.WithBulkLoad(c.load)).Build("t", 0)
			if err != nil {
				t.Fatal(err)
			}
			st.(*state.Storage).DeriveOnLoad(byKey)
			if err := st.Open(); err != nil {
				t.Fatal(err)
			}
			defer mustClose(t, st)
			want := applied(c.records)
			for k, v := range applied(c.records) {
				if v != "" {
					want["~d/"+k] = "\x01"
				}
			}
			want["~d"] = "v1"
			sameContents(t, contents(t, st.(*state.Storage)), want)
		})
	}
}

func TestBulkLoadKeepsEmptyKeysAndValues(t *testing.T) {
	c := &fakeLog{records: []state.Record{
		{Key: []byte{}, Value: []byte{}, Offset: 6},
		{Key: []byte("a"), Value: []byte{}, Offset: 7},
	}}
	st := openStorage(t, newBuilder(t, state.WithBulkLoad(c.load)), "t", 0)
	defer mustClose(t, st)
	for _, k := range []string{"", "a"} {
		if v, err := st.Get(k); err != nil || v == nil || len(v) != 0 {
			t.Errorf("Get(%q) = %#v, %v, want empty non-nil", k, v, err)
		}
	}
}

func TestBulkLoadThatFailsKeepsWhatItIngested(t *testing.T) {
	state.SetBulkChunk(t, 400)
	r := rand.New(rand.NewPCG(1, 2))
	c := &fakeLog{records: randomChangelog(r, 200), failAt: 150}
	st := openStorage(t, newBuilder(t, state.WithBulkLoad(c.load)), "t", 0)
	defer mustClose(t, st)
	// Whatever it kept is a prefix, under the offset of its last record:
	// goka reads from the next one.
	off, err := st.GetOffset(-1)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for n < len(c.records) && c.records[n].Offset <= off {
		n++
	}
	if n == 0 || n > 150 || c.records[n-1].Offset != off {
		t.Fatalf("offset %d: not the last of a prefix of the first 150 records", off)
	}
	sameContents(t, contents(t, st), applied(c.records[:n]))
}

func TestBulkLoadOnlyIntoAnEmptyStorage(t *testing.T) {
	c := &fakeLog{records: []state.Record{{Key: []byte("a"), Value: []byte("from the changelog"), Offset: 0}}}
	b := newBuilder(t, state.WithBulkLoad(c.load))
	st := openStorage(t, b, "t", 0)
	if err := st.Set("b", []byte("local")); err != nil {
		t.Fatal(err)
	}
	mustClose(t, st)
	st = openStorage(t, b, "t", 0)
	defer mustClose(t, st)
	if c.calls != 1 {
		t.Errorf("loader called %d times, want once: the reopened storage has its offset", c.calls)
	}

	// A storage holding keys and no offset (a wrapper's own, written
	// before goka recovered anything) is left to goka.
	root := t.TempDir()
	b1 := newBuilderAt(t, root)
	st1 := openStorage(t, b1, "u", 0)
	if err := st1.Set("x", []byte("1")); err != nil {
		t.Fatal(err)
	}
	mustClose(t, st1)
	b1.Close()
	c2 := &fakeLog{records: c.records}
	st2 := openStorage(t, newBuilderAt(t, root, state.WithBulkLoad(c2.load)), "u", 0)
	defer mustClose(t, st2)
	if c2.calls != 0 {
		t.Errorf("loader called for a storage that holds keys")
	}
	if v, err := st2.Get("a"); err != nil || v != nil {
		t.Errorf("Get(a) = %q, %v, want nothing loaded", v, err)
	}
}

func TestBulkLoadRefusesTheOffsetKey(t *testing.T) {
	c := &fakeLog{records: []state.Record{
		{Key: []byte("a"), Value: []byte("1"), Offset: 0},
		{Key: []byte("__offset"), Value: []byte("9"), Offset: 1},
	}}
	st := openStorage(t, newBuilder(t, state.WithBulkLoad(c.load)), "t", 0)
	defer mustClose(t, st)
	// The record before it is in; goka then reads the offending record
	// and fails on it as it always has.
	if off, err := st.GetOffset(-1); err != nil || off != 0 {
		t.Errorf("GetOffset = %d, %v, want 0", off, err)
	}
}

func TestBulkLoadOfNothingLeavesNoOffset(t *testing.T) {
	c := &fakeLog{}
	st := openStorage(t, newBuilder(t, state.WithBulkLoad(c.load)), "t", 0)
	defer mustClose(t, st)
	if ok, err := st.Has("__offset"); err != nil || ok {
		t.Errorf("Has(offset) = %v, %v: an empty changelog must leave goka to start at the oldest offset", ok, err)
	}
}
