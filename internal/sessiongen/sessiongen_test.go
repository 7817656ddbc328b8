package sessiongen

import (
	"reflect"
	"slices"
	"testing"
)

func small() Config {
	c := DefaultConfig()
	c.Sessions = 2000
	c.Shift = Shift{AtEvent: 10_000}
	return c
}

func TestGenerateIsReproducible(t *testing.T) {
	a, b := Generate(small()), Generate(small())
	if !reflect.DeepEqual(a, b) {
		t.Fatal("one config gave two streams")
	}
	other := small()
	other.Seed = 2
	if reflect.DeepEqual(a.Events, Generate(other).Events) {
		t.Fatal("another seed gave the same stream")
	}
}

func TestGenerateShape(t *testing.T) {
	s := Generate(small())
	var views, bought, dups int
	ids := map[string]bool{}
	for i, ev := range s.Events {
		if i > 0 && ev.Time().Before(s.Events[i-1].Time()) {
			t.Fatalf("event %d goes back in time", i)
		}
		switch ev.Kind {
		case KindView:
			views++
			if ids[ev.View.GetEventId()] {
				dups++
			}
			ids[ev.View.GetEventId()] = true
		case KindPurchase:
			bought++
		}
	}
	if bought == 0 || dups == 0 || views < 2000 {
		t.Fatalf("%d views (%d repeated), %d bought lines", views, dups, bought)
	}
	if len(s.Groups) != DefaultConfig().Groups {
		t.Fatalf("%d groups", len(s.Groups))
	}
	head := s.Items[:DefaultConfig().HeadItems]
	for _, g := range s.Groups {
		if len(g) < 2 || len(g) > DefaultConfig().GroupSize {
			t.Fatalf("group %v", g)
		}
		for _, sku := range g {
			if slices.Contains(head, sku) {
				t.Fatalf("group %v takes head item %s", g, sku)
			}
		}
	}
	if s.Shift.AtEvent < 10_000 || !s.Events[s.Shift.AtEvent].Trend || s.Shift.Item == "" || s.Shift.Partner == "" {
		t.Fatalf("shift %+v", s.Shift)
	}
	for _, ev := range s.Events[:s.Shift.AtEvent] {
		if ev.Trend {
			t.Fatal("a trend event before the shift")
		}
	}
	if Generate(Config{Sessions: 100}).Shift.AtEvent != -1 {
		t.Fatal("a shift without asking for one")
	}
}

func TestReportHelpers(t *testing.T) {
	s := Stream{Groups: [][]string{{"a", "b"}, {"c", "d", "e"}}}
	lists := map[string][]string{
		"a": {"x", "b"}, "b": {"y"},
		"c": {"d", "e", "x"}, "d": {"c"}, "e": {"x", "y", "z", "w", "v", "u", "t", "s", "r", "q", "c"},
	}
	q := s.RecallPrecisionAt10(func(sku string) []string { return lists[sku] })
	// Hits: a->b, c->d, c->e, d->c; e's c is 11th. Relevant 2+6.
	if q.Hits != 4 || q.Relevant != 8 || q.Listed != 2+1+3+1+10 || q.Recall != 0.5 {
		t.Fatalf("%+v", q)
	}
	if want := float64(1+1+2+1+2) / 17; q.PrecisionCeiling != want {
		t.Fatalf("ceiling %v, want %v", q.PrecisionCeiling, want)
	}

	st := Stream{
		Events: []Event{{}, {Trend: true}, {}, {Trend: true}, {}},
		Shift:  Shift{AtEvent: 1, Item: "i", Partner: "p"},
	}
	w := st.WatchTrend()
	shown := []bool{false, false, false, true, true}
	for i := range st.Events {
		w.Observe(i, func(string) []string {
			if shown[i] {
				return []string{"x", "p"}
			}
			return []string{"x"}
		})
	}
	if w.Latency != 2 || w.TrendEvents != 2 {
		t.Fatalf("%+v", w)
	}
}
