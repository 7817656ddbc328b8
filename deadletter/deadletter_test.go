package deadletter_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/titan-commerce/titan/deadletter"
)

func ptr(v int32) *int32 { return &v }

// The files in testdata are dead letters as Titan wrote them before this
// package existed (observe.DeadLetter, json.Marshal): they still decode to
// the same values, and Encode writes them byte for byte as before.
func TestDecodesWhatTitanWrote(t *testing.T) {
	want := map[string]deadletter.DeadLetter{
		"processor.json": {Topology: "titan-inventory", Topic: "titan.inventory.commands", Partition: 3, Offset: 42, Key: "sku-1",
			Value: []byte("not a command"), Reason: "decode", Error: "proto: cannot parse invalid wire-format data",
			Time: time.UnixMilli(1764950400123).UTC()},
		"wrong_partition.json": {Topology: "titan-inventory", Topic: "titan.inventory.commands", Partition: 0, Offset: 7, Key: "sku-42",
			Value: []byte{0x0a, 0x03, 'c', '-', '1', 0xff}, Reason: "wrong_partition", Error: `key "sku-42" belongs to partition 5 of 8, not 0`,
			Time: time.UnixMilli(1764950400456).UTC(), BelongsTo: ptr(5)},
		"sink.json": {Topology: "clickhouse-sink", Topic: "titan.inventory.events", Partition: 1, Offset: 9,
			Reason: "undecodable", Error: "undecodable: empty", Time: time.Date(2026, 12, 5, 15, 4, 5, 123456789, time.UTC)},
	}
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			got, err := deadletter.Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := got.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(enc, bytes.TrimSpace(raw)) {
				t.Errorf("encoded %s\nwant    %s", enc, bytes.TrimSpace(raw))
			}
			if !got.Time.Equal(w.Time) {
				t.Errorf("time %v, want %v", got.Time, w.Time)
			}
			got.Time, w.Time = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("decoded %+v\nwant    %+v", got, w)
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, tc := range []struct {
		in, field string
	}{
		{``, "EOF"},
		{`null`, "not a JSON object"},
		{`[]`, "cannot unmarshal array"},
		{`"decode"`, "cannot unmarshal string"},
		{`decode`, "invalid character"},
		{`{"topic":"t","reason":"r"} {}`, "data after the object"},
		{`{"topic":"t","reason":"r"}x`, "data after the object"},
		{`{"reason":"r"}`, "topic"},
		{`{"topic":"a/b","reason":"r"}`, "topic"},
		{`{"topic":"t"}`, "reason is empty"},
		{`{"topic":"t","reason":"r","partition":-1}`, "partition -1"},
		{`{"topic":"t","reason":"r","partition":2147483648}`, "partition"},
		{`{"topic":"t","reason":"r","offset":-2}`, "offset -2"},
		{`{"topic":"t","reason":"r","belongs_to":-1}`, "belongs_to -1"},
		{`{"topic":"t","reason":"r","value":"!!"}`, "illegal base64"},
		{`{"topic":"t","reason":"r","time":"yesterday"}`, "time"},
		{`{"topic":"t","reason":"r","key":5}`, "key"},
	} {
		_, err := deadletter.Decode([]byte(tc.in))
		if !errors.Is(err, deadletter.ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("Decode(%s) = %v, want ErrInvalid naming %q", tc.in, err, tc.field)
		}
	}
}

// A newer writer may add fields; this reader keeps what it knows.
func TestDecodeIgnoresUnknownFields(t *testing.T) {
	d, err := deadletter.Decode([]byte(` {"topic":"t","reason":"r","offset":3,"headers":{"a":1}} `))
	if err != nil || d.Topic != "t" || d.Offset != 3 {
		t.Fatalf("%+v %v", d, err)
	}
}

func TestEncodeRefusesWhatDecodeWould(t *testing.T) {
	for _, d := range []deadletter.DeadLetter{
		{Reason: "r"},
		{Topic: "t"},
		{Topic: "t", Reason: "r", Offset: -1},
		{Topic: "t", Reason: "r", Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if b, err := d.Encode(); !errors.Is(err, deadletter.ErrInvalid) {
			t.Errorf("Encode(%+v) = %s, %v", d, b, err)
		}
	}
}

func TestParseID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want deadletter.ID
		ok   bool
	}{
		{"titan.inventory.commands/3/42", deadletter.ID{"titan.inventory.commands", 3, 42}, true},
		{"ns.titan.orders.events/0/0", deadletter.ID{"ns.titan.orders.events", 0, 0}, true},
		{"t/3", deadletter.ID{}, false},
		{"t/3/4/5", deadletter.ID{}, false},
		{"/3/4", deadletter.ID{}, false},
		{"t/-1/4", deadletter.ID{}, false},
		{"t/2147483648/4", deadletter.ID{}, false},
		{"t/1/-4", deadletter.ID{}, false},
		{"t/1/x", deadletter.ID{}, false},
		{"t t/1/1", deadletter.ID{}, false},
	} {
		got, err := deadletter.ParseID(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseID(%q) = %v, %v", tc.in, got, err)
		}
		if tc.ok && got.String() != tc.in {
			t.Errorf("String() = %q, want %q", got.String(), tc.in)
		}
	}
}

func TestTopics(t *testing.T) {
	all := deadletter.Topics("staging")
	if len(all) != 7 {
		t.Fatalf("%d topics: %v", len(all), all)
	}
	seen := map[string]bool{}
	for _, tp := range all {
		if !strings.HasPrefix(tp.Name, "staging.titan.") || !strings.HasSuffix(tp.Name, ".dlq") || seen[tp.Name] {
			t.Errorf("topic %+v", tp)
		}
		seen[tp.Name] = true
		if got, err := deadletter.TopicOf("staging", tp.Topology); err != nil || got != tp.Name {
			t.Errorf("TopicOf(%q) = %q, %v", tp.Topology, got, err)
		}
	}
	if got, _ := deadletter.TopicOf("", "inventory"); got != "titan.inventory.dlq" {
		t.Errorf("inventory's topic %q", got)
	}
	if _, err := deadletter.TopicOf("", "titan-inventory"); !errors.Is(err, deadletter.ErrInvalid) || !strings.Contains(err.Error(), "inventory, orders") {
		t.Errorf("unknown topology: %v", err)
	}
}

func TestInputs(t *testing.T) {
	want := []string{"ns.titan.inventory.commands", "ns.titan.orders.events", "ns.titan.pricing.commands",
		"ns.titan.flashsale.commands", "ns.titan.recommendations.views"}
	if got := deadletter.Inputs("ns"); !reflect.DeepEqual(got, want) {
		t.Errorf("inputs %v, want %v", got, want)
	}
	for _, tc := range []struct {
		dlq, want string
		ok        bool
	}{
		{"ns.titan.inventory.dlq", "ns.titan.inventory.commands", true},
		{"ns.titan.orders.dlq", "ns.titan.orders.events", true},
		{"ns.titan.pricing.dlq", "ns.titan.pricing.commands", true},
		{"ns.titan.flashsale.dlq", "ns.titan.flashsale.commands", true},
		{"ns.titan.recommendations.dlq", "ns.titan.recommendations.views", true},
		{"ns.titan.fraud.dlq", "", false},
		{"ns.titan.sink.dlq", "", false},
		{"titan.inventory.dlq", "", false}, // another namespace
		{"ns.titan.inventory.commands", "", false},
	} {
		if got, ok := deadletter.InputOf("ns", tc.dlq); got != tc.want || ok != tc.ok {
			t.Errorf("InputOf(%q) = %q, %v", tc.dlq, got, ok)
		}
	}
}
