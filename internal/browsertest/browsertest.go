// Package browsertest runs the browser scripts of web/e2e against a live instance: Debian's
// chromium, driven by playwright-core from Node, both installed by `make browser`.
//
// Env is the single gate, like kafkatest.Brokers and clickhousetest.Addr: it returns the browser
// from TITAN_CHROMIUM and the Node project from TITAN_BROWSER_E2E_DIR, and without them fails the
// test under CI (where a missing browser is a broken pipeline, not a reason to pass) and skips it
// elsewhere. Variables that are set but name nothing usable fail the test everywhere: whoever set
// them meant the browser tests to run.
package browsertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/titan-commerce/titan/internal/testenv"
)

// The variables `make test` sets, from `make browser`.
const (
	// EnvChromium names the chromium executable.
	EnvChromium = "TITAN_CHROMIUM"
	// EnvDir names the Node project holding the scripts and playwright-core (web/e2e, after npm ci).
	EnvDir = "TITAN_BROWSER_E2E_DIR"
	// EnvArtifacts names the folder the scripts write screenshots to; empty means .run/artifacts
	// at the module's root.
	EnvArtifacts = "TITAN_ARTIFACTS"
)

const hint = EnvChromium + " and " + EnvDir + " not set: run the tests through `make test`, which installs chromium and playwright-core (`make browser`)"

// Browser is a chromium and the Node project that drives it.
type Browser struct {
	Chromium string
	Dir      string
	node     string
}

// Env returns the browser from the environment, or ends the test: t.Fatal when CI=true and it
// is missing, t.Skip otherwise; t.Fatal whenever it is set but unusable.
func Env(t testing.TB) Browser {
	t.Helper()
	chromium := strings.TrimSpace(os.Getenv(EnvChromium))
	dir := strings.TrimSpace(os.Getenv(EnvDir))
	if chromium == "" || dir == "" {
		testenv.Missing(t, hint)
	}
	if fi, err := os.Stat(chromium); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Fatalf("browsertest: %s=%s is not an executable (%v); run `make browser`", EnvChromium, chromium, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatalf("browsertest: %s=%s has no playwright-core installed (%v); run `make browser`", EnvDir, dir, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("browsertest: no node on PATH: %v", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return Browser{Chromium: chromium, Dir: abs, node: node}
}

// Run runs script (a file of the Node project) with args, with TITAN_CHROMIUM set for it, and
// returns what it printed on stdout. Its stderr goes to the test log. A script that exits non-zero
// returns its stdout too, with an error saying so.
func (b Browser) Run(ctx context.Context, t testing.TB, script string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, b.node, append([]string{filepath.Join(b.Dir, script)}, args...)...)
	cmd.Dir = b.Dir
	cmd.Env = append(os.Environ(), EnvChromium+"="+b.Chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Logf("%s stderr:\n%s", script, s)
	}
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			err = fmt.Errorf("browsertest: %s exited with %d: %w", script, exit.ExitCode(), err)
		} else {
			err = fmt.Errorf("browsertest: running %s: %w", script, err)
		}
	}
	return stdout.Bytes(), err
}

// Artifacts returns the folder for screenshots and other files a run leaves for people to look
// at, creating it: TITAN_ARTIFACTS, or .run/artifacts at the module's root (the folder holding
// go.mod, looked for from the test's working directory up).
func Artifacts(t testing.TB) string {
	t.Helper()
	dir := strings.TrimSpace(os.Getenv(EnvArtifacts))
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			t.Fatalf("browsertest: %v; set %s", err, EnvArtifacts)
		}
		dir = filepath.Join(root, ".run", "artifacts")
	}
	dir, err := filepath.Abs(dir)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		t.Fatalf("browsertest: artifacts folder: %v", err)
	}
	return dir
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
