package dlq

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/deadletter"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

var t0 = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

// entry is a dead letter of source topic/partition/offset, written at t0
// plus at, to the inventory's dead-letter topic at dlqOffset.
func entry(topic string, p int32, off int64, reason string, at time.Duration, dlqOffset int64) Entry {
	d := deadletter.DeadLetter{Topology: "titan-inventory", Topic: topic, Partition: p, Offset: off, Key: "sku-1",
		Value: []byte("v"), Reason: reason, Error: "bad", Time: t0}
	b, err := d.Encode()
	if err != nil {
		panic(err)
	}
	return NewEntry("titan.inventory.dlq", 0, dlqOffset, t0.Add(at), b)
}

func TestFilter(t *testing.T) {
	bad := NewEntry("titan.inventory.dlq", 0, 9, t0, []byte("not json"))
	decode := entry("titan.inventory.commands", 1, 5, "decode", time.Minute, 1)
	id := deadletter.ID{Topic: "titan.inventory.commands", Partition: 1, Offset: 5}
	for _, tc := range []struct {
		name string
		f    Filter
		e    Entry
		want bool
	}{
		{"zero selects all", Filter{}, decode, true},
		{"zero selects a record that is not a dead letter", Filter{}, bad, true},
		{"reason", Filter{Reason: "decode"}, decode, true},
		{"other reason", Filter{Reason: "invalid_qty"}, decode, false},
		{"reason and not a dead letter", Filter{Reason: "decode"}, bad, false},
		{"since is inclusive", Filter{Since: t0.Add(time.Minute)}, decode, true},
		{"before since", Filter{Since: t0.Add(time.Minute + 1)}, decode, false},
		{"until is exclusive", Filter{Until: t0.Add(time.Minute)}, decode, false},
		{"before until", Filter{Until: t0.Add(time.Minute + 1)}, decode, true},
		{"listed record", Filter{IDs: map[deadletter.ID]bool{id: true}}, decode, true},
		{"unlisted record", Filter{IDs: map[deadletter.ID]bool{{Topic: id.Topic, Partition: 1, Offset: 6}: true}}, decode, false},
		{"listed and not a dead letter", Filter{IDs: map[deadletter.ID]bool{id: true}}, bad, false},
	} {
		if got := tc.f.Match(tc.e); got != tc.want {
			t.Errorf("%s: Match = %v", tc.name, got)
		}
	}
	if err := (Filter{Since: t0, Until: t0}).Check(); !errors.Is(err, ErrUsage) {
		t.Errorf("since == until: %v", err)
	}
	if err := (Filter{Since: t0, Until: t0.Add(time.Second)}).Check(); err != nil {
		t.Error(err)
	}
}

func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"", time.Time{}, true},
		{"90m", t0.Add(-90 * time.Minute), true},
		{" 2h ", t0.Add(-2 * time.Hour), true},
		{"2026-12-05T10:00:00Z", time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC), true},
		{"2026-12-05T10:00:00.5+01:00", time.Date(2026, 12, 5, 9, 0, 0, 5e8, time.UTC), true},
		{"-1h", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"2026-12-05", time.Time{}, false},
		{"1969-12-31T23:59:59Z", time.Time{}, false},
	} {
		got, err := ParseTime("since", tc.in, t0)
		if (err == nil) != tc.ok || !got.Equal(tc.want) {
			t.Errorf("ParseTime(%q) = %v, %v", tc.in, got, err)
		}
		if err != nil && (!errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "--since")) {
			t.Errorf("ParseTime(%q): %v does not name the flag", tc.in, err)
		}
	}
}

func TestKeepHoldsTheFirstByOrder(t *testing.T) {
	k := NewKeep(3, ByTime)
	for _, at := range []int{5, 1, 9, 3, 7, 2, 8} {
		k.Add(entry("titan.inventory.commands", 0, int64(at), "decode", time.Duration(at)*time.Second, int64(at)))
	}
	var got []int64
	for _, e := range k.Sorted() {
		got = append(got, e.Offset)
	}
	if len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 || k.Dropped != 4 {
		t.Errorf("kept %v, dropped %d; want [1 2 3], 4", got, k.Dropped)
	}
	if k := NewKeep(0, ByTime); k.limit != 1 {
		t.Errorf("a limit below 1 keeps %d", k.limit)
	}
}

func TestBySource(t *testing.T) {
	bad := NewEntry("titan.inventory.dlq", 0, 9, t0, []byte("{}"))
	es := []Entry{
		entry("titan.inventory.commands", 1, 7, "decode", 0, 1),
		entry("titan.inventory.commands", 0, 9, "decode", time.Hour, 2),
		entry("titan.inventory.commands", 1, 3, "decode", time.Minute, 3),
		bad,
	}
	k := NewKeep(10, BySource)
	for _, e := range es {
		k.Add(e)
	}
	var got []string
	for _, e := range k.Sorted() {
		if e.Err != nil {
			got = append(got, "bad")
			continue
		}
		got = append(got, e.Letter.ID().String())
	}
	want := "bad titan.inventory.commands/0/9 titan.inventory.commands/1/3 titan.inventory.commands/1/7"
	if strings.Join(got, " ") != want {
		t.Errorf("order %v, want %s", got, want)
	}
}

func TestDecodeValue(t *testing.T) {
	cmd, err := proto.Marshal(&inventoryv1.Command{CommandId: "c-1", Sku: "sku-1", Qty: 3})
	if err != nil {
		t.Fatal(err)
	}
	unknownOnly := []byte{0xf8, 0x3f, 0x01} // field 1023, varint: no field of Command
	for _, tc := range []struct {
		name, ns, topic string
		value           []byte
		json            string
	}{
		{"known topic", "", "titan.inventory.commands", cmd, `{"commandId":"c-1","sku":"sku-1","qty":"3"}`},
		{"known topic in its namespace", "ns", "ns.titan.inventory.commands", cmd, `{"commandId":"c-1","sku":"sku-1","qty":"3"}`},
		{"a topic of another namespace", "ns", "titan.inventory.commands", cmd, ""},
		{"unknown topic", "", "titan-fraud-loop", cmd, ""},
		{"bytes that are not the message", "", "titan.inventory.commands", []byte("not a command"), ""},
		{"fields the message does not have", "", "titan.inventory.commands", unknownOnly, ""},
		{"empty is the empty message", "", "titan.inventory.commands", nil, `{}`},
	} {
		v := DecodeValue(tc.ns, tc.topic, tc.value)
		if tc.json == "" {
			if v.JSON != nil || v.Base64 == "" && len(tc.value) > 0 || !strings.HasPrefix(v.String(), "base64:") {
				t.Errorf("%s: %+v, want base64", tc.name, v)
			}
			continue
		}
		if !jsonEqual(t, v.JSON, tc.json) {
			t.Errorf("%s: %s, want %s", tc.name, v.JSON, tc.json)
		}
	}
}

func jsonEqual(t *testing.T, a json.RawMessage, b string) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

func TestTable(t *testing.T) {
	cmd, _ := proto.Marshal(&inventoryv1.Command{CommandId: "c-1", Sku: "sku-1"})
	d := deadletter.DeadLetter{Topology: "titan-inventory", Topic: "titan.inventory.commands", Partition: 2, Offset: 40,
		Key: "sku\t1", Value: cmd, Reason: "invalid_qty", Error: "qty: must be positive\nsecond line", Time: t0}
	b, _ := d.Encode()
	es := []Entry{
		NewEntry("titan.inventory.dlq", 1, 7, t0, b),
		NewEntry("titan.inventory.dlq", 1, 8, t0.Add(time.Second), []byte("oops")),
	}
	var out bytes.Buffer
	if err := WriteTable(&out, "", es); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), out.String())
	}
	for _, want := range []string{"TIME", "TOPOLOGY", "REASON", "SOURCE", "KEY", "ERROR", "VALUE"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("header %q lacks %s", lines[0], want)
		}
	}
	for _, want := range []string{"2026-12-05T12:00:00.000Z", "titan-inventory", "invalid_qty", "titan.inventory.commands/2/40",
		`"sku\t1"`, `"qty: must be positive\nsecond line"`, `"commandId":"c-1"`} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("row %q lacks %s", lines[1], want)
		}
	}
	for _, want := range []string{"(not a dead letter)", "titan.inventory.dlq/1/8", "base64:b29wcw=="} {
		if !strings.Contains(lines[2], want) {
			t.Errorf("row %q lacks %s", lines[2], want)
		}
	}
	if cell("") != `""` || cell(`"x"`) != `"\"x\""` || cell("a b") != "a b" {
		t.Errorf("cells %s %s %s", cell(""), cell(`"x"`), cell("a b"))
	}
}

func TestLines(t *testing.T) {
	cmd, _ := proto.Marshal(&inventoryv1.Command{CommandId: "c-1"})
	d := deadletter.DeadLetter{Topology: "titan-inventory", Topic: "titan.inventory.commands", Key: "k", Value: cmd, Reason: "decode", Time: t0}
	b, _ := d.Encode()
	var out bytes.Buffer
	if err := WriteLines(&out, "", []Entry{NewEntry("titan.inventory.dlq", 0, 3, t0, b), NewEntry("titan.inventory.dlq", 0, 4, t0, []byte("x"))}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%q", out.String())
	}
	var good, bad Line
	if err := json.Unmarshal([]byte(lines[0]), &good); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &bad); err != nil {
		t.Fatal(err)
	}
	if good.DLQ.Offset != 3 || good.DeadLetter == nil || good.DeadLetter.Key != "k" || !jsonEqual(t, good.Decoded, `{"commandId":"c-1"}`) || good.Error != "" {
		t.Errorf("dead letter line %s", lines[0])
	}
	if bad.DeadLetter != nil || bad.Error == "" || string(bad.Raw) != "x" || bad.DLQ.Offset != 4 {
		t.Errorf("not a dead letter line %s", lines[1])
	}
}

func TestSelection(t *testing.T) {
	id := deadletter.ID{Topic: "t", Partition: 0, Offset: 1}
	for _, tc := range []struct {
		s  Selection
		ok bool
	}{
		{Selection{}, false},
		{Selection{All: true}, true},
		{Selection{IDs: []deadletter.ID{id}}, true},
		{Selection{IDs: []deadletter.ID{id}, All: true}, false},
	} {
		if err := tc.s.Check(); (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrUsage) {
			t.Errorf("%+v: %v", tc.s, err)
		}
	}
}

func TestPlanReplay(t *testing.T) {
	cmds := "ns.titan.inventory.commands"
	inNS := func(e Entry, dlq string) Entry { e.Topic = dlq; return e }
	first := inNS(entry(cmds, 1, 5, "invalid_timestamp", time.Minute, 1), "ns.titan.inventory.dlq")
	again := inNS(entry(cmds, 1, 5, "invalid_timestamp", 2*time.Minute, 2), "ns.titan.inventory.dlq") // the same record set aside twice
	earlier := inNS(entry(cmds, 1, 2, "decode", 3*time.Minute, 3), "ns.titan.inventory.dlq")
	internal := inNS(entry("ns.titan.inventory.internal", 0, 1, "decode", 0, 4), "ns.titan.inventory.dlq")
	lostKey := inNS(entry(cmds, 0, 8, "decode", 0, 5), "ns.titan.inventory.dlq")
	lostKey.Letter.Key = "sku-\ufffd"
	bad := NewEntry("ns.titan.inventory.dlq", 0, 6, t0, []byte("x"))
	// An order event the sink could not write: the saga took it already.
	sunk := inNS(entry("ns.titan.orders.events", 0, 4, "undecodable", 0, 7), "ns.titan.sink.dlq")
	// An order event in the inventory's dead letters came from elsewhere.
	astray := inNS(entry("ns.titan.orders.events", 0, 5, "decode", 0, 8), "ns.titan.inventory.dlq")
	all := []Entry{again, internal, first, earlier, lostKey, bad, sunk, astray}

	p := PlanReplay("ns", Selection{All: true}, all)
	var sent []string
	for _, e := range p.Send {
		sent = append(sent, e.Letter.ID().String())
	}
	if strings.Join(sent, " ") != cmds+"/1/2 "+cmds+"/1/5" {
		t.Errorf("sends %v, want the two command records once each, in source order", sent)
	}
	if len(p.Repeats) != 1 || p.Repeats[0].Letter.ID() != first.Letter.ID() {
		t.Errorf("repeats %+v", p.Repeats)
	}
	why := map[string]string{}
	for _, r := range p.Refused {
		why[r.Entry.Source()] = r.Why
	}
	for where, want := range map[string]string{
		"ns.titan.inventory.internal/0/1": "is not ns.titan.inventory.commands",
		"ns.titan.orders.events/0/5":      "is not ns.titan.inventory.commands",
		"ns.titan.orders.events/0/4":      "ns.titan.sink.dlq go back nowhere",
		cmds + "/0/8":                     "U+FFFD",
		"ns.titan.inventory.dlq/0/6":      "not a dead letter",
	} {
		if !strings.Contains(why[where], want) {
			t.Errorf("%s refused for %q, want %q", where, why[where], want)
		}
	}
	if len(why) != 5 {
		t.Errorf("refused %v", why)
	}
	if !p.Whole(Selection{All: true}) {
		t.Error("--all goes ahead with what it may send")
	}

	// Listed records: the plan is whole only when every one is found and
	// none is refused.
	listed := Selection{IDs: []deadletter.ID{first.Letter.ID()}}
	if p := PlanReplay("ns", listed, []Entry{first, again}); !p.Whole(listed) || len(p.Send) != 1 || len(p.Repeats) != 1 {
		t.Errorf("one listed record set aside twice: %+v", p)
	}
	missing := Selection{IDs: []deadletter.ID{first.Letter.ID(), {Topic: cmds, Partition: 3, Offset: 3}}}
	if p := PlanReplay("ns", missing, []Entry{first}); p.Whole(missing) || len(p.Missing) != 1 {
		t.Errorf("a listed record not found: %+v", p)
	}
	refused := Selection{IDs: []deadletter.ID{first.Letter.ID(), internal.Letter.ID()}}
	if p := PlanReplay("ns", refused, []Entry{first, internal}); p.Whole(refused) || len(p.Refused) != 1 {
		t.Errorf("a listed record refused: %+v", p)
	}
	// Another namespace's input topic is not this deployment's.
	if p := PlanReplay("other", Selection{All: true}, []Entry{first}); len(p.Send) != 0 || len(p.Refused) != 1 {
		t.Errorf("another namespace: %+v", p)
	}
}
