package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
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
