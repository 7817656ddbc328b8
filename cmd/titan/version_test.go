package main

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestVersionText(t *testing.T) {
	built := &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "false"},
	}}
	dirty := &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.modified", Value: "true"},
	}}
	for _, tc := range []struct {
		name     string
		override string
		info     *debug.BuildInfo
		want     string
	}{
		{"the module version and its revision", "", built,
			"titan v1.4.0\nrevision: 0123abcd\nrevision time: 2026-12-01T10:00:00Z\ngo: go1.26.1\n"},
		{"-ldflags -X wins over the module version", "v2.0.0-rc1", built,
			"titan v2.0.0-rc1\nrevision: 0123abcd\nrevision time: 2026-12-01T10:00:00Z\ngo: go1.26.1\n"},
		{"a tree with uncommitted changes", "", dirty,
			"titan (devel)\nrevision: 0123abcd (modified)\nrevision time: unknown\ngo: go1.26.1\n"},
		{"no build information", "", nil, "titan (devel)\nrevision: unknown\nrevision time: unknown\ngo: unknown\n"},
	} {
		if got := versionText(tc.override, tc.info); got != tc.want {
			t.Errorf("%s: got\n%s\nwant\n%s", tc.name, got, tc.want)
		}
	}
}

func TestVersionCommand(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run([]string{"version"}, &out, &errs); code != 0 {
		t.Fatalf("titan version exited %d: %s", code, errs.String())
	}
	if got := out.String(); !strings.HasPrefix(got, "titan ") || !strings.Contains(got, "\ngo: "+runtime.Version()+"\n") {
		t.Errorf("titan version printed %q", got)
	}
}

// TestVersionLinkerFlag builds the binary as a release would, with the
// version set by the linker, and runs titan version.
func TestVersionLinkerFlag(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "titan")
	build := exec.CommandContext(ctx, "go", "build", "-ldflags", "-X main.version=v9.8.7-test", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		t.Fatalf("titan version: %v", err)
	}
	if got := string(out); !strings.HasPrefix(got, "titan v9.8.7-test\nrevision: ") || !strings.HasSuffix(got, "\ngo: "+runtime.Version()+"\n") {
		t.Errorf("titan version printed %q", got)
	}
}

// TestExtraArgumentsRefused: no command takes positional arguments, and
// each refuses them by name before doing anything.
func TestExtraArgumentsRefused(t *testing.T) {
	t.Setenv("TITAN_KAFKA_BROKERS", "") // make test sets it; nothing here may reach a broker
	for _, args := range [][]string{
		{"run", "staging"},
		{"run", "--partitions", "2", "staging", "--brokers", "127.0.0.1:1"},
		{"help", "staging"},
		{"version", "staging"},
		{"sink", "run", "--brokers", "127.0.0.1:1", "staging"},
		{"sink", "migrate", "staging"},
		{"topology", "describe", "--brokers", "127.0.0.1:1", "staging"},
		{"topology", "graph", "staging"},
	} {
		var out, errs bytes.Buffer
		code := run(args, &out, &errs)
		if code != 2 || !strings.Contains(errs.String(), "takes no arguments") || !strings.Contains(errs.String(), `"staging"`) {
			t.Errorf("titan %q exited %d with %q; want 2 and the argument named", args, code, errs.String())
		}
		if out.Len() != 0 {
			t.Errorf("titan %q wrote %q before refusing", args, out.String())
		}
	}
}

// TestRunHTTPAddrInUse: titan run on an address another listener holds
// fails at once, naming the flag and the address.
func TestRunHTTPAddrInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	var errs bytes.Buffer
	code := run([]string{"run", "--brokers", "", "--http-addr", addr, "--partitions", "1"}, &bytes.Buffer{}, &errs)
	if code != 1 {
		t.Fatalf("exited %d, want 1: %s", code, errs.String())
	}
	want := "titan: --http-addr " + addr + ": the address is in use"
	if !strings.Contains(errs.String(), want) || !strings.Contains(errs.String(), "TITAN_HTTP_ADDR") {
		t.Errorf("stderr %q does not say %q", errs.String(), want)
	}
	if strings.Contains(errs.String(), "EMBEDDED BROKER") {
		t.Errorf("the embedded broker started before the address was tried:\n%s", errs.String())
	}
}
