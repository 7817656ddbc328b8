package schemas

import (
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
)

// Limits enforced by ValidatePricingCommand. Prices stay far enough from
// int64 overflow that a base price times a basis-point rate still fits.
const (
	MaxPriceMinor = 1_000_000_000_000
	MaxPercentBps = 10_000
)

// The reasons ValidatePricingCommand reports besides the shared ones.
const (
	ReasonInvalidCampaign   Reason = "invalid_campaign"
	ReasonInvalidPercent    Reason = "invalid_percent"
	ReasonInvalidAmount     Reason = "invalid_amount"
	ReasonInvalidPeriod     Reason = "invalid_period"
	ReasonInvalidLine       Reason = "invalid_line"
	ReasonMissingCampaignID Reason = "missing_campaign_id"
)

// ValidatePricingCommand checks the rules every pricing command must
// satisfy before it is produced or applied, reporting the first broken
// rule, in field order, as an *InvalidError.
func ValidatePricingCommand(cmd *pricingv1.Command) error {
	if cmd == nil {
		return invalid("", ReasonNilMessage)
	}
	if err := CheckID("command_id", cmd.GetCommandId(), ReasonMissingCommandID); err != nil {
		return err
	}
	if err := CheckSKU("sku", cmd.GetSku()); err != nil {
		return err
	}
	if cmd.GetTimestampMs() <= 0 {
		return invalid("timestamp_ms", ReasonInvalidTimestamp)
	}

	switch kind := cmd.GetKind().(type) {
	case *pricingv1.Command_SetBase:
		if p := kind.SetBase.GetPriceMinor(); p < 0 || p > MaxPriceMinor {
			return invalid("set_base.price_minor", ReasonInvalidPrice)
		}
		return CheckCurrency("set_base.currency", kind.SetBase.GetCurrency())
	case *pricingv1.Command_UpsertCampaign:
		return validateCampaign("upsert_campaign.campaign", kind.UpsertCampaign.GetCampaign())
	case *pricingv1.Command_EndCampaign:
		return CheckID("end_campaign.campaign_id", kind.EndCampaign.GetCampaignId(), ReasonMissingCampaignID)
	case *pricingv1.Command_Check:
		if err := CheckID("check.order_id", kind.Check.GetOrderId(), ReasonMissingOrderID); err != nil {
			return err
		}
		if kind.Check.GetLine() < 0 {
			return invalid("check.line", ReasonInvalidLine)
		}
		return nil
	case *pricingv1.Command_Tick:
		// A tick carries nothing but the command's time, checked above.
		return nil
	default:
		return invalid("kind", ReasonMissingKind)
	}
}

func validateCampaign(field string, c *pricingv1.Campaign) error {
	if c == nil {
		return invalid(field, ReasonInvalidCampaign)
	}
	if err := CheckID(field+".id", c.GetId(), ReasonMissingCampaignID); err != nil {
		return err
	}
	// Only the field the kind names is read; the other is ignored, so a
	// client may leave it at any value.
	switch c.GetKind() {
	case pricingv1.CampaignKind_CAMPAIGN_KIND_PERCENT:
		if p := c.GetPercentBps(); p < 1 || p > MaxPercentBps {
			return invalid(field+".percent_bps", ReasonInvalidPercent)
		}
	case pricingv1.CampaignKind_CAMPAIGN_KIND_FIXED:
		if a := c.GetAmountMinor(); a < 1 || a > MaxPriceMinor {
			return invalid(field+".amount_minor", ReasonInvalidAmount)
		}
	default:
		return invalid(field+".kind", ReasonInvalidCampaign)
	}
	// A start of 0 means "from the beginning"; before 1970 means nothing.
	if c.GetStartsAtMs() < 0 {
		return invalid(field+".starts_at_ms", ReasonInvalidPeriod)
	}
	if c.GetEndsAtMs() <= c.GetStartsAtMs() {
		return invalid(field+".ends_at_ms", ReasonInvalidPeriod)
	}
	return nil
}

// CheckClientPricingCommand checks what a pricing command from a client must
// satisfy beyond ValidatePricingCommand: its ids stay out of Titan's
// namespace, and its kind is one clients send. Checks and ticks are Titan's:
// a check answers the order saga, and a client's could hand an order a
// price chosen by its own time.
func CheckClientPricingCommand(cmd *pricingv1.Command) error {
	if err := RefuseReserved("command_id", cmd.GetCommandId()); err != nil {
		return err
	}
	switch kind := cmd.GetKind().(type) {
	case *pricingv1.Command_Check, *pricingv1.Command_Tick:
		return invalid("kind", ReasonInternalKind)
	case *pricingv1.Command_UpsertCampaign:
		return RefuseReserved("upsert_campaign.campaign.id", kind.UpsertCampaign.GetCampaign().GetId())
	case *pricingv1.Command_EndCampaign:
		return RefuseReserved("end_campaign.campaign_id", kind.EndCampaign.GetCampaignId())
	}
	return nil
}

// CheckInternalPricingCommand checks what a pricing command on Titan's
// internal topic must satisfy beyond ValidatePricingCommand: its id is in
// Titan's namespace.
func CheckInternalPricingCommand(cmd *pricingv1.Command) error {
	if !Reserved(cmd.GetCommandId()) {
		return &InvalidError{Field: "command_id", Reason: ReasonInvalidID, Detail: "an internal command's id starts with " + ReservedPrefix}
	}
	return nil
}
