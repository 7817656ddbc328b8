package inventory

import "testing"

// checkInvariants fails t when s breaks the ledger rules of the package
// comment that hold for a single state.
func checkInvariants(t testing.TB, s State) {
	t.Helper()
	if err := CheckState(s); err != nil {
		t.Fatal(err)
	}
}
