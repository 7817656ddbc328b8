package orders

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/titan-commerce/titan/processors/inventory"
)

// TestSagaScenarios runs the scenarios in testdata/saga: each file is one
// order's messages, one directive each, and what the saga answers, in the
// words of the rules in doc.go. Times are seconds from t0.
//
//	reset                                a fresh order
//	place [lines=a:2:500,b:1:1000] [no-lines] [event=e1] [order=o1] [at=0]
//	                                     OrderPlaced (sku:qty:unit price;
//	                                     the default is two)
//	fraud outcome=approve [codes=velocity] at=1
//	quote line=1 sku=b price=1000 [currency=EUR] at=2
//	no-price line=1 sku=b at=2
//	reserved|refused|committed|released|expired sku=a at=3
//	                                     the inventory's answer to the
//	                                     saga's command on sku
//	inventory type=rejected (kind=commit | command=id) [order=o1] sku=a
//	          [reason=...] at=3          any other inventory event
//	timeout steps=1 at=120
//	cancel [reason=buyer] at=4
//	pay-fail id=pf1 at=1
//
// The output is the effects, one a line as summary writes them, then the
// order's status and its lines' states, and the error if the saga refused
// the message. Every step is also checked as runSteps checks it: the
// order's invariants, what every effect carries, a redelivery that changes
// nothing, and no change without a history step. Run with -rewrite to
// write what the saga answers into the files after a change of the rules.
func TestSagaScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata/saga", func(t *testing.T, path string) {
		var o Order
		pol := DefaultPolicy()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd == "reset" {
				o = Order{}
				return ""
			}
			in := scenarioInput(t, d)
			next, fx, err := in.apply(o, pol)
			if err != nil && !reflect.DeepEqual(next, o) {
				d.Fatalf(t, "an error changed the order")
			}
			checkStep(t, next)
			checkEffects(t, next, fx)
			if next.Status != StatusUnknown {
				again, fx2, _ := in.apply(next, pol)
				if !fx2.Empty() || !reflect.DeepEqual(again, next) {
					d.Fatalf(t, "a duplicate changed the order or sent %q", summary(fx2))
				}
			}
			if err == nil && in.name != "place" && reflect.DeepEqual(next.History, o.History) && !reflect.DeepEqual(next, o) {
				d.Fatalf(t, "the order changed without a history step")
			}
			o = next
			var b strings.Builder
			for _, e := range summary(fx) {
				fmt.Fprintln(&b, e)
			}
			fmt.Fprintf(&b, "status: %s\n", next.Status)
			if len(next.Lines) > 0 {
				fmt.Fprintf(&b, "lines: %s\n", lineSummary(next))
			}
			switch {
			case errors.Is(err, ErrConflict):
				b.WriteString("error: conflict\n")
			case errors.Is(err, ErrInvalid):
				b.WriteString("error: invalid\n")
			case err != nil:
				fmt.Fprintf(&b, "error: %v\n", err)
			}
			return b.String()
		})
	})
}

// scenarioInput is the message a directive describes.
func scenarioInput(t *testing.T, d *datadriven.TestData) input {
	var sec int
	d.MaybeScanArgs(t, "at", &sec)
	str := func(key, def string) string {
		v := def
		d.MaybeScanArgs(t, key, &v)
		return v
	}
	num := func(key string) int64 {
		var v string
		d.ScanArgs(t, key, &v)
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			d.Fatalf(t, "%s=%s: %v", key, v, err)
		}
		return n
	}
	sku := func() string { return str("sku", "") }
	switch d.Cmd {
	case "place":
		p := two
		p.EventID, p.OrderID, p.Time = str("event", p.EventID), str("order", p.OrderID), at(sec)
		if d.HasArg("no-lines") {
			p.Lines = nil
		}
		if spec := str("lines", ""); spec != "" {
			p.Lines = nil
			for _, l := range strings.Split(spec, ",") {
				f := strings.Split(l, ":")
				qty, _ := strconv.ParseInt(f[1], 10, 64)
				price, _ := strconv.ParseInt(f[2], 10, 64)
				p.Lines = append(p.Lines, Line{SKU: f[0], Qty: qty, UnitPrice: price})
			}
		}
		return place(p)
	case "fraud":
		var codes []string
		if c := str("codes", ""); c != "" {
			codes = strings.Split(c, ",")
		}
		return fraud(str("outcome", ""), sec, codes...)
	case "quote":
		return quote(int32(num("line")), sku(), num("price"), str("currency", "EUR"), sec)
	case "no-price":
		return noPrice(int32(num("line")), sku(), sec)
	case "reserved":
		return reserved(sku(), sec)
	case "refused":
		return refused(sku(), sec)
	case "committed":
		return committed(sku(), sec)
	case "released":
		return released(sku(), sec)
	case "expired":
		return expired(sku(), sec)
	case "inventory":
		e := inventory.Event{OrderID: str("order", oid), SKU: sku(), Reason: str("reason", ""), Time: at(sec)}
		types := map[string]inventory.EventType{"reserved": inventory.EventReserved, "rejected": inventory.EventRejected,
			"committed": inventory.EventCommitted, "released": inventory.EventReleased, "expired": inventory.EventExpired}
		kinds := map[string]inventory.Kind{"reserve": inventory.KindReserve, "commit": inventory.KindCommit, "release": inventory.KindRelease}
		typ, ok := types[str("type", "")]
		if !ok {
			d.Fatalf(t, "unknown event type")
		}
		e.Type = typ
		e.CommandID = str("command", "")
		if k := str("kind", ""); k != "" {
			e.CommandID = CommandID(oid, e.SKU, kinds[k])
		}
		return invEvent(e)
	case "timeout":
		return timeout(num("steps"), sec)
	case "cancel":
		return cancel(str("reason", "buyer"), sec)
	case "pay-fail":
		return payFail(str("id", ""), sec)
	case "paid":
		return paid(str("id", ""), sec)
	}
	d.Fatalf(t, "unknown directive %q", d.Cmd)
	return input{}
}
