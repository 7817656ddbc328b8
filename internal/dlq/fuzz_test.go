package dlq

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/titan-commerce/titan/deadletter"
)

// FuzzEntry: whatever a dead-letter topic holds, reading it, decoding its
// original value and printing it never panic, a table row stays on one
// line, and --json prints one JSON object a line.
func FuzzEntry(f *testing.F) {
	d := deadletter.DeadLetter{Topology: "titan-inventory", Topic: "titan.inventory.commands", Key: "k\n", Value: []byte{0x0a, 0x01, 'c'}, Reason: "decode"}
	good, _ := d.Encode()
	f.Add(good, "")
	f.Add([]byte(`{"topic":"ns.titan.orders.events","reason":"r","value":"CgE="}`), "ns")
	f.Add([]byte("not json"), "")
	f.Fuzz(func(t *testing.T, value []byte, ns string) {
		e := NewEntry("titan.inventory.dlq", 0, 1, time.UnixMilli(0), value)
		var table, lines bytes.Buffer
		if err := WriteTable(&table, ns, []Entry{e}); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(table.String(), "\n"); n != 2 {
			t.Fatalf("the table has %d lines:\n%s", n, table.String())
		}
		if err := WriteLines(&lines, ns, []Entry{e}); err != nil {
			t.Fatal(err)
		}
		if strings.Count(lines.String(), "\n") != 1 || !json.Valid(lines.Bytes()) {
			t.Fatalf("not one JSON line: %q", lines.String())
		}
		if e.Err == nil {
			if v := DecodeValue(ns, e.Letter.Topic, e.Letter.Value); v.JSON != nil && !json.Valid(v.JSON) {
				t.Fatalf("decoded value %s is not JSON", v.JSON)
			}
		}
	})
}
