package orders

import (
	"errors"
	"fmt"
)

// CheckOrder returns an error when o breaks a rule of the saga: a status its
// lines contradict, terminal fields set on an open order or missing on a
// closed one, a verdict missing where a step needed it, or a history that
// goes back in time. Tests call it after every step; the processor calls it
// before writing an order and refuses to write a broken one.
func CheckOrder(o Order) error {
	if o.ID == "" {
		if o.Status != StatusUnknown || len(o.Lines) > 0 || len(o.History) > 0 {
			return errors.New("orders: state without an order id")
		}
		return nil
	}
	if err := o.checkHeader(); err != nil {
		return fmt.Errorf("orders: order %q (%s): %w", o.ID, o.Status, err)
	}
	seen := make(map[string]bool, len(o.Lines))
	for i, l := range o.Lines {
		if seen[l.SKU] && o.Reason != ReasonInvalidOrder {
			return fmt.Errorf("orders: order %q: sku %q appears twice", o.ID, l.SKU)
		}
		seen[l.SKU] = true
		if err := o.checkLine(l); err != nil {
			return fmt.Errorf("orders: order %q (%s) line %d %q (%s): %w", o.ID, o.Status, i, l.SKU, l.Status, err)
		}
	}
	return nil
}

func (o Order) checkHeader() error {
	if o.Status == StatusUnknown || o.Status > StatusRejected {
		return fmt.Errorf("status %d", o.Status)
	}
	if o.Fingerprint == "" {
		return errors.New("no fingerprint")
	}
	if len(o.History) == 0 {
		return errors.New("empty history")
	}
	for i := 1; i < len(o.History); i++ {
		if o.History[i].At.Before(o.History[i-1].At) {
			return fmt.Errorf("history step %d goes back in time", i)
		}
	}
	if o.History[0].At.Before(o.PlacedAt) {
		return errors.New("history before the order was placed")
	}

	terminal := o.Status.Terminal()
	switch {
	case terminal != !o.TerminalAt.IsZero():
		return errors.New("terminal time set iff terminal is broken")

	case (o.Status == StatusRejected) != (o.Reason != ""):
		return errors.New("reason set iff rejected is broken")
	case o.Reason == "" && o.Detail != "":
		return errors.New("detail without a reason")
	}

	verdict := o.Fraud.Outcome
	switch {
	case verdict != "" && verdict != FraudApprove && verdict != FraudReview && verdict != FraudReject:
		return fmt.Errorf("fraud outcome %q", verdict)
	case o.Review != (verdict == FraudReview):
		return errors.New("review set iff the verdict is review is broken")
	case o.Status == StatusScoring && verdict != "":
		return errors.New("verdict while scoring")
	case (o.Status == StatusPricing || o.Status == StatusReserving || o.Status == StatusConfirmed) &&
		verdict != FraudApprove && verdict != FraudReview:
		return fmt.Errorf("past scoring with verdict %q", verdict)
	case (verdict == FraudReject) != (o.Reason == ReasonFraudRejected):
		return errors.New("fraud rejection and reason disagree")
	}

	if o.Reason == ReasonInvalidOrder {
		return nil
	}
	if len(o.Lines) == 0 {
		return errors.New("no lines")
	}
	count := make(map[LineStatus]int, len(o.Lines))
	for _, l := range o.Lines {
		count[l.Status]++
	}
	switch {
	case o.Status == StatusReserving && count[LineReserved] == len(o.Lines):
		return errors.New("reserving with every line reserved")
	case o.Reason == ReasonOutOfStock && count[LineRefused] == 0:
		return errors.New("out of stock without a refused line")
	case o.Reason == ReasonReservationExpired && count[LineExpired] == 0:
		return errors.New("reservation expired without an expired line")
	}
	return nil
}

// allowed lists the line statuses each order status admits. A line leaves
// pending only when every line is priced, so pending and reserving never
// mix; a rejected order may still wait for reservations to come back and
// be released.
var allowed = map[Status][]LineStatus{
	StatusScoring:   {LinePending},
	StatusPricing:   {LinePending},
	StatusReserving: {LineReserving, LineReserved},
	StatusConfirmed: {LineReserved, LineCommitted, LineReleased, LineRefused, LineExpired},
	StatusRejected:  {LineReserving, LineReserved, LineReleased, LineRefused, LineExpired, LineSkipped},
}

func (o Order) checkLine(l LineState) error {
	ok := false
	for _, s := range allowed[o.Status] {
		ok = ok || s == l.Status
	}
	if !ok {
		return errors.New("line status not allowed in the order's status")
	}
	if o.Reason == ReasonInvalidOrder {
		if l.Status != LineSkipped {
			return errors.New("invalid order with a line not skipped")
		}
		return nil
	}
	switch o.Reason {
	case ReasonFraudRejected, ReasonPriceMismatch, ReasonPriceUnavailable:
		// Nothing is reserved before every line is priced.
		if l.Status != LineSkipped {
			return errors.New("line not skipped in an order rejected before reserving")
		}
	}
	if l.Qty <= 0 || l.UnitPrice < 0 {
		return errors.New("bad qty or price")
	}
	if l.Quoted && !l.QuoteFound && (l.QuotedPrice != 0 || l.QuotedCurrency != "") {
		return errors.New("price recorded for a quote that found none")
	}
	asked := l.Status != LinePending && l.Status != LineSkipped
	if asked {
		// A reservation is asked for only once every line is priced.
		if !l.Quoted || !l.QuoteFound || l.QuotedCurrency != o.Currency {
			return errors.New("reservation asked for without a matching quote")
		}
	}
	if o.Status == StatusPricing && l.Quoted && (!l.QuoteFound || l.QuotedCurrency != o.Currency) {
		return errors.New("still pricing after a failed quote")
	}
	if (l.Status == LineRefused) && l.Reason == "" {
		return errors.New("refused without a reason")
	}
	return nil
}
