package pricing

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseRules(t *testing.T) {
	def := DefaultPolicy()
	for _, tc := range []struct {
		name, file string
		want       func(*Policy) // applied to DefaultPolicy; nil when an error is wanted
		wantErr    string
	}{
		{name: "empty object keeps the defaults", file: `{}`, want: func(*Policy) {}},
		{name: "a discount limit", file: `{"max_campaign_discount_bps": 2000}`,
			want: func(p *Policy) { p.MaxCampaignDiscountBps = 2000 }},
		{name: "the demand rule, in part", file: `{"demand": {"interval": "30s", "ceiling_bps": 500}}`,
			want: func(p *Policy) { p.Demand.Interval, p.Demand.CeilingBps = 30*time.Second, 500 }},
		{name: "demand off", file: `{"demand": {"interval": "0s"}}`, want: func(p *Policy) { p.Demand.Interval = 0 }},
		{name: "unknown field", file: `{"max_discount": 1}`, wantErr: `unknown field "max_discount"`},
		{name: "limit above 100 %", file: `{"max_campaign_discount_bps": 10001}`, wantErr: "max_campaign_discount_bps 10001 not in 0..10000"},
		{name: "negative limit", file: `{"max_campaign_discount_bps": -1}`, wantErr: "max_campaign_discount_bps -1 not in"},
		{name: "bad interval", file: `{"demand": {"interval": "soon"}}`, wantErr: `demand.interval "soon" is not a duration`},
		{name: "negative interval", file: `{"demand": {"interval": "-1m"}}`, wantErr: "demand.interval -1m0s is negative"},
		{name: "floor above ceiling", file: `{"demand": {"floor_bps": 3000}}`, wantErr: "demand.floor_bps 3000 is above demand.ceiling_bps 2000"},
		{name: "not JSON", file: `max 20%`, wantErr: "invalid character"},
		{name: "trailing data", file: `{} {}`, wantErr: "data after the rules object"},
		{name: "wrong type", file: `{"max_campaign_discount_bps": "20%"}`, wantErr: "cannot unmarshal string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRules([]byte(tc.file))
			if tc.want == nil {
				if err == nil || !errors.Is(err, ErrRules) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseRules = %+v, %v; want an ErrRules containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := def
			tc.want(&want)
			if got != want {
				t.Fatalf("ParseRules = %+v, want %+v", got, want)
			}
		})
	}
}

// TestCampaignDiscountLimit: the rules' limit takes a campaign's discount
// down to it, says so in the detail, and leaves smaller discounts alone.
func TestCampaignDiscountLimit(t *testing.T) {
	p := testPolicy()
	p.MaxCampaignDiscountBps = 2000
	for _, tc := range []struct {
		name     string
		campaign Campaign
		price    int64
		detail   string
		// unlimited is the price without the limit.
		unlimited int64
	}{
		{"above the limit", pct("deep", 5000, 0, 1000), 8000, "50.00% off, limited by the rules to 2000", 5000},
		{"at the limit", pct("fair", 2000, 0, 1000), 8000, "20.00% off", 8000},
		{"below the limit", pct("mild", 1000, 0, 1000), 9000, "10.00% off", 9000},
		{"a fixed amount above it", Campaign{ID: "fixed", Kind: CampaignFixed, Amount: 3000, Start: at(0), End: at(1000)}, 8000,
			"3000 off, limited by the rules to 2000", 7000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _ := Apply(NewState(), setBase("sku-1", 10_000, 0), p)
			s, changes, _ := Apply(s, upsert("c", tc.campaign, 1), p)
			if len(changes) != 1 || changes[0].Price != tc.price || changes[0].Contributions[0].Detail != tc.detail {
				t.Fatalf("changes %+v, want price %d with detail %q", changes, tc.price, tc.detail)
			}
			if q, _ := PriceAt(s, at(2), p); q.Price != tc.price {
				t.Fatalf("quote %d, want %d", q.Price, tc.price)
			}
			// The same state read under rules without the limit.
			if q, _ := PriceAt(s, at(2), testPolicy()); q.Price != tc.unlimited {
				t.Fatalf("quote without the limit %d, want %d", q.Price, tc.unlimited)
			}
		})
	}
}

// FuzzParseRules: whatever a rules file holds, ParseRules does not panic,
// and a policy it accepts keeps the bounds it checks.
func FuzzParseRules(f *testing.F) {
	for _, s := range []string{`{}`, `{"max_campaign_discount_bps": 2000}`, `{"demand": {"interval": "30s", "floor_bps": -100, "ceiling_bps": 500}}`,
		`{"demand": null}`, `[]`, `{"demand": {"interval": 5}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseRules(b)
		if err != nil {
			if !errors.Is(err, ErrRules) {
				t.Fatalf("error %v is not an ErrRules", err)
			}
			return
		}
		d := p.Demand
		if p.MaxCampaignDiscountBps < 0 || p.MaxCampaignDiscountBps > 10_000 || d.Interval < 0 || d.FloorBps > d.CeilingBps ||
			d.GainBps < 0 || d.MaxStepBps < 0 {
			t.Fatalf("accepted %q as %+v", b, p)
		}
	})
}
