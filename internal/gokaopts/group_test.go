package gokaopts

import (
	"slices"
	"testing"

	"github.com/IBM/sarama"
)

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

// recordingSession is a sarama session that records the marks it is given.
type recordingSession struct {
	sarama.ConsumerGroupSession
	marks []int64
}

func (s *recordingSession) MarkOffset(_ string, _ int32, offset int64, _ string) {
	s.marks = append(s.marks, offset)
}

// Config.Marked hears exactly the offsets sarama is given, for the session's
// group, as they are passed on.
func TestMarkedHearsWhatSaramaIsGiven(t *testing.T) {
	inner := &recordingSession{}
	type heard struct {
		group, topic string
		partition    int32
		next         int64
	}
	var got []heard
	s := &orderedSession{ConsumerGroupSession: inner, parts: map[topicPartition]*partitionMarks{}, group: "g",
		marked: func(group, topic string, partition int32, next int64) {
			got = append(got, heard{group, topic, partition, next})
		}}
	m := s.partition("t", 2)
	for _, o := range []int64{5, 6, 7} {
		m.delivered(o)
	}
	s.MarkOffset("t", 2, 7, "") // 6 done: held back behind 5
	s.MarkOffset("t", 2, 6, "") // 5 done: 5 and 6 pass on
	s.MarkOffset("t", 2, 8, "") // 7 done
	want := []heard{{"g", "t", 2, 7}, {"g", "t", 2, 8}}
	if !slices.Equal(got, want) || !slices.Equal(inner.marks, []int64{7, 8}) {
		t.Fatalf("heard %v and sarama was given %v; want %v and [7 8]", got, inner.marks, want)
	}
}
