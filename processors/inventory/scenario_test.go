package inventory

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestDecideScenarios runs the scenarios in testdata/decide: each file is
// a SKU's commands, one directive each, and what Decide answers, in the
// words of the rules in doc.go. A directive is a command kind with its
// fields:
//
//	restock id=c1 qty=10 at=0
//	reserve id=c2 order=o1 qty=4 ttl=60 at=1
//	commit id=c3 order=o1 [qty=3] at=2
//	release id=c4 order=o1 at=3
//	expire id=x1 order=o1 at=60
//
// (times and TTLs in seconds), or "reset" for a fresh SKU. The output is
// the events, "type" or "type:reason" a line, then the stock and every
// reservation the SKU holds. Each command is checked against the ledger's
// invariants as well. Run with -rewrite to write what Decide answers into
// the files after a change of the rules.
func TestDecideScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata/decide", func(t *testing.T, path string) {
		s := NewState()
		var offset int64
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd == "reset" {
				s, offset = NewState(), 0
				return ""
			}
			c := Command{SKU: "sku-1", Offset: offset}
			offset++
			switch d.Cmd {
			case "restock":
				c.Kind = KindRestock
			case "reserve":
				c.Kind = KindReserve
			case "commit":
				c.Kind = KindCommit
			case "release":
				c.Kind = KindRelease
			case "expire":
				c.Kind = KindExpire
			case "invalid":
				// A command of no kind at all.
			default:
				d.Fatalf(t, "unknown directive %q", d.Cmd)
			}
			var sec, ttl int
			d.MaybeScanArgs(t, "id", &c.ID)
			d.MaybeScanArgs(t, "order", &c.OrderID)
			d.MaybeScanArgs(t, "qty", &c.Qty)
			d.ScanArgs(t, "at", &sec)
			if d.MaybeScanArgs(t, "ttl", &ttl) {
				c.TTL = time.Duration(ttl) * time.Second
			}
			c.Time = at(sec)
			var events []Event
			s, events = Decide(s, c, DefaultPolicy())
			checkInvariants(t, s)
			var b strings.Builder
			for _, e := range describe(events) {
				fmt.Fprintln(&b, e)
			}
			fmt.Fprintf(&b, "stock: on_hand=%d reserved=%d sold=%d\n", s.Stock.OnHand, s.Stock.Reserved, s.Stock.Sold)
			for _, r := range s.Reservations {
				fmt.Fprintf(&b, "%s: %s %d\n", r.OrderID, r.Status, r.Qty)
			}
			return b.String()
		})
	})
}
