package replay

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseOffsets(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []Offset
		wantErr string
	}{
		{in: "", want: nil},
		{in: "100", want: []Offset{{Partition: -1, Offset: 100}}},
		{in: "0:5, 3:7", want: []Offset{{Partition: 0, Offset: 5}, {Partition: 3, Offset: 7}}},
		{in: "titan.pricing.commands:1:9", want: []Offset{{Topic: "titan.pricing.commands", Partition: 1, Offset: 9}}},
		{in: "-1", wantErr: "negative offset"},
		{in: "x:5", wantErr: `partition "x" is not a number`},
		{in: "-2:5", wantErr: `partition "-2" is not a number`},
		{in: "1:2:3:4", wantErr: "want OFFSET"},
		{in: ":1:2", wantErr: "empty topic"},
		{in: "ten", wantErr: "invalid syntax"},
	} {
		got, err := ParseOffsets("from-offset", tc.in)
		if tc.wantErr != "" {
			if err == nil || !errors.Is(err, ErrBadRange) || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "--from-offset") {
				t.Errorf("ParseOffsets(%q) = %v, %v; want an error naming the flag and %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseOffsets(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestPlan(t *testing.T) {
	b := func(start, end int64) Bounds { return Bounds{Start: start, End: end, Since: -1, Until: -1} }
	inputs := func() map[string]map[int32]Bounds {
		return map[string]map[int32]Bounds{
			"cmds":   {0: b(0, 100), 1: b(10, 50)},
			"events": {0: b(0, 20), 1: b(0, 0)},
		}
	}
	for _, tc := range []struct {
		name     string
		topics   map[string]map[int32]Bounds
		from, to []Offset
		want     map[string]map[int32]Span
		wantErr  string
	}{
		{name: "everything to the ends seen", topics: inputs(),
			want: map[string]map[int32]Span{"cmds": {0: {0, 100}, 1: {10, 50}}, "events": {0: {0, 20}, 1: {0, 0}}}},
		{name: "an offset for every partition, below a log's start", topics: inputs(), from: []Offset{{Partition: -1, Offset: 5}},
			want: map[string]map[int32]Span{"cmds": {0: {5, 100}, 1: {10, 50}}, "events": {0: {5, 20}, 1: {5, 5}}}},
		{name: "the most specific entry wins", topics: inputs(),
			from: []Offset{{Partition: -1, Offset: 5}, {Partition: 0, Offset: 7}, {Topic: "cmds", Partition: 0, Offset: 40}},
			to:   []Offset{{Topic: "events", Partition: -1, Offset: 15}},
			want: map[string]map[int32]Span{"cmds": {0: {40, 100}, 1: {10, 50}}, "events": {0: {7, 15}, 1: {5, 5}}}},
		{name: "times and offsets together", topics: map[string]map[int32]Bounds{"cmds": {0: {Start: 0, End: 100, Since: 30, Until: 80}}},
			from: []Offset{{Partition: -1, Offset: 20}}, to: []Offset{{Partition: -1, Offset: 90}},
			want: map[string]map[int32]Span{"cmds": {0: {30, 80}}}},
		{name: "from past to is empty, not negative", topics: inputs(), from: []Offset{{Topic: "cmds", Partition: -1, Offset: 60}},
			want: map[string]map[int32]Span{"cmds": {0: {60, 100}, 1: {60, 60}}, "events": {0: {0, 20}, 1: {0, 0}}}},
		{name: "an unknown topic", topics: inputs(), from: []Offset{{Topic: "orders", Partition: -1}}, wantErr: `topic "orders" is not an input (inputs: cmds, events)`},
		{name: "an unknown partition", topics: inputs(), to: []Offset{{Topic: "cmds", Partition: 9}}, wantErr: "no partition 9"},
		{name: "nothing selected", topics: inputs(), to: []Offset{{Partition: -1, Offset: 0}}, wantErr: "selects no records"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Plan(tc.topics, tc.from, tc.to)
			if tc.wantErr != "" {
				if err == nil || !errors.Is(err, ErrBadRange) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Plan = %v, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Plan = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	plan, _ := Plan(inputs(), nil, nil)
	if n := Total(plan); n != 100+40+20 {
		t.Errorf("Total = %d, want 160", n)
	}
}

func TestDiffAndReport(t *testing.T) {
	live := map[string]string{
		"a": `{"price":100,"campaigns":[{"id":"x"}]}`,
		"b": `{"price":200}`,
		"c": `{"price":300}`,
		"d": `{"price":400}`,
	}
	shadow := map[string]string{
		"a": `{"price":80,"campaigns":[{"id":"x"}],"note":"limited"}`,
		"b": `{"price":200}`,
		"c": `{"price":300}`,
		"e": `{"price":500}`,
	}
	s := Diff(live, shadow)
	want := Summary{OnlyLive: []string{"d"}, OnlyShadow: []string{"e"}, Different: []string{"a"}, Equal: 2}
	if !reflect.DeepEqual(s, want) || s.Identical() {
		t.Fatalf("Diff = %+v, want %+v", s, want)
	}
	if same := Diff(live, live); !same.Identical() || same.Equal != 4 {
		t.Fatalf("a table against itself: %+v", same)
	}
	var quoted bytes.Buffer
	if err := Report(&quoted, Diff(map[string]string{"sku\x00r1": "1"}, nil), map[string]string{"sku\x00r1": "1"}, nil, 5); err != nil ||
		!strings.Contains(quoted.String(), `- "sku\x00r1" (only in live): 1`) {
		t.Fatalf("a key with a NUL is not quoted: %q %v", quoted.String(), err)
	}
	if !Diff(nil, map[string]string{}).Identical() {
		t.Fatal("two empty tables differ")
	}
	var out bytes.Buffer
	if err := Report(&out, s, live, shadow, 10); err != nil {
		t.Fatal(err)
	}
	wantOut := `keys: 2 equal, 1 different, 1 only in live, 1 only in shadow
- d (only in live): {"price":400}
+ e (only in shadow): {"price":500}
~ a
    note: (missing) -> "limited"
    price: 100 -> 80
`
	if out.String() != wantOut {
		t.Fatalf("report:\n%s\nwant:\n%s", out.String(), wantOut)
	}
	out.Reset()
	if err := Report(&out, s, live, shadow, 1); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasSuffix(got, "- d (only in live): {\"price\":400}\n... and 2 more keys that differ\n") {
		t.Fatalf("report limited to one key:\n%s", got)
	}
}

func TestFields(t *testing.T) {
	for _, tc := range []struct {
		live, shadow string
		want         []Change
	}{
		{`{"a":{"b":[1,2]}}`, `{"a":{"b":[1,3]}}`, []Change{{Path: "a.b[1]", Live: "2", Shadow: "3"}}},
		{`{"a":[1,2]}`, `{"a":[1]}`, []Change{{Path: "a[1]", Live: "2"}}},
		{`{"a":[]}`, `{"a":[1]}`, []Change{{Path: "a", Live: "[]"}, {Path: "a[0]", Shadow: "1"}}},
		{`{"a":1}`, `{"a":1}`, nil},
		{`not json`, `{"a":1}`, []Change{{Live: "not json", Shadow: `{"a":1}`}}},
	} {
		if got := Fields(tc.live, tc.shadow); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Fields(%s, %s) = %+v, want %+v", tc.live, tc.shadow, got, tc.want)
		}
	}
}

func TestProgress(t *testing.T) {
	for _, tc := range []struct {
		p         Progress
		line, bar string
	}{
		{Progress{Phase: "copy", Done: 250, Total: 1000, Elapsed: 5 * time.Second},
			"replay copy: 250/1000 records (25%), 50 rec/s, ETA 15s",
			"copy    [==>       ]  25% 250/1000, 50 rec/s, ETA 15s"},
		{Progress{Phase: "process", Done: 0, Total: 10},
			"replay process: 0/10 records (0%), 0 rec/s, ETA ?",
			"process [>         ]   0% 0/10, 0 rec/s, ETA ?"},
		{Progress{Phase: "process", Done: 10, Total: 10, Elapsed: time.Second},
			"replay process: 10/10 records (100%), 10 rec/s, ETA 0s",
			"process [==========] 100% 10/10, 10 rec/s, ETA 0s"},
		{Progress{Phase: "copy", Done: 12, Total: 10, Elapsed: time.Second},
			"replay copy: 12/10 records (100%), 12 rec/s, ETA 0s",
			"copy    [==========] 100% 12/10, 12 rec/s, ETA 0s"},
	} {
		if got := tc.p.Line(); got != tc.line {
			t.Errorf("Line = %q, want %q", got, tc.line)
		}
		if got := tc.p.Bar(10); got != tc.bar {
			t.Errorf("Bar = %q, want %q", got, tc.bar)
		}
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{in: "", want: time.Time{}},
		{in: "2026-12-04T00:00:00Z", want: time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)},
		{in: "24h", want: now.Add(-24 * time.Hour)},
		{in: "90m", want: now.Add(-90 * time.Minute)},
		{in: "-1h", wantErr: true},
		{in: "yesterday", wantErr: true},
		{in: "2026-12-04", wantErr: true},
	} {
		got, err := ParseTime("since", tc.in, now)
		if tc.wantErr {
			if err == nil || !errors.Is(err, ErrBadRange) || !strings.Contains(err.Error(), "--since") {
				t.Errorf("ParseTime(%q) = %v, %v; want an error naming --since", tc.in, got, err)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// FuzzParseOffsets: whatever a flag holds, ParseOffsets does not panic, and
// what it accepts is offsets >= 0 of partitions >= 0, or -1 for every one
// where no topic is named.
func FuzzParseOffsets(f *testing.F) {
	for _, s := range []string{"", "5", "0:5,1:7", "t:1:9", ":1:2", "1:2:3:4", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		offs, err := ParseOffsets("from-offset", s)
		if err != nil {
			if !errors.Is(err, ErrBadRange) {
				t.Fatalf("error %v is not an ErrBadRange", err)
			}
			return
		}
		for _, o := range offs {
			if o.Offset < 0 || o.Partition < -1 || (o.Topic != "" && o.Partition < 0) {
				t.Fatalf("accepted %q as %+v", s, offs)
			}
		}
	})
}
