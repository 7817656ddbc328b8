package millis

import (
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
