package analytics

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNewWindow(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name     string
		from, to time.Time
		field    string // "" for a valid window
	}{
		{"an hour", now.Add(-time.Hour), now, ""},
		{"seven days", now.Add(-MaxSpan), now, ""},
		{"a day ahead", now, now.Add(MaxAhead), ""},
		{"one second", now, now.Add(time.Second), ""},
		{"empty", now, now, "to"},
		{"backwards", now, now.Add(-time.Minute), "to"},
		{"under a second", now, now.Add(time.Millisecond), "to"},
		{"over seven days", now.Add(-MaxSpan - time.Second), now, "from"},
		{"before 2000", time.Date(1999, 12, 31, 23, 0, 0, 0, time.UTC), time.Date(2000, 1, 1, 1, 0, 0, 0, time.UTC), "from"},
		{"to too far ahead", now, now.Add(MaxAhead + time.Second), "to"},
		{"from too far ahead", now.Add(MaxAhead + time.Hour), now.Add(MaxAhead + 2*time.Hour), "from"},
	} {
		w, err := NewWindow(c.from, c.to, now)
		if c.field == "" {
			if err != nil || w.IsZero() {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		var we *WindowError
		if !errors.As(err, &we) || we.Field != c.field || !errors.Is(err, ErrWindow) {
			t.Errorf("%s: error %v, want one naming %s", c.name, err, c.field)
		}
	}
}

func TestNewWindowIsUTCSeconds(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	paris := time.FixedZone("CET", 3600)
	w, err := NewWindow(now.Add(-time.Hour+300*time.Millisecond).In(paris), now.Add(700*time.Millisecond), now)
	if err != nil {
		t.Fatal(err)
	}
	if !w.From().Equal(now.Add(-time.Hour)) || w.From().Location() != time.UTC || !w.To().Equal(now) {
		t.Errorf("window %v..%v", w.From(), w.To())
	}
}

func TestLastMinutes(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 30, 0, time.UTC)
	for _, m := range []int{0, -1, MaxMinutes + 1} {
		var we *WindowError
		if _, err := LastMinutes(m, now); !errors.As(err, &we) || we.Field != "minutes" {
			t.Errorf("%d minutes: %v", m, err)
		}
	}
	for _, m := range []int{1, 60, MaxMinutes} {
		w, err := LastMinutes(m, now)
		if err != nil || w.To() != now || w.To().Sub(w.From()) != time.Duration(m)*time.Minute {
			t.Errorf("%d minutes: %v..%v, %v", m, w.From(), w.To(), err)
		}
	}
}

func TestParseBy(t *testing.T) {
	for in, want := range map[string]By{"": ByUnits, "units": ByUnits, "revenue": ByRevenue} {
		if got, err := ParseBy(in); err != nil || got != want {
			t.Errorf("ParseBy(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"Units", "price", " units"} {
		if _, err := ParseBy(in); !errors.Is(err, ErrBy) {
			t.Errorf("ParseBy(%q): %v", in, err)
		}
	}
}

// TestQueriesHoldNoStrings: the statements are SQL fixed in the source and integers formatted
// here; no quote means no string of anyone's can have reached them.
func TestQueriesHoldNoStrings(t *testing.T) {
	w, err := LastMinutes(60, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, q := range Queries(w) {
		if names[q.Name] {
			t.Errorf("%s listed twice", q.Name)
		}
		names[q.Name] = true
		if strings.ContainsAny(q.SQL, "'\"`;?{}") {
			t.Errorf("%s holds a quote, a parameter or a second statement:\n%s", q.Name, q.SQL)
		}
	}
}

func TestZeroWindowIsRefused(t *testing.T) {
	q := NewQuerier(nil)
	if _, err := q.Orders(t.Context(), Window{}); !errors.Is(err, ErrWindow) {
		t.Errorf("zero window: %v", err)
	}
	w, _ := LastMinutes(5, time.Now())
	if _, err := q.TopSKUs(t.Context(), w, ByUnits, 0); !errors.Is(err, ErrLimit) {
		t.Errorf("limit 0: %v", err)
	}
	if _, err := q.TopSKUs(t.Context(), w, "price", 10); !errors.Is(err, ErrBy) {
		t.Errorf("by price: %v", err)
	}
}
