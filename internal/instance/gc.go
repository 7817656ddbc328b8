package instance

import (
	"os"
	"runtime/debug"
)

// GCPercent is the garbage collector's target that `titan run` sets when
// GOGC is not: the heap may grow to three times what is live before a
// collection. A processor's live heap is small (Pebble's tables live
// outside it) and every record allocates, so at Go's default of 100
// collections take about a fifth of a command's CPU. At 200 the inventory
// commands benchmark spends 16-23 % less CPU per command for a quarter
// more peak memory; 400 saved no more and took two thirds more
// (BENCHMARKS.md, "The garbage collector's target").
const GCPercent = 200

// ApplyGCPercent sets GCPercent unless the environment sets GOGC, and
// reports the percent in force. It is the process's choice, not the
// instance's: cmd/titan calls it, and the benchmarks, to measure what
// titan run does.
func ApplyGCPercent() int {
	if os.Getenv("GOGC") != "" {
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		return p
	}
	debug.SetGCPercent(GCPercent)
	return GCPercent
}
