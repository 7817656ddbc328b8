package millis

import (
	"math"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	if Of(time.Time{}) != 0 || !Time(0).IsZero() {
		t.Fatal("the zero time and 0 must map to each other")
	}
	at := time.Date(2026, 11, 26, 12, 0, 0, 123_000_000, time.FixedZone("CET", 3600))
	if got := Time(Of(at)); !got.Equal(at) || got.Location() != time.UTC {
		t.Fatalf("round trip %v -> %v", at, got)
	}
	if Of(time.UnixMilli(-5)) != -5 {
		t.Fatal("times before 1970 keep their value")
	}
}

func TestClamped(t *testing.T) {
	for _, ms := range []int64{math.MaxInt64, math.MaxInt64 - 1, Max + 1, math.MinInt64, Min - 1} {
		got := Of(Time(ms))
		if got != Clamp(ms) || (ms > 0 && got != Max) || (ms < 0 && got != Min) {
			t.Errorf("%d -> %d, want the nearest end of [%d, %d]", ms, got, Min, Max)
		}
	}
	far := time.Unix(1<<62, 0)
	if Of(far) != Max || Of(far.Add(-1<<62)) < Min {
		t.Errorf("Of of far times: %d", Of(far))
	}
	if y := Time(math.MaxInt64).Year(); y != 9999 {
		t.Errorf("year %d", y)
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add(int64(0))
	f.Add(int64(1_700_000_000_000))
	f.Add(int64(math.MaxInt64))
	f.Add(int64(math.MinInt64))
	f.Fuzz(func(t *testing.T, ms int64) {
		at := Time(ms)
		if ms == 0 {
			if !at.IsZero() {
				t.Fatal("0 must read as the zero time")
			}
			return
		}
		got := Of(at)
		if got != Clamp(ms) || got < Min || got > Max {
			t.Fatalf("%d -> %v -> %d", ms, at, got)
		}
		// Adding the longest duration Titan adds keeps the round trip
		// inside the range.
		if back := Of(at.Add(7 * 24 * time.Hour)); back < got || back > Max {
			t.Fatalf("%d + 7 days -> %d", got, back)
		}
	})
}
