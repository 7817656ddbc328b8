package instance

import (
	"testing"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"

	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
)

// TestViewCacheDropsWhatAWriteChanged: a write under an item's own key or
// under one of its neighbors' keys drops the item, and a read that began
// before the write does not store what it read.
func TestViewCacheDropsWhatAWriteChanged(t *testing.T) {
	c := newViewCache[*recommendationsv1.ItemState](64 * 4)
	update := c.after(goka.DefaultUpdate)
	st := storage.NewMemory()
	w := &recommendationsv1.ItemState{Sku: "a"}
	write := func(key string) {
		t.Helper()
		if err := update(nil, st, key, []byte{1}); err != nil {
			t.Fatal(err)
		}
	}

	c.put("a", w, c.generation("a"))
	if got, ok := c.get("a"); !ok || got != w {
		t.Fatal("a read item is not kept")
	}
	write("a\x00nb")
	if _, ok := c.get("a"); ok {
		t.Fatal("a write under a neighbor's key left the item")
	}

	c.put("a", w, c.generation("a"))
	write("a")
	if _, ok := c.get("a"); ok {
		t.Fatal("a write under the item's key left it")
	}

	gen := c.generation("a")
	write("a\x00kx")
	c.put("a", w, gen)
	if _, ok := c.get("a"); ok {
		t.Fatal("a read from before a write was kept")
	}
	if v, err := st.Get("a\x00kx"); err != nil || v == nil {
		t.Fatalf("the write was not stored: %v %v", v, err)
	}

	// Full shards make room.
	for i := range 1000 {
		sku := string(rune('A'+i%26)) + string(rune('a'+i/26))
		c.put(sku, w, c.generation(sku))
	}
	n := 0
	for i := range c.shards {
		n += len(c.shards[i].values)
	}
	if n > 64*4 {
		t.Fatalf("the cache holds %d items, bound %d", n, 64*4)
	}
}

// TestViewCacheDropsAfterTheWrite: the entry goes only once the callback
// it follows has stored the record, so a read between the two, which
// finds the old value in the storage, is not kept past the write.
func TestViewCacheDropsAfterTheWrite(t *testing.T) {
	c := newViewCache[string](64)
	st := storage.NewMemory()
	var readMeanwhile uint64
	next := func(ctx goka.UpdateContext, s storage.Storage, key string, value []byte) error {
		// A reader that starts now reads the old value and takes the
		// generation before the drop.
		readMeanwhile = c.generation("sku")
		return goka.DefaultUpdate(ctx, s, key, value)
	}
	c.put("sku", "old", c.generation("sku"))
	if err := c.after(next)(nil, st, "sku", []byte("new")); err != nil {
		t.Fatal(err)
	}
	c.put("sku", "old", readMeanwhile)
	if v, ok := c.get("sku"); ok {
		t.Fatalf("a read from before the drop was kept: %q", v)
	}
	if v, _ := st.Get("sku"); string(v) != "new" {
		t.Fatalf("the write was not stored: %q", v)
	}
}
