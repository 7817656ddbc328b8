package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
)

// subcommand parses `titan <group> <cmd> [flags]` for a group of commands
// (sink, dlq): help lists every command's flags, and an unknown command, a
// bad flag or a stray argument ends it with exit 2. declare makes a
// command's flag set and what runs it, which subcommand hands back once the
// flags are parsed; ok is false when the run is over and code is its exit
// code.
func subcommand[T any](group, usage string, cmds []string, declare func(cmd string, stderr io.Writer) (*flag.FlagSet, T),
	args []string, stdout, stderr io.Writer) (then T, code int, ok bool) {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		for _, cmd := range cmds {
			fs, _ := declare(cmd, stdout)
			fmt.Fprintf(stdout, "\n%s:\n", cmd)
			fs.PrintDefaults()
		}
		return then, 0, false
	}
	if !slices.Contains(cmds, args[0]) {
		fmt.Fprintf(stderr, "titan: unknown %s command %q; try titan %s help\n", group, args[0], group)
		return then, 2, false
	}
	fs, then := declare(args[0], stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return then, 0, false
		}
		return then, 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "titan: titan %s %s takes no arguments, got %q\n", group, args[0], fs.Args())
		return then, 2, false
	}
	return then, 0, true
}
