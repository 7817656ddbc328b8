// Package dlq is what titan dlq does with the dead letters it reads: which
// ones a filter selects, which ones a bounded listing keeps, how they print,
// how their original values decode, and which ones a replay may send back.
// All of it is plain Go over plain values; read.go and send.go are the only
// parts that talk to Kafka, and they join no consumer group and commit
// nothing.
package dlq

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/titan-commerce/titan/deadletter"
)

// ErrUsage is wrapped by the errors about the command's input: a filter,
// a time, a selection that cannot be used.
var ErrUsage = errors.New("dlq")

// Entry is one record read from a dead-letter topic.
type Entry struct {
	// Topic, Partition and Offset place the record in its dead-letter
	// topic; Time is its Kafka timestamp, when it was written there.
	Topic     string
	Partition int32
	Offset    int64
	Time      time.Time
	// Letter is the decoded dead letter; Err, when not nil, says why the
	// record's value is not one, and Raw holds the value.
	Letter deadletter.DeadLetter
	Err    error
	Raw    []byte
}

// NewEntry decodes a dead-letter record's value.
func NewEntry(topic string, partition int32, offset int64, at time.Time, value []byte) Entry {
	e := Entry{Topic: topic, Partition: partition, Offset: offset, Time: at}
	if e.Letter, e.Err = deadletter.Decode(value); e.Err != nil {
		e.Raw = value
	}
	return e
}

// Where is "topic/partition/offset" of the dead-letter record itself.
func (e Entry) Where() string { return fmt.Sprintf("%s/%d/%d", e.Topic, e.Partition, e.Offset) }

// Source names the entry by its source record, topic/partition/offset,
// or, for a record that is not a dead letter, by its own place.
func (e Entry) Source() string {
	if e.Err != nil {
		return e.Where()
	}
	return e.Letter.ID().String()
}

// Filter selects dead letters. Its zero value selects all.
type Filter struct {
	// Reason, when set, is the reason a dead letter must have; a record
	// that is not a dead letter has none.
	Reason string
	// Since and Until bound the time the dead letter was written: Since
	// <= time < Until. Zero leaves that side open.
	Since, Until time.Time
	// IDs, when not empty, are the source records a dead letter must hold.
	IDs map[deadletter.ID]bool
}

// Check refuses a filter that can select nothing by mistake.
func (f Filter) Check() error {
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return fmt.Errorf("%w: --since %s is not before --until %s", ErrUsage, f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339))
	}
	return nil
}

// Match reports whether f selects e.
func (f Filter) Match(e Entry) bool {
	if !f.Since.IsZero() && e.Time.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !e.Time.Before(f.Until) {
		return false
	}
	if f.Reason != "" && (e.Err != nil || e.Letter.Reason != f.Reason) {
		return false
	}
	if len(f.IDs) > 0 && (e.Err != nil || !f.IDs[e.Letter.ID()]) {
		return false
	}
	return true
}

// ParseTime reads a --since or --until: an RFC 3339 time, or a duration
// back from now ("90m" is ninety minutes ago). Empty is the zero time.
func ParseTime(flag, s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%w: --%s %q: a duration back from now cannot be negative", ErrUsage, flag, s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: --%s %q: want an RFC 3339 time (2026-12-05T15:04:05Z) or a duration back from now (90m)", ErrUsage, flag, s)
	}
	if t.Year() < 1970 {
		return time.Time{}, fmt.Errorf("%w: --%s %q is before 1970, where Kafka has no time", ErrUsage, flag, s)
	}
	return t, nil
}
