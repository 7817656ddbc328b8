package origin

import "testing"

func TestApplyDropsWhatWasApplied(t *testing.T) {
	var s Seen
	a := Origin{Stream: 1, Partition: 2, Offset: 10}
	s, ok := s.Apply(a)
	if !ok || s[a.Source()] != a {
		t.Fatalf("first message: %v %v", s, ok)
	}
	held := s
	for _, tc := range []struct {
		o    Origin
		want bool
	}{
		{a, false}, // the same again
		{Origin{Stream: 1, Partition: 2, Offset: 9}, false}, // before it
		{Origin{Stream: 1, Partition: 2, Offset: 10, Seq: 1}, true},
		{Origin{Stream: 1, Partition: 3, Offset: 1}, true}, // another partition
		{Origin{Stream: 2, Partition: 2, Offset: 1}, true}, // another stream
	} {
		next, ok := held.Apply(tc.o)
		if ok != tc.want {
			t.Errorf("Apply(%+v) = %v, want %v", tc.o, ok, tc.want)
		}
		if ok && (next[tc.o.Source()] != tc.o || len(held) != 1 || held[a.Source()] != a) {
			t.Errorf("Apply(%+v) = %v and changed what it was given to %v", tc.o, next, held)
		}
	}
}

// A source's stream and partition do not collide with another's, whatever
// their values: negative partitions included.
func TestSourcesAreDistinct(t *testing.T) {
	seen := map[int64]Origin{}
	for _, s := range []int32{0, 1, 2, -1} {
		for _, p := range []int32{0, 1, 7, -1, 1 << 30} {
			o := Origin{Stream: s, Partition: p}
			if prev, ok := seen[o.Source()]; ok {
				t.Fatalf("%+v and %+v share a source", prev, o)
			}
			seen[o.Source()] = o
		}
	}
}
