package sdk

import (
	"fmt"
	"regexp"
	"time"

	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/schemas"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
)

// pricingRecord checks a client's pricing command as the pricing topology
// does and keys it by SKU.
func pricingRecord(t *topics, cmd *pricingv1.Command) (built, error) {
	return checked(t.pricing, cmd.GetSku(), cmd.GetCommandId(), cmd, schemas.ValidatePricingCommand, schemas.CheckClientPricingCommand)
}

// SetPrice sets SKU's catalog (base) price, in minor units of Currency
// (ISO 4217).
type SetPrice struct {
	IdempotencyKey string
	SKU            string
	PriceMinor     int64
	Currency       string
}

func (SetPrice) name() string { return "price" }

func (in SetPrice) build(t *topics, now time.Time) (built, error) {
	return derived(in.IdempotencyKey, func(id string) (built, error) {
		return pricingRecord(t, &pricingv1.Command{CommandId: id, Sku: in.SKU, TimestampMs: now.UnixMilli(),
			Kind: &pricingv1.Command_SetBase{SetBase: &pricingv1.SetBasePrice{PriceMinor: in.PriceMinor, Currency: in.Currency}}})
	})
}

// StartCampaign adds a discount on SKU for [StartsAt, EndsAt), or replaces
// the campaign with its id: PercentBps basis points off the base price
// (100 = 1 %), or AmountMinor off it; set one of the two. A zero StartsAt
// starts it at once.
type StartCampaign struct {
	IdempotencyKey string
	SKU            string
	CampaignID     string
	PercentBps     int64
	AmountMinor    int64
	StartsAt       time.Time
	EndsAt         time.Time
}

func (StartCampaign) name() string { return "campaign" }

func (in StartCampaign) build(t *topics, now time.Time) (built, error) {
	return derived(in.IdempotencyKey, func(id string) (built, error) {
		c := &pricingv1.Campaign{Id: in.CampaignID, PercentBps: in.PercentBps, AmountMinor: in.AmountMinor,
			StartsAtMs: unixMilli(in.StartsAt), EndsAtMs: unixMilli(in.EndsAt)}
		switch {
		case in.PercentBps != 0 && in.AmountMinor != 0:
			return built{}, &schemas.InvalidError{Field: "upsert_campaign.campaign.kind", Reason: schemas.ReasonInvalidCampaign,
				Detail: "set percent_bps or amount_minor, not both"}
		case in.PercentBps != 0:
			c.Kind = pricingv1.CampaignKind_CAMPAIGN_KIND_PERCENT
		case in.AmountMinor != 0:
			c.Kind = pricingv1.CampaignKind_CAMPAIGN_KIND_FIXED
		}
		return pricingRecord(t, &pricingv1.Command{CommandId: id, Sku: in.SKU, TimestampMs: now.UnixMilli(),
			Kind: &pricingv1.Command_UpsertCampaign{UpsertCampaign: &pricingv1.UpsertCampaign{Campaign: c}}})
	})
}

// EndCampaign removes SKU's campaign CampaignID before its end.
type EndCampaign struct {
	IdempotencyKey string
	SKU            string
	CampaignID     string
}

func (EndCampaign) name() string { return "campaign end" }

func (in EndCampaign) build(t *topics, now time.Time) (built, error) {
	return derived(in.IdempotencyKey, func(id string) (built, error) {
		return pricingRecord(t, &pricingv1.Command{CommandId: id, Sku: in.SKU, TimestampMs: now.UnixMilli(),
			Kind: &pricingv1.Command_EndCampaign{EndCampaign: &pricingv1.EndCampaign{CampaignId: in.CampaignID}}})
	})
}

// unixMilli is t in Unix milliseconds, 0 for the zero time.
func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// View says a shopper looked at an item; the recommendations learn which
// items are seen together. SessionID is optional: without it a session is
// a run of views with short gaps.
type View struct {
	IdempotencyKey string
	UserID         string
	SKU            string
	SessionID      string
}

func (View) name() string { return "view" }

func (in View) build(t *topics, now time.Time) (built, error) {
	return derived(in.IdempotencyKey, func(id string) (built, error) {
		v := &recommendationsv1.ViewEvent{EventId: id, UserId: in.UserID, Sku: in.SKU, SessionId: in.SessionID,
			TimestampMs: now.UnixMilli()}
		return checked(t.views, in.UserID, id, v, schemas.ValidateViewEvent)
	})
}

// Purchase is a buyer's attempt to buy Qty units in a flash sale. The
// attempt's IdempotencyKey travels as it is: the sale answers an attempt
// once, and the same key with another Qty is refused as a conflict.
// Buckets is the sale's bucket count as it was defined (0 means 1): the
// buyer's bucket is derived from it (flashsale.BucketOf), and with a count
// above the sale's the buyer may land in a bucket the sale does not have,
// which answers not_started.
type Purchase struct {
	IdempotencyKey string
	SaleID         string
	UserID         string
	Qty            int64
	Buckets        int
}

func (Purchase) name() string { return "purchase" }

func (in Purchase) build(t *topics, now time.Time) (built, error) {
	n := in.Buckets
	if n == 0 {
		n = 1
	}
	if n < 0 || n > schemas.MaxSaleBuckets {
		return built{}, &schemas.InvalidError{Field: "buckets", Reason: schemas.ReasonInvalidBucket,
			Detail: fmt.Sprintf("%d not in 1..%d", n, schemas.MaxSaleBuckets)}
	}
	m := flashsale.Message{Kind: flashsale.KindPurchase, SaleID: in.SaleID, Key: flashsale.UserKey(in.SaleID, in.UserID),
		Time: now.Truncate(time.Millisecond), IdempotencyKey: in.IdempotencyKey, UserID: in.UserID, Qty: in.Qty,
		Bucket: flashsale.BucketOf(in.UserID, n)}
	if err := schemas.CheckPurchase(m.SaleID, m.UserID, m.IdempotencyKey, m.Qty, m.Bucket); err != nil {
		return built{}, err
	}
	return record(t.flashSale, m.Key, flashsale.MessageToWire(m), in.IdempotencyKey)
}

// saleID is the API's rule for a sale id: sale ids are parts of keys
// ("s:<id>", "b:<id>:<bucket>:<salt>") and of the allocation's ids, and
// the alphabet keeps them readable and free of the ':' keys are split at.
var saleID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// DefineFlashSale creates a flash sale: Units of SKU, reserved from its
// stock when the sale is created, sold from StartsAt to EndsAt at
// PriceMinor a unit, at most PerUserLimit to a buyer, over Buckets buckets
// (0 means 1; more spread a busy sale over partitions). The sale's id names
// it: defining it again with the same values changes nothing, with other
// values is refused. The sale opens once the inventory has reserved its
// units; a purchase that comes before is rejected as not_started.
//
// A sale reserves stock as Titan's own command, so its definition travels
// on Titan's internal flash-sale topic (schemas.FlashSaleInternal), which a
// deployment lets only Titan's principal write: this input is for the
// operator's tools and Titan's API, and a shop's service without that
// permission has its send refused by the broker.
type DefineFlashSale struct {
	ID           string
	SKU          string
	Units        int64
	StartsAt     time.Time
	EndsAt       time.Time
	PerUserLimit int64
	PriceMinor   int64
	Buckets      int
}

func (DefineFlashSale) name() string { return "flash-sale definition" }

func (in DefineFlashSale) build(t *topics, now time.Time) (built, error) {
	sale := flashsale.Sale{ID: in.ID, SKU: in.SKU, Units: in.Units, Start: in.StartsAt.Truncate(time.Millisecond),
		End: in.EndsAt.Truncate(time.Millisecond), PerUserLimit: in.PerUserLimit, PriceMinor: in.PriceMinor, Buckets: in.Buckets}
	if sale.Buckets == 0 {
		sale.Buckets = 1
	}
	if err := checkSale(sale, now); err != nil {
		return built{}, err
	}
	m := flashsale.Message{Kind: flashsale.KindCreate, SaleID: sale.ID, Key: flashsale.SaleKey(sale.ID),
		Time: now.Truncate(time.Millisecond), Sale: sale}
	return record(t.flashSaleInternal, m.Key, flashsale.MessageToWire(m), sale.ID)
}

// checkSale applies the rules the sale key and the API hold a definition
// to, naming the field of flashsalev1.Sale that breaks one.
func checkSale(s flashsale.Sale, now time.Time) error {
	bad := func(field string, reason schemas.Reason, detail string) error {
		return &schemas.InvalidError{Field: "sale." + field, Reason: reason, Detail: detail}
	}
	switch {
	case s.ID == "":
		return bad("id", schemas.ReasonMissingSaleID, "")
	case !saleID.MatchString(s.ID):
		return bad("id", schemas.ReasonInvalidID, "1 to 64 of [A-Za-z0-9._-]")
	}
	if err := schemas.CheckSKU("sale.sku", s.SKU); err != nil {
		return err
	}
	switch {
	case s.Units < 1 || s.Units > schemas.MaxQty:
		return bad("units", schemas.ReasonInvalidQty, fmt.Sprintf("%d not in 1..%d", s.Units, schemas.MaxQty))
	case s.PerUserLimit < 1 || s.PerUserLimit > schemas.MaxQty:
		return bad("per_user_limit", schemas.ReasonInvalidQty, fmt.Sprintf("%d not in 1..%d", s.PerUserLimit, schemas.MaxQty))
	case s.PriceMinor < 0 || s.PriceMinor > schemas.MaxPriceMinor:
		return bad("price_minor", schemas.ReasonInvalidPrice, "")
	case s.Buckets < 1 || s.Buckets > flashsale.MaxBuckets:
		return bad("buckets", schemas.ReasonInvalidBucket, fmt.Sprintf("%d not in 1..%d", s.Buckets, flashsale.MaxBuckets))
	case !s.End.After(s.Start):
		return bad("ends_at_ms", schemas.ReasonInvalidPeriod, "the sale must end after it starts")
	case !flashsale.DefaultPolicy().Fits(s, now):
		// The sale's allocation is reserved from now until a grace after
		// the end, within the inventory's longest reservation.
		return bad("ends_at_ms", schemas.ReasonInvalidPeriod, "the sale must end after now, and not too far ahead for its units to be reserved")
	case !s.Valid():
		return bad("id", schemas.ReasonInvalidID, "")
	}
	return nil
}
