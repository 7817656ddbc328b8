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

func describe(changes []PriceChanged) []string {
	var out []string
	for _, c := range changes {
		out = append(out, fmt.Sprintf("%s %d @%d", c.Cause, c.Price, int(c.Time.Sub(t0)/time.Second)))
	}
	return out
}

func testPolicy() Policy {
	p := DefaultPolicy()
	p.Demand = DemandPolicy{Interval: time.Minute, GainBps: 10_000, FloorBps: 0, CeilingBps: 2_000, MaxStepBps: 200}
	return p
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
	q, _ := PriceAt(s, at(61), p)
	want = []Contribution{
		{Rule: "demand", Amount: 20, Detail: "+200 bps of the base price"},
		{Rule: "campaign:big", Amount: -1020, Detail: "5000 off, capped at 1020"},
	}
	if !reflect.DeepEqual(q.Contributions, want) {
		t.Fatalf("contributions %+v, want %+v", q.Contributions, want)
	}
	s, _, _ = Apply(s, endCampaign("c4", "big", 62), p)
	q, _ = PriceAt(s, at(62), p)
	want = []Contribution{
		{Rule: "demand", Amount: 20, Detail: "+200 bps of the base price"},
		{Rule: "campaign:half", Amount: -125, Detail: "12.50% off"},
	}
	if q.Price != 895 || !reflect.DeepEqual(q.Contributions, want) {
		t.Fatalf("quote %+v, want 895 with %+v", q, want)
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
