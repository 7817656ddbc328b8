// Package testenv holds the one rule every integration test's gate keeps: a prerequisite that is
// missing (a broker, a server, a browser) fails the test under CI=true, where it means a broken
// pipeline, and skips it elsewhere, where it means a developer ran `go test` by hand.
package testenv

import (
	"os"
	"testing"
)

// Missing ends a test whose prerequisite is missing, saying hint: t.Fatal when CI=true, t.Skip
// otherwise. It never returns.
func Missing(t testing.TB, hint string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(hint)
	}
	t.Skip(hint)
}
