package main

import (
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// version names the release this binary is; a release build sets it with
// -ldflags "-X main.version=v1.2.3". Empty, the module version Go recorded
// at build time stands in.
var version string

// versionCommand prints what the binary was built from, for an operator
// matching a running instance to its source.
func versionCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("titan version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if code, done := parseNoArgs(fs, args, stderr); done {
		return code
	}
	info, _ := debug.ReadBuildInfo()
	fmt.Fprint(stdout, versionText(version, info))
	return 0
}

// versionText renders the version, the VCS revision and its time, and
// the Go version from info (nil when the binary carries none), with
// override standing for the version when set.
func versionText(override string, info *debug.BuildInfo) string {
	v, goVersion := override, "unknown"
	revision, at, modified := "unknown", "unknown", false
	if info != nil {
		if v == "" {
			v = info.Main.Version
		}
		goVersion = info.GoVersion
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if modified {
		// Built from a tree with uncommitted changes: the revision alone
		// does not say what runs.
		revision += " (modified)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "titan %s\n", v)
	fmt.Fprintf(&b, "revision: %s\n", revision)
	fmt.Fprintf(&b, "revision time: %s\n", at)
	fmt.Fprintf(&b, "go: %s\n", goVersion)
	return b.String()
}
