package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Missing fails under CI=true and skips otherwise: run in a child process, so the parent sees how
// the test ended.
func TestMissing(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		Missing(t, "no such prerequisite")
		return
	}
	for _, tc := range []struct {
		ci   string
		want string
	}{
		{"true", "--- FAIL: TestMissing"},
		{"", "--- SKIP: TestMissing"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestMissing$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", "CI="+tc.ci)
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "no such prerequisite") {
			t.Errorf("CI=%q: want %q, got\n%s", tc.ci, tc.want, out)
		}
	}
}
