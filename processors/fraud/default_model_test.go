package fraud

import (
	"testing"
)

// loadDeployModel parses the default model, DefaultModelJSON.
func loadDeployModel(t testing.TB) *Model {
	t.Helper()
	m, err := ParseModel(DefaultModelJSON)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
