package ordergen

import (
	"fmt"
	"strings"
)

// Rate counts the placed orders of one pattern and how many were flagged.
type Rate struct {
	Pattern string
	Orders  int
	Flagged int
	// Missing counts orders that got no decision at all (counted as not
	// flagged).
	Missing int
	// Excluded counts the first orders of incidents left out of Orders.
	Excluded int
}

// Share is Flagged/Orders, 0 when there are no orders.
func (r Rate) Share() float64 {
	if r.Orders == 0 {
		return 0
	}
	return float64(r.Flagged) / float64(r.Orders)
}

func (r Rate) String() string {
	name := r.Pattern
	if name == PatternLegit {
		name = "legit"
	}
	return fmt.Sprintf("%s: %d/%d flagged (%.2f%%), %d without decision, %d excluded",
		name, r.Flagged, r.Orders, 100*r.Share(), r.Missing, r.Excluded)
}

// Report is detection per planted pattern and the false-positive rate.
type Report struct {
	// Detection holds one Rate per pattern, in Patterns order.
	Detection []Rate
	// FalsePositives is the legitimate orders flagged.
	FalsePositives Rate
}

// Pattern returns the detection rate of one pattern.
func (r Report) Pattern(p string) Rate {
	for _, d := range r.Detection {
		if d.Pattern == p {
			return d
		}
	}
	return Rate{Pattern: p}
}

func (r Report) String() string {
	var b strings.Builder
	for _, d := range r.Detection {
		b.WriteString("detection " + d.String() + "\n")
	}
	b.WriteString("false positives " + r.FalsePositives.String())
	return b.String()
}

// Rates measures decisions against the day's labels. flagged maps an order
// id to whether its decision was review or reject; an order missing from it
// had no decision. With excludeFirst, the first order (in time) of every
// incident is left out: nothing distinguishes it before the pattern has
// begun, whatever the model.
func Rates(day Day, flagged map[string]bool, excludeFirst bool) Report {
	rates := map[string]*Rate{PatternLegit: {Pattern: PatternLegit}}
	for _, p := range Patterns {
		rates[p] = &Rate{Pattern: p}
	}
	started := map[int]bool{}
	for _, e := range day.Events {
		if !e.Placed() {
			continue
		}
		r, ok := rates[e.Pattern]
		if !ok {
			r = &Rate{Pattern: e.Pattern}
			rates[e.Pattern] = r
		}
		if e.Incident != 0 && !started[e.Incident] {
			started[e.Incident] = true
			if excludeFirst {
				r.Excluded++
				continue
			}
		}
		r.Orders++
		f, decided := flagged[e.Order.GetOrderId()]
		switch {
		case !decided:
			r.Missing++
		case f:
			r.Flagged++
		}
	}
	var rep Report
	for _, p := range Patterns {
		rep.Detection = append(rep.Detection, *rates[p])
	}
	rep.FalsePositives = *rates[PatternLegit]
	return rep
}
