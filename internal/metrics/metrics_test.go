package metrics

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/titan-commerce/titan/state"
)

// gathered returns the value of each metric of reg labelled store=store.
func gathered(t *testing.T, reg *prometheus.Registry, store string) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "store" && l.GetValue() == store {
					out[f.GetName()] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
	}
	return out
}

func TestStateCachesAreReadAtScrapeTime(t *testing.T) {
	b, err := state.NewBuilder(t.TempDir(), state.WithCacheSize(8<<20))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	reg := prometheus.NewRegistry()
	if err := RegisterStateCaches(reg, map[string]*state.Builder{"processors": b}); err != nil {
		t.Fatal(err)
	}
	// Figures read from the builder at every scrape.
	st, err := b.Build("t", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	for i := range 100 {
		if _, err := st.Get(fmt.Sprintf("k%04d", i)); err != nil {
			t.Fatal(err)
		}
	}
	got, s := gathered(t, reg, "processors"), b.CacheStats()
	want := map[string]float64{
		"titan_state_block_cache_capacity_bytes": 8 << 20,
		"titan_state_block_cache_bytes":          float64(s.Bytes),
		"titan_state_block_cache_hits_total":     float64(s.Hits),
		"titan_state_block_cache_misses_total":   float64(s.Misses),
	}
	for name, v := range want {
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("%s{store=\"processors\"} = %v (present %t), want %v", name, g, ok, v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("gathered %v, want only %v", got, want)
	}
}
