package proctest

import "testing"

// TestFreeAddrNeverRepeats: children spawned one after another get
// addresses of their own, even where the kernel hands a port just closed
// out again.
func TestFreeAddrNeverRepeats(t *testing.T) {
	seen := map[string]bool{}
	for range 500 {
		addr, err := freeAddr()
		if err != nil {
			t.Fatal(err)
		}
		if seen[addr] {
			t.Fatalf("%s given twice", addr)
		}
		seen[addr] = true
	}
}
