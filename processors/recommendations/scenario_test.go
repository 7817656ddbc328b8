package recommendations

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestViewScenarios runs the scenarios in testdata/view: one shopper's
// views, one directive each, and the items each view pairs the viewed one
// with, in the order View sends them:
//
//	reset                                    a new shopper
//	view id=1 sku=a [session=s1] at=10m      a Go duration after t0
//
// The output is "pairs: b,a", or "pairs: none". A view that pairs nothing
// because its event id was seen must leave the history as it was. Run
// with -rewrite to write what View answers into the files after a change
// of the rules.
func TestViewScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata/view", func(t *testing.T, path string) {
		var h UserHistory
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "reset":
				h = UserHistory{}
				return ""
			case "view":
			default:
				d.Fatalf(t, "unknown directive %q", d.Cmd)
			}
			var id, sku, session, at string
			d.ScanArgs(t, "id", &id)
			d.ScanArgs(t, "sku", &sku)
			d.MaybeScanArgs(t, "session", &session)
			d.ScanArgs(t, "at", &at)
			after, err := time.ParseDuration(at)
			if err != nil {
				d.Fatalf(t, "at=%s: %v", at, err)
			}
			v := view(id, sku, session, after)
			before := h.clone()
			var pairs []Pair
			h, pairs = View(h, v, Policy{})
			got := partners(t, sku, pairs, SignalView)
			if got == nil && slices.Contains(before.EventIDs, id) && !reflect.DeepEqual(before, h) {
				d.Fatalf(t, "a duplicate changed the history")
			}
			if got == nil {
				return "pairs: none\n"
			}
			return "pairs: " + strings.Join(got, ",") + "\n"
		})
	})
}
