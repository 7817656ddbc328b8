package pricingtopo

import (
	"github.com/titan-commerce/titan/processors/pricing"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
)

// Quoter answers a price check from a SKU's state as this group's table
// holds it (state is what StateCodec decodes, or nil for a SKU never
// priced), with the quote the group would answer the same check with, for
// a processor that reads the table through a goka Lookup: the order saga
// quotes its lines that way instead of a round trip through this group.
// Only the quote comes out: the price changes the check's time would
// publish are the Ticker's to send, and the state is not written. nil
// means the check is one the group would not answer either.
func Quoter(policy pricing.Policy) func(state any, check *pricingv1.Command) *pricingv1.Quote {
	return func(state any, check *pricingv1.Command) *pricingv1.Quote {
		s, ok := state.(pricing.State)
		if !ok {
			s = pricing.NewState()
		}
		cmd := pricing.CommandFromWire(check)
		if cmd.Kind != pricing.KindCheck {
			return nil
		}
		_, _, q := pricing.Apply(s, cmd, policy)
		if q == nil {
			return nil
		}
		return pricing.QuoteToWire(*q)
	}
}
