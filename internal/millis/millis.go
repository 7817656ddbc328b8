// Package millis maps times to the Unix milliseconds every Titan schema
// carries them in, and back. The zero time and 0 stand for "unset" on
// both sides, so an unset field survives a round trip.
package millis

import "time"

// Of is t in Unix milliseconds, 0 for the zero time.
func Of(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Time is the UTC time of ms Unix milliseconds, the zero time for 0.
func Time(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
