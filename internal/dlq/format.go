package dlq

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/titan-commerce/titan/deadletter"
)

// timeLayout prints times in UTC to the millisecond, as Kafka keeps them.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// WriteTable prints entries as a table, one line each: when each was set
// aside, by which topology, why, the source record, its key, the error,
// and the original value decoded where its topic's message is known
// (DecodeValue).
func WriteTable(w io.Writer, namespace string, entries []Entry) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tTOPOLOGY\tREASON\tSOURCE\tKEY\tERROR\tVALUE")
	for _, e := range entries {
		at := e.Time.UTC().Format(timeLayout)
		if e.Err != nil {
			fmt.Fprintf(tw, "%s\t-\t(not a dead letter)\t%s\t-\t%s\tbase64:%s\n", at, cell(e.Where()), cell(e.Err.Error()),
				DecodeValue("", "", e.Raw).Base64)
			continue
		}
		d := e.Letter
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", at, cell(d.Topology), cell(d.Reason), cell(d.ID().String()),
			cell(d.Key), cell(d.Error), DecodeValue(namespace, d.Topic, d.Value))
	}
	return tw.Flush()
}

// cell keeps a table cell on its line and in its column: an empty value
// shows as "", and one with a tab, a line break or anything else not
// printable is quoted, as Go quotes a string.
func cell(s string) string {
	if s == "" || strings.HasPrefix(s, `"`) || strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return strconv.Quote(s)
	}
	return s
}

// Line is the JSON object --json prints for one entry.
type Line struct {
	// DLQ is where the record is in its dead-letter topic.
	DLQ LinePlace `json:"dlq"`
	// DeadLetter is the dead letter as it was written; absent when the
	// record is not one.
	DeadLetter *deadletter.DeadLetter `json:"dead_letter,omitempty"`
	// Decoded is the original value as its source topic's message, in
	// protojson, when it decodes as one.
	Decoded json.RawMessage `json:"decoded,omitempty"`
	// Error says why the record is not a dead letter; Raw holds its value.
	Error string `json:"error,omitempty"`
	Raw   []byte `json:"raw,omitempty"`
}

// LinePlace is a record's place in its dead-letter topic and when it was
// written there.
type LinePlace struct {
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Time      time.Time `json:"time"`
}

// LineOf is e as --json prints it.
func LineOf(namespace string, e Entry) Line {
	l := Line{DLQ: LinePlace{e.Topic, e.Partition, e.Offset, e.Time.UTC()}}
	if e.Err != nil {
		l.Error, l.Raw = e.Err.Error(), e.Raw
		return l
	}
	d := e.Letter
	l.DeadLetter = &d
	l.Decoded = DecodeValue(namespace, d.Topic, d.Value).JSON
	return l
}

// WriteLines prints one JSON object a line for each entry.
func WriteLines(w io.Writer, namespace string, entries []Entry) error {
	enc := json.NewEncoder(w)
	for _, e := range entries {
		if err := enc.Encode(LineOf(namespace, e)); err != nil {
			return err
		}
	}
	return nil
}

// keyLost reports whether a key may have lost bytes in its JSON form.
func keyLost(key string) bool { return strings.ContainsRune(key, unicode.ReplacementChar) }
