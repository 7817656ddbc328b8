package flashsale

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestTakeScenarios runs the scenarios in testdata/take: a bucket of a sale
// (sale(units, buckets), from t0 for an hour, two units a buyer) and the
// takes that reach it, one directive each, beside what admission
// (Admit) would have answered from what the bucket knows:
//
//	open units=5 buckets=1 [bucket=0]
//	fresh                            a bucket not opened yet
//	take qty=2 [already=0] at=1      seconds from the start
//
// A take's output is the bucket's answer ("sold", "rejected:<reason>", or
// "parked" while the bucket borrows), its counts, and "admit: <reason>"
// or "admit: ok". Admission may let through what the bucket refuses, but
// never refuses what it sells, and gives the bucket's own reason when it
// refuses (TestSimulatedSale holds it to that across whole sales). Run
// with -rewrite to write the answers into the files after a change of the
// rules.
func TestTakeScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata/take", func(t *testing.T, path string) {
		var s BucketState
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "fresh":
				s = BucketState{}
				return ""
			case "open":
				var units int64
				var buckets, b int
				d.ScanArgs(t, "units", &units)
				d.ScanArgs(t, "buckets", &buckets)
				d.MaybeScanArgs(t, "bucket", &b)
				s = openBucket(units, buckets, b)
				return fmt.Sprintf("available=%d\n", s.Available)
			case "take":
			default:
				d.Fatalf(t, "unknown directive %q", d.Cmd)
			}
			var qty, already int64
			var sec int
			d.ScanArgs(t, "qty", &qty)
			d.MaybeScanArgs(t, "already", &already)
			d.ScanArgs(t, "at", &sec)
			m := Message{Kind: KindTake, SaleID: "s", IdempotencyKey: "k", UserID: "u", Qty: qty, Already: already,
				Time: t0.Add(time.Duration(sec) * time.Second)}
			before := s
			next, out := DecideBucket(s, m, testRouter{})
			var b strings.Builder
			answer := ""
			switch {
			case len(out.Messages) == 1 && out.Messages[0].Kind == KindTakeResult && out.Messages[0].Reason == "":
				answer = "sold"
			case len(out.Messages) == 1 && out.Messages[0].Kind == KindTakeResult:
				answer = "rejected:" + out.Messages[0].Reason
			case len(next.Parked) > len(before.Parked) && next.Borrowing:
				answer = "parked"
			default:
				d.Fatalf(t, "answer %+v, state %+v", out.Messages, next)
			}
			fmt.Fprintln(&b, answer)
			fmt.Fprintf(&b, "available=%d sold=%d parked=%d\n", next.Available, next.Sold, len(next.Parked))
			if before.Opened {
				admit := Admit(before.Sale, already, before.Sold, qty, m.Time)
				if admit != "" && answer == "sold" {
					t.Errorf("%s: admission refuses (%s) what the bucket sells", d.Pos, admit)
				}
				if admit != "" && strings.HasPrefix(answer, "rejected:") && answer != "rejected:"+admit {
					t.Errorf("%s: admission refuses for %s, the bucket for %s", d.Pos, admit, answer)
				}
				if admit == "" {
					admit = "ok"
				}
				fmt.Fprintf(&b, "admit: %s\n", admit)
			}
			s = next
			return b.String()
		})
	})
}
