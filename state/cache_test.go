package state_test

import (
	"fmt"
	"testing"

	"github.com/titan-commerce/titan/state"
)

// Pebble reserves every memtable's size from the block cache. With the
// default cache and memtable sizes scaled down together, eight partitions
// whose memtables are full still leave the cache room to hold the blocks
// that lookups read; at the old ratio (a 64 MiB cache for 16 MiB
// memtables) they left none, and no block was ever served from it.
func TestBlockCacheOutlastsFullMemtables(t *testing.T) {
	const scale, partitions = 32, 8
	b := newBuilder(t, state.WithCacheSize(state.DefaultCacheSize/scale),
		state.WithMemTableSize(state.DefaultMemTableSize/scale))
	value := make([]byte, 200)
	keys := int(state.DefaultMemTableSize / scale / 200)
	var stores []*state.Storage
	for p := range partitions {
		s := openStorage(t, b, "busy", int32(p))
		t.Cleanup(func() { mustClose(t, s) })
		if err := s.MarkRecovered(); err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
		// What the lookups read, in an sstable; then a memtable at its
		// full size (Pebble grows it from 256 KiB as it fills).
		for i := range keys {
			if err := s.Set(fmt.Sprintf("old-%06d", i), value); err != nil {
				t.Fatal(err)
			}
		}
		if err := state.Flush(s); err != nil {
			t.Fatal(err)
		}
		for i := range keys {
			if err := s.Set(fmt.Sprintf("new-%06d", i), value); err != nil {
				t.Fatal(err)
			}
		}
	}
	read := func() {
		for _, s := range stores {
			for i := 0; i < keys; i += 50 {
				if v, err := s.Get(fmt.Sprintf("old-%06d", i)); err != nil || len(v) != len(value) {
					t.Fatalf("Get: %d bytes, %v", len(v), err)
				}
			}
		}
	}
	read()
	before := b.CacheStats().Hits
	read()
	if hits := b.CacheStats().Hits - before; hits == 0 {
		t.Fatalf("the second pass over the same keys read no block from the cache: the memtables' reservations leave it no room (%+v)", b.CacheStats())
	}
}
