package failover_test

import (
	"slices"
	"sort"
	"testing"
	"time"
)

// gapWindow is how long after a fault its silence may start: records a dying instance or a dead
// leader had in flight still land for a moment, and a takeover may follow a rebalance.
const gapWindow = 30 * time.Second

// gapAround returns how long a partition's results stopped after at: the longest wait between two
// records in a row, the later of them after at and the earlier within gapWindow of it and before
// idle, when the load sent its last command into the partition. Under the tests' steady load records
// come every few tens of milliseconds, so the longest wait is the failover: from the last record the
// old owner (or old leader) took to the first its successor did. A wait that begins after idle is
// the partition out of work, not silent: once the load has stopped, the next record may be a sale's
// settlement half a minute later. ts are the partition's record times in offset order, which are the
// broker's append times (stampAppendTime), so they only grow. It also returns when the wait ended,
// the first record after it. It reports false when no such wait follows at.
func gapAround(ts []time.Time, at, idle time.Time) (longest time.Duration, ended time.Time, ok bool) {
	i := sort.Search(len(ts), func(i int) bool { return !ts[i].Before(at) })
	if i == 0 {
		return 0, time.Time{}, false
	}
	for j := i; j < len(ts) && ts[j-1].Before(at.Add(gapWindow)) && ts[j-1].Before(idle); j++ {
		if g := ts[j].Sub(ts[j-1]); !ok || g > longest {
			longest, ended = g, ts[j]
		}
		ok = true
	}
	return longest, ended, ok
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
		idle int // when the load last sent into the partition
		want time.Duration
		end  int // the record that ended the wait
		ok   bool
	}{
		{"silence spans the kill", at(0, 20, 40, 3040, 3060), 50, 5000, 3 * time.Second, 3040, true},
		{"the kill falls on a record", at(0, 20, 40, 60), 40, 5000, 20 * time.Millisecond, 40, true},
		{"records in flight land after the kill", at(0, 20, 40, 45, 4045, 4065), 30, 5000, 4 * time.Second, 4045, true},
		{"nothing after the kill", at(0, 20), 30, 5000, 0, 0, false},
		{"nothing before the kill", at(100, 120), 30, 5000, 0, 0, false},
		// The last results of the load, then the sale's settlement.
		{"the load stopped: the partition is idle, not silent", at(0, 20, 40, 60, 80, 25080), 30, 55, 20 * time.Millisecond, 40, true},
		{"a silence the load outlasts counts whole", at(0, 20, 40, 6040, 6060, 30060), 30, 50, 6 * time.Second, 6040, true},
		{"nothing sent into the partition", at(0, 20, 40), 10, -1, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ended, ok := gapAround(tc.ts, base.Add(time.Duration(tc.kill)*time.Millisecond),
				base.Add(time.Duration(tc.idle)*time.Millisecond))
			if got != tc.want || ok != tc.ok {
				t.Errorf("gapAround = %v %v, want %v %v", got, ok, tc.want, tc.ok)
			}
			if want := base.Add(time.Duration(tc.end) * time.Millisecond); ok && !ended.Equal(want) {
				t.Errorf("gapAround's wait ended at %v, want %v", ended.Sub(base), want.Sub(base))
			}
		})
	}
	if m := median([]time.Duration{3, 1, 2, 10}); m != 2 {
		t.Errorf("median = %v, want 2 (between 2 and 3, truncated)", m)
	}
}
