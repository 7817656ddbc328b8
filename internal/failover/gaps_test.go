package failover_test

import (
	"slices"
	"sort"
	"testing"
	"time"
)

// gapAround returns how long a partition's results stopped around at: from the last record
// appended before at to the first appended at or after it. ts are the partition's record times in
// offset order, which are the broker's append times (stampAppendTime), so they only grow. It
// reports false when no record follows at.
func gapAround(ts []time.Time, at time.Time) (time.Duration, bool) {
	i := sort.Search(len(ts), func(i int) bool { return !ts[i].Before(at) })
	if i == len(ts) || i == 0 {
		return 0, false
	}
	return ts[i].Sub(ts[i-1]), true
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func TestGapAround(t *testing.T) {
	base := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, base.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	for _, tc := range []struct {
		name string
		ts   []time.Time
		kill int
		want time.Duration
		ok   bool
	}{
		{"silence spans the kill", at(0, 20, 40, 3040, 3060), 50, 3 * time.Second, true},
		{"the kill falls on a record", at(0, 20, 40, 60), 40, 20 * time.Millisecond, true},
		{"nothing after the kill", at(0, 20), 30, 0, false},
		{"nothing before the kill", at(100, 120), 30, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := gapAround(tc.ts, base.Add(time.Duration(tc.kill)*time.Millisecond))
			if got != tc.want || ok != tc.ok {
				t.Errorf("gapAround = %v %v, want %v %v", got, ok, tc.want, tc.ok)
			}
		})
	}
	if m := median([]time.Duration{3, 1, 2, 10}); m != 2 {
		t.Errorf("median = %v, want 2 (between 2 and 3, truncated)", m)
	}
}
