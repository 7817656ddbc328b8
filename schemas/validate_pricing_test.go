package schemas_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/titan-commerce/titan/schemas"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
)

func pricingCmd(kind string, mut func(*pricingv1.Command)) *pricingv1.Command {
	cmd := &pricingv1.Command{CommandId: "cmd-1", Sku: "SKU-1", TimestampMs: 1_700_000_000_000}
	switch kind {
	case "set_base":
		cmd.Kind = &pricingv1.Command_SetBase{SetBase: &pricingv1.SetBasePrice{PriceMinor: 1999, Currency: "EUR"}}
	case "percent":
		cmd.Kind = &pricingv1.Command_UpsertCampaign{UpsertCampaign: &pricingv1.UpsertCampaign{Campaign: &pricingv1.Campaign{
			Id: "spring", Kind: pricingv1.CampaignKind_CAMPAIGN_KIND_PERCENT, PercentBps: 1500,
			StartsAtMs: 1_700_000_000_000, EndsAtMs: 1_700_000_060_000}}}
	case "fixed":
		cmd.Kind = &pricingv1.Command_UpsertCampaign{UpsertCampaign: &pricingv1.UpsertCampaign{Campaign: &pricingv1.Campaign{
			Id: "flat", Kind: pricingv1.CampaignKind_CAMPAIGN_KIND_FIXED, AmountMinor: 500,
			StartsAtMs: 1_700_000_000_000, EndsAtMs: 1_700_000_060_000}}}
	case "end":
		cmd.Kind = &pricingv1.Command_EndCampaign{EndCampaign: &pricingv1.EndCampaign{CampaignId: "spring"}}
	case "check":
		cmd.Kind = &pricingv1.Command_Check{Check: &pricingv1.CheckPrice{OrderId: "order-1", Line: 0}}
	case "tick":
		cmd.Kind = &pricingv1.Command_Tick{Tick: &pricingv1.Tick{}}
	}
	if mut != nil {
		mut(cmd)
	}
	return cmd
}

func pricingCampaign(c *pricingv1.Command) *pricingv1.Campaign {
	return c.GetUpsertCampaign().GetCampaign()
}

func TestValidatePricingCommand(t *testing.T) {
	long := strings.Repeat("x", schemas.MaxIDBytes+1)
	for _, tc := range []struct {
		name   string
		cmd    *pricingv1.Command
		field  string
		reason schemas.Reason // empty: valid
	}{
		{name: "set base", cmd: pricingCmd("set_base", nil)},
		{name: "free", cmd: pricingCmd("set_base", func(c *pricingv1.Command) { c.GetSetBase().PriceMinor = 0 })},
		{name: "largest price", cmd: pricingCmd("set_base", func(c *pricingv1.Command) { c.GetSetBase().PriceMinor = schemas.MaxPriceMinor })},
		{name: "percent campaign", cmd: pricingCmd("percent", nil)},
		{name: "whole price off", cmd: pricingCmd("percent", func(c *pricingv1.Command) { pricingCampaign(c).PercentBps = schemas.MaxPercentBps })},
		{name: "percent ignores amount", cmd: pricingCmd("percent", func(c *pricingv1.Command) { pricingCampaign(c).AmountMinor = -5 })},
		{name: "fixed campaign", cmd: pricingCmd("fixed", nil)},
		{name: "campaign from the start", cmd: pricingCmd("fixed", func(c *pricingv1.Command) { pricingCampaign(c).StartsAtMs = 0 })},
		{name: "longest campaign id", cmd: pricingCmd("fixed", func(c *pricingv1.Command) { pricingCampaign(c).Id = strings.Repeat("c", schemas.MaxIDBytes) })},
		{name: "end campaign", cmd: pricingCmd("end", nil)},
		{name: "check", cmd: pricingCmd("check", nil)},
		{name: "tick", cmd: pricingCmd("tick", nil)},
		{name: "tick with nil body", cmd: pricingCmd("tick", func(c *pricingv1.Command) { c.Kind = &pricingv1.Command_Tick{} })},

		{name: "nil", cmd: nil, reason: schemas.ReasonNilMessage},
		{name: "no command id", cmd: pricingCmd("set_base", func(c *pricingv1.Command) { c.CommandId = "" }),
			field: "command_id", reason: schemas.ReasonMissingCommandID},
		{name: "long command id", cmd: pricingCmd("set_base", func(c *pricingv1.Command) { c.CommandId = long }),
			field: "command_id", reason: schemas.ReasonTooLong},
		{name: "no sku", cmd: pricingCmd("check", func(c *pricingv1.Command) { c.Sku = "" }),
			field: "sku", reason: schemas.ReasonMissingSKU},
		{name: "control in sku", cmd: pricingCmd("check", func(c *pricingv1.Command) { c.Sku = "a\nb" }),
			field: "sku", reason: schemas.ReasonInvalidSKU},
		{name: "no timestamp", cmd: pricingCmd("check", func(c *pricingv1.Command) { c.TimestampMs = 0 }),
			field: "timestamp_ms", reason: schemas.ReasonInvalidTimestamp},
		{name: "no kind", cmd: pricingCmd("none", nil), field: "kind", reason: schemas.ReasonMissingKind},
		{name: "tick without timestamp", cmd: pricingCmd("tick", func(c *pricingv1.Command) { c.TimestampMs = 0 }),
			field: "timestamp_ms", reason: schemas.ReasonInvalidTimestamp},
		{name: "tick without command id", cmd: pricingCmd("tick", func(c *pricingv1.Command) { c.CommandId = "" }),
			field: "command_id", reason: schemas.ReasonMissingCommandID},
		{name: "negative price", cmd: pricingCmd("set_base", func(c *pricingv1.Command) { c.GetSetBase().PriceMinor = -1 }),
			field: "set_base.price_minor", reason: schemas.ReasonInvalidPrice},
		{name: "price too high", cmd: pricingCmd("set_base", func(c *pricingv1.Command) { c.GetSetBase().PriceMinor = schemas.MaxPriceMinor + 1 }),
			field: "set_base.price_minor", reason: schemas.ReasonInvalidPrice},
		{name: "no currency", cmd: pricingCmd("set_base", func(c *pricingv1.Command) { c.GetSetBase().Currency = "" }),
			field: "set_base.currency", reason: schemas.ReasonMissingCurrency},
		{name: "lower-case currency", cmd: pricingCmd("set_base", func(c *pricingv1.Command) { c.GetSetBase().Currency = "eur" }),
			field: "set_base.currency", reason: schemas.ReasonInvalidCurrency},
		{name: "empty set base", cmd: pricingCmd("set_base", func(c *pricingv1.Command) { c.GetSetBase().Reset() }),
			field: "set_base.currency", reason: schemas.ReasonMissingCurrency},
		{name: "no campaign", cmd: pricingCmd("percent", func(c *pricingv1.Command) { c.GetUpsertCampaign().Campaign = nil }),
			field: "upsert_campaign.campaign", reason: schemas.ReasonInvalidCampaign},
		{name: "no campaign id", cmd: pricingCmd("percent", func(c *pricingv1.Command) { pricingCampaign(c).Id = "" }),
			field: "upsert_campaign.campaign.id", reason: schemas.ReasonMissingCampaignID},
		{name: "long campaign id", cmd: pricingCmd("percent", func(c *pricingv1.Command) { pricingCampaign(c).Id = long }),
			field: "upsert_campaign.campaign.id", reason: schemas.ReasonTooLong},
		{name: "no campaign kind", cmd: pricingCmd("percent", func(c *pricingv1.Command) { pricingCampaign(c).Kind = 0 }),
			field: "upsert_campaign.campaign.kind", reason: schemas.ReasonInvalidCampaign},
		{name: "unknown campaign kind", cmd: pricingCmd("percent", func(c *pricingv1.Command) { pricingCampaign(c).Kind = 9 }),
			field: "upsert_campaign.campaign.kind", reason: schemas.ReasonInvalidCampaign},
		{name: "zero percent", cmd: pricingCmd("percent", func(c *pricingv1.Command) { pricingCampaign(c).PercentBps = 0 }),
			field: "upsert_campaign.campaign.percent_bps", reason: schemas.ReasonInvalidPercent},
		{name: "more than the price", cmd: pricingCmd("percent", func(c *pricingv1.Command) { pricingCampaign(c).PercentBps = 10_001 }),
			field: "upsert_campaign.campaign.percent_bps", reason: schemas.ReasonInvalidPercent},
		{name: "zero amount", cmd: pricingCmd("fixed", func(c *pricingv1.Command) { pricingCampaign(c).AmountMinor = 0 }),
			field: "upsert_campaign.campaign.amount_minor", reason: schemas.ReasonInvalidAmount},
		{name: "amount too high", cmd: pricingCmd("fixed", func(c *pricingv1.Command) { pricingCampaign(c).AmountMinor = schemas.MaxPriceMinor + 1 }),
			field: "upsert_campaign.campaign.amount_minor", reason: schemas.ReasonInvalidAmount},
		{name: "start before 1970", cmd: pricingCmd("fixed", func(c *pricingv1.Command) { pricingCampaign(c).StartsAtMs = -1 }),
			field: "upsert_campaign.campaign.starts_at_ms", reason: schemas.ReasonInvalidPeriod},
		{name: "ends when it starts", cmd: pricingCmd("fixed", func(c *pricingv1.Command) { pricingCampaign(c).EndsAtMs = pricingCampaign(c).StartsAtMs }),
			field: "upsert_campaign.campaign.ends_at_ms", reason: schemas.ReasonInvalidPeriod},
		{name: "ends before it starts", cmd: pricingCmd("fixed", func(c *pricingv1.Command) { pricingCampaign(c).EndsAtMs = 1 }),
			field: "upsert_campaign.campaign.ends_at_ms", reason: schemas.ReasonInvalidPeriod},
		{name: "end without id", cmd: pricingCmd("end", func(c *pricingv1.Command) { c.GetEndCampaign().CampaignId = "" }),
			field: "end_campaign.campaign_id", reason: schemas.ReasonMissingCampaignID},
		{name: "end with long id", cmd: pricingCmd("end", func(c *pricingv1.Command) { c.GetEndCampaign().CampaignId = long }),
			field: "end_campaign.campaign_id", reason: schemas.ReasonTooLong},
		{name: "check without order", cmd: pricingCmd("check", func(c *pricingv1.Command) { c.GetCheck().OrderId = "" }),
			field: "check.order_id", reason: schemas.ReasonMissingOrderID},
		{name: "check with long order", cmd: pricingCmd("check", func(c *pricingv1.Command) { c.GetCheck().OrderId = long }),
			field: "check.order_id", reason: schemas.ReasonTooLong},
		{name: "check with negative line", cmd: pricingCmd("check", func(c *pricingv1.Command) { c.GetCheck().Line = -1 }),
			field: "check.line", reason: schemas.ReasonInvalidLine},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := schemas.ValidatePricingCommand(tc.cmd)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("valid command rejected: %v", err)
				}
				return
			}
			var inv *schemas.InvalidError
			if !errors.As(err, &inv) || !errors.Is(err, schemas.ErrInvalid) {
				t.Fatalf("error %v, want an *InvalidError", err)
			}
			if inv.Field != tc.field || inv.Reason != tc.reason {
				t.Fatalf("got %s/%s, want %s/%s", inv.Field, inv.Reason, tc.field, tc.reason)
			}
		})
	}
}
