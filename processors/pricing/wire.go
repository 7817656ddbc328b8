package pricing

import (
	"github.com/titan-commerce/titan/internal/millis"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
)

// The wire forms live in schemas/; these functions map them to the plain
// values Apply and Observe work on. Times travel as Unix milliseconds;
// zero maps to the zero time and back.

// CommandFromWire maps a decoded command. It does not validate: run
// schemas.ValidatePricingCommand first; Apply ignores what breaks the rules.
func CommandFromWire(c *pricingv1.Command) Command {
	out := Command{
		ID:   c.GetCommandId(),
		SKU:  c.GetSku(),
		Time: millis.Time(c.GetTimestampMs()),
	}
	switch k := c.GetKind().(type) {
	case *pricingv1.Command_SetBase:
		out.Kind = KindSetBase
		out.BasePrice, out.Currency = k.SetBase.GetPriceMinor(), k.SetBase.GetCurrency()
	case *pricingv1.Command_UpsertCampaign:
		out.Kind = KindUpsertCampaign
		out.Campaign = campaignFromWire(k.UpsertCampaign.GetCampaign())
	case *pricingv1.Command_EndCampaign:
		out.Kind = KindEndCampaign
		out.CampaignID = k.EndCampaign.GetCampaignId()
	case *pricingv1.Command_Check:
		out.Kind = KindCheck
		out.OrderID, out.Line = k.Check.GetOrderId(), k.Check.GetLine()
	case *pricingv1.Command_Tick:
		out.Kind = KindTick
	}
	return out
}

// CommandToWire is the inverse of CommandFromWire, for producers.
func CommandToWire(c Command) *pricingv1.Command {
	out := &pricingv1.Command{
		CommandId:   c.ID,
		Sku:         c.SKU,
		TimestampMs: millis.Of(c.Time),
	}
	switch c.Kind {
	case KindSetBase:
		out.Kind = &pricingv1.Command_SetBase{SetBase: &pricingv1.SetBasePrice{
			PriceMinor: c.BasePrice, Currency: c.Currency}}
	case KindUpsertCampaign:
		out.Kind = &pricingv1.Command_UpsertCampaign{UpsertCampaign: &pricingv1.UpsertCampaign{
			Campaign: campaignToWire(c.Campaign)}}
	case KindEndCampaign:
		out.Kind = &pricingv1.Command_EndCampaign{EndCampaign: &pricingv1.EndCampaign{CampaignId: c.CampaignID}}
	case KindCheck:
		out.Kind = &pricingv1.Command_Check{Check: &pricingv1.CheckPrice{OrderId: c.OrderID, Line: c.Line}}
	case KindTick:
		out.Kind = &pricingv1.Command_Tick{Tick: &pricingv1.Tick{}}
	}
	return out
}

// SignalFromInventory reads what an inventory event says about demand. It
// is false for events that say nothing: nil, or of no known type.
func SignalFromInventory(e *inventoryv1.Event) (InventorySignal, bool) {
	switch e.GetType() {
	case inventoryv1.EventType_EVENT_TYPE_RESTOCKED, inventoryv1.EventType_EVENT_TYPE_RESERVED,
		inventoryv1.EventType_EVENT_TYPE_REJECTED, inventoryv1.EventType_EVENT_TYPE_COMMITTED,
		inventoryv1.EventType_EVENT_TYPE_RELEASED, inventoryv1.EventType_EVENT_TYPE_EXPIRED:
	default:
		return InventorySignal{}, false
	}
	sig := InventorySignal{
		SKU:    e.GetSku(),
		Time:   millis.Time(e.GetTimestampMs()),
		Offset: e.GetOffset(),
	}
	if e.GetType() == inventoryv1.EventType_EVENT_TYPE_RESERVED {
		sig.Reserved = max(e.GetQty(), 0)
	}
	if st := e.GetStock(); st != nil {
		sig.Available, sig.StockKnown = st.GetOnHand()-st.GetReserved(), true
	}
	return sig, true
}

func campaignToWire(c Campaign) *pricingv1.Campaign {
	return &pricingv1.Campaign{
		Id:          c.ID,
		Kind:        pricingv1.CampaignKind(c.Kind),
		PercentBps:  c.PercentBps,
		AmountMinor: c.Amount,
		StartsAtMs:  millis.Of(c.Start),
		EndsAtMs:    millis.Of(c.End),
	}
}

func campaignFromWire(c *pricingv1.Campaign) Campaign {
	kind := CampaignKind(c.GetKind())
	if kind > CampaignFixed || c.GetKind() < 0 {
		kind = CampaignUnknown
	}
	return Campaign{
		ID:         c.GetId(),
		Kind:       kind,
		PercentBps: c.GetPercentBps(),
		Amount:     c.GetAmountMinor(),
		Start:      millis.Time(c.GetStartsAtMs()),
		End:        millis.Time(c.GetEndsAtMs()),
	}
}

func contributionsToWire(cs []Contribution) []*pricingv1.Contribution {
	if len(cs) == 0 {
		return nil
	}
	out := make([]*pricingv1.Contribution, len(cs))
	for i, c := range cs {
		out[i] = &pricingv1.Contribution{Rule: c.Rule, AmountMinor: c.Amount, Detail: c.Detail}
	}
	return out
}

func contributionsFromWire(cs []*pricingv1.Contribution) []Contribution {
	if len(cs) == 0 {
		return nil
	}
	out := make([]Contribution, len(cs))
	for i, c := range cs {
		out[i] = Contribution{Rule: c.GetRule(), Amount: c.GetAmountMinor(), Detail: c.GetDetail()}
	}
	return out
}

// PriceChangedToWire maps a change for publishing.
func PriceChangedToWire(c PriceChanged) *pricingv1.PriceChanged {
	return &pricingv1.PriceChanged{
		Sku:           c.SKU,
		Currency:      c.Currency,
		BaseMinor:     c.Base,
		PriceMinor:    c.Price,
		Contributions: contributionsToWire(c.Contributions),
		Cause:         c.Cause,
		TimestampMs:   millis.Of(c.Time),
		Version:       c.Version,
		CommandId:     c.CommandID,
	}
}

// PriceChangedFromWire maps a decoded change.
func PriceChangedFromWire(c *pricingv1.PriceChanged) PriceChanged {
	return PriceChanged{
		SKU:           c.GetSku(),
		Currency:      c.GetCurrency(),
		Base:          c.GetBaseMinor(),
		Price:         c.GetPriceMinor(),
		Contributions: contributionsFromWire(c.GetContributions()),
		Cause:         c.GetCause(),
		Time:          millis.Time(c.GetTimestampMs()),
		Version:       c.GetVersion(),
		CommandID:     c.GetCommandId(),
	}
}

// QuoteToWire maps a quote for the saga topic.
func QuoteToWire(q Quote) *pricingv1.Quote {
	return &pricingv1.Quote{
		OrderId:       q.OrderID,
		Sku:           q.SKU,
		Line:          q.Line,
		Found:         q.Found,
		PriceMinor:    q.Price,
		Currency:      q.Currency,
		TimestampMs:   millis.Of(q.Time),
		Contributions: contributionsToWire(q.Contributions),
	}
}

// QuoteFromWire maps a decoded quote.
func QuoteFromWire(q *pricingv1.Quote) Quote {
	return Quote{
		OrderID:       q.GetOrderId(),
		SKU:           q.GetSku(),
		Line:          q.GetLine(),
		Found:         q.GetFound(),
		Price:         q.GetPriceMinor(),
		Currency:      q.GetCurrency(),
		Time:          millis.Time(q.GetTimestampMs()),
		Contributions: contributionsFromWire(q.GetContributions()),
	}
}

// StateToWire maps a SKU's state for the table.
func StateToWire(s State) *pricingv1.SkuPrice {
	d := s.Demand
	out := &pricingv1.SkuPrice{
		Sku:       s.SKU,
		BaseMinor: s.Base,
		Currency:  s.Currency,
		Campaigns: make([]*pricingv1.Campaign, len(s.Campaigns)),
		Demand: &pricingv1.Demand{
			Buckets:       make([]*pricingv1.DemandBucket, len(d.Buckets)),
			Available:     d.Available,
			StockKnown:    d.StockKnown,
			AdjustmentBps: d.AdjustmentBps,
			AdjustedAtMs:  millis.Of(d.AdjustedAt),
			Offset:        d.Offset,
			StockOffset:   d.StockOffset,
			DueMs:         millis.Of(d.Due),
		},
		History: make([]*pricingv1.PriceChanged, len(s.Changes)),
		Applied: make([]*pricingv1.AppliedCommand, len(s.Applied)),
		ClockMs: millis.Of(s.Clock),
	}
	for i, c := range s.Campaigns {
		out.Campaigns[i] = campaignToWire(c)
	}
	for i, b := range d.Buckets {
		out.Demand.Buckets[i] = &pricingv1.DemandBucket{StartMs: millis.Of(b.Start), Reserved: b.Reserved}
	}
	if _, ok := s.Current(); ok {
		out.Current = PriceChangedToWire(s.Latest)
	}
	for i, c := range s.Changes {
		out.History[i] = PriceChangedToWire(c)
	}
	for i, a := range s.Applied {
		out.Applied[i] = &pricingv1.AppliedCommand{CommandId: a.CommandID, AppliedAtMs: millis.Of(a.At), Fingerprint: a.Fingerprint}
	}
	return out
}

// StateFromWire maps a table value; nil is a SKU never seen.
func StateFromWire(w *pricingv1.SkuPrice) State {
	if w == nil {
		return NewState()
	}
	s := NewState()
	s.SKU, s.Base, s.Currency = w.GetSku(), w.GetBaseMinor(), w.GetCurrency()
	s.Clock = millis.Time(w.GetClockMs())
	if d := w.GetDemand(); d != nil {
		s.Demand = Demand{
			Available:     d.GetAvailable(),
			StockKnown:    d.GetStockKnown(),
			AdjustmentBps: d.GetAdjustmentBps(),
			AdjustedAt:    millis.Time(d.GetAdjustedAtMs()),
			Offset:        d.GetOffset(),
			StockOffset:   d.GetStockOffset(),
			Due:           millis.Time(d.GetDueMs()),
		}
		for _, b := range d.GetBuckets() {
			s.Demand.Buckets = append(s.Demand.Buckets, DemandBucket{Start: millis.Time(b.GetStartMs()), Reserved: b.GetReserved()})
		}
	}
	for _, c := range w.GetCampaigns() {
		s.Campaigns = append(s.Campaigns, campaignFromWire(c))
	}
	if c := w.GetCurrent(); c != nil {
		s.Latest = PriceChangedFromWire(c)
	}
	for _, c := range w.GetHistory() {
		s.Changes = append(s.Changes, PriceChangedFromWire(c))
	}
	for _, a := range w.GetApplied() {
		s.Applied = append(s.Applied, Applied{CommandID: a.GetCommandId(), At: millis.Time(a.GetAppliedAtMs()), Fingerprint: a.GetFingerprint()})
	}
	return s
}
