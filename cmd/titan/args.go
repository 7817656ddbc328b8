package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// refuseArgs says that a command got positional arguments it does not
// take, naming them, and returns the exit code of a usage error. A stray
// word is refused rather than ignored: `titan run staging` must not start
// an instance that silently ignored what its operator meant.
func refuseArgs(cmd string, args []string, stderr io.Writer) int {
	fmt.Fprintf(stderr, "titan: titan %s takes no arguments, got %q\n", cmd, args)
	return 2
}

// parseNoArgs parses args into fs, which takes flags only. done says the
// command ends here with code: on -h, a bad flag or a positional argument.
func parseNoArgs(fs *flag.FlagSet, args []string, stderr io.Writer) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	if fs.NArg() > 0 {
		return refuseArgs(strings.TrimPrefix(fs.Name(), "titan "), fs.Args(), stderr), true
	}
	return 0, false
}

// commandFlags declares the flags of a subcommand; do runs it once they
// are parsed.
type commandFlags func(cmd string, stderr io.Writer) (fs *flag.FlagSet, do func(stdout, stderr io.Writer) int)

// subcommand runs one of the subcommands names of the command group (titan
// sink, titan dlq, titan topology): help prints usage and each one's flags; an
// unknown one, a bad flag or a positional argument is a usage error.
func subcommand(group, usage string, names []string, flags commandFlags, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		for _, cmd := range names {
			fs, _ := flags(cmd, stdout)
			fmt.Fprintf(stdout, "\n%s:\n", cmd)
			fs.PrintDefaults()
		}
		return 0
	}
	if !slices.Contains(names, args[0]) {
		fmt.Fprintf(stderr, "titan: unknown %s command %q; try titan %s help\n", group, args[0], group)
		return 2
	}
	fs, do := flags(args[0], stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	if code, done := parseNoArgs(fs, args[1:], stderr); done {
		return code
	}
	return do(stdout, stderr)
}
