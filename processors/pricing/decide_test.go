package pricing

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func setBase(id string, price int64, sec int) Command {
	return Command{ID: id, Kind: KindSetBase, SKU: "sku-1", BasePrice: price, Currency: "EUR", Time: at(sec)}
}

func upsert(id string, c Campaign, sec int) Command {
	return Command{ID: id, Kind: KindUpsertCampaign, SKU: "sku-1", Campaign: c, Time: at(sec)}
}

func endCampaign(id, campaign string, sec int) Command {
	return Command{ID: id, Kind: KindEndCampaign, SKU: "sku-1", CampaignID: campaign, Time: at(sec)}
}

func check(order string, sec int) Command {
	return Command{ID: "chk-" + order, Kind: KindCheck, SKU: "sku-1", OrderID: order, Line: 1, Time: at(sec)}
}

// tickAt is the command the ticker sends to bring the SKU to sec.
func tickAt(sec int) Command {
	return Command{ID: fmt.Sprintf("tick/sku-1/%d", at(sec).UnixMilli()), Kind: KindTick, SKU: "sku-1", Time: at(sec)}
}

func pct(id string, bps int64, from, to int) Campaign {
	return Campaign{ID: id, Kind: CampaignPercent, PercentBps: bps, Start: at(from), End: at(to)}
}

func fixed(id string, amount int64, from, to int) Campaign {
	return Campaign{ID: id, Kind: CampaignFixed, Amount: amount, Start: at(from), End: at(to)}
}

// signal is an inventory event at sec with the command offset off,
// reserving qty (0 for other events) and leaving avail.
func signal(off int64, qty, avail int64, sec int) InventorySignal {
	return InventorySignal{SKU: "sku-1", Time: at(sec), Offset: off, Reserved: qty, Available: avail, StockKnown: true}
}

// step is one input and what it must produce. Exactly one of cmd, sig and
// tick is set.
type step struct {
	cmd  *Command
	sig  *InventorySignal
	tick int // seconds; used when cmd and sig are nil

	// want lists the changes as "cause price @sec".
	want []string
	// quote is the quoted price of a check, "none" when not found.
	quote string
}

func cmd(c Command, want ...string) step { return step{cmd: &c, want: want} }

func sig(s InventorySignal, want ...string) step { return step{sig: &s, want: want} }

func tick(sec int, want ...string) step { return step{tick: sec, want: want} }

func quote(c Command, price string, want ...string) step {
	return step{cmd: &c, quote: price, want: want}
}

func describe(changes []PriceChanged) []string {
	var out []string
	for _, c := range changes {
		out = append(out, fmt.Sprintf("%s %d @%d", c.Cause, c.Price, int(c.Time.Sub(t0)/time.Second)))
	}
	return out
}

// run feeds the steps to a fresh state and checks each one's output.
func run(t *testing.T, p Policy, steps []step) State {
	t.Helper()
	s := NewState()
	for i, st := range steps {
		var (
			changes []PriceChanged
			q       *Quote
			what    string
		)
		switch {
		case st.cmd != nil:
			s, changes, q = Apply(s, *st.cmd, p)
			what = fmt.Sprintf("%s %s", st.cmd.Kind, st.cmd.ID)
		case st.sig != nil:
			s, changes = Observe(s, *st.sig, p)
			what = fmt.Sprintf("signal %d", st.sig.Offset)
		default:
			s, changes = Tick(s, at(st.tick), p)
			what = fmt.Sprintf("tick %d", st.tick)
		}
		if got := describe(changes); !reflect.DeepEqual(got, st.want) {
			t.Fatalf("step %d (%s): changes %q, want %q", i, what, got, st.want)
		}
		checkInvariants(t, s, changes, q)
		if st.quote == "" {
			if q != nil {
				t.Fatalf("step %d (%s): unexpected quote %+v", i, what, *q)
			}
			continue
		}
		got := "none"
		switch {
		case q == nil:
			got = "nil"
		case q.Found:
			got = fmt.Sprint(q.Price)
		}
		if got != st.quote {
			t.Fatalf("step %d (%s): quote %s, want %s", i, what, got, st.quote)
		}
	}
	return s
}

func testPolicy() Policy {
	p := DefaultPolicy()
	p.Demand = DemandPolicy{Interval: time.Minute, GainBps: 10_000, FloorBps: 0, CeilingBps: 2_000, MaxStepBps: 200}
	return p
}

func TestApplyCommands(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"no price before a base price", []step{
			quote(check("o1", 0), "none"),
			cmd(upsert("c1", pct("spring", 1000, 0, 100), 1)),
			quote(check("o2", 2), "none"),
			cmd(setBase("c2", 10_000, 3), "base_price 9000 @3"),
		}},
		{"base price changes and repeats", []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			cmd(setBase("c2", 10_000, 1)),
			cmd(setBase("c3", 12_000, 2), "base_price 12000 @2"),
			cmd(setBase("c4", 0, 3), "base_price 0 @3"),
		}},
		{"duplicate commands change nothing", []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			cmd(setBase("c1", 20_000, 1)),
			cmd(upsert("c2", pct("a", 1000, 0, 100), 2), "campaign_started 9000 @2"),
			cmd(upsert("c2", pct("a", 5000, 0, 100), 3)),
			cmd(endCampaign("c3", "a", 4), "campaign_ended 10000 @4"),
			cmd(endCampaign("c3", "a", 5)),
			quote(check("o1", 6), "10000"),
		}},
		{"campaign boundaries: start inclusive, end exclusive", []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			cmd(upsert("c2", pct("spring", 1000, 60, 120), 1)),
			quote(check("o1", 59), "10000"),
			quote(check("o2", 60), "9000", "campaign_started 9000 @60"),
			quote(check("o3", 119), "9000"),
			quote(check("o4", 120), "10000", "campaign_ended 10000 @120"),
		}},
		{"a check after the end gets the price of its own time", []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			cmd(upsert("c2", pct("spring", 1000, 60, 120), 1)),
			tick(300, "campaign_started 9000 @60", "campaign_ended 10000 @120"),
			quote(check("placed-before-end", 119), "9000"),
			quote(check("placed-at-end", 120), "10000"),
			quote(check("placed-before-start", 59), "10000"),
		}},
		{"overlapping campaigns: only the best applies", []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			cmd(upsert("c2", pct("ten", 1000, 0, 100), 0), "campaign_started 9000 @0"),
			cmd(upsert("c3", fixed("fifteen-hundred", 1500, 50, 150), 1)),
			cmd(upsert("c4", pct("twenty", 2000, 80, 90), 2)),
			tick(200,
				"campaign_updated 8500 @50",
				"campaign_updated 8000 @80",
				"campaign_updated 8500 @90",
				"campaign_ended 10000 @150"),
			quote(check("o1", 85), "8000"),
		}},
		{"equal discounts tie to the smallest id", []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			cmd(upsert("c2", fixed("b", 1000, 0, 100), 1), "campaign_started 9000 @1"),
			cmd(upsert("c3", pct("a", 1000, 0, 100), 2), "campaign_updated 9000 @2"),
			cmd(upsert("c4", pct("c", 1000, 0, 100), 3)),
		}},
		{"fixed discount larger than the price", []step{
			cmd(setBase("c1", 1000, 0), "base_price 1000 @0"),
			cmd(upsert("c2", fixed("big", 5000, 0, 100), 1), "campaign_started 0 @1"),
			cmd(setBase("c3", 8000, 2), "base_price 3000 @2"),
		}},
		{"upsert replaces a campaign by id", []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			cmd(upsert("c2", pct("a", 1000, 0, 100), 1), "campaign_started 9000 @1"),
			cmd(upsert("c3", pct("a", 2500, 0, 100), 2), "campaign_updated 7500 @2"),
			cmd(upsert("c4", pct("a", 2500, 0, 2), 3), "campaign_ended 10000 @3"),
			quote(check("o1", 1), "7500"),
		}},
		{"end campaign cuts it short but keeps it for late checks", []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			cmd(upsert("c2", pct("a", 1000, 0, 100), 1), "campaign_started 9000 @1"),
			cmd(endCampaign("c3", "a", 30), "campaign_ended 10000 @30"),
			quote(check("o1", 29), "9000"),
			quote(check("o2", 50), "10000"),
			cmd(endCampaign("c4", "unknown", 31)),
		}},
		{"ending a campaign that has not started drops it", []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			cmd(upsert("c2", pct("later", 1000, 100, 200), 1)),
			cmd(endCampaign("c3", "later", 50)),
			tick(150),
			quote(check("o1", 150), "10000"),
		}},
		{"the clock never goes back", []step{
			cmd(setBase("c1", 10_000, 100), "base_price 10000 @100"),
			cmd(upsert("c2", pct("past", 1000, 40, 60), 101)),
			cmd(setBase("c3", 11_000, 50), "base_price 11000 @101"),
			tick(10),
			quote(check("o1", 50), "9900"),
		}},
		{"invalid commands are ignored", []step{
			cmd(Command{ID: "c0", Kind: KindUnknown, SKU: "sku-1", Time: at(0)}),
			cmd(Command{ID: "c1", Kind: KindSetBase, SKU: "sku-1", BasePrice: 1, Currency: "eur", Time: at(0)}),
			cmd(Command{ID: "c2", Kind: KindSetBase, SKU: "sku-1", BasePrice: -1, Currency: "EUR", Time: at(0)}),
			cmd(Command{ID: "c3", Kind: KindSetBase, SKU: "sku-1", BasePrice: 1, Currency: "EUR"}),
			cmd(setBase("c4", 10_000, 0), "base_price 10000 @0"),
			cmd(upsert("c5", pct("empty", 1000, 10, 10), 1)),
			cmd(upsert("c6", pct("too-much", 10_001, 0, 10), 1)),
			cmd(upsert("c7", Campaign{ID: "kindless", Start: at(0), End: at(10)}, 1)),
			cmd(upsert("c8", fixed("", 100, 0, 10), 1)),
			cmd(endCampaign("c9", "", 1)),
			step{cmd: &Command{ID: "c10", Kind: KindCheck, SKU: "sku-1", Line: 0, Time: at(1)}, quote: "nil"},
			step{cmd: &Command{ID: "c11", Kind: KindCheck, SKU: "sku-1", OrderID: "o", Line: -1, Time: at(1)}, quote: "nil"},
			cmd(setBase("c1", 12_000, 2), "base_price 12000 @2"),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { run(t, testPolicy(), tc.steps) })
	}
}

func TestContributionsExplainThePrice(t *testing.T) {
	p := testPolicy()
	s := NewState()
	s, _, _ = Apply(s, setBase("c1", 1000, 0), p)
	s, _, _ = Apply(s, upsert("c2", fixed("big", 5000, 0, 1000), 0), p)
	s, _ = Observe(s, signal(0, 0, 10, 0), p)
	s, _ = Observe(s, signal(1, 5, 5, 1), p)
	s, changes := Tick(s, at(60), p)
	if len(changes) != 1 {
		t.Fatalf("changes %+v", changes)
	}
	want := []Contribution{
		{Rule: "demand", Amount: 20, Detail: "+200 bps of the base price"},
		{Rule: "campaign:big", Amount: -1020, Detail: "5000 off, capped at 1020"},
	}
	if c := changes[0]; c.Price != 0 || c.Base != 1000 || c.Cause != CauseDemand || !reflect.DeepEqual(c.Contributions, want) {
		t.Fatalf("change %+v, want price 0 with %+v", c, want)
	}

	s, _, _ = Apply(s, upsert("c3", pct("half", 1250, 0, 1000), 61), p)
	q, _ := PriceAt(s, at(61))
	want = []Contribution{
		{Rule: "demand", Amount: 20, Detail: "+200 bps of the base price"},
		{Rule: "campaign:big", Amount: -1020, Detail: "5000 off, capped at 1020"},
	}
	if !reflect.DeepEqual(q.Contributions, want) {
		t.Fatalf("contributions %+v, want %+v", q.Contributions, want)
	}
	s, _, _ = Apply(s, endCampaign("c4", "big", 62), p)
	q, _ = PriceAt(s, at(62))
	want = []Contribution{
		{Rule: "demand", Amount: 20, Detail: "+200 bps of the base price"},
		{Rule: "campaign:half", Amount: -125, Detail: "12.50% off"},
	}
	if q.Price != 895 || !reflect.DeepEqual(q.Contributions, want) {
		t.Fatalf("quote %+v, want 895 with %+v", q, want)
	}
}

func TestDemand(t *testing.T) {
	tests := []struct {
		name   string
		policy func(*Policy)
		steps  []step
	}{
		{"a burst raises the price by at most a step per interval", nil, []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			sig(signal(0, 0, 100, 0)),
			sig(signal(1, 30, 70, 10)),
			tick(59),
			tick(60, "demand 10200 @60"),
			sig(signal(2, 30, 40, 70)),
			tick(120, "demand 10400 @120"),
			tick(179),
			tick(180, "demand 10200 @180"),
			tick(240, "demand 10000 @240"),
			tick(1000),
		}},
		{"the adjustment stops at the ceiling", func(p *Policy) { p.Demand.MaxStepBps = 1000 }, []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			sig(signal(0, 0, 1000, 0)),
			sig(signal(1, 500, 500, 30)),
			sig(signal(2, 100, 400, 90), "demand 11000 @60"),
			sig(signal(3, 100, 300, 150), "demand 12000 @120"),
			sig(signal(4, 100, 200, 210)),
			tick(1000, "demand 11000 @300", "demand 10000 @360"),
		}},
		{"a restock lowers the pressure of the interval", nil, []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			sig(signal(0, 0, 200, 0)),
			sig(signal(1, 100, 100, 1)),
			sig(signal(2, 0, 1_000_000, 2)), // 100 of a million left: 1 bps
			tick(60, "demand 10001 @60"),
		}},
		{"steps taken while unpriced are caught up", nil, []step{
			sig(signal(0, 0, 10, 0)),
			sig(signal(1, 10, 0, 1)),
			sig(signal(2, 10, 0, 61)),
			sig(signal(3, 10, 0, 121)),
			cmd(setBase("c1", 10_000, 200), "base_price 10600 @200"),
			quote(check("o1", 330), "10200", "demand 10400 @240", "demand 10200 @300"),
		}},
		{"without an interval cap the adjustment jumps", func(p *Policy) { p.Demand.MaxStepBps = 0 }, []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			sig(signal(0, 0, 100, 0)),
			sig(signal(1, 10, 90, 1)),
			tick(60, "demand 11111 @60"),
			tick(120, "demand 10000 @120"),
		}},
		{"a floor lifts a quiet SKU", func(p *Policy) { p.Demand.FloorBps = 300 }, []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			sig(signal(0, 0, 100, 0)),
			tick(60, "demand 10200 @60"),
			tick(120, "demand 10300 @120"),
			tick(1000),
		}},
		{"redelivered and repeated events count once", nil, []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			sig(signal(0, 0, 100, 0)),
			sig(signal(1, 1, 99, 1)),
			sig(signal(1, 1, 99, 2)),
			sig(signal(0, 0, 100, 3)), // a stale stock level is not taken
			sig(signal(1, 1, 99, 4)),
			// pressure 1/99 is a target of 101 bps, not 3/99 = 303.
			tick(60, "demand 10101 @60"),
		}},
		{"expiries and a reservation from one inventory command", nil, []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			sig(signal(0, 0, 1000, 0)),
			sig(signal(4, 0, 1000, 1)),
			sig(signal(4, 10, 990, 1)),
			tick(60, "demand 10101 @60"),
		}},
		{"late events count in the open interval", nil, []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			sig(signal(0, 0, 100, 0)),
			tick(61),
			sig(signal(1, 1, 99, 30)),
			tick(119),
			tick(120, "demand 10101 @120"),
		}},
		{"no stock known, no adjustment", nil, []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			sig(InventorySignal{SKU: "sku-1", Time: at(1), Offset: 1, Reserved: 50}),
			tick(60),
			tick(600),
		}},
		{"demand off", func(p *Policy) { p.Demand.Interval = 0 }, []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			sig(signal(0, 0, 10, 0)),
			sig(signal(1, 10, 0, 1)),
			tick(600),
		}},
		{"demand on a base price of 0 moves nothing but the explanation", nil, []step{
			cmd(setBase("c1", 0, 0), "base_price 0 @0"),
			sig(signal(0, 0, 10, 0)),
			sig(signal(1, 10, 0, 1)),
			tick(60, "demand 0 @60"),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := testPolicy()
			if tc.policy != nil {
				tc.policy(&p)
			}
			run(t, p, tc.steps)
		})
	}
}

func TestApplyTick(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"publishes what time alone changed", []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			cmd(upsert("c2", pct("spring", 1000, 60, 120), 1)),
			cmd(tickAt(59)),
			cmd(tickAt(60), "campaign_started 9000 @60"),
			cmd(tickAt(200), "campaign_ended 10000 @120"),
		}},
		{"each boundary crossed is published at its own time", []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			cmd(upsert("c2", pct("spring", 1000, 60, 120), 1)),
			cmd(tickAt(300), "campaign_started 9000 @60", "campaign_ended 10000 @120"),
		}},
		{"a repeated or late tick is harmless", []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			cmd(upsert("c2", pct("spring", 1000, 60, 120), 1)),
			cmd(tickAt(60), "campaign_started 9000 @60"),
			cmd(tickAt(60)),
			cmd(tickAt(30)),
			cmd(tickAt(120), "campaign_ended 10000 @120"),
		}},
		{"demand decays on ticks alone", []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			sig(signal(0, 0, 10, 1)),
			sig(signal(1, 5, 5, 2)),
			cmd(tickAt(60), "demand 10200 @60"),
			cmd(tickAt(120), "demand 10000 @120"),
			cmd(tickAt(180)),
		}},
		{"nothing without a base price", []step{
			cmd(upsert("c1", pct("spring", 1000, 60, 120), 0)),
			cmd(tickAt(200)),
			cmd(setBase("c2", 10_000, 201), "base_price 10000 @201"),
		}},
		{"a tick without a time is ignored", []step{
			cmd(setBase("c1", 10_000, 0), "base_price 10000 @0"),
			cmd(upsert("c2", pct("spring", 1000, 60, 120), 1)),
			cmd(Command{ID: "t", Kind: KindTick, SKU: "sku-1"}),
			quote(check("o1", 2), "10000"),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { run(t, testPolicy(), tc.steps) })
	}
}

// A tick command decides exactly as Tick does, and is never remembered:
// its id says nothing a later tick could repeat by mistake.
func TestTickCommandIsTick(t *testing.T) {
	p := testPolicy()
	s := NewState()
	s, _, _ = Apply(s, setBase("c1", 10_000, 0), p)
	s, _, _ = Apply(s, upsert("c2", pct("spring", 1000, 60, 120), 1), p)
	s, _ = Observe(s, signal(0, 0, 10, 2), p)
	s, _ = Observe(s, signal(1, 5, 5, 3), p)
	for _, sec := range []int{30, 60, 61, 119, 120, 180, 600} {
		viaTick, want := Tick(s, at(sec), p)
		viaCmd, got, q := Apply(s, tickAt(sec), p)
		if q != nil {
			t.Fatalf("tick at %d answered a quote", sec)
		}
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(viaCmd, viaTick) {
			t.Fatalf("tick at %d: command gave %q and %+v, Tick gave %q and %+v",
				sec, describe(got), viaCmd, describe(want), viaTick)
		}
		if viaCmd.applied(tickAt(sec).ID, at(sec), p) {
			t.Fatalf("tick at %d was remembered", sec)
		}
		s = viaCmd
	}
}

func TestNextChange(t *testing.T) {
	p := testPolicy()
	s := NewState()
	s, _, _ = Apply(s, upsert("c1", pct("a", 1000, 100, 200), 0), p)
	if got := NextChange(s); !got.IsZero() {
		t.Fatalf("next change without a base price: %v", got)
	}
	s, _, _ = Apply(s, setBase("c2", 10_000, 0), p)
	if got := NextChange(s); !got.Equal(at(100)) {
		t.Fatalf("next change %v, want the start", got)
	}
	s, _ = Tick(s, at(100), p)
	if got := NextChange(s); !got.Equal(at(200)) {
		t.Fatalf("next change %v, want the end", got)
	}
	s, _ = Observe(s, signal(0, 0, 10, 110), p)
	s, _ = Observe(s, signal(1, 5, 5, 111), p)
	if got := NextChange(s); !got.Equal(at(120)) {
		t.Fatalf("next change %v, want the close of the interval", got)
	}
	for range 5 {
		s, _ = Tick(s, NextChange(s), p)
	}
	s, _ = Tick(s, at(10_000), p)
	if got := NextChange(s); !got.IsZero() {
		t.Fatalf("next change once settled: %v", got)
	}
}

func TestHistory(t *testing.T) {
	p := testPolicy()
	p.HistoryLimit = 3
	s := NewState()
	if _, ok := s.Current(); ok {
		t.Fatal("a new state has a current price")
	}
	for i := range 5 {
		s, _, _ = Apply(s, setBase(fmt.Sprint("c", i), int64(100+i), i), p)
	}
	cur, ok := s.Current()
	if !ok || cur.Version != 5 || cur.Price != 104 || cur.CommandID != "c4" {
		t.Fatalf("current %+v", cur)
	}
	var versions []int64
	for _, c := range s.History(0) {
		versions = append(versions, c.Version)
	}
	if !reflect.DeepEqual(versions, []int64{5, 4, 3}) {
		t.Fatalf("history versions %v", versions)
	}
	if h := s.History(1); len(h) != 1 || h[0].Version != 5 {
		t.Fatalf("history(1) %+v", h)
	}
}

func TestDedupeWindow(t *testing.T) {
	p := testPolicy()
	p.DedupeWindow = time.Minute
	p.MaxApplied = 2
	s := NewState()
	s, ch, _ := Apply(s, setBase("c1", 100, 0), p)
	if len(ch) != 1 {
		t.Fatal("first set base published nothing")
	}
	if _, ch, _ = Apply(s, setBase("c1", 200, 59), p); len(ch) != 0 {
		t.Fatal("retry within the window published")
	}
	if _, ch, _ = Apply(s, setBase("c1", 200, 61), p); len(ch) != 1 {
		t.Fatal("retry after the window is not a new command")
	}
	s, _, _ = Apply(s, setBase("c2", 200, 1), p)
	s, _, _ = Apply(s, setBase("c3", 300, 2), p)
	if len(s.Applied) != 2 || s.Applied[0].CommandID != "c2" {
		t.Fatalf("applied %+v, want the newest 2", s.Applied)
	}
}

func TestMaxCampaigns(t *testing.T) {
	p := testPolicy()
	p.MaxCampaigns = 2
	s := NewState()
	s, _, _ = Apply(s, upsert("c1", pct("ends-last", 1000, 0, 300), 0), p)
	s, _, _ = Apply(s, upsert("c2", pct("ends-first", 1000, 0, 100), 0), p)
	s, _, _ = Apply(s, upsert("c3", pct("ends-between", 1000, 0, 200), 0), p)
	var ids []string
	for _, c := range s.Campaigns {
		ids = append(ids, c.ID)
	}
	if strings.Join(ids, ",") != "ends-between,ends-last" {
		t.Fatalf("campaigns %v", ids)
	}
}

func TestCampaignRetention(t *testing.T) {
	p := testPolicy()
	p.CampaignRetention = time.Hour
	s := NewState()
	s, _, _ = Apply(s, upsert("c1", pct("a", 1000, 0, 100), 0), p)
	s, _ = Tick(s, at(100).Add(time.Hour), p)
	if _, ok := s.Campaign("a"); !ok {
		t.Fatal("campaign dropped at the edge of the retention")
	}
	s, _ = Tick(s, at(101).Add(time.Hour), p)
	if _, ok := s.Campaign("a"); ok {
		t.Fatal("campaign kept past the retention")
	}
}

func TestInputStateUnchanged(t *testing.T) {
	p := testPolicy()
	s := NewState()
	s, _, _ = Apply(s, setBase("c1", 100, 0), p)
	s, _, _ = Apply(s, upsert("c2", pct("a", 1000, 0, 100), 1), p)
	s, _ = Observe(s, signal(0, 0, 10, 2), p)
	s, _ = Observe(s, signal(1, 1, 9, 3), p)
	before := StateToWire(s)
	Apply(s, endCampaign("c3", "a", 4), p)
	Apply(s, upsert("c4", pct("b", 2000, 0, 100), 4), p)
	Observe(s, signal(2, 5, 4, 5), p)
	Tick(s, at(1000), p)
	if after := StateToWire(s); !protoEqual(before, after) {
		t.Fatal("an input modified its caller's state")
	}
}
