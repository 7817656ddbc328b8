package state_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/lovoo/goka/storage"

	"github.com/titan-commerce/titan/state"
)

// The randomized tests run one sequence of operations against a map model
// and against Pebble storages under different options, write down what each
// observable call returned, and compare the histories line by line.

type opKind uint8

const (
	opSet opKind = iota
	opDelete
	opGet
	opHas
	opScan      // Iterator, read up to n entries
	opRange     // IteratorWithRange, read up to n entries
	opSeek      // Iterator or IteratorWithRange, Seek, read up to n entries
	opScanWrite // Iterator, read some, write, read on: the snapshot must hold
	opSetOffset
	opGetOffset
	opMarkRecovered
)

type op struct {
	kind         opKind
	key          string
	value        []byte // nil for opSet is a rejected write
	start, limit []byte
	ranged       bool // for opSeek: range iterator
	seek         []byte
	n            int
	offset       int64
	writes       []op // for opScanWrite
}

func (o op) String() string {
	switch o.kind {
	case opSet:
		return fmt.Sprintf("set %q %s", o.key, showBytes(o.value))
	case opDelete:
		return fmt.Sprintf("delete %q", o.key)
	case opGet:
		return fmt.Sprintf("get %q", o.key)
	case opHas:
		return fmt.Sprintf("has %q", o.key)
	case opScan:
		return fmt.Sprintf("scan %d", o.n)
	case opRange:
		return fmt.Sprintf("range %s %s %d", showBytes(o.start), showBytes(o.limit), o.n)
	case opSeek:
		if o.ranged {
			return fmt.Sprintf("range %s %s seek %q %d", showBytes(o.start), showBytes(o.limit), o.seek, o.n)
		}
		return fmt.Sprintf("scan seek %q %d", o.seek, o.n)
	case opScanWrite:
		return fmt.Sprintf("scan %d with writes %v", o.n, o.writes)
	case opSetOffset:
		return fmt.Sprintf("set offset %d", o.offset)
	case opGetOffset:
		return "get offset"
	case opMarkRecovered:
		return "mark recovered"
	}
	return "?"
}

func showBytes(b []byte) string {
	if b == nil {
		return "nil"
	}
	return strconv.Quote(string(b))
}

// keyPool mixes short keys over a small alphabet (so they collide, share
// prefixes and span 0x00..0xff) with the keys around the reserved one.
func keyPool(rng *rand.Rand) []string {
	pool := []string{"", "_", "__offse", "__offset", "__offset\x00", "__offsetz", "__p"}
	const alphabet = "ab_\x00\xff"
	for len(pool) < 60 {
		k := make([]byte, 1+rng.IntN(4))
		for i := range k {
			k[i] = alphabet[rng.IntN(len(alphabet))]
		}
		pool = append(pool, string(k))
	}
	return pool
}

func genOps(seed uint64, n int) []op {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	pool := keyPool(rng)
	key := func() string { return pool[rng.IntN(len(pool))] }
	bound := func() []byte {
		switch rng.IntN(4) {
		case 0:
			return nil
		case 1:
			return []byte{}
		default:
			k := key()
			return []byte(k[:rng.IntN(len(k)+1)])
		}
	}
	write := func() op {
		if rng.IntN(4) == 0 {
			return op{kind: opDelete, key: key()}
		}
		o := op{kind: opSet, key: key(), value: make([]byte, rng.IntN(200))}
		for i := range o.value {
			o.value[i] = byte('a' + rng.IntN(26))
		}
		if rng.IntN(50) == 0 {
			o.value = nil
		}
		return o
	}
	var offset int64
	ops := make([]op, 0, n)
	for len(ops) < n {
		var o op
		switch p := rng.IntN(100); {
		case p < 40:
			o = write()
		case p < 55:
			o = op{kind: opGet, key: key()}
		case p < 62:
			o = op{kind: opHas, key: key()}
		case p < 67:
			o = op{kind: opScan, n: rng.IntN(80)}
		case p < 74:
			o = op{kind: opRange, start: bound(), limit: bound(), n: rng.IntN(20)}
		case p < 80:
			o = op{kind: opSeek, ranged: rng.IntN(2) == 0, start: bound(), limit: bound(), seek: bound(), n: rng.IntN(6)}
		case p < 83:
			o = op{kind: opScanWrite, n: rng.IntN(80)}
			for range 1 + rng.IntN(5) {
				o.writes = append(o.writes, write())
			}
		case p < 93:
			// Mostly forward, as changelog offsets go, now and then back.
			offset += int64(rng.IntN(5))
			if rng.IntN(20) == 0 {
				offset = int64(rng.IntN(10))
			}
			o = op{kind: opSetOffset, offset: offset}
		case p < 99:
			o = op{kind: opGetOffset}
		default:
			o = op{kind: opMarkRecovered}
		}
		ops = append(ops, o)
	}
	return ops
}

// model is the specification: a map, an offset, and goka's LevelDB rules for
// ranges and the offset key.
type model struct {
	data      map[string][]byte
	offset    int64
	hasOffset bool
}

func (m *model) apply(o op) string {
	switch o.kind {
	case opSet:
		switch {
		case o.key == "__offset":
			return "reserved"
		case o.value == nil:
			return "nil value"
		}
		m.data[o.key] = o.value
		return "ok"
	case opDelete:
		if o.key == "__offset" {
			return "reserved"
		}
		delete(m.data, o.key)
		return "ok"
	case opGet:
		if o.key == "__offset" {
			if !m.hasOffset {
				return "nil"
			}
			return strconv.Quote(strconv.FormatInt(m.offset, 10))
		}
		return showBytes(m.data[o.key])
	case opHas:
		if o.key == "__offset" {
			return strconv.FormatBool(m.hasOffset)
		}
		_, ok := m.data[o.key]
		return strconv.FormatBool(ok)
	case opScan:
		return m.read(m.data, nil, nil, nil, o.n)
	case opRange:
		lo, hi := modelBounds(o.start, o.limit)
		return m.read(m.data, lo, hi, nil, o.n)
	case opSeek:
		lo, hi := []byte(nil), []byte(nil)
		if o.ranged {
			lo, hi = modelBounds(o.start, o.limit)
		}
		return m.read(m.data, lo, hi, o.seek, o.n)
	case opScanWrite:
		snap := maps.Clone(m.data)
		var res []string
		for _, w := range o.writes {
			res = append(res, m.apply(w))
		}
		return m.read(snap, nil, nil, nil, o.n) + " writes " + strings.Join(res, ",")
	case opSetOffset:
		m.offset, m.hasOffset = o.offset, true
		return "ok"
	case opGetOffset:
		if !m.hasOffset {
			return "-1"
		}
		return strconv.FormatInt(m.offset, 10)
	case opMarkRecovered:
		return "ok"
	}
	panic("unknown op")
}

// modelBounds turns IteratorWithRange's arguments into [lo, hi), hi nil for
// unbounded: an empty limit is a prefix scan.
func modelBounds(start, limit []byte) (lo, hi []byte) {
	if len(limit) > 0 {
		return start, limit
	}
	hi = bytes.Clone(start)
	for i := len(hi) - 1; i >= 0; i-- {
		if hi[i] < 0xff {
			hi[i]++
			return start, hi[:i+1]
		}
	}
	return start, nil
}

// read lists up to n entries of data in [lo, hi), from the first key >= seek
// if seek is set (a Seek then n-1 Nexts).
func (m *model) read(data map[string][]byte, lo, hi, seek []byte, n int) string {
	keys := slices.Sorted(maps.Keys(data))
	from := lo
	if seek != nil && bytes.Compare(seek, from) > 0 {
		from = seek
	}
	var out []string
	for _, k := range keys {
		if bytes.Compare([]byte(k), from) < 0 || (hi != nil && bytes.Compare([]byte(k), hi) >= 0) {
			continue
		}
		out = append(out, fmt.Sprintf("%q=%q", k, data[k]))
	}
	prefix := ""
	if seek != nil {
		prefix = fmt.Sprintf("seek %v ", len(out) > 0)
	}
	if len(out) > n {
		return prefix + strings.Join(out[:n], " ") + " ..."
	}
	return prefix + strings.Join(out, " ") + " end"
}

// runner applies ops to a Pebble storage, reopening it every reopenEvery ops
// if set.
type runner struct {
	t           testing.TB
	b           *state.Builder
	st          *state.Storage
	reopenEvery int
	done        int
}

func newRunner(t testing.TB, reopenEvery int, opts ...state.Option) *runner {
	b := newBuilder(t, opts...)
	r := &runner{t: t, b: b, st: openStorage(t, b, "model", 0), reopenEvery: reopenEvery}
	t.Cleanup(func() { r.st.Close() })
	return r
}

// step applies one top-level op, reopening first when it is time.
func (r *runner) step(o op) string {
	r.done++
	if r.reopenEvery > 0 && r.done%r.reopenEvery == 0 {
		mustClose(r.t, r.st)
		r.st = openStorage(r.t, r.b, "model", 0)
	}
	return r.apply(o)
}

func (r *runner) apply(o op) string {
	st := r.st
	switch o.kind {
	case opSet:
		return result(st.Set(o.key, o.value))
	case opDelete:
		return result(st.Delete(o.key))
	case opGet:
		v, err := st.Get(o.key)
		if err != nil {
			return result(err)
		}
		return showBytes(v)
	case opHas:
		ok, err := st.Has(o.key)
		if err != nil {
			return result(err)
		}
		return strconv.FormatBool(ok)
	case opScan:
		it, err := st.Iterator()
		return readIter(it, err, nil, o.n)
	case opRange:
		it, err := st.IteratorWithRange(o.start, o.limit)
		return readIter(it, err, nil, o.n)
	case opSeek:
		var it storage.Iterator
		var err error
		if o.ranged {
			it, err = st.IteratorWithRange(o.start, o.limit)
		} else {
			it, err = st.Iterator()
		}
		return readIter(it, err, o.seek, o.n)
	case opScanWrite:
		return r.scanWrite(o)
	case opSetOffset:
		return result(st.SetOffset(o.offset))
	case opGetOffset:
		off, err := st.GetOffset(-1)
		if err != nil {
			return result(err)
		}
		return strconv.FormatInt(off, 10)
	case opMarkRecovered:
		return result(st.MarkRecovered())
	}
	panic("unknown op")
}

// scanWrite reads part of a snapshot, writes, and reads the rest: the
// writes must not show.
func (r *runner) scanWrite(o op) string {
	it, err := r.st.Iterator()
	if err != nil {
		return result(err)
	}
	defer it.Release()
	var out []string
	more := true
	read := func(upTo int) {
		for len(out) < upTo && more {
			if more = it.Next(); more {
				out = append(out, entryString(it))
			}
		}
	}
	read(min(2, o.n))
	var res []string
	for _, w := range o.writes {
		res = append(res, r.apply(w))
	}
	read(o.n)
	if err := it.Err(); err != nil {
		return result(err)
	}
	tail := " end"
	if more && it.Next() {
		tail = " ..."
	}
	return strings.Join(out, " ") + tail + " writes " + strings.Join(res, ",")
}

func result(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, state.ErrReservedKey):
		return "reserved"
	case errors.Is(err, state.ErrNilValue):
		return "nil value"
	}
	return "error: " + err.Error()
}

func entryString(it storage.Iterator) string {
	v, err := it.Value()
	if err != nil {
		return "error: " + err.Error()
	}
	return fmt.Sprintf("%q=%q", it.Key(), v)
}

func readIter(it storage.Iterator, err error, seek []byte, n int) string {
	if err != nil {
		return result(err)
	}
	defer it.Release()
	var out []string
	prefix := ""
	var more bool
	if seek != nil {
		more = it.Seek(seek)
		prefix = fmt.Sprintf("seek %v ", more)
		if more && n > 0 {
			out = append(out, entryString(it))
		}
	} else {
		more = true
	}
	for more && len(out) < n {
		if more = it.Next(); more {
			out = append(out, entryString(it))
		}
	}
	if err := it.Err(); err != nil {
		return result(err)
	}
	if seek != nil && len(out) == 0 && more {
		// Seek found an entry but n was 0: still more to read.
		return prefix + " ..."
	}
	if more && it.Next() {
		return prefix + strings.Join(out, " ") + " ..."
	}
	return prefix + strings.Join(out, " ") + " end"
}

// history runs ops and returns one line per op.
func history(apply func(op) string, ops []op) []string {
	h := make([]string, len(ops))
	for i, o := range ops {
		h[i] = apply(o)
	}
	return h
}

// diffHistories fails at the first op where got and want disagree, showing
// the ops leading to it.
func diffHistories(t *testing.T, ops []op, gotName string, got []string, wantName string, want []string) {
	t.Helper()
	for i := range ops {
		if got[i] == want[i] {
			continue
		}
		var ctx strings.Builder
		for j := max(0, i-5); j < i; j++ {
			fmt.Fprintf(&ctx, "  #%d %v -> %s\n", j, ops[j], want[j])
		}
		t.Fatalf("op #%d %v:\n %s: %s\n %s: %s\npreceding ops:\n%s", i, ops[i], gotName, got[i], wantName, want[i], ctx.String())
	}
}

func TestRandomAgainstModel(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			ops := genOps(seed, 3000)
			m := &model{data: map[string][]byte{}}
			want := history(m.apply, ops)
			// A small memtable makes Pebble flush, so reads also go through
			// sstables, not just the memtable.
			r := newRunner(t, 0, state.WithMemTableSize(64<<10), state.WithCacheSize(256<<10))
			diffHistories(t, ops, "pebble", history(r.step, ops), "model", want)
		})
	}
}

// TestMetamorphic runs the same operations under different options; every
// run must observe the same history, and the first must match the model.
func TestMetamorphic(t *testing.T) {
	configs := []struct {
		name        string
		reopenEvery int
		opts        []state.Option
	}{
		{"sync-none/default-cache", 0, []state.Option{state.WithSync(state.SyncNone)}},
		{"sync-always/small-cache", 0, []state.Option{state.WithSync(state.SyncAlways), state.WithCacheSize(64 << 10), state.WithMemTableSize(64 << 10)}},
		{"sync-none/small-cache/reopen", 97, []state.Option{state.WithSync(state.SyncNone), state.WithCacheSize(64 << 10), state.WithMemTableSize(64 << 10)}},
		{"sync-always/default-cache/reopen", 251, []state.Option{state.WithSync(state.SyncAlways)}},
	}
	for seed := uint64(100); seed < 102; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			ops := genOps(seed, 2000)
			m := &model{data: map[string][]byte{}}
			want := history(m.apply, ops)
			var first []string
			for i, c := range configs {
				got := history(newRunner(t, c.reopenEvery, c.opts...).step, ops)
				if i == 0 {
					diffHistories(t, ops, c.name, got, "model", want)
					first = got
					continue
				}
				diffHistories(t, ops, c.name, got, configs[0].name, first)
			}
		})
	}
}
