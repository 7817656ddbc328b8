package orders

import (
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
)

// Place starts the saga for a new order: the order waits for its fraud
// verdict and Effects.Fraud asks for it. o is the zero Order for an id never
// seen. A repeat of the same content changes nothing and sends nothing; a
// different content under a known id is ErrConflict and leaves o as it was.
func Place(o Order, p Placed, pol Policy) (Order, Effects, error) {
	pol = pol.withDefaults()
	if p.OrderID == "" || (o.ID != "" && o.ID != p.OrderID) {
		return o, Effects{}, fmt.Errorf("%w: order id %q given to the state of order %q", ErrInvalid, p.OrderID, o.ID)
	}
	if p.Time.IsZero() || p.Time.UnixMilli() <= 0 {
		// The order's time is the saga's clock and every outcome's time;
		// an event without one cannot be placed.
		return o, Effects{}, fmt.Errorf("%w: order %q placed without a time", ErrInvalid, p.OrderID)
	}
	fp := Fingerprint(p)
	if o.Status != StatusUnknown {
		if o.Fingerprint == fp {
			return o, Effects{}, nil
		}
		return o, Effects{}, fmt.Errorf("%w: order %q", ErrConflict, p.OrderID)
	}

	o = Order{
		ID:            p.OrderID,
		PlacedEventID: p.EventID,
		UserID:        p.UserID,
		DeviceID:      p.DeviceID,
		PaymentID:     p.PaymentID,
		Currency:      p.Currency,
		PlacedAt:      p.Time,
		Fingerprint:   fp,
		Status:        StatusScoring,
	}
	for _, l := range p.Lines {
		o.Lines = append(o.Lines, LineState{SKU: l.SKU, Qty: l.Qty, UnitPrice: l.UnitPrice, Status: LinePending})
	}
	now := p.Time
	o.record(now, StepPlaced, p.EventID, pol)
	if problem := checkPlaced(p); problem != "" {
		o.record(now, StepInvalid, problem, pol)
		return o, o.reject(ReasonInvalidOrder, problem, now, pol), nil
	}
	return o, Effects{Fraud: &FraudRequest{
		Kind:      FraudKindOrder,
		OrderID:   o.ID,
		UserID:    o.UserID,
		DeviceID:  o.DeviceID,
		PaymentID: o.PaymentID,
		Currency:  o.Currency,
		Amount:    o.Total(),
		Time:      now,
	}}, nil
}

// checkPlaced repeats the schema rules the saga relies on, so that it is
// total on any Placed: inventory keeps one reservation per order and SKU,
// and the total must fit an int64. It returns what is wrong, or "".
func checkPlaced(p Placed) string {
	if len(p.Lines) == 0 {
		return "no lines"
	}
	seen := make(map[string]bool, len(p.Lines))
	var total uint64
	for i, l := range p.Lines {
		switch {
		case l.SKU == "":
			return fmt.Sprintf("line %d: no sku", i)
		case seen[l.SKU]:
			return fmt.Sprintf("line %d: sku %s appears twice", i, l.SKU)
		case l.Qty <= 0:
			return fmt.Sprintf("line %d: qty %d", i, l.Qty)
		case l.UnitPrice < 0:
			return fmt.Sprintf("line %d: unit price %d", i, l.UnitPrice)
		}
		seen[l.SKU] = true
		hi, amount := bits.Mul64(uint64(l.Qty), uint64(l.UnitPrice))
		sum, carry := bits.Add64(total, amount, 0)
		if hi != 0 || carry != 0 || sum > 1<<63-1 {
			return "total overflows"
		}
		total = sum
	}
	return ""
}

// OnFraud applies the fraud verdict to an order waiting for it. A verdict
// in any other state is a duplicate or arrived after the order ended, and
// is ignored.
func OnFraud(o Order, v FraudVerdict, pol Policy) (Order, Effects) {
	if o.Status != StatusScoring {
		return o, Effects{}
	}
	pol = pol.withDefaults()
	o = o.clone()
	now := o.at(v.Time)
	v.Reasons = slices.Clone(v.Reasons)
	if len(v.Reasons) == 0 {
		v.Reasons = nil
	}
	detail := fmt.Sprintf("score %s model %s", strconv.FormatFloat(v.Score, 'g', 4, 64), v.ModelVersion)
	switch v.Outcome {
	case FraudApprove, FraudReview, FraudReject:
	default:
		// An outcome the saga does not know is a bug upstream; going ahead
		// under review neither turns a customer away nor lets the order
		// pass unseen.
		detail += fmt.Sprintf(" (unknown outcome %q read as review)", v.Outcome)
		v.Outcome = FraudReview
	}
	o.Fraud = v
	o.record(now, StepFraud+v.Outcome, detail, pol)
	if v.Outcome == FraudReject {
		return o, o.reject(ReasonFraudRejected, strings.Join(v.Codes(), ", "), now, pol)
	}

	o.Status = StatusPricing
	o.Review = v.Outcome == FraudReview
	fx := Effects{PriceChecks: make([]PriceCheck, len(o.Lines))}
	for i, l := range o.Lines {
		// The price is judged at the moment of purchase, not when the
		// saga gets to it.
		fx.PriceChecks[i] = PriceCheck{
			ID:      PriceCheckID(o.ID, int32(i), l.SKU),
			OrderID: o.ID,
			SKU:     l.SKU,
			Line:    int32(i),
			Time:    o.PlacedAt,
		}
	}
	return o, fx
}

// OnQuote applies the price quote of one line. Once every line is quoted
// within tolerance the order reserves its lines; the first line out of
// tolerance, or without a price, rejects the order. Quotes for a line
// already quoted, for no line of the order, or outside Pricing are ignored.
func OnQuote(o Order, q PriceQuote, pol Policy) (Order, Effects) {
	i := int(q.Line)
	if o.Status != StatusPricing || i < 0 || i >= len(o.Lines) || o.Lines[i].SKU != q.SKU || o.Lines[i].Quoted {
		return o, Effects{}
	}
	pol = pol.withDefaults()
	o = o.clone()
	now := o.at(q.Time)
	l := &o.Lines[i]
	l.Quoted = true
	if !q.Found {
		o.record(now, StepPriced, l.SKU+": no price", pol)
		return o, o.reject(ReasonPriceUnavailable, "sku "+l.SKU+" has no price", now, pol)
	}
	l.QuoteFound, l.QuotedPrice, l.QuotedCurrency = true, q.Price, q.Currency
	o.record(now, StepPriced, fmt.Sprintf("%s: %d %s", l.SKU, q.Price, q.Currency), pol)
	if q.Currency != o.Currency || !withinTolerance(l.UnitPrice, q.Price, pol.PriceToleranceBps) {
		detail := fmt.Sprintf("sku %s: order price %d %s, current price %d %s",
			l.SKU, l.UnitPrice, o.Currency, q.Price, q.Currency)
		return o, o.reject(ReasonPriceMismatch, detail, now, pol)
	}
	for _, l := range o.Lines {
		if !l.Quoted {
			return o, Effects{}
		}
	}

	o.Status = StatusReserving
	o.record(now, StepReserving, "", pol)
	fx := Effects{Inventory: make([]inventory.Command, len(o.Lines))}
	for i := range o.Lines {
		o.Lines[i].Status = LineReserving
		fx.Inventory[i] = o.command(i, inventory.KindReserve, now, pol)
	}
	return o, fx
}

// withinTolerance reports whether |unit - quoted| <= quoted*bps/10000,
// computed in 128 bits so no price overflows it.
func withinTolerance(unit, quoted, bps int64) bool {
	if quoted < 0 || unit < 0 {
		return unit == quoted
	}
	diff := uint64(unit - quoted)
	if unit < quoted {
		diff = uint64(quoted - unit)
	}
	dhi, dlo := bits.Mul64(diff, 10_000)
	thi, tlo := bits.Mul64(uint64(quoted), uint64(bps))
	return dhi < thi || (dhi == thi && dlo <= tlo)
}

// Cancel rejects an order that has no outcome yet, releasing what it holds.
// A cancel after the outcome changes nothing but the history; a cancel for
// an id never placed is ignored, so it creates no state.
func Cancel(o Order, reason string, at time.Time, pol Policy) (Order, Effects) {
	if o.Status == StatusUnknown {
		return o, Effects{}
	}
	pol = pol.withDefaults()
	if o.Status.Terminal() {
		if o.Reason == ReasonCancelled || o.hasStep(StepCancelIgnored, reason) {
			return o, Effects{}
		}
		o = o.clone()
		o.record(o.at(at), StepCancelIgnored, reason, pol)
		return o, Effects{}
	}
	o = o.clone()
	return o, o.reject(ReasonCancelled, reason, o.at(at), pol)
}

// PaymentFailed forwards a failed payment to the fraud processor, which
// counts it against the user, device and payment instrument. It does not
// change the order's status; it is noted in the history of a known order,
// which is also how a duplicate is recognised.
func PaymentFailed(o Order, pf FailedPayment, pol Policy) (Order, Effects) {
	pol = pol.withDefaults()
	orderID := pf.OrderID
	if orderID == "" {
		orderID = o.ID
	}
	req := &FraudRequest{
		Kind:      FraudKindPaymentFailed,
		OrderID:   orderID,
		UserID:    pf.UserID,
		DeviceID:  pf.DeviceID,
		PaymentID: pf.PaymentID,
		Currency:  o.Currency,
		Amount:    pf.Amount,
		Time:      pf.Time,
	}
	if o.Status == StatusUnknown {
		return o, Effects{Fraud: req}
	}
	detail := pf.EventID + ": " + pf.Reason
	if o.hasStep(StepPaymentFailed, detail) {
		return o, Effects{}
	}
	o = o.clone()
	req.Time = o.at(pf.Time)
	o.record(req.Time, StepPaymentFailed, detail, pol)
	return o, Effects{Fraud: req}
}

// Paid notes a captured payment in a known order's history. The saga
// confirms and commits an order without waiting for its payment, so a
// payment changes no status; on an order rejected or cancelled meanwhile it
// marks one to refund. A payment for an id the saga has not seen is
// ignored, as a cancel is, so a stray id creates no state; the same event
// again finds its step and adds nothing.
func Paid(o Order, p Payment, pol Policy) (Order, Effects) {
	if o.Status == StatusUnknown {
		return o, Effects{}
	}
	pol = pol.withDefaults()
	detail := fmt.Sprintf("%s: %d %s by %s", p.EventID, p.Amount, p.Currency, p.PaymentID)
	if o.hasStep(StepPaid, detail) {
		return o, Effects{}
	}
	o = o.clone()
	o.record(o.at(p.Time), StepPaid, detail, pol)
	return o, Effects{}
}

// Timeout rejects an order that has not moved since it had taken steps
// steps (the deadline scanner saw it so for the saga's step timeout), as
// timed_out, releasing what it holds: the reserved lines and, since their
// answers may never come, the lines still reserving too. A Release applied
// before its Reserve finds nothing, but the two travel keyed by SKU on one
// topic, the Reserve first, so the units come back either way. An order
// that ended, or took a step since the scanner looked, ignores it.
//
// The scanner, not the saga, measures the wait, on its own clock: an
// order's times are its events' (a checkout may stamp them in the past),
// and only the step count says whether the order moved.
func Timeout(o Order, steps int64, at time.Time, pol Policy) (Order, Effects) {
	if o.Status == StatusUnknown || o.Status.Terminal() || o.Steps() != steps {
		return o, Effects{}
	}
	pol = pol.withDefaults()
	now := o.at(at)
	o = o.clone()
	waiting := o.Status.String()
	o.record(now, StepTimedOut, waiting, pol)
	fx := o.reject(ReasonTimedOut, "no answer while "+waiting, now, pol)
	for i := range o.Lines {
		if o.Lines[i].Status == LineReserving {
			fx.Inventory = append(fx.Inventory, o.command(i, inventory.KindRelease, now, pol))
			o.record(now, StepRelease, o.Lines[i].SKU, pol)
		}
	}
	return o, fx
}

// reject ends the order as Rejected: lines never asked for are skipped,
// reserved lines are released, and the outcome is published. Lines still
// reserving are released when their reservation arrives (see OnInventory).
// The caller has checked that o is not terminal.
func (o *Order) reject(reason, detail string, now time.Time, pol Policy) Effects {
	o.Status, o.Reason, o.Detail, o.TerminalAt = StatusRejected, reason, detail, now
	o.record(now, StepRejected, reason, pol)
	var fx Effects
	for i := range o.Lines {
		switch o.Lines[i].Status {
		case LinePending:
			o.Lines[i].Status = LineSkipped
		case LineReserved:
			fx.Inventory = append(fx.Inventory, o.command(i, inventory.KindRelease, now, pol))
			o.record(now, StepRelease, o.Lines[i].SKU, pol)
		}
	}
	fx.Outcome = o.outcome(now)
	return fx
}

// confirm ends the order as Confirmed and commits every reservation. The
// caller has checked that every line is reserved.
func (o *Order) confirm(now time.Time, pol Policy) Effects {
	o.Status, o.TerminalAt = StatusConfirmed, now
	o.record(now, StepConfirmed, "", pol)
	fx := Effects{Inventory: make([]inventory.Command, len(o.Lines))}
	for i := range o.Lines {
		fx.Inventory[i] = o.command(i, inventory.KindCommit, now, pol)
	}
	fx.Outcome = o.outcome(now)
	return fx
}

func (o *Order) outcome(now time.Time) *Outcome {
	out := &Outcome{
		Confirmed: o.Status == StatusConfirmed,
		Reason:    o.Reason,
		Detail:    o.Detail,
		Total:     o.Total(),
		Review:    o.Review,
		Time:      now,
	}
	if o.Review {
		out.ReviewReasons = o.Fraud.Codes()
	}
	if out.Confirmed {
		out.UserID, out.Currency = o.UserID, o.Currency
		for _, l := range o.Lines {
			out.Lines = append(out.Lines, Line{SKU: l.SKU, Qty: l.Qty, UnitPrice: l.UnitPrice})
		}
	}
	return out
}

// command is the inventory command of one kind for line i. Commit and
// Release carry qty 0: the whole reservation.
func (o *Order) command(i int, kind inventory.Kind, now time.Time, pol Policy) inventory.Command {
	l := o.Lines[i]
	c := inventory.Command{
		ID:      CommandID(o.ID, l.SKU, kind),
		Kind:    kind,
		OrderID: o.ID,
		SKU:     l.SKU,
		Time:    now,
	}
	if kind == inventory.KindReserve {
		c.Qty, c.TTL = l.Qty, pol.ReserveTTL
	}
	return c
}

// CommandID is the id of the saga's inventory command of kind for one line.
// It is a function of the order, SKU and kind only, so whatever the saga
// sends twice the inventory applies once, and its answers can be told from
// those to commands a shop sends by hand for the same order.
func CommandID(orderID, sku string, kind inventory.Kind) string {
	return schemas.ReservedPrefix + "order:" + orderID + ":" + sku + ":" + kind.String()
}

// PriceCheckID is the id of the saga's price check for line i.
func PriceCheckID(orderID string, line int32, sku string) string {
	return schemas.ReservedPrefix + "order:" + orderID + ":" + strconv.Itoa(int(line)) + ":" + sku + ":price"
}

// OutcomeEventID is the event id of an order's outcome. A crash between
// emitting the outcome and storing the order makes the saga emit it again;
// the fixed id lets readers of the outcomes topic drop the copy.
func OutcomeEventID(orderID string) string {
	return schemas.ReservedPrefix + "order:" + orderID + ":outcome"
}

// at is the saga's time for an input stamped t: the order's clock never
// goes back, so a late input is judged at the latest time the order saw.
func (o *Order) at(t time.Time) time.Time {
	if c := o.Clock(); t.Before(c) {
		return c
	}
	return t
}

// record appends a step, dropping the oldest beyond the policy's bound.
func (o *Order) record(at time.Time, name, detail string, pol Policy) {
	o.History = append(o.History, Step{At: at, Name: name, Detail: detail})
	if n := len(o.History) - pol.MaxHistory; n > 0 {
		o.History = slices.Delete(o.History, 0, n)
		o.HistoryDropped += int64(n)
	}
}

func (o Order) hasStep(name, detail string) bool {
	for _, s := range o.History {
		if s.Name == name && s.Detail == detail {
			return true
		}
	}
	return false
}

// clone copies the slices a transition writes, so no function modifies
// its caller's order.
func (o Order) clone() Order {
	o.Lines = slices.Clone(o.Lines)
	o.History = slices.Clone(o.History)
	return o
}
