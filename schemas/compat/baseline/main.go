// Command baseline records the schema this build is compiled with as the
// published one, which schemas/compat's test holds every later schema to.
// `make schema-baseline` runs it from the module root (and `make generate`
// after generating the code):
//
//	go run ./schemas/compat/baseline [-accept-breaking] [-out schemas/compat/published.json]
//
// It records additions and refuses a breaking change, listing it, unless
// -accept-breaking says the break is intended; DESIGN.md ("Schema
// evolution") says when it may be.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/titan-commerce/titan/schemas/compat"
)

func main() {
	out := flag.String("out", "schemas/compat/published.json", "the baseline to rewrite")
	accept := flag.Bool("accept-breaking", false, "record the schema even though it breaks the baseline")
	flag.Parse()

	breaks, err := compat.Record(*out, compat.Current(), *accept)
	for _, b := range breaks {
		fmt.Fprintln(os.Stderr, b)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "schema baseline:", err)
		if len(breaks) > 0 {
			fmt.Fprintln(os.Stderr, "  an intended break of a message no release has published, or the retirement of a")
			fmt.Fprintln(os.Stderr, "  package every producer has left: make schema-baseline ACCEPT_BREAKING=1")
		}
		os.Exit(1)
	}
	if len(breaks) > 0 {
		fmt.Fprintf(os.Stderr, "schema baseline: %s recorded with the %d breaking changes above\n", *out, len(breaks))
	}
}
