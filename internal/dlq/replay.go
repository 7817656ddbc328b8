package dlq

import (
	"fmt"
	"slices"
	"strings"

	"github.com/titan-commerce/titan/deadletter"
)

// Selection is what a replay sends: the dead letters of the listed source
// records, or, with All, every one the filter selects. Exactly one of the
// two is given, so that nothing is sent by a forgotten flag.
type Selection struct {
	IDs []deadletter.ID
	All bool
}

// Check refuses a selection that names nothing or both.
func (s Selection) Check() error {
	switch {
	case s.All && len(s.IDs) > 0:
		return fmt.Errorf("%w: --all and --record exclude each other", ErrUsage)
	case !s.All && len(s.IDs) == 0:
		return fmt.Errorf("%w: say which dead letters to replay: --record topic/partition/offset (repeatable), or --all for every one the filters select", ErrUsage)
	}
	return nil
}

// Set is the listed source records as a set, for Filter.IDs.
func (s Selection) Set() map[deadletter.ID]bool {
	out := map[deadletter.ID]bool{}
	for _, id := range s.IDs {
		out[id] = true
	}
	return out
}

// Refusal is a dead letter a replay does not send, and why.
type Refusal struct {
	Entry Entry
	Why   string
}

// Plan is what a replay does with the dead letters it read.
type Plan struct {
	// Send are the dead letters to send back, one per source record, in
	// source order.
	Send []Entry
	// Refused are the selected ones that may not be sent.
	Refused []Refusal
	// Repeats are further dead letters of a source record already in Send
	// or Refused: the same record set aside more than once, sent once.
	Repeats []Entry
	// Missing are listed source records no dead letter read holds.
	Missing []deadletter.ID
}

// PlanReplay decides, for the dead letters the filter selected, which are
// sent back to their source topics in namespace. A dead letter goes back
// only to the input topic of the topology that set it aside
// (deadletter.InputOf): it is refused when its dead-letter topic has none
// (the fraud group's, the ClickHouse sink's), when its source is another
// topic, or when its key held bytes its JSON form could not keep. A record
// that is not a dead letter has nothing to send.
func PlanReplay(namespace string, sel Selection, entries []Entry) Plan {
	entries = slices.Clone(entries)
	slices.SortFunc(entries, BySource)
	var p Plan
	seen := map[deadletter.ID]bool{}
	for _, e := range entries {
		if e.Err != nil {
			p.Refused = append(p.Refused, Refusal{e, "not a dead letter: " + e.Err.Error()})
			continue
		}
		id := e.Letter.ID()
		if seen[id] {
			p.Repeats = append(p.Repeats, e)
			continue
		}
		seen[id] = true
		switch to, ok := deadletter.InputOf(namespace, e.Topic); {
		case !ok:
			p.Refused = append(p.Refused, Refusal{e, fmt.Sprintf("the dead letters in %s go back nowhere: they are not records of one of Titan's input topics (%s)",
				e.Topic, strings.Join(deadletter.Inputs(namespace), ", "))})
		case id.Topic != to:
			p.Refused = append(p.Refused, Refusal{e, fmt.Sprintf("source topic %s is not %s, the input topic whose records %s holds",
				id.Topic, to, e.Topic)})
		case keyLost(e.Letter.Key):
			p.Refused = append(p.Refused, Refusal{e, "its key holds U+FFFD: bytes of the original key that were not UTF-8 may have been lost"})
		default:
			p.Send = append(p.Send, e)
		}
	}
	for _, id := range sel.IDs {
		if !seen[id] && !slices.Contains(p.Missing, id) {
			p.Missing = append(p.Missing, id)
		}
	}
	return p
}

// Whole reports whether a replay of listed records may go ahead: every one
// was found and none is refused. A replay of --all sends what it may and
// reports the rest.
func (p Plan) Whole(sel Selection) bool {
	return sel.All || len(p.Refused) == 0 && len(p.Missing) == 0
}
