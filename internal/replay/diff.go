package replay

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Summary is how two tables, key -> rendered value, differ.
type Summary struct {
	// OnlyLive and OnlyShadow are the keys of one table only, Different
	// the keys of both whose values differ; each sorted.
	OnlyLive, OnlyShadow, Different []string
	// Equal counts the keys whose values are the same in both.
	Equal int
}

// Identical reports whether the tables hold the same keys and values.
func (s Summary) Identical() bool {
	return len(s.OnlyLive) == 0 && len(s.OnlyShadow) == 0 && len(s.Different) == 0
}

// Diff compares the live table with the shadow one.
func Diff(live, shadow map[string]string) Summary {
	var s Summary
	for k, lv := range live {
		sv, ok := shadow[k]
		switch {
		case !ok:
			s.OnlyLive = append(s.OnlyLive, k)
		case sv == lv:
			s.Equal++
		default:
			s.Different = append(s.Different, k)
		}
	}
	for k := range shadow {
		if _, ok := live[k]; !ok {
			s.OnlyShadow = append(s.OnlyShadow, k)
		}
	}
	slices.Sort(s.OnlyLive)
	slices.Sort(s.OnlyShadow)
	slices.Sort(s.Different)
	return s
}

// Change is one leaf of a JSON value that differs: Path in the form
// "latest.priceMinor" or "campaigns[0].id", and the two values as JSON,
// empty where the leaf is missing.
type Change struct {
	Path         string
	Live, Shadow string
}

// Fields lists the leaves where two JSON values differ, in path order. A
// value that is not JSON is compared whole, under the path "".
func Fields(live, shadow string) []Change {
	var a, b any
	if json.Unmarshal([]byte(live), &a) != nil || json.Unmarshal([]byte(shadow), &b) != nil {
		if live == shadow {
			return nil
		}
		return []Change{{Live: live, Shadow: shadow}}
	}
	la, lb := map[string]string{}, map[string]string{}
	flatten("", a, la)
	flatten("", b, lb)
	var out []Change
	for _, p := range sortedKeys(la) {
		if la[p] != lb[p] {
			out = append(out, Change{Path: p, Live: la[p], Shadow: lb[p]})
		}
	}
	for _, p := range sortedKeys(lb) {
		if _, ok := la[p]; !ok {
			out = append(out, Change{Path: p, Shadow: lb[p]})
		}
	}
	slices.SortFunc(out, func(x, y Change) int { return strings.Compare(x.Path, y.Path) })
	return out
}

func flatten(path string, v any, out map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 0 {
			out[path] = "{}"
		}
		for k, x := range v {
			p := k
			if path != "" {
				p = path + "." + k
			}
			flatten(p, x, out)
		}
	case []any:
		if len(v) == 0 {
			out[path] = "[]"
		}
		for i, x := range v {
			flatten(path+"["+strconv.Itoa(i)+"]", x, out)
		}
	default:
		b, _ := json.Marshal(v)
		out[path] = string(b)
	}
}

// Report writes the summary and, for the first limit keys that differ
// (only in live, only in shadow, then different), what differs: for a key
// in both, each leaf that differs, live -> shadow.
func Report(w io.Writer, s Summary, live, shadow map[string]string, limit int) error {
	ew := &errWriter{w: w}
	ew.printf("keys: %d equal, %d different, %d only in live, %d only in shadow\n",
		s.Equal, len(s.Different), len(s.OnlyLive), len(s.OnlyShadow))
	if s.Identical() {
		ew.printf("the tables are identical\n")
		return ew.err
	}
	shown := 0
	for _, k := range s.OnlyLive {
		if shown == limit {
			break
		}
		ew.printf("- %s (only in live): %s\n", showKey(k), live[k])
		shown++
	}
	for _, k := range s.OnlyShadow {
		if shown == limit {
			break
		}
		ew.printf("+ %s (only in shadow): %s\n", showKey(k), shadow[k])
		shown++
	}
	for _, k := range s.Different {
		if shown == limit {
			break
		}
		ew.printf("~ %s\n", showKey(k))
		for _, c := range Fields(live[k], shadow[k]) {
			ew.printf("    %s: %s -> %s\n", orWhole(c.Path), orMissing(c.Live), orMissing(c.Shadow))
		}
		shown++
	}
	if rest := len(s.OnlyLive) + len(s.OnlyShadow) + len(s.Different) - shown; rest > 0 {
		ew.printf("... and %d more keys that differ\n", rest)
	}
	return ew.err
}

// showKey prints a key as it is when it is printable, and quoted in Go's
// form otherwise (side keys after a NUL, binary keys).
func showKey(k string) string {
	for _, r := range k {
		if !unicode.IsPrint(r) {
			return strconv.Quote(k)
		}
	}
	return k
}

func orWhole(p string) string {
	if p == "" {
		return "(value)"
	}
	return p
}

func orMissing(v string) string {
	if v == "" {
		return "(missing)"
	}
	return v
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
