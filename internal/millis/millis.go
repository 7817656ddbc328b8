// Package millis maps times to the Unix milliseconds every Titan schema
// carries them in, and back. The zero time and 0 stand for "unset" on
// both sides, so an unset field survives a round trip.
//
// Both directions clamp to the years 1 to 9999. A time read from a record
// is whatever its producer wrote, and time.UnixMilli(math.MaxInt64) is a
// date whose own UnixMilli no longer fits an int64: without the clamp a
// state written with it reads back as a date 292 million years before
// Christ. Within the range every duration Titan adds (TTLs, windows of at
// most days) stays far from overflow.
package millis

import "time"

// Min and Max are the first and last milliseconds of the years 1 to 9999;
// Min is one past the very first, which is the zero time.
var (
	Min = time.Date(1, 1, 1, 0, 0, 0, 1_000_000, time.UTC).UnixMilli()
	Max = time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC).UnixMilli()
)

// Of is t in Unix milliseconds, 0 for the zero time, clamped to [Min, Max].
func Of(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	// UnixMilli overflows for times far outside the range, so compare
	// the times, not their milliseconds.
	switch {
	case t.Before(minTime):
		return Min
	case t.After(maxTime):
		return Max
	}
	return t.UnixMilli()
}

// Time is the UTC time of ms Unix milliseconds, the zero time for 0, with
// ms clamped to [Min, Max].
func Time(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(Clamp(ms)).UTC()
}

// Bound is t clamped to the range as it reads back from the wire; the zero
// time stays zero.
func Bound(t time.Time) time.Time { return Time(Of(t)) }

// Clamp is ms limited to [Min, Max].
func Clamp(ms int64) int64 { return min(max(ms, Min), Max) }

var (
	minTime = time.UnixMilli(Min)
	maxTime = time.UnixMilli(Max)
)
