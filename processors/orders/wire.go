package orders

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"slices"
	"time"

	"github.com/titan-commerce/titan/internal/millis"
	fraudv1 "github.com/titan-commerce/titan/schemas/fraud/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
)

// The wire forms live in schemas/; these functions map them to the plain
// values the saga works on. Times travel as Unix milliseconds; zero maps to
// the zero time and back.

// Fingerprint is a digest of what a shop ordered: user, device, payment
// instrument, currency and lines. The event id and time are left out, so a
// checkout that retries with a new id or timestamp is still a retry.
func Fingerprint(p Placed) string {
	h := sha256.New()
	for _, s := range []string{p.UserID, p.DeviceID, p.PaymentID, p.Currency} {
		writeString(h, s)
	}
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(p.Lines)))
	h.Write(n[:])
	for _, l := range p.Lines {
		writeString(h, l.SKU)
		binary.BigEndian.PutUint64(n[:], uint64(l.Qty))
		h.Write(n[:])
		binary.BigEndian.PutUint64(n[:], uint64(l.UnitPrice))
		h.Write(n[:])
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// writeString length-prefixes s so that no two field lists hash alike.
func writeString(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

func placedFromWire(p *ordersv1.OrderPlaced) (user, device, payment, currency string, lines []Line) {
	if n := len(p.GetLines()); n > 0 {
		lines = make([]Line, n)
		for i, l := range p.GetLines() {
			lines[i] = Line{SKU: l.GetSku(), Qty: l.GetQty(), UnitPrice: l.GetUnitPriceMinor()}
		}
	}
	return p.GetUserId(), p.GetDeviceId(), p.GetPaymentId(), p.GetCurrency(), lines
}

// PlacedFromWire maps an OrderPlaced event; false for any other kind.
func PlacedFromWire(ev *ordersv1.OrderEvent) (Placed, bool) {
	w := ev.GetPlaced()
	if w == nil {
		return Placed{}, false
	}
	p := Placed{EventID: ev.GetEventId(), OrderID: ev.GetOrderId(), Time: millis.Time(ev.GetTimestampMs())}
	p.UserID, p.DeviceID, p.PaymentID, p.Currency, p.Lines = placedFromWire(w)
	return p, true
}

// PlacedToWire is the inverse of PlacedFromWire, for checkouts and tests.
func PlacedToWire(p Placed) *ordersv1.OrderEvent {
	return &ordersv1.OrderEvent{
		EventId:     p.EventID,
		OrderId:     p.OrderID,
		TimestampMs: millis.Of(p.Time),
		Kind: &ordersv1.OrderEvent_Placed{Placed: &ordersv1.OrderPlaced{
			UserId:    p.UserID,
			DeviceId:  p.DeviceID,
			PaymentId: p.PaymentID,
			Currency:  p.Currency,
			Lines:     linesToWire(p.Lines),
		}},
	}
}

func linesToWire(lines []Line) []*ordersv1.OrderLine {
	out := make([]*ordersv1.OrderLine, len(lines))
	for i, l := range lines {
		out[i] = &ordersv1.OrderLine{Sku: l.SKU, Qty: l.Qty, UnitPriceMinor: l.UnitPrice}
	}
	return out
}

// FailedPaymentFromWire maps a PaymentFailed event; false for any other kind.
func FailedPaymentFromWire(ev *ordersv1.OrderEvent) (FailedPayment, bool) {
	w := ev.GetPaymentFailed()
	if w == nil {
		return FailedPayment{}, false
	}
	return FailedPayment{
		EventID:   ev.GetEventId(),
		OrderID:   ev.GetOrderId(),
		UserID:    w.GetUserId(),
		DeviceID:  w.GetDeviceId(),
		PaymentID: w.GetPaymentId(),
		Amount:    w.GetAmountMinor(),
		Reason:    w.GetReason(),
		Time:      millis.Time(ev.GetTimestampMs()),
	}, true
}

// PaymentFromWire maps an OrderPaid event; false for any other kind.
func PaymentFromWire(ev *ordersv1.OrderEvent) (Payment, bool) {
	w := ev.GetPaid()
	if w == nil {
		return Payment{}, false
	}
	return Payment{
		EventID:   ev.GetEventId(),
		OrderID:   ev.GetOrderId(),
		UserID:    w.GetUserId(),
		PaymentID: w.GetPaymentId(),
		Amount:    w.GetAmountMinor(),
		Currency:  w.GetCurrency(),
		Time:      millis.Time(ev.GetTimestampMs()),
	}, true
}

// CancelFromWire gives Cancel's reason and time from an OrderCancelled
// event; false for any other kind.
func CancelFromWire(ev *ordersv1.OrderEvent) (reason string, at time.Time, ok bool) {
	w := ev.GetCancelled()
	if w == nil {
		return "", time.Time{}, false
	}
	return w.GetReason(), millis.Time(ev.GetTimestampMs()), true
}

// OutcomeToWire is the OrderConfirmed or OrderRejected event for an outcome;
// eventID is normally OutcomeEventID(orderID).
func OutcomeToWire(orderID, eventID string, out Outcome) *ordersv1.OrderEvent {
	ev := &ordersv1.OrderEvent{EventId: eventID, OrderId: orderID, TimestampMs: millis.Of(out.Time)}
	if out.Confirmed {
		ev.Kind = &ordersv1.OrderEvent_Confirmed{Confirmed: &ordersv1.OrderConfirmed{
			TotalMinor:    out.Total,
			Review:        out.Review,
			ReviewReasons: slices.Clone(out.ReviewReasons),
			UserId:        out.UserID,
			Currency:      out.Currency,
			Lines:         linesToWire(out.Lines),
		}}
	} else {
		ev.Kind = &ordersv1.OrderEvent_Rejected{Rejected: &ordersv1.OrderRejected{
			Reason: out.Reason,
			Detail: out.Detail,
		}}
	}
	return ev
}

var outcomeNames = map[fraudv1.Outcome]string{
	fraudv1.Outcome_OUTCOME_APPROVE: FraudApprove,
	fraudv1.Outcome_OUTCOME_REVIEW:  FraudReview,
	fraudv1.Outcome_OUTCOME_REJECT:  FraudReject,
}

// VerdictFromWire maps a fraud decision; the reasons keep their order, most
// important first. An unspecified outcome maps to "", which OnFraud reads
// as review.
func VerdictFromWire(d *fraudv1.Decision) FraudVerdict {
	v := FraudVerdict{
		Outcome:      outcomeNames[d.GetOutcome()],
		Score:        d.GetScore(),
		ModelVersion: d.GetModelVersion(),
		Time:         millis.Time(d.GetTimestampMs()),
	}
	for _, r := range d.GetReasons() {
		v.Reasons = append(v.Reasons, FraudReason{Code: r.GetCode(), Detail: r.GetDetail(), Contribution: r.GetContribution()})
	}
	return v
}

func verdictToWire(o Order) *fraudv1.Decision {
	v := o.Fraud
	if v.Outcome == "" {
		return nil
	}
	d := &fraudv1.Decision{
		OrderId:      o.ID,
		UserId:       o.UserID,
		Score:        v.Score,
		ModelVersion: v.ModelVersion,
		TimestampMs:  millis.Of(v.Time),
	}
	for k, name := range outcomeNames {
		if name == v.Outcome {
			d.Outcome = k
		}
	}
	for _, r := range v.Reasons {
		d.Reasons = append(d.Reasons, &fraudv1.Reason{Code: r.Code, Detail: r.Detail, Contribution: r.Contribution})
	}
	return d
}

// QuoteFromWire maps a price quote.
func QuoteFromWire(q *pricingv1.Quote) PriceQuote {
	return PriceQuote{
		SKU:      q.GetSku(),
		Line:     q.GetLine(),
		Found:    q.GetFound(),
		Price:    q.GetPriceMinor(),
		Currency: q.GetCurrency(),
		Time:     millis.Time(q.GetTimestampMs()),
	}
}

// PriceCheckToWire is the pricing command for a price check, keyed by its
// SKU on the pricing commands topic.
func PriceCheckToWire(pc PriceCheck) *pricingv1.Command {
	return &pricingv1.Command{
		CommandId:   pc.ID,
		Sku:         pc.SKU,
		TimestampMs: millis.Of(pc.Time),
		Kind:        &pricingv1.Command_Check{Check: &pricingv1.CheckPrice{OrderId: pc.OrderID, Line: pc.Line}},
	}
}

// OrderToWire maps an order for the saga table.
func OrderToWire(o Order) *ordersv1.Order {
	w := &ordersv1.Order{
		OrderId:        o.ID,
		PlacedEventId:  o.PlacedEventID,
		PlacedAtMs:     millis.Of(o.PlacedAt),
		Fingerprint:    o.Fingerprint,
		Status:         ordersv1.OrderStatus(o.Status),
		Reason:         o.Reason,
		Detail:         o.Detail,
		Fraud:          verdictToWire(o),
		TerminalAtMs:   millis.Of(o.TerminalAt),
		Review:         o.Review,
		HistoryDropped: o.HistoryDropped,
	}
	if !o.Status.Terminal() {
		w.OpenSteps = o.Steps()
	}
	placed := &ordersv1.OrderPlaced{
		UserId:    o.UserID,
		DeviceId:  o.DeviceID,
		PaymentId: o.PaymentID,
		Currency:  o.Currency,
	}
	w.Placed = placed
	if len(o.Lines) > 0 {
		placed.Lines = make([]*ordersv1.OrderLine, len(o.Lines))
		w.Lines = make([]*ordersv1.LineState, len(o.Lines))
	}
	for i, l := range o.Lines {
		placed.Lines[i] = &ordersv1.OrderLine{Sku: l.SKU, Qty: l.Qty, UnitPriceMinor: l.UnitPrice}
		w.Lines[i] = &ordersv1.LineState{
			Sku:              l.SKU,
			Qty:              l.Qty,
			UnitPriceMinor:   l.UnitPrice,
			Quoted:           l.Quoted,
			QuoteFound:       l.QuoteFound,
			QuotedPriceMinor: l.QuotedPrice,
			QuotedCurrency:   l.QuotedCurrency,
			Status:           ordersv1.LineStatus(l.Status),
			Reason:           l.Reason,
		}
	}
	if len(o.History) > 0 {
		w.History = make([]*ordersv1.Step, len(o.History))
	}
	for i, s := range o.History {
		w.History[i] = &ordersv1.Step{AtMs: millis.Of(s.At), Name: s.Name, Detail: s.Detail}
	}
	return w
}

// OrderFromWire maps a saga table value; nil is an order never seen. The
// lines come from the line states, which repeat the placed lines.
func OrderFromWire(w *ordersv1.Order) Order {
	if w == nil {
		return Order{}
	}
	o := Order{
		ID:             w.GetOrderId(),
		PlacedEventID:  w.GetPlacedEventId(),
		PlacedAt:       millis.Time(w.GetPlacedAtMs()),
		Fingerprint:    w.GetFingerprint(),
		Status:         Status(w.GetStatus()),
		Reason:         w.GetReason(),
		Detail:         w.GetDetail(),
		TerminalAt:     millis.Time(w.GetTerminalAtMs()),
		Review:         w.GetReview(),
		HistoryDropped: w.GetHistoryDropped(),
	}
	o.UserID, o.DeviceID, o.PaymentID, o.Currency, _ = placedFromWire(w.GetPlaced())
	if d := w.GetFraud(); d != nil {
		o.Fraud = VerdictFromWire(d)
	}
	if n := len(w.GetLines()); n > 0 {
		o.Lines = make([]LineState, n)
		for i, l := range w.GetLines() {
			o.Lines[i] = LineState{
				SKU:            l.GetSku(),
				Qty:            l.GetQty(),
				UnitPrice:      l.GetUnitPriceMinor(),
				Quoted:         l.GetQuoted(),
				QuoteFound:     l.GetQuoteFound(),
				QuotedPrice:    l.GetQuotedPriceMinor(),
				QuotedCurrency: l.GetQuotedCurrency(),
				Status:         LineStatus(l.GetStatus()),
				Reason:         l.GetReason(),
			}
		}
	}
	if n := len(w.GetHistory()); n > 0 {
		o.History = make([]Step, n)
		for i, s := range w.GetHistory() {
			o.History[i] = Step{At: millis.Time(s.GetAtMs()), Name: s.GetName(), Detail: s.GetDetail()}
		}
	}
	return o
}
