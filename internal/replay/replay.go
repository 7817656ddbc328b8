// Package replay holds the pure parts of `titan replay` (cmd/titan,
// internal/instance's Replay and DiffTables): which offsets of each input
// partition a replay copies (Plan, ParseOffsets), how two tables differ key
// by key (Diff, Fields), and how progress reads on a terminal and in a log
// (Progress). Nothing here talks to Kafka or reads a clock, so all of it is
// table-tested.
package replay

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrBadRange is wrapped by the errors of ParseOffsets and Plan.
var ErrBadRange = errors.New("replay: bad range")

// Span is the offsets [From, To) of one partition a replay copies.
type Span struct{ From, To int64 }

// Len is the number of offsets in the span.
func (s Span) Len() int64 { return max(s.To-s.From, 0) }

// Offset is one entry of --from-offset or --to-offset: Offset for
// Partition of Topic, where an empty Topic means every input topic and
// Partition -1 every partition.
type Offset struct {
	Topic     string
	Partition int32
	Offset    int64
}

// ParseOffsets reads a flag's list of offsets: comma-separated entries
// "OFFSET" (every partition of every input), "PARTITION:OFFSET" (that
// partition of every input) or "TOPIC:PARTITION:OFFSET". flag names the
// flag in errors. The empty string is no entries.
func ParseOffsets(flag, s string) ([]Offset, error) {
	var out []Offset
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e == "" {
			continue
		}
		parts := strings.Split(e, ":")
		o := Offset{Partition: -1}
		var err error
		switch len(parts) {
		case 1:
		case 2:
			o.Partition, err = partition(parts[0])
		case 3:
			if parts[0] == "" {
				err = errors.New("empty topic")
			}
			o.Topic = parts[0]
			if err == nil {
				o.Partition, err = partition(parts[1])
			}
		default:
			err = errors.New("want OFFSET, PARTITION:OFFSET or TOPIC:PARTITION:OFFSET")
		}
		if err == nil {
			o.Offset, err = strconv.ParseInt(parts[len(parts)-1], 10, 64)
			if err == nil && o.Offset < 0 {
				err = errors.New("negative offset")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%w: --%s %q: %w", ErrBadRange, flag, e, err)
		}
		out = append(out, o)
	}
	return out, nil
}

func partition(s string) (int32, error) {
	p, err := strconv.ParseInt(s, 10, 32)
	if err != nil || p < 0 {
		return 0, fmt.Errorf("partition %q is not a number >= 0", s)
	}
	return int32(p), nil
}

// resolve is the most specific entry of offs for topic and partition:
// topic and partition, then partition, then topic, then every one.
func resolve(offs []Offset, topic string, p int32) (int64, bool) {
	best, rank := int64(0), -1
	for _, o := range offs {
		if (o.Topic != "" && o.Topic != topic) || (o.Partition >= 0 && o.Partition != p) {
			continue
		}
		r := 0
		if o.Partition >= 0 {
			r += 2
		}
		if o.Topic != "" {
			r++
		}
		if r > rank {
			best, rank = o.Offset, r
		}
	}
	return best, rank >= 0
}

// Bounds are what Plan knows of one input partition: the log's first and
// end offsets, and, when --since or --until were given, the first offset
// at or after each time (the end offset when there is none).
type Bounds struct {
	Start, End int64
	// Since and Until are -1 when not given.
	Since, Until int64
}

// Plan is the span of every input partition: from the latest of the log's
// start, --since and --from-offset, to the earliest of the end seen at the
// replay's start (the last stable offset: a transaction still open is left
// out), --until and --to-offset. topics are the input topics by
// the names the entries of from and to use (the live names, without
// namespace). An entry naming a topic or partition the inputs do not have
// is an error, and so is an empty plan: a replay of nothing is most
// likely a mistake in its range.
func Plan(topics map[string]map[int32]Bounds, from, to []Offset) (map[string]map[int32]Span, error) {
	for _, list := range [][]Offset{from, to} {
		for _, o := range list {
			parts, ok := topics[o.Topic]
			if o.Topic != "" && !ok {
				return nil, fmt.Errorf("%w: topic %q is not an input (inputs: %s)", ErrBadRange, o.Topic, strings.Join(sortedKeys(topics), ", "))
			}
			if o.Partition >= 0 && !hasPartition(topics, o.Topic, o.Partition, parts) {
				return nil, fmt.Errorf("%w: no partition %d", ErrBadRange, o.Partition)
			}
		}
	}
	out := map[string]map[int32]Span{}
	var total int64
	for topic, parts := range topics {
		out[topic] = map[int32]Span{}
		for p, b := range parts {
			s := Span{From: b.Start, To: b.End}
			if b.Since >= 0 {
				s.From = max(s.From, b.Since)
			}
			if b.Until >= 0 {
				s.To = min(s.To, b.Until)
			}
			if f, ok := resolve(from, topic, p); ok {
				s.From = max(s.From, f)
			}
			if t, ok := resolve(to, topic, p); ok {
				s.To = min(s.To, t)
			}
			if s.To < s.From {
				s.To = s.From
			}
			out[topic][p] = s
			total += s.Len()
		}
	}
	if total == 0 {
		return nil, fmt.Errorf("%w: the range selects no records", ErrBadRange)
	}
	return out, nil
}

func hasPartition(topics map[string]map[int32]Bounds, topic string, p int32, parts map[int32]Bounds) bool {
	if topic != "" {
		_, ok := parts[p]
		return ok
	}
	for _, ps := range topics {
		if _, ok := ps[p]; ok {
			return true
		}
	}
	return false
}

// Total is the number of offsets of a plan.
func Total(plan map[string]map[int32]Span) int64 {
	var n int64
	for _, parts := range plan {
		for _, s := range parts {
			n += s.Len()
		}
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// ParseTime reads --since or --until (flag): an RFC 3339 time, or a Go
// duration meaning that long before now. The empty string is the zero
// time: no bound.
func ParseTime(flag, s string, now time.Time) (time.Time, error) {
	if s = strings.TrimSpace(s); s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%w: --%s %q: want an RFC 3339 time (2026-12-04T00:00:00Z) or a duration ago (24h)", ErrBadRange, flag, s)
	}
	return now.Add(-d), nil
}
