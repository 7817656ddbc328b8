package compat

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

const published = "published.json"

// TestPublishedSchemaIsCompatible is the check `make test` runs: the schema
// this build is compiled with against the committed baseline.
func TestPublishedSchemaIsCompatible(t *testing.T) {
	base, err := ReadBaseline(published)
	if err != nil {
		t.Fatal(err)
	}
	breaks, err := Check(base, Current())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range breaks {
		t.Error(b)
	}
	if len(breaks) > 0 {
		t.Log("schemas/compat/published.json is the published schema; see DESIGN.md, \"Schema evolution\", " +
			"for when a break may be recorded (make schema-baseline ACCEPT_BREAKING=1)")
		return
	}
	now, err := Marshal(Current())
	if err != nil {
		t.Fatal(err)
	}
	if was, _ := os.ReadFile(published); !bytes.Equal(was, now) {
		// Additions break nothing, but until recorded they are not held.
		t.Log("the schema adds to published.json; make schema-baseline records the additions")
	}
}

// TestEveryProtoIsChecked fails when a .proto file is not linked into the
// check: Current sees only the generated packages this package imports.
func TestEveryProtoIsChecked(t *testing.T) {
	checked := map[string]bool{}
	for _, f := range Current().GetFile() {
		checked[f.GetName()] = true
	}
	const dir = "../proto"
	var found int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".proto" {
			return err
		}
		found++
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if !checked[filepath.ToSlash(rel)] {
			t.Errorf("schemas/proto/%s is not in the checked schema: import its generated package in schemas/compat/baseline.go", filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Fatalf("no .proto files under %s", dir)
	}
}

// TestPublishedJSONIsAsRecorded keeps the baseline in the one form Record
// writes, so its diffs show schema changes and nothing else.
func TestPublishedJSONIsAsRecorded(t *testing.T) {
	was, err := os.ReadFile(published)
	if err != nil {
		t.Fatal(err)
	}
	set, err := Unmarshal(was)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(was, again) {
		t.Errorf("%s is not in the form Record writes; rewrite it with make schema-baseline", published)
	}
}

func TestRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "published.json")
	cur := Current()

	breaks, err := Record(path, cur, false)
	if err != nil || len(breaks) != 0 {
		t.Fatalf("first recording: breaks %v, err %v; want none", breaks, err)
	}
	wantFile(t, path, cur)

	added := Current()
	edit(t, added, func(s *set) {
		s.message("titan.inventory.v1.Command").Field = append(s.message("titan.inventory.v1.Command").Field,
			scalar("channel", 6, "TYPE_STRING"))
	})
	if breaks, err := Record(path, added, false); err != nil || len(breaks) != 0 {
		t.Fatalf("recording an addition: breaks %v, err %v; want none", breaks, err)
	}
	wantFile(t, path, added)

	removed := proto.Clone(added).(*descriptorSet)
	edit(t, removed, func(s *set) { s.removeField("titan.inventory.v1.Command", "sku") })
	breaks, err = Record(path, removed, false)
	if !errors.Is(err, ErrBreaking) || !strings.Contains(err.Error(), path) {
		t.Fatalf("recording a removal unaccepted: err %v; want ErrBreaking naming %s", err, path)
	}
	if len(breaks) != 2 { // sku's number and its name
		t.Fatalf("recording a removal unaccepted: %d breaks, want 2: %v", len(breaks), breaks)
	}
	wantFile(t, path, added)

	breaks, err = Record(path, removed, true)
	if err != nil || len(breaks) != 2 {
		t.Fatalf("recording a removal accepted: breaks %v, err %v; want 2 and no error", breaks, err)
	}
	wantFile(t, path, removed)
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".baseline-*")); len(left) != 0 {
		t.Errorf("Record left temporary files: %v", left)
	}
}

func wantFile(t *testing.T, path string, want *descriptorSet) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, b) {
		t.Errorf("%s does not hold the expected schema", path)
	}
}

func TestCovered(t *testing.T) {
	ranges := [][2]int64{{20, 30}, {1, 5}, {5, 10}, {25, 40}}
	for _, tc := range []struct {
		start, end int64
		want       bool
	}{
		{1, 10, true},  // two touching ranges
		{20, 40, true}, // two overlapping ranges
		{3, 4, true},
		{1, 11, false},
		{9, 21, false},
		{0, 1, false},
	} {
		if got := covered(tc.start, tc.end, ranges); got != tc.want {
			t.Errorf("covered(%d, %d) = %v, want %v", tc.start, tc.end, got, tc.want)
		}
	}
}
