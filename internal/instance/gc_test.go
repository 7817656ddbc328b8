package instance

import (
	"runtime/debug"
	"testing"
)

func TestApplyGCPercentLeavesGOGCAlone(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	debug.SetGCPercent(123)
	t.Setenv("GOGC", "123")
	if got := ApplyGCPercent(); got != 123 {
		t.Fatalf("with GOGC set: %d in force, want 123", got)
	}
	if got := debug.SetGCPercent(123); got != 123 {
		t.Fatalf("with GOGC set the percent moved to %d", got)
	}
	t.Setenv("GOGC", "")
	if got := ApplyGCPercent(); got != GCPercent {
		t.Fatalf("without GOGC: %d in force, want %d", got, GCPercent)
	}
	if got := debug.SetGCPercent(GCPercent); got != GCPercent {
		t.Fatalf("without GOGC the percent is %d", got)
	}
}
