package instance

import "testing"

// TestStepPassesMarkersAndGaps: a copy copies the records of its span,
// passes over a transaction's markers and the offsets it is never given
// (an aborted transaction's records), and ends a partition at the first
// record at or past the span's last offset, counting every offset passed
// without a copy.
func TestStepPassesMarkersAndGaps(t *testing.T) {
	for _, tc := range []struct {
		name         string
		next, offset int64
		control      bool
		to           int64
		want         spanStep
	}{
		{"a record", 3, 3, false, 10, spanStep{keep: true, next: 4}},
		{"the span's last record", 9, 9, false, 10, spanStep{keep: true, last: true, next: 10}},
		{"a marker", 3, 3, true, 10, spanStep{next: 4, skipped: 1}},
		{"a marker ends the span", 9, 9, true, 10, spanStep{last: true, next: 10, skipped: 1}},
		{"after aborted records", 3, 6, false, 10, spanStep{keep: true, next: 7, skipped: 3}},
		{"a marker after aborted records", 3, 6, true, 10, spanStep{next: 7, skipped: 4}},
		{"past the span, its last offsets aborted", 7, 12, true, 10, spanStep{last: true, next: 13, skipped: 3}},
		{"a record past the span", 10, 10, false, 10, spanStep{last: true, next: 11}},
	} {
		if got := step(tc.next, tc.offset, tc.control, tc.to); got != tc.want {
			t.Errorf("%s: step(%d, %d, %v, %d) = %+v, want %+v", tc.name, tc.next, tc.offset, tc.control, tc.to, got, tc.want)
		}
	}
}
