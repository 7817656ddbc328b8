package fraud

import (
	"time"

	"github.com/titan-commerce/titan/internal/millis"
	fraudv1 "github.com/titan-commerce/titan/schemas/fraud/v1"
)

// The wire forms live in schemas/fraud/v1; these functions map them to the
// plain values Step works on. Event times travel as Unix milliseconds, zero
// meaning unset; bucket starts are always set and map directly.

// OriginToWire maps an origin.
func OriginToWire(o Origin) *fraudv1.Origin {
	return &fraudv1.Origin{Stream: o.Stream, Partition: o.Partition, Offset: o.Offset}
}

// OriginFromWire maps a decoded origin; nil is the zero origin.
func OriginFromWire(o *fraudv1.Origin) Origin {
	return Origin{Stream: o.GetStream(), Partition: o.GetPartition(), Offset: o.GetOffset()}
}

func featuresToWire(fs []Feature) []*fraudv1.Feature {
	if len(fs) == 0 {
		return nil
	}
	out := make([]*fraudv1.Feature, len(fs))
	for i, f := range fs {
		out[i] = &fraudv1.Feature{Name: f.Name, Value: f.Value}
	}
	return out
}

func featuresFromWire(fs []*fraudv1.Feature) []Feature {
	if len(fs) == 0 {
		return nil
	}
	out := make([]Feature, len(fs))
	for i, f := range fs {
		out[i] = Feature{Name: f.GetName(), Value: f.GetValue()}
	}
	return out
}

// ObservationToWire maps an observation for the observations or loop topic.
func ObservationToWire(o Observation) *fraudv1.Observation {
	return &fraudv1.Observation{
		Kind:        fraudv1.ObservationKind(o.Kind),
		Stage:       fraudv1.Stage(o.Stage),
		Key:         o.Key,
		OrderId:     o.OrderID,
		UserId:      o.UserID,
		DeviceId:    o.DeviceID,
		PaymentId:   o.PaymentID,
		AmountMinor: o.Amount,
		Currency:    o.Currency,
		TimestampMs: millis.Of(o.Time),
		Origin:      OriginToWire(o.Origin),
		Features:    featuresToWire(o.Features),
	}
}

// ObservationFromWire maps a decoded observation. Enum values this version
// does not know map to the Unknown kind or stage, which Validate refuses.
func ObservationFromWire(o *fraudv1.Observation) Observation {
	kind := Kind(KindUnknown)
	if k := o.GetKind(); k >= 0 && k <= fraudv1.ObservationKind(KindPaymentFailed) {
		kind = Kind(k)
	}
	stage := StageUnknown
	if s := o.GetStage(); s >= 0 && s <= fraudv1.Stage(StageUser) {
		stage = Stage(s)
	}
	return Observation{
		Kind:      kind,
		Stage:     stage,
		Key:       o.GetKey(),
		OrderID:   o.GetOrderId(),
		UserID:    o.GetUserId(),
		DeviceID:  o.GetDeviceId(),
		PaymentID: o.GetPaymentId(),
		Amount:    o.GetAmountMinor(),
		Currency:  o.GetCurrency(),
		Time:      millis.Time(o.GetTimestampMs()),
		Origin:    OriginFromWire(o.GetOrigin()),
		Features:  featuresFromWire(o.GetFeatures()),
	}
}

// DecisionToWire maps a decision for the saga topic.
func DecisionToWire(d Decision) *fraudv1.Decision {
	out := &fraudv1.Decision{
		OrderId:      d.OrderID,
		UserId:       d.UserID,
		Outcome:      fraudv1.Outcome(d.Outcome),
		Score:        d.Score,
		ModelVersion: d.ModelVersion,
		TimestampMs:  millis.Of(d.Time),
		Features:     featuresToWire(d.Features),
	}
	if len(d.Reasons) > 0 {
		out.Reasons = make([]*fraudv1.Reason, len(d.Reasons))
		for i, r := range d.Reasons {
			out.Reasons[i] = &fraudv1.Reason{Code: r.Code, Detail: r.Detail, Contribution: r.Contribution}
		}
	}
	return out
}

// DecisionFromWire maps a decoded decision; an outcome this version does
// not know maps to OutcomeUnknown.
func DecisionFromWire(d *fraudv1.Decision) Decision {
	outcome := OutcomeUnknown
	if o := d.GetOutcome(); o >= 0 && o <= fraudv1.Outcome(OutcomeReject) {
		outcome = Outcome(o)
	}
	out := Decision{
		OrderID:      d.GetOrderId(),
		UserID:       d.GetUserId(),
		Outcome:      outcome,
		Score:        d.GetScore(),
		ModelVersion: d.GetModelVersion(),
		Time:         millis.Time(d.GetTimestampMs()),
		Features:     featuresFromWire(d.GetFeatures()),
	}
	if rs := d.GetReasons(); len(rs) > 0 {
		out.Reasons = make([]Reason, len(rs))
		for i, r := range rs {
			out.Reasons[i] = Reason{Code: r.GetCode(), Detail: r.GetDetail(), Contribution: r.GetContribution()}
		}
	}
	return out
}

func bucketsToWire(bs []Bucket) []*fraudv1.Bucket {
	if len(bs) == 0 {
		return nil
	}
	out := make([]*fraudv1.Bucket, len(bs))
	for i, b := range bs {
		out[i] = &fraudv1.Bucket{StartMs: b.Start.UnixMilli(), Orders: b.Orders, AmountMinor: b.Amount, Failed: b.Failed}
	}
	return out
}

func bucketsFromWire(bs []*fraudv1.Bucket) []Bucket {
	if len(bs) == 0 {
		return nil
	}
	out := make([]Bucket, len(bs))
	for i, b := range bs {
		out[i] = Bucket{Start: time.UnixMilli(b.GetStartMs()).UTC(), Orders: b.GetOrders(), Amount: b.GetAmountMinor(), Failed: b.GetFailed()}
	}
	return out
}

// EntityToWire maps an entity for the table.
func EntityToWire(e Entity) *fraudv1.Entity {
	out := &fraudv1.Entity{
		Key:         e.Key,
		ClockMs:     millis.Of(e.Clock),
		FirstSeenMs: millis.Of(e.FirstSeen),
		Fine:        bucketsToWire(e.Fine),
		Minutes:     bucketsToWire(e.Minutes),
		Hours:       bucketsToWire(e.Hours),
		Late:        e.Late,
	}
	for _, m := range e.Members {
		out.Members = append(out.Members, &fraudv1.Member{Id: m.ID, FirstSeenMs: millis.Of(m.FirstSeen), LastSeenMs: millis.Of(m.LastSeen)})
	}
	for _, x := range e.Observed {
		out.Observed = append(out.Observed, &fraudv1.Observed{Id: x.ID, AtMs: millis.Of(x.At)})
	}
	for _, d := range e.Recent {
		out.Decisions = append(out.Decisions, DecisionToWire(d))
	}
	return out
}

// EntityFromWire maps a decoded table value. It does not re-sort or prune:
// Step prunes on the next observation, and the adapter only stores what
// EntityToWire wrote.
func EntityFromWire(w *fraudv1.Entity) Entity {
	e := Entity{
		Key:       w.GetKey(),
		Clock:     millis.Time(w.GetClockMs()),
		FirstSeen: millis.Time(w.GetFirstSeenMs()),
		Fine:      bucketsFromWire(w.GetFine()),
		Minutes:   bucketsFromWire(w.GetMinutes()),
		Hours:     bucketsFromWire(w.GetHours()),
		Late:      w.GetLate(),
	}
	for _, m := range w.GetMembers() {
		e.Members = append(e.Members, Member{ID: m.GetId(), FirstSeen: millis.Time(m.GetFirstSeenMs()), LastSeen: millis.Time(m.GetLastSeenMs())})
	}
	for _, x := range w.GetObserved() {
		e.Observed = append(e.Observed, Observed{ID: x.GetId(), At: millis.Time(x.GetAtMs())})
	}
	for _, d := range w.GetDecisions() {
		e.Recent = append(e.Recent, DecisionFromWire(d))
	}
	return e
}
