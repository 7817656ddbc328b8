package storagetest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lovoo/goka/storage"
)

// offsetKey is the key goka reserves for the offset.
const offsetKey = "__offset"

var checks = []check{
	{"GetMissing", checkGetMissing},
	{"SetGetHas", checkSetGetHas},
	{"Overwrite", checkOverwrite},
	{"Delete", checkDelete},
	{"EmptyValue", checkEmptyValue},
	{"NilValueRejected", checkNilValueRejected},
	{"EmptyKey", checkEmptyKey},
	{"BinaryKeys", checkBinaryKeys},
	{"GetResultStable", checkGetResultStable},
	{"OffsetDefault", checkOffsetDefault},
	{"OffsetRoundTrip", checkOffsetRoundTrip},
	{"OffsetZero", checkOffsetZero},
	{"OffsetHidden", checkOffsetHidden},
	{"OffsetNotSeekable", checkOffsetNotSeekable},
	{"OffsetSeparateFromData", checkOffsetSeparateFromData},
	{"IterateSorted", checkIterateSorted},
	{"IterateEmpty", checkIterateEmpty},
	{"IteratorExhausted", checkIteratorExhausted},
	{"IteratorSnapshot", checkIteratorSnapshot},
	{"IteratorRelease", checkIteratorRelease},
	{"SeekExact", checkSeekExact},
	{"SeekBetween", checkSeekBetween},
	{"SeekPastEnd", checkSeekPastEnd},
	{"SeekBackward", checkSeekBackward},
	{"RangeHalfOpen", checkRangeHalfOpen},
	{"RangeUnboundedStart", checkRangeUnboundedStart},
	{"RangePrefix", checkRangePrefix},
	{"RangeAll", checkRangeAll},
	{"RangeInverted", checkRangeInverted},
	{"RangeSeek", checkRangeSeek},
	{"MarkRecovered", checkMarkRecovered},
	{"CloseIdempotent", checkCloseIdempotent},
	{"ConcurrentReadersOneWriter", checkConcurrent},
}

func checkGetMissing(t testing.TB, st storage.Storage) {
	mustSet(t, st, "present", "v")
	wantGet(t, st, "absent", nil)
	wantHas(t, st, "absent", false)
}

func checkSetGetHas(t testing.TB, st storage.Storage) {
	mustSet(t, st, "k", "v")
	wantGet(t, st, "k", []byte("v"))
	wantHas(t, st, "k", true)
	wantGet(t, st, "k2", nil)
}

func checkOverwrite(t testing.TB, st storage.Storage) {
	mustSet(t, st, "k", "v1")
	mustSet(t, st, "k", "v2")
	wantGet(t, st, "k", []byte("v2"))
	wantEntries(t, "iterator", iterAll(t, st), "k", "v2")
}

func checkDelete(t testing.TB, st storage.Storage) {
	mustSet(t, st, "a", "1")
	mustSet(t, st, "b", "2")
	mustDelete(t, st, "a")
	wantGet(t, st, "a", nil)
	wantHas(t, st, "a", false)
	wantEntries(t, "iterator", iterAll(t, st), "b", "2")
	mustDelete(t, st, "never-stored")
	mustSet(t, st, "a", "3")
	wantGet(t, st, "a", []byte("3"))
}

// checkEmptyValue: nil from Get means "missing", so a stored empty value must
// come back as a non-nil empty slice.
func checkEmptyValue(t testing.TB, st storage.Storage) {
	if err := st.Set("e", []byte{}); err != nil {
		t.Fatalf("Set empty value: %v", err)
	}
	wantHas(t, st, "e", true)
	v, err := st.Get("e")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if v == nil || len(v) != 0 {
		t.Errorf("Get of an empty value = %#v, want non-nil empty slice", v)
	}
	wantEntries(t, "iterator", iterAll(t, st), "e", "")
}

// checkNilValueRejected: nil is goka's deletion marker (DefaultUpdate deletes
// on nil and Context.SetValue refuses it), so a storage must not store it.
func checkNilValueRejected(t testing.TB, st storage.Storage) {
	if err := st.Set("n", nil); err == nil {
		t.Errorf("Set with a nil value succeeded, want an error")
	}
	wantHas(t, st, "n", false)
}

func checkEmptyKey(t testing.TB, st storage.Storage) {
	mustSet(t, st, "", "root")
	mustSet(t, st, "a", "x")
	wantGet(t, st, "", []byte("root"))
	wantHas(t, st, "", true)
	wantEntries(t, "iterator", iterAll(t, st), "", "root", "a", "x")
}

func checkBinaryKeys(t testing.TB, st storage.Storage) {
	keys := []string{"\xff\xff", "a\x00b", "\x00", "A", "\x80", "\xff", "a", "\x00\x00", "\x7f", "a\xffb"}
	for _, k := range keys {
		mustSet(t, st, k, "v"+k)
	}
	for _, k := range keys {
		wantGet(t, st, k, []byte("v"+k))
	}
	slices.Sort(keys)
	var want []string
	for _, k := range keys {
		want = append(want, k, "v"+k)
	}
	wantEntries(t, "iterator", iterAll(t, st), want...)
}

// checkGetResultStable: the caller may keep what Get returned while the
// storage changes underneath.
func checkGetResultStable(t testing.TB, st storage.Storage) {
	mustSet(t, st, "k", "original")
	v, err := st.Get("k")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	mustSet(t, st, "k", "a longer value that replaces the original")
	mustDelete(t, st, "k")
	for i := range 200 {
		mustSet(t, st, fmt.Sprintf("other-%03d", i), strings.Repeat("x", 100))
	}
	if string(v) != "original" {
		t.Errorf("value returned by Get changed to %q after later writes", v)
	}
}

func checkOffsetDefault(t testing.TB, st storage.Storage) {
	wantOffset(t, st, -2, -2)
	wantOffset(t, st, 7, 7)
}

func checkOffsetRoundTrip(t testing.TB, st storage.Storage) {
	mustSetOffset(t, st, 42)
	wantOffset(t, st, -1, 42)
	// The last offset set wins even if it is lower: goka decides.
	mustSetOffset(t, st, 41)
	wantOffset(t, st, -1, 41)
	if err := st.MarkRecovered(); err != nil {
		t.Fatalf("MarkRecovered: %v", err)
	}
	wantOffset(t, st, -1, 41)
	mustSetOffset(t, st, 100)
	wantOffset(t, st, -1, 100)
}

// checkOffsetZero: the first record of a changelog has offset 0.
func checkOffsetZero(t testing.TB, st storage.Storage) {
	mustSetOffset(t, st, 0)
	wantOffset(t, st, -1, 0)
	if err := st.MarkRecovered(); err != nil {
		t.Fatalf("MarkRecovered: %v", err)
	}
	wantOffset(t, st, -1, 0)
}

// keysAroundOffset sort right before, around and after "__offset".
var keysAroundOffset = []string{"_", "__", "__offse", "__offset\x00", "__offset0", "__offsf", "a"}

func setAroundOffset(t testing.TB, st storage.Storage) {
	for _, k := range keysAroundOffset {
		mustSet(t, st, k, "v")
	}
	mustSetOffset(t, st, 5)
	if err := st.MarkRecovered(); err != nil {
		t.Fatalf("MarkRecovered: %v", err)
	}
	mustSetOffset(t, st, 6)
}

func checkOffsetHidden(t testing.TB, st storage.Storage) {
	setAroundOffset(t, st)
	wantKeys(t, "iterator", iterAll(t, st), keysAroundOffset...)
	wantKeys(t, `range ["_", "b")`, iterRange(t, st, []byte("_"), []byte("b")), keysAroundOffset...)
	wantKeys(t, `prefix "__offset"`, iterRange(t, st, []byte(offsetKey), nil), "__offset\x00", "__offset0")
}

func checkOffsetNotSeekable(t testing.TB, st storage.Storage) {
	setAroundOffset(t, st)
	for name, open := range map[string]func() (storage.Iterator, error){
		"iterator": st.Iterator,
		"range":    func() (storage.Iterator, error) { return st.IteratorWithRange([]byte("_"), []byte("b")) },
	} {
		it, err := open()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !it.Seek([]byte(offsetKey)) {
			t.Errorf("%s: Seek(%q) = false, want true", name, offsetKey)
		} else if k := string(it.Key()); k != "__offset\x00" {
			t.Errorf("%s: Seek(%q) landed on %q, want %q", name, offsetKey, k, "__offset\x00")
		}
		it.Release()
	}
}

func checkOffsetSeparateFromData(t testing.TB, st storage.Storage) {
	mustSet(t, st, "a", "1")
	mustSetOffset(t, st, 9)
	mustDelete(t, st, "a")
	mustSet(t, st, "b", "2")
	wantOffset(t, st, -1, 9)
	wantEntries(t, "iterator", iterAll(t, st), "b", "2")
	mustDelete(t, st, "b")
	wantOffset(t, st, -1, 9)
	wantKeys(t, "iterator", iterAll(t, st))
}

func checkIterateSorted(t testing.TB, st storage.Storage) {
	const n = 50
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("k%02d", i), fmt.Sprintf("v%02d", i))
	}
	// 17 is coprime to 50, so this visits every key, out of order.
	for i := range n {
		j := i * 17 % n
		mustSet(t, st, fmt.Sprintf("k%02d", j), fmt.Sprintf("v%02d", j))
	}
	wantEntries(t, "iterator", iterAll(t, st), want...)
}

func checkIterateEmpty(t testing.TB, st storage.Storage) {
	wantKeys(t, "iterator of an empty storage", iterAll(t, st))
	mustSetOffset(t, st, 3)
	wantKeys(t, "iterator of a storage holding only an offset", iterAll(t, st))
	wantKeys(t, "range of an empty storage", iterRange(t, st, []byte("a"), []byte("z")))
}

func checkIteratorExhausted(t testing.TB, st storage.Storage) {
	mustSet(t, st, "a", "1")
	mustSet(t, st, "b", "2")
	it := mustIterator(t, st)
	defer it.Release()
	wantNext(t, it, "a")
	wantNext(t, it, "b")
	if it.Next() {
		t.Fatalf("Next after the last entry = true")
	}
	if k := it.Key(); k != nil {
		t.Errorf("Key after exhaustion = %q, want nil", k)
	}
	if v, err := it.Value(); v != nil || err != nil {
		t.Errorf("Value after exhaustion = %q, %v, want nil, nil", v, err)
	}
	if it.Next() {
		t.Errorf("Next after exhaustion = true")
	}
	if err := it.Err(); err != nil {
		t.Errorf("Err = %v", err)
	}
}

func checkIteratorSnapshot(t testing.TB, st storage.Storage) {
	mustSet(t, st, "a", "1")
	mustSet(t, st, "b", "2")
	mustSet(t, st, "c", "3")
	all := mustIterator(t, st)
	ranged, err := st.IteratorWithRange([]byte("a"), []byte("b0"))
	if err != nil {
		t.Fatalf("IteratorWithRange: %v", err)
	}
	mustSet(t, st, "b", "20")
	mustDelete(t, st, "c")
	mustSet(t, st, "d", "4")
	mustSet(t, st, "a0", "5")
	mustSetOffset(t, st, 1)
	wantEntries(t, "iterator made before the writes", drain(t, all), "a", "1", "b", "2", "c", "3")
	wantEntries(t, "range made before the writes", drain(t, ranged), "a", "1", "b", "2")
	wantEntries(t, "iterator made after the writes", iterAll(t, st), "a", "1", "a0", "5", "b", "20", "d", "4")
}

func checkIteratorRelease(t testing.TB, st storage.Storage) {
	mustSet(t, st, "a", "1")
	mustSet(t, st, "b", "2")
	it := mustIterator(t, st)
	wantNext(t, it, "a")
	it.Release()
	if it.Next() {
		t.Errorf("Next after Release = true")
	}
	if k := it.Key(); k != nil {
		t.Errorf("Key after Release = %q, want nil", k)
	}
	if it.Seek([]byte("a")) {
		t.Errorf("Seek after Release = true")
	}
	it.Release()
}

func checkSeekExact(t testing.TB, st storage.Storage) {
	setKeys(t, st, "a", "b", "c", "d")
	it := mustIterator(t, st)
	defer it.Release()
	wantSeek(t, it, "b", "b")
	if v, err := it.Value(); err != nil || string(v) != "vb" {
		t.Errorf("Value after Seek = %q, %v, want %q", v, err, "vb")
	}
	wantNext(t, it, "c")
	wantNext(t, it, "d")
	wantEnd(t, it)
}

func checkSeekBetween(t testing.TB, st storage.Storage) {
	setKeys(t, st, "a", "c", "e")
	it := mustIterator(t, st)
	defer it.Release()
	wantSeek(t, it, "b", "c")
	wantNext(t, it, "e")
	wantEnd(t, it)
}

func checkSeekPastEnd(t testing.TB, st storage.Storage) {
	setKeys(t, st, "a", "b")
	it := mustIterator(t, st)
	defer it.Release()
	wantSeek(t, it, "c", "")
	if k := it.Key(); k != nil {
		t.Errorf("Key after a failed Seek = %q, want nil", k)
	}
	wantEnd(t, it)
}

func checkSeekBackward(t testing.TB, st storage.Storage) {
	setKeys(t, st, "a", "b", "c")
	it := mustIterator(t, st)
	defer it.Release()
	wantNext(t, it, "a")
	wantNext(t, it, "b")
	wantSeek(t, it, "a", "a")
	wantNext(t, it, "b")
	wantNext(t, it, "c")
	wantEnd(t, it)
	wantSeek(t, it, "b", "b")
}

func checkRangeHalfOpen(t testing.TB, st storage.Storage) {
	setKeys(t, st, "a", "b", "c", "d")
	wantKeys(t, `range ["b", "d")`, iterRange(t, st, []byte("b"), []byte("d")), "b", "c")
	wantKeys(t, `range ["b", "b")`, iterRange(t, st, []byte("b"), []byte("b")))
	wantKeys(t, `range ["a", "c\x00")`, iterRange(t, st, []byte("a"), []byte("c\x00")), "a", "b", "c")
}

func checkRangeUnboundedStart(t testing.TB, st storage.Storage) {
	setKeys(t, st, "a", "b", "c")
	wantKeys(t, `range [nil, "c")`, iterRange(t, st, nil, []byte("c")), "a", "b")
}

// checkRangePrefix follows goka's storages, not the interface's comment: an
// empty limit means "keys starting with start".
func checkRangePrefix(t testing.TB, st storage.Storage) {
	setKeys(t, st, "usea", "user", "user/1", "user/2", "user/20", "users", "v")
	wantKeys(t, `range ["user/", nil)`, iterRange(t, st, []byte("user/"), nil), "user/1", "user/2", "user/20")
	wantKeys(t, `range ["user", "")`, iterRange(t, st, []byte("user"), []byte{}), "user", "user/1", "user/2", "user/20", "users")
}

func checkRangeAll(t testing.TB, st storage.Storage) {
	setKeys(t, st, "a", "b")
	wantKeys(t, "range [nil, nil)", iterRange(t, st, nil, nil), "a", "b")
}

func checkRangeInverted(t testing.TB, st storage.Storage) {
	setKeys(t, st, "a", "b", "c")
	wantKeys(t, `range ["c", "a")`, iterRange(t, st, []byte("c"), []byte("a")))
}

func checkRangeSeek(t testing.TB, st storage.Storage) {
	setKeys(t, st, "a", "b", "c", "d", "e", "f")
	it, err := st.IteratorWithRange([]byte("b"), []byte("e"))
	if err != nil {
		t.Fatalf("IteratorWithRange: %v", err)
	}
	defer it.Release()
	wantSeek(t, it, "a", "b")
	wantSeek(t, it, "c", "c")
	wantNext(t, it, "d")
	wantEnd(t, it)
	wantSeek(t, it, "e", "")
}

// checkMarkRecovered: goka recovers, marks, then carries on writing.
func checkMarkRecovered(t testing.TB, st storage.Storage) {
	mustSet(t, st, "x", "1")
	mustSet(t, st, "y", "2")
	mustSetOffset(t, st, 10)
	if err := st.MarkRecovered(); err != nil {
		t.Fatalf("MarkRecovered: %v", err)
	}
	wantGet(t, st, "x", []byte("1"))
	wantGet(t, st, "y", []byte("2"))
	wantOffset(t, st, -1, 10)
	mustSet(t, st, "z", "3")
	mustSetOffset(t, st, 11)
	wantGet(t, st, "z", []byte("3"))
	wantOffset(t, st, -1, 11)
}

func checkCloseIdempotent(t testing.TB, st storage.Storage) {
	mustSet(t, st, "a", "1")
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// checkConcurrent: one writer, readers that check every value they see
// belongs to its key, and several goroutines setting offsets, as goka's
// producer acks do.
func checkConcurrent(t testing.TB, st storage.Storage) {
	const (
		keys      = 40
		writes    = 1500
		setters   = 3
		perSetter = 200
	)
	key := func(i int) string { return fmt.Sprintf("key-%02d", i%keys) }
	// Every seventh write deletes; the others store key=i.
	writeAt := func(i int) error {
		if i%7 == 6 {
			return st.Delete(key(i))
		}
		return st.Set(key(i), fmt.Appendf(nil, "%s=%d", key(i), i))
	}
	if err := st.MarkRecovered(); err != nil {
		t.Fatalf("MarkRecovered: %v", err)
	}

	var writers, readers sync.WaitGroup
	writers.Go(func() {
		for i := range writes {
			if err := writeAt(i); err != nil {
				t.Errorf("write %d: %v", i, err)
				return
			}
		}
	})
	for g := range setters {
		writers.Go(func() {
			for j := range perSetter {
				if err := st.SetOffset(int64(g*1_000_000 + j)); err != nil {
					t.Errorf("SetOffset: %v", err)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	for r := range 2 {
		readers.Go(func() { readUntil(t, st, done, uint64(r), func(i int) string { return key(i) }, keys) })
	}
	writers.Wait()
	close(done)
	readers.Wait()

	var lasts []int64
	for g := range setters {
		lasts = append(lasts, int64(g*1_000_000+perSetter-1))
	}
	if off, err := st.GetOffset(-1); err != nil || !slices.Contains(lasts, off) {
		t.Errorf("GetOffset = %d, %v, want the last offset of one of the setters %v", off, err, lasts)
	}
	for i := range keys {
		var want []byte
		last := writes - 1 - (writes-1-i)%keys // the last write to key i
		if last%7 != 6 {
			want = fmt.Appendf(nil, "%s=%d", key(last), last)
		}
		wantGet(t, st, key(i), want)
	}
}

// readUntil reads st until done is closed, checking that every value read
// names its key, and that iterators are ordered and hide the offset.
func readUntil(t testing.TB, st storage.Storage, done <-chan struct{}, seed uint64, key func(int) string, keys int) {
	belongs := func(k string, v []byte) bool { return bytes.HasPrefix(v, []byte(k+"=")) }
	rng := rand.New(rand.NewPCG(seed, 1))
	for {
		select {
		case <-done:
			return
		default:
		}
		k := key(rng.IntN(keys))
		if v, err := st.Get(k); err != nil || (v != nil && !belongs(k, v)) {
			t.Errorf("Get(%q) = %q, %v", k, v, err)
			return
		}
		if _, err := st.Has(k); err != nil {
			t.Errorf("Has(%q): %v", k, err)
			return
		}
		it, err := st.Iterator()
		if err != nil {
			t.Errorf("Iterator: %v", err)
			return
		}
		var prev []byte
		for it.Next() {
			k := it.Key()
			v, err := it.Value()
			switch {
			case err != nil:
				t.Errorf("Value: %v", err)
			case string(k) == offsetKey:
				t.Errorf("iterator showed the offset key")
			case prev != nil && bytes.Compare(prev, k) >= 0:
				t.Errorf("iterator out of order: %q then %q", prev, k)
			case !belongs(string(k), v):
				t.Errorf("iterator: %q = %q", k, v)
			}
			prev = append(prev[:0], k...)
		}
		if err := it.Err(); err != nil {
			t.Errorf("iterator: %v", err)
		}
		it.Release()
	}
}
