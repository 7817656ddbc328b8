package gokaopts

import "testing"

func TestMarksPassOnOnlyTheDonePrefix(t *testing.T) {
	type step struct {
		done     int64 // the offset marked done
		wantNext int64 // the offset passed on to sarama, -1 for none
	}
	for _, tc := range []struct {
		name      string
		delivered []int64
		steps     []step
	}{
		{"in order", []int64{5, 6, 7}, []step{{5, 6}, {6, 7}, {7, 8}}},
		{"a later input done first waits", []int64{5, 6, 7}, []step{{6, -1}, {7, -1}, {5, 8}}},
		{"an input that never finishes holds the rest back", []int64{5, 6, 7}, []step{{5, 6}, {7, -1}}},
		// Compacted topics and transaction markers leave holes in the offsets.
		{"gaps in the offsets", []int64{10, 13, 20}, []step{{13, -1}, {10, 14}, {20, 21}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &partitionMarks{done: map[int64]string{}}
			for _, o := range tc.delivered {
				m.delivered(o)
			}
			for _, s := range tc.steps {
				next, _, ok := m.markDone(s.done, "")
				if !ok {
					next = -1
				}
				if next != s.wantNext {
					t.Fatalf("after %d done: passed on %d, want %d", s.done, next, s.wantNext)
				}
			}
		})
	}
}
