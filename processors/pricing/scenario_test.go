package pricing

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestPriceScenarios runs the scenarios in testdata/price: each file is a
// SKU's inputs, one directive each, and the price changes they publish, in
// the words of the rules in doc.go. Times are seconds from t0; "at"
// left out is a command with no time. The directives:
//
//	reset [interval=60] [max-step=200] [floor=0] [ceiling=2000]
//	                                   a fresh SKU, under testPolicy with
//	                                   these demand settings (basis points)
//	set-base id=c1 price=10000 [currency=EUR] at=0
//	campaign id=c2 [name=spring] [pct=1000 | fixed=1500] from=60 to=120 at=1
//	end id=c3 [campaign=spring] at=30
//	check [id=chk-o1] [order=o1] [line=1] at=59   a quote, by Apply
//	tick-command [id=...] [at=60]      the ticker's command, by Apply
//	unknown id=c0 at=0                 a command of no kind
//	signal off=1 qty=30 avail=70 at=10 [stock-unknown]
//	                                   an inventory event, by Observe
//	tick at=60                         Tick
//
// The output is every change, "cause price @sec", then for a check its
// quote: the price, "none" without one, or "nil" for a check Apply
// refuses. Each step is checked against the invariants as well. Run with
// -rewrite to write what the rules answer into the files after a change.
func TestPriceScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata/price", func(t *testing.T, path string) {
		p := testPolicy()
		s := NewState()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			var sec int
			timed := d.MaybeScanArgs(t, "at", &sec)
			when := time.Time{}
			if timed {
				when = at(sec)
			}
			var (
				changes []PriceChanged
				q       *Quote
				isCheck bool
			)
			switch d.Cmd {
			case "reset":
				p = testPolicy()
				var interval int
				if d.MaybeScanArgs(t, "interval", &interval) {
					p.Demand.Interval = time.Duration(interval) * time.Second
				}
				d.MaybeScanArgs(t, "max-step", &p.Demand.MaxStepBps)
				d.MaybeScanArgs(t, "floor", &p.Demand.FloorBps)
				d.MaybeScanArgs(t, "ceiling", &p.Demand.CeilingBps)
				s = NewState()
				return ""
			case "signal":
				sig := InventorySignal{SKU: "sku-1", Time: when, StockKnown: !d.HasArg("stock-unknown")}
				d.ScanArgs(t, "off", &sig.Offset)
				d.MaybeScanArgs(t, "qty", &sig.Reserved)
				d.MaybeScanArgs(t, "avail", &sig.Available)
				s, changes = Observe(s, sig, p)
			case "tick":
				s, changes = Tick(s, when, p)
			default:
				c := Command{SKU: "sku-1", Time: when}
				switch d.Cmd {
				case "set-base":
					c.Kind, c.Currency = KindSetBase, "EUR"
					d.ScanArgs(t, "price", &c.BasePrice)
					d.MaybeScanArgs(t, "currency", &c.Currency)
				case "campaign":
					c.Kind = KindUpsertCampaign
					var from, to int
					d.MaybeScanArgs(t, "name", &c.Campaign.ID)
					d.ScanArgs(t, "from", &from)
					d.ScanArgs(t, "to", &to)
					c.Campaign.Start, c.Campaign.End = at(from), at(to)
					if d.MaybeScanArgs(t, "pct", &c.Campaign.PercentBps) {
						c.Campaign.Kind = CampaignPercent
					}
					if d.MaybeScanArgs(t, "fixed", &c.Campaign.Amount) {
						c.Campaign.Kind = CampaignFixed
					}
				case "end":
					c.Kind = KindEndCampaign
					d.MaybeScanArgs(t, "campaign", &c.CampaignID)
				case "check":
					c.Kind, c.Line, isCheck = KindCheck, 1, true
					d.MaybeScanArgs(t, "order", &c.OrderID)
					line := 1
					d.MaybeScanArgs(t, "line", &line)
					c.Line = int32(line)
					c.ID = "chk-" + c.OrderID
				case "tick-command":
					c.Kind = KindTick
					c.ID = fmt.Sprintf("tick/sku-1/%d", when.UnixMilli())
				case "unknown":
				default:
					d.Fatalf(t, "unknown directive %q", d.Cmd)
				}
				d.MaybeScanArgs(t, "id", &c.ID)
				s, changes, q = Apply(s, c, p)
			}
			checkInvariants(t, s, changes, q, p)
			var b strings.Builder
			for _, c := range describe(changes) {
				fmt.Fprintln(&b, c)
			}
			switch {
			case isCheck && q == nil:
				b.WriteString("quote: nil\n")
			case isCheck && q.Found:
				fmt.Fprintf(&b, "quote: %d\n", q.Price)
			case isCheck:
				b.WriteString("quote: none\n")
			case q != nil:
				d.Fatalf(t, "a quote from a %s: %+v", d.Cmd, *q)
			}
			return b.String()
		})
	})
}
