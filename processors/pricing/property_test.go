package pricing

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
)

// checkInvariants holds after every input, whatever the sequence: prices
// are never negative and are explained by their contributions, versions
// count up by one, the history ends with the current price, and nothing
// is published for a time before the clock's past.
func checkInvariants(t *testing.T, s State, changes []PriceChanged, q *Quote, p Policy) {
	t.Helper()
	explained := func(what string, base, price int64, cs []Contribution) {
		t.Helper()
		sum := base
		for _, c := range cs {
			sum += c.Amount
		}
		if price < 0 || price != sum {
			t.Fatalf("%s: price %d, base %d + contributions %+v = %d", what, price, base, cs, sum)
		}
	}
	for i, c := range changes {
		explained(fmt.Sprintf("change %d", i), c.Base, c.Price, c.Contributions)
		if i > 0 && (c.Version != changes[i-1].Version+1 || c.Time.Before(changes[i-1].Time)) {
			t.Fatalf("change %d: version %d at %v after version %d at %v",
				i, c.Version, c.Time, changes[i-1].Version, changes[i-1].Time)
		}
		if c.Time.After(s.Clock) {
			t.Fatalf("change %d at %v, after the clock %v", i, c.Time, s.Clock)
		}
	}
	if len(changes) > 0 && !reflect.DeepEqual(changes[len(changes)-1], s.Latest) {
		t.Fatalf("latest %+v is not the last change %+v", s.Latest, changes[len(changes)-1])
	}
	if n := len(s.Changes); n > 0 && !reflect.DeepEqual(s.Changes[n-1], s.Latest) {
		t.Fatalf("history ends with %+v, latest is %+v", s.Changes[n-1], s.Latest)
	}
	if q != nil && q.Found {
		explained("quote", s.Base, q.Price, q.Contributions)
	}
	if cur, ok := s.Current(); ok {
		if q, _ := PriceAt(s, s.Clock, p); q.Price != cur.Price || !reflect.DeepEqual(q.Contributions, cur.Contributions) {
			t.Fatalf("published %d %+v, but the price at the clock is %d %+v", cur.Price, cur.Contributions, q.Price, q.Contributions)
		}
	}
	if len(s.Demand.Buckets) > 2 {
		t.Fatalf("%d demand buckets kept", len(s.Demand.Buckets))
	}
}

// input is one random input: a command, an inventory signal or a tick.
type input struct {
	cmd  *Command
	sig  *InventorySignal
	tick time.Time
}

type output struct {
	changes []PriceChanged
	quote   *Quote
}

func (in input) apply(s State, p Policy) (State, output) {
	var out output
	switch {
	case in.cmd != nil:
		s, out.changes, out.quote = Apply(s, *in.cmd, p)
	case in.sig != nil:
		s, out.changes = Observe(s, *in.sig, p)
	default:
		s, out.changes = Tick(s, in.tick, p)
	}
	return s, out
}

// TestProperties drives the SKU with random inputs, with retried commands,
// redelivered inventory events and skewed clocks, and checks the
// invariants after each; a retried command must change nothing. The same
// inputs are then replayed, once straight and once with the state going
// through its wire form between inputs (as it does through the table): all
// three runs must publish the same changes and quotes.
func TestProperties(t *testing.T) {
	for _, p := range []Policy{testPolicy(), smallPolicy()} {
		for seed := range uint64(40) {
			t.Run(fmt.Sprint(p.Demand.MaxStepBps, "/", seed), func(t *testing.T) {
				inputs := randomInputs(rand.New(rand.NewPCG(seed, 7)), 400)
				first := runInputs(t, inputs, p, false)
				if again := runInputs(t, inputs, p, false); !reflect.DeepEqual(again, first) {
					t.Fatal("a replay published something else")
				}
				if wired := runInputs(t, inputs, p, true); !reflect.DeepEqual(wired, first) {
					t.Fatal("a replay through the wire form published something else")
				}
			})
		}
	}
}

// smallPolicy makes bounds bite: a short history, few ids and campaigns,
// and a demand rule that can take a price down.
func smallPolicy() Policy {
	return Policy{
		HistoryLimit:      3,
		DedupeWindow:      time.Minute,
		MaxApplied:        5,
		CampaignRetention: time.Minute,
		MaxCampaigns:      3,
		// Below the largest discounts randomInputs asks for, so the
		// limit bites too.
		MaxCampaignDiscountBps: 3000,
		Demand:                 DemandPolicy{Interval: 10 * time.Second, GainBps: 50_000, FloorBps: 500, CeilingBps: 5000, MaxStepBps: 0},
	}
}

func runInputs(t *testing.T, inputs []input, p Policy, wire bool) []output {
	t.Helper()
	s := NewState()
	var (
		outs    []output
		retries int
	)
	for i, in := range inputs {
		before := s
		var out output
		s, out = in.apply(s, p)
		checkInvariants(t, s, out.changes, out.quote, p)
		if c := in.cmd; c != nil && c.Kind != KindCheck && c.Kind != KindTick && c.valid() {
			if before.applied(c.ID, c.Time, p) {
				if len(out.changes) != 0 || !protoEqual(StateToWire(before), StateToWire(s)) {
					t.Fatalf("input %d: retry of %s changed the state or published %+v", i, c.ID, out.changes)
				}
				retries++
			} else if !s.applied(c.ID, c.Time, p) {
				t.Fatalf("input %d: %s not remembered", i, c.ID)
			}
		}
		if wire {
			b, err := proto.Marshal(StateToWire(s))
			if err != nil {
				t.Fatal(err)
			}
			var w pricingv1.SkuPrice
			if err := proto.Unmarshal(b, &w); err != nil {
				t.Fatal(err)
			}
			s = StateFromWire(&w)
		}
		outs = append(outs, out)
	}
	if retries == 0 {
		t.Fatal("no retry was recognised: the sequence does not test dedupe")
	}
	return outs
}

func randomInputs(rng *rand.Rand, n int) []input {
	var (
		inputs []input
		clock  = t0
		offset int64
		avail  = int64(rng.IntN(50))
		sent   []input
	)
	ids := []string{"a", "b", "c", "d", "e"}
	for i := range n {
		// Clocks of producers disagree: sometimes an input is from the past.
		clock = clock.Add(time.Duration(rng.IntN(15_000)-2_000) * time.Millisecond)
		now := clock.Truncate(time.Millisecond)
		var in input
		switch k := rng.IntN(20); {
		case len(sent) > 0 && k < 3:
			// A retry or a redelivery, mostly soon, sometimes much later.
			from := 0
			if rng.IntN(3) > 0 {
				from = max(len(sent)-10, 0)
			}
			in = sent[from+rng.IntN(len(sent)-from)]
		case k < 5:
			c := Command{ID: fmt.Sprint("c", i), Kind: KindSetBase, SKU: "sku-1", Time: now,
				BasePrice: int64(rng.IntN(5) * rng.IntN(10_000)), Currency: "EUR"}
			in.cmd = &c
		case k < 8:
			start := now.Add(time.Duration(rng.IntN(120)-30) * time.Second)
			cp := Campaign{ID: ids[rng.IntN(len(ids))], Start: start,
				End: start.Add(time.Duration(rng.IntN(120)-5) * time.Second)}
			if rng.IntN(2) == 0 {
				cp.Kind, cp.PercentBps = CampaignPercent, int64(rng.IntN(10_001))
			} else {
				cp.Kind, cp.Amount = CampaignFixed, int64(rng.IntN(20_000))
			}
			c := Command{ID: fmt.Sprint("c", i), Kind: KindUpsertCampaign, SKU: "sku-1", Time: now, Campaign: cp}
			in.cmd = &c
		case k < 9:
			c := Command{ID: fmt.Sprint("c", i), Kind: KindEndCampaign, SKU: "sku-1", Time: now,
				CampaignID: ids[rng.IntN(len(ids))]}
			in.cmd = &c
		case k < 12:
			c := Command{ID: fmt.Sprint("c", i), Kind: KindCheck, SKU: "sku-1", OrderID: fmt.Sprint("o", i),
				Time: now.Add(-time.Duration(rng.IntN(60)) * time.Second)}
			in.cmd = &c
		case k < 18:
			offset++
			sig := InventorySignal{SKU: "sku-1", Time: now, Offset: offset, StockKnown: rng.IntN(10) > 0}
			switch rng.IntN(3) {
			case 0:
				avail += int64(rng.IntN(100))
			case 1:
				sig.Reserved = int64(rng.IntN(int(avail) + 1))
				avail -= sig.Reserved
			}
			sig.Available = avail
			in.sig = &sig
		default:
			// Half the ticks come as commands, the way the ticker sends
			// them, so they are retried and redelivered like any other.
			at := now.Add(time.Duration(rng.IntN(300)) * time.Second)
			if rng.IntN(2) == 0 {
				in.cmd = &Command{ID: fmt.Sprint("tick/sku-1/", at.UnixMilli()), Kind: KindTick, SKU: "sku-1", Time: at}
			} else {
				in.tick = at
			}
		}
		inputs = append(inputs, in)
		if in.tick.IsZero() {
			sent = append(sent, in)
		}
	}
	return inputs
}
