package fraud

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// loadDeployModel parses deploy/fraud/model.json, found from this file so
// tests run from any working directory.
func loadDeployModel(t testing.TB) *Model {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "deploy", "fraud", "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseModel(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
