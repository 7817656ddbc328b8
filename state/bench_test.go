package state_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/lovoo/goka/storage"
	"github.com/syndtr/goleveldb/leveldb"

	"github.com/titan-commerce/titan/state"
)

// The benchmarks compare this package with goka's memory and LevelDB
// storages in one run, since timings are only comparable on one machine at
// one moment. Each works on 10k keys of 100-byte values, already stored, so
// Set overwrites as a processor updating its state does.

const benchKeys = 10_000

type benchTarget struct {
	name string
	open func(b *testing.B) storage.Storage
}

func benchTargets(withSyncAlways bool) []benchTarget {
	pebbleWith := func(p state.SyncPolicy) func(b *testing.B) storage.Storage {
		return func(b *testing.B) storage.Storage {
			return openStorage(b, newBuilder(b, state.WithSync(p)), "bench", 0)
		}
	}
	ts := []benchTarget{
		{"pebble-sync-none", pebbleWith(state.SyncNone)},
	}
	if withSyncAlways {
		ts = append(ts, benchTarget{"pebble-sync-always", pebbleWith(state.SyncAlways)})
	}
	return append(ts,
		benchTarget{"goka-memory", func(*testing.B) storage.Storage { return storage.NewMemory() }},
		benchTarget{"goka-leveldb", func(b *testing.B) storage.Storage {
			db, err := leveldb.OpenFile(b.TempDir(), nil)
			if err != nil {
				b.Fatal(err)
			}
			st, err := storage.New(db)
			if err != nil {
				b.Fatal(err)
			}
			if err := st.Open(); err != nil {
				b.Fatal(err)
			}
			return st
		}},
	)
}

// prepared opens a storage, stores every key and marks it recovered, so the
// sync policy of normal operation applies.
func prepared(b *testing.B, t benchTarget) (storage.Storage, []string, []byte) {
	st := t.open(b)
	b.Cleanup(func() { st.Close() })
	keys := make([]string, benchKeys)
	value := make([]byte, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%05d", i*7919%benchKeys)
		if err := st.Set(keys[i], value); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.MarkRecovered(); err != nil {
		b.Fatal(err)
	}
	return st, keys, value
}

func BenchmarkSet(b *testing.B) {
	for _, t := range benchTargets(true) {
		b.Run(t.name, func(b *testing.B) {
			st, keys, value := prepared(b, t)
			b.SetBytes(int64(len(value)))
			i := 0
			for b.Loop() {
				if err := st.Set(keys[i%len(keys)], value); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkGet(b *testing.B) {
	for _, t := range benchTargets(false) {
		b.Run(t.name, func(b *testing.B) {
			st, keys, value := prepared(b, t)
			b.SetBytes(int64(len(value)))
			i := 0
			for b.Loop() {
				v, err := st.Get(keys[i%len(keys)])
				if err != nil || v == nil {
					b.Fatalf("Get = %v, %v", v, err)
				}
				i++
			}
		})
	}
}

// BenchmarkBulkLoad is one partition's bulk load (WithBulkLoad) of 375,000
// changelog records, what a table of 1,000,000 SKUs holds per partition of
// eight: 125,000 keys of 60 bytes each written three times, in key order
// (as a table restocked in order leaves its changelog) and shuffled. It
// reports the load's cost per record, from the loader's first record to an
// opened storage.
func BenchmarkBulkLoad(b *testing.B) {
	const keys, writes = 125_000, 3
	value := make([]byte, 60)
	for _, order := range []string{"in-order", "shuffled"} {
		b.Run(order, func(b *testing.B) {
			recs := make([]state.Record, 0, keys*writes)
			for i := range keys * writes {
				k := i / writes
				if order == "shuffled" {
					k = i * 7919 % keys
				}
				recs = append(recs, state.Record{Key: fmt.Appendf(nil, "sku-%07d", k), Value: value, Offset: int64(i)})
			}
			load := func(_ context.Context, _ string, _ int32, add func(state.Record) error) error {
				for _, r := range recs {
					if err := add(r); err != nil {
						return err
					}
				}
				return nil
			}
			b.ReportAllocs()
			for b.Loop() {
				st := openStorage(b, newBuilder(b, state.WithBulkLoad(load)), "bulk", 0)
				b.StopTimer()
				mustClose(b, st)
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
		})
	}
}
