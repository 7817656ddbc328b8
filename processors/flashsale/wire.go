package flashsale

import (
	"github.com/titan-commerce/titan/internal/millis"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
)

// The wire forms live in schemas/; these functions map them to the plain
// values the Decide functions work on. Times travel as Unix milliseconds.

// SaleToWire maps a sale definition.
func SaleToWire(s Sale) *flashsalev1.Sale {
	return &flashsalev1.Sale{
		Id: s.ID, Sku: s.SKU, Units: s.Units, StartsAtMs: millis.Of(s.Start), EndsAtMs: millis.Of(s.End),
		PerUserLimit: s.PerUserLimit, PriceMinor: s.PriceMinor, Buckets: int32(s.Buckets),
	}
}

// SaleFromWire maps a sale definition.
func SaleFromWire(w *flashsalev1.Sale) Sale {
	return Sale{
		ID: w.GetId(), SKU: w.GetSku(), Units: w.GetUnits(), Start: millis.Time(w.GetStartsAtMs()), End: millis.Time(w.GetEndsAtMs()),
		PerUserLimit: w.GetPerUserLimit(), PriceMinor: w.GetPriceMinor(), Buckets: int(w.GetBuckets()),
	}
}

// MessageToWire maps a message.
func MessageToWire(m Message) *flashsalev1.Message {
	w := &flashsalev1.Message{
		Kind: flashsalev1.Kind(m.Kind), SaleId: m.SaleID, Key: m.Key, TimestampMs: millis.Of(m.Time),
		Internal: m.Internal, IdempotencyKey: m.IdempotencyKey, UserId: m.UserID, Qty: m.Qty,
		Bucket: int32(m.Bucket), Already: m.Already, Reason: m.Reason, Units: m.Units, From: int32(m.From), Round: m.Round,
	}
	if m.Internal {
		w.Origin = originToWire(m.Origin)
	}
	if m.Sale != (Sale{}) {
		w.Sale = SaleToWire(m.Sale)
	}
	return w
}

// MessageFromWire maps a message.
func MessageFromWire(w *flashsalev1.Message) Message {
	m := Message{
		Kind: Kind(w.GetKind()), SaleID: w.GetSaleId(), Key: w.GetKey(), Time: millis.Time(w.GetTimestampMs()),
		Internal: w.GetInternal(), IdempotencyKey: w.GetIdempotencyKey(), UserID: w.GetUserId(), Qty: w.GetQty(),
		Bucket: int(w.GetBucket()), Already: w.GetAlready(), Reason: w.GetReason(), Units: w.GetUnits(),
		From: int(w.GetFrom()), Round: w.GetRound(),
	}
	if o := w.GetOrigin(); o != nil {
		m.Origin = originFromWire(o)
	}
	if w.GetSale() != nil {
		m.Sale = SaleFromWire(w.GetSale())
	}
	return m
}

// ResultToWire maps a result for publishing.
func ResultToWire(r Result) *flashsalev1.Result {
	return &flashsalev1.Result{
		SaleId: r.SaleID, IdempotencyKey: r.IdempotencyKey, UserId: r.UserID, Qty: r.Qty,
		Status: flashsalev1.Status(r.Status), Reason: r.Reason, Bucket: int32(r.Bucket),
		PriceMinor: r.PriceMinor, TimestampMs: millis.Of(r.Time),
	}
}

// ResultFromWire maps a published result.
func ResultFromWire(w *flashsalev1.Result) Result {
	return Result{
		SaleID: w.GetSaleId(), IdempotencyKey: w.GetIdempotencyKey(), UserID: w.GetUserId(), Qty: w.GetQty(),
		Status: Status(w.GetStatus()), Reason: w.GetReason(), Bucket: int(w.GetBucket()),
		PriceMinor: w.GetPriceMinor(), Time: millis.Time(w.GetTimestampMs()),
	}
}

func originToWire(o Origin) *flashsalev1.Origin {
	return &flashsalev1.Origin{Stream: o.Stream, Partition: o.Partition, Offset: o.Offset, Seq: o.Seq}
}

func originFromWire(o *flashsalev1.Origin) Origin {
	return Origin{Stream: o.GetStream(), Partition: o.GetPartition(), Offset: o.GetOffset(), Seq: o.GetSeq()}
}

func seenToWire(s Seen) map[int64]*flashsalev1.Origin {
	if len(s) == 0 {
		return nil
	}
	out := make(map[int64]*flashsalev1.Origin, len(s))
	for src, o := range s {
		out[src] = originToWire(o)
	}
	return out
}

func seenFromWire(w map[int64]*flashsalev1.Origin) Seen {
	if len(w) == 0 {
		return nil
	}
	out := make(Seen, len(w))
	for src, o := range w {
		out[src] = originFromWire(o)
	}
	return out
}

func messagesToWire(ms []Message) []*flashsalev1.Message {
	if len(ms) == 0 {
		return nil
	}
	out := make([]*flashsalev1.Message, len(ms))
	for i, m := range ms {
		out[i] = MessageToWire(m)
	}
	return out
}

func messagesFromWire(ws []*flashsalev1.Message) []Message {
	if len(ws) == 0 {
		return nil
	}
	out := make([]Message, len(ws))
	for i, w := range ws {
		out[i] = MessageFromWire(w)
	}
	return out
}

// State is the value of one key of a sale: exactly one field is set.
type State struct {
	Sale   *SaleState
	Bucket *BucketState
	User   *UserState
}

// StateToWire maps a key's state for the table.
func StateToWire(s State) *flashsalev1.State {
	switch {
	case s.Sale != nil:
		return &flashsalev1.State{Kind: &flashsalev1.State_Sale{Sale: saleStateToWire(*s.Sale)}}
	case s.Bucket != nil:
		b := s.Bucket
		return &flashsalev1.State{Kind: &flashsalev1.State_Bucket{Bucket: &flashsalev1.BucketState{
			Sale: SaleToWire(b.Sale), Bucket: int32(b.Bucket), Opened: b.Opened, Available: b.Available, Sold: b.Sold,
			Received: b.Received, Given: b.Given, Parked: messagesToWire(b.Parked), Borrowing: b.Borrowing,
			Round: b.Round, Donor: int32(b.Donor), Misses: int32(b.Misses), Seen: seenToWire(b.Seen), Closed: b.Closed,
			ExhaustedAtMs: millis.Of(b.ExhaustedAt),
		}}}
	case s.User != nil:
		u := s.User
		w := &flashsalev1.UserState{Purchased: u.Purchased, Pending: messagesToWire(u.Pending), Seen: seenToWire(u.Seen)}
		for _, r := range u.Results {
			w.Results = append(w.Results, ResultToWire(r))
		}
		return &flashsalev1.State{Kind: &flashsalev1.State_User{User: w}}
	}
	return &flashsalev1.State{}
}

// StateFromWire maps a table value.
func StateFromWire(w *flashsalev1.State) State {
	switch k := w.GetKind().(type) {
	case *flashsalev1.State_Sale:
		s := saleStateFromWire(k.Sale)
		return State{Sale: &s}
	case *flashsalev1.State_Bucket:
		b := k.Bucket
		return State{Bucket: &BucketState{
			Sale: SaleFromWire(b.GetSale()), Bucket: int(b.GetBucket()), Opened: b.GetOpened(), Available: b.GetAvailable(),
			Sold: b.GetSold(), Received: b.GetReceived(), Given: b.GetGiven(), Parked: messagesFromWire(b.GetParked()),
			Borrowing: b.GetBorrowing(), Round: b.GetRound(), Donor: int(b.GetDonor()), Misses: int(b.GetMisses()),
			Seen: seenFromWire(b.GetSeen()), Closed: b.GetClosed(), ExhaustedAt: millis.Time(b.GetExhaustedAtMs()),
		}}
	case *flashsalev1.State_User:
		u := k.User
		s := &UserState{Purchased: u.GetPurchased(), Pending: messagesFromWire(u.GetPending()), Seen: seenFromWire(u.GetSeen())}
		for _, r := range u.GetResults() {
			s.Results = append(s.Results, ResultFromWire(r))
		}
		return State{User: s}
	}
	return State{}
}

func saleStateToWire(s SaleState) *flashsalev1.SaleState {
	w := &flashsalev1.SaleState{
		Sale: SaleToWire(s.Sale), Phase: flashsalev1.SalePhase(s.Phase), Reason: s.Reason,
		CreatedAtMs: millis.Of(s.CreatedAt), DeadlineMs: millis.Of(s.Deadline), Seen: seenToWire(s.Seen),
		// For readers that predate phase.
		Defined: s.Defined(), Settled: s.Settled(),
	}
	if len(s.Reports) > 0 {
		w.Reports = make(map[int32]int64, len(s.Reports))
		for b, n := range s.Reports {
			w.Reports[int32(b)] = n
		}
	}
	return w
}

func saleStateFromWire(w *flashsalev1.SaleState) SaleState {
	s := SaleState{
		Sale: SaleFromWire(w.GetSale()), Phase: Phase(w.GetPhase()), Reason: w.GetReason(),
		CreatedAt: millis.Time(w.GetCreatedAtMs()), Deadline: millis.Time(w.GetDeadlineMs()), Seen: seenFromWire(w.GetSeen()),
	}
	if s.Phase == PhaseNone {
		// A state written before phase: a defined sale was open, a
		// settled one had sent its settlement, which was all it knew.
		switch {
		case w.GetSettled():
			s.Phase = PhaseSettled
		case w.GetDefined():
			s.Phase = PhaseOpen
		}
	}
	if len(w.GetReports()) > 0 {
		s.Reports = make(map[int]int64, len(w.GetReports()))
		for b, n := range w.GetReports() {
			s.Reports[int(b)] = n
		}
	}
	return s
}
