package fraudtopo_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/titan-commerce/titan/processors/fraud"
	"github.com/titan-commerce/titan/topologies/fraudtopo"
)

// TestModelFileReload: a reload swaps in the edited model; an edit that
// does not parse leaves the model in force and says why.
func TestModelFileReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.json")
	write := func(b []byte) {
		t.Helper()
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(fraud.DefaultModelJSON)
	f, err := fraudtopo.LoadModelFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first := f.Model().Version
	if first == "" {
		t.Fatal("the shipped model has no version")
	}

	edited := bytes.Replace(fraud.DefaultModelJSON, []byte(`"`+first+`"`), []byte(`"edited"`), 1)
	write(edited)
	if err := f.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := f.Model().Version; got != "edited" {
		t.Fatalf("version after reload %q, want edited", got)
	}

	write([]byte(`{"version": "broken", "weights": {"no_such_feature": 1}}`))
	if err := f.Reload(); err == nil {
		t.Fatal("a model with an unknown feature was accepted")
	}
	if got := f.Model().Version; got != "edited" {
		t.Fatalf("version after a failed reload %q, want edited still", got)
	}
	if _, err := fraudtopo.LoadModelFile(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("a missing model file was accepted")
	}
}
