package pricing

import (
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/millis"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
)

func protoEqual(a, b proto.Message) bool { return proto.Equal(a, b) }

// roundTrip sends m through its bytes, as Kafka and the table do.
func roundTrip[M proto.Message](t *testing.T, m M, into M) M {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(b, into); err != nil {
		t.Fatal(err)
	}
	return into
}

// The plain campaign kinds mirror the wire enum by number.
func TestCampaignKindMatchesWire(t *testing.T) {
	for k, w := range map[CampaignKind]pricingv1.CampaignKind{
		CampaignUnknown: pricingv1.CampaignKind_CAMPAIGN_KIND_UNSPECIFIED,
		CampaignPercent: pricingv1.CampaignKind_CAMPAIGN_KIND_PERCENT,
		CampaignFixed:   pricingv1.CampaignKind_CAMPAIGN_KIND_FIXED,
	} {
		if pricingv1.CampaignKind(k) != w {
			t.Errorf("%v maps to %v, want %v", k, pricingv1.CampaignKind(k), w)
		}
	}
	if got := campaignFromWire(&pricingv1.Campaign{Kind: 7}).Kind; got != CampaignUnknown {
		t.Errorf("an unknown wire kind maps to %v", got)
	}
}

func TestCommandRoundTrip(t *testing.T) {
	for _, c := range []Command{
		setBase("c1", 12_345, 1),
		upsert("c2", pct("spring", 1250, 0, 3600), 2),
		upsert("c3", fixed("flat", 500, 10, 20), 3),
		upsert("c4", Campaign{ID: "from-the-start", Kind: CampaignFixed, Amount: 1, End: at(5)}, 4),
		endCampaign("c5", "spring", 5),
		check("o1", 6),
		{ID: "c7", SKU: "sku-1", Time: at(7)},
		tickAt(8),
	} {
		w := roundTrip(t, CommandToWire(c), &pricingv1.Command{})
		if got := CommandFromWire(w); !reflect.DeepEqual(got, c) {
			t.Errorf("%s: round trip gave %+v, want %+v", c.Kind, got, c)
		}
	}
}

func TestEventsRoundTrip(t *testing.T) {
	pc := PriceChanged{
		SKU: "sku-1", Currency: "EUR", Base: 10_000, Price: 9200,
		Contributions: []Contribution{
			{Rule: RuleDemand, Amount: 200, Detail: "+200 bps of the base price"},
			{Rule: "campaign:a", Amount: -1000, Detail: "1000 off"},
		},
		Cause: CauseCampaignStarted, Time: at(3), Version: 7, CommandID: "c9",
	}
	if got := PriceChangedFromWire(roundTrip(t, PriceChangedToWire(pc), &pricingv1.PriceChanged{})); !reflect.DeepEqual(got, pc) {
		t.Errorf("price changed: %+v, want %+v", got, pc)
	}
	for _, q := range []Quote{
		{OrderID: "o1", SKU: "sku-1", Line: 3, Found: true, Price: 9200, Currency: "EUR", Time: at(4), Contributions: pc.Contributions},
		{OrderID: "o2", SKU: "sku-2", Time: at(5)},
	} {
		if got := QuoteFromWire(roundTrip(t, QuoteToWire(q), &pricingv1.Quote{})); !reflect.DeepEqual(got, q) {
			t.Errorf("quote: %+v, want %+v", got, q)
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	p := testPolicy()
	states := []State{NewState()}
	s := NewState()
	for _, step := range []func(State) State{
		func(s State) State { s, _, _ = Apply(s, setBase("c1", 10_000, 0), p); return s },
		func(s State) State { s, _, _ = Apply(s, upsert("c2", pct("a", 1000, 10, 100), 1), p); return s },
		func(s State) State { s, _ = Observe(s, signal(0, 0, 100, 2), p); return s },
		func(s State) State { s, _ = Observe(s, signal(1, 40, 60, 3), p); return s },
		func(s State) State { s, _ = Tick(s, at(70), p); return s },
		func(s State) State { s, _, _ = Apply(s, endCampaign("c3", "a", 80), p); return s },
	} {
		s = step(s)
		states = append(states, s)
	}
	if len(s.Demand.Buckets) == 0 && s.Demand.AdjustmentBps == 0 {
		t.Fatal("the last state has no demand to round-trip")
	}
	for i, s := range states {
		got := StateFromWire(roundTrip(t, StateToWire(s), &pricingv1.SkuPrice{}))
		if !reflect.DeepEqual(normalize(got), normalize(s)) {
			t.Errorf("state %d: round trip gave\n%+v\nwant\n%+v", i, got, s)
		}
	}
	if got := StateFromWire(nil); !reflect.DeepEqual(got, NewState()) {
		t.Errorf("nil state is %+v", got)
	}
}

// normalize makes empty slices nil: the wire does not tell them apart.
func normalize(s State) State {
	if len(s.Campaigns) == 0 {
		s.Campaigns = nil
	}
	if len(s.Demand.Buckets) == 0 {
		s.Demand.Buckets = nil
	}
	if len(s.Changes) == 0 {
		s.Changes = nil
	}
	if len(s.Applied) == 0 {
		s.Applied = nil
	}
	return s
}

func TestSignalFromInventory(t *testing.T) {
	stock := &inventoryv1.Stock{OnHand: 10, Reserved: 4, Sold: 3}
	ms := at(1).UnixMilli()
	for _, tc := range []struct {
		name string
		ev   *inventoryv1.Event
		want InventorySignal
		ok   bool
	}{
		{"nil", nil, InventorySignal{}, false},
		{"unspecified", &inventoryv1.Event{Sku: "s", Stock: stock}, InventorySignal{}, false},
		{"unknown type", &inventoryv1.Event{Type: 99, Sku: "s", Stock: stock}, InventorySignal{}, false},
		{"reserved", &inventoryv1.Event{Type: inventoryv1.EventType_EVENT_TYPE_RESERVED, Sku: "s", Qty: 4,
			TimestampMs: ms, Offset: 12, Stock: stock},
			InventorySignal{SKU: "s", Time: at(1), Offset: 12, Reserved: 4, Available: 6, StockKnown: true}, true},
		{"rejected reservation counts nothing", &inventoryv1.Event{Type: inventoryv1.EventType_EVENT_TYPE_REJECTED,
			Sku: "s", Qty: 40, TimestampMs: ms, Offset: 13, Stock: stock},
			InventorySignal{SKU: "s", Time: at(1), Offset: 13, Available: 6, StockKnown: true}, true},
		{"restocked", &inventoryv1.Event{Type: inventoryv1.EventType_EVENT_TYPE_RESTOCKED, Sku: "s", Qty: 5,
			TimestampMs: ms, Offset: 14, Stock: stock},
			InventorySignal{SKU: "s", Time: at(1), Offset: 14, Available: 6, StockKnown: true}, true},
		{"no stock", &inventoryv1.Event{Type: inventoryv1.EventType_EVENT_TYPE_EXPIRED, Sku: "s", Qty: 1,
			TimestampMs: ms, Offset: 15},
			InventorySignal{SKU: "s", Time: at(1), Offset: 15}, true},
	} {
		got, ok := SignalFromInventory(tc.ev)
		if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// The time mapping keeps milliseconds and gives UTC, so round trips
// compare equal with reflect.DeepEqual.
func TestMillis(t *testing.T) {
	tm := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	if got := millis.Time(millis.Of(tm)); !got.Equal(tm) || got.Location() != time.UTC {
		t.Fatalf("%v round-trips to %v", tm, got)
	}
	if !millis.Time(millis.Of(time.Time{})).IsZero() {
		t.Fatal("the zero time does not round-trip")
	}
}
