package pricingtopo_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/processors/pricing"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
	"github.com/titan-commerce/titan/topologies/pricingtopo"
)

// TestQuoterAnswersAsTheGroup: the saga's quote from the table is the
// group's answer to the same check, at the check's time, from the state as
// the table holds it, which it leaves as it was.
func TestQuoterAnswersAsTheGroup(t *testing.T) {
	policy := pricing.DefaultPolicy()
	t0 := time.UnixMilli(1_780_000_000_000)
	ms := func(d time.Duration) int64 { return t0.Add(d).UnixMilli() }
	apply := func(s pricing.State, cmds ...*pricingv1.Command) pricing.State {
		for _, c := range cmds {
			s, _, _ = pricing.Apply(s, pricing.CommandFromWire(c), policy)
		}
		return s
	}
	base := &pricingv1.Command{CommandId: "base", Sku: "s", TimestampMs: ms(0),
		Kind: &pricingv1.Command_SetBase{SetBase: &pricingv1.SetBasePrice{PriceMinor: 10_000, Currency: "EUR"}}}
	campaign := &pricingv1.Command{CommandId: "campaign", Sku: "s", TimestampMs: ms(0),
		Kind: &pricingv1.Command_UpsertCampaign{UpsertCampaign: &pricingv1.UpsertCampaign{Campaign: &pricingv1.Campaign{
			Id: "c", Kind: pricingv1.CampaignKind_CAMPAIGN_KIND_PERCENT, PercentBps: 2500,
			StartsAtMs: ms(time.Minute), EndsAtMs: ms(time.Hour)}}}}
	check := func(at time.Duration) *pricingv1.Command {
		return &pricingv1.Command{CommandId: "titan:check:o:0", Sku: "s", TimestampMs: ms(at),
			Kind: &pricingv1.Command_Check{Check: &pricingv1.CheckPrice{OrderId: "o", Line: 0}}}
	}
	priced := apply(pricing.NewState(), base)
	withCampaign := apply(pricing.NewState(), base, campaign)
	for _, tc := range []struct {
		name  string
		state any
		check *pricingv1.Command
		want  *pricingv1.Quote // nil: no answer
	}{
		{"never priced", nil, check(0), &pricingv1.Quote{OrderId: "o", Sku: "s", TimestampMs: ms(0)}},
		{"base price", priced, check(time.Second), &pricingv1.Quote{OrderId: "o", Sku: "s", Found: true, PriceMinor: 10_000, Currency: "EUR", TimestampMs: ms(time.Second)}},
		{"before the campaign", withCampaign, check(30 * time.Second),
			&pricingv1.Quote{OrderId: "o", Sku: "s", Found: true, PriceMinor: 10_000, Currency: "EUR", TimestampMs: ms(30 * time.Second)}},
		// No tick has told the table the campaign began; the check's time
		// is past its start, and the group would quote the campaign price.
		{"in the campaign, before its tick", withCampaign, check(2 * time.Minute),
			&pricingv1.Quote{OrderId: "o", Sku: "s", Found: true, PriceMinor: 7_500, Currency: "EUR", TimestampMs: ms(2 * time.Minute)}},
		{"not a check", priced, base, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before []byte
			if s, ok := tc.state.(pricing.State); ok {
				before, _ = pricingtopo.StateCodec.Encode(s)
			}
			got := pricingtopo.Quoter(policy)(tc.state, tc.check)
			if tc.want == nil {
				if got != nil {
					t.Fatalf("quote %v, want none", got)
				}
				return
			}
			// The group's own answer to the check, as its callback
			// computes it from the same state.
			s, ok := tc.state.(pricing.State)
			if !ok {
				s = pricing.NewState()
			}
			_, _, q := pricing.Apply(s, pricing.CommandFromWire(tc.check), policy)
			if q == nil || !proto.Equal(got, pricing.QuoteToWire(*q)) {
				t.Fatalf("quote %v, the group answers %v", got, q)
			}
			// What the saga reads of it; contributions are the group's
			// explanation.
			if got.GetOrderId() != tc.want.GetOrderId() || got.GetSku() != tc.want.GetSku() || got.GetFound() != tc.want.GetFound() ||
				got.GetPriceMinor() != tc.want.GetPriceMinor() || got.GetCurrency() != tc.want.GetCurrency() || got.GetTimestampMs() != tc.want.GetTimestampMs() {
				t.Fatalf("quote %v, want %v", got, tc.want)
			}
			if s, ok := tc.state.(pricing.State); ok {
				after, _ := pricingtopo.StateCodec.Encode(s)
				if string(after) != string(before) {
					t.Fatal("quoting changed the state it read")
				}
			}
		})
	}
}
