package recommendations

import (
	"fmt"
	"slices"

	"github.com/titan-commerce/titan/internal/millis"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
)

// The wire forms live in schemas/; these functions map them to the plain
// values the steps work on. Times travel as Unix milliseconds. The
// FromWire functions accept anything that decodes: stored values are
// trusted only as far as it takes never to panic, and scores that are not
// finite and positive read as zero.

// ViewFromWire maps a view event.
func ViewFromWire(w *recommendationsv1.ViewEvent) ViewEvent {
	return ViewEvent{
		EventID: w.GetEventId(), UserID: w.GetUserId(), SKU: w.GetSku(), SessionID: w.GetSessionId(),
		Time: millis.Time(w.GetTimestampMs()),
	}
}

// ViewToWire maps a view event, for producers.
func ViewToWire(v ViewEvent) *recommendationsv1.ViewEvent {
	return &recommendationsv1.ViewEvent{
		EventId: v.EventID, UserId: v.UserID, Sku: v.SKU, SessionId: v.SessionID, TimestampMs: millis.Of(v.Time),
	}
}

func signalFromWire(s recommendationsv1.Signal) Signal {
	switch s {
	case recommendationsv1.Signal_SIGNAL_VIEW:
		return SignalView
	case recommendationsv1.Signal_SIGNAL_PURCHASE:
		return SignalPurchase
	}
	return SignalUnknown
}

func signalToWire(s Signal) recommendationsv1.Signal {
	switch s {
	case SignalView:
		return recommendationsv1.Signal_SIGNAL_VIEW
	case SignalPurchase:
		return recommendationsv1.Signal_SIGNAL_PURCHASE
	}
	return recommendationsv1.Signal_SIGNAL_UNSPECIFIED
}

func originToWire(o Origin) *recommendationsv1.Origin {
	return &recommendationsv1.Origin{Stream: o.Stream, Partition: o.Partition, Offset: o.Offset, Seq: o.Seq}
}

func originFromWire(o *recommendationsv1.Origin) Origin {
	return Origin{Stream: o.GetStream(), Partition: o.GetPartition(), Offset: o.GetOffset(), Seq: o.GetSeq()}
}

// PairToWire maps a pair for the pairs topic.
func PairToWire(p Pair) *recommendationsv1.Pair {
	return &recommendationsv1.Pair{
		Item: p.Item, Other: p.Other, Signal: signalToWire(p.Signal), TimestampMs: millis.Of(p.Time),
		Origin: originToWire(p.Origin),
	}
}

// PairFromWire maps a pair read from the pairs topic.
func PairFromWire(w *recommendationsv1.Pair) Pair {
	return Pair{
		Item: w.GetItem(), Other: w.GetOther(), Signal: signalFromWire(w.GetSignal()),
		Time: millis.Time(w.GetTimestampMs()), Origin: originFromWire(w.GetOrigin()),
	}
}

// PairRecords maps the pairs one input made for the pairs topic: one record
// per item, in the order of each item's first pair, carrying that item's
// pairs in order (the first, then Pair.more). An item so counts what one
// input made for it in one step, and writes its head once.
func PairRecords(pairs []Pair) []*recommendationsv1.Pair {
	var out []*recommendationsv1.Pair
	at := map[string]int{}
	for _, p := range pairs {
		w := PairToWire(p)
		if i, ok := at[p.Item]; ok {
			out[i].More = append(out[i].More, w)
			continue
		}
		at[p.Item] = len(out)
		out = append(out, w)
	}
	return out
}

// PairsFromRecord maps a record of the pairs topic to its pairs, in order.
// A record with a pair in more for another item than the first's, or with
// pairs nested deeper, is refused whole, with an error naming the field.
func PairsFromRecord(w *recommendationsv1.Pair) ([]Pair, error) {
	out := make([]Pair, 0, 1+len(w.GetMore()))
	out = append(out, PairFromWire(w))
	for i, m := range w.GetMore() {
		switch {
		case m.GetItem() != w.GetItem():
			return nil, fmt.Errorf("more[%d].item %q is not the record's item %q", i, m.GetItem(), w.GetItem())
		case len(m.GetMore()) > 0:
			return nil, fmt.Errorf("more[%d].more: a pair in more has none of its own", i)
		}
		out = append(out, PairFromWire(m))
	}
	return out, nil
}

// ItemStateToWire maps an item's state for its table. The seen origins go
// out sorted, so equal states encode equally.
func ItemStateToWire(s ItemState) *recommendationsv1.ItemState {
	w := &recommendationsv1.ItemState{
		Sku: s.SKU, EpochMs: millis.Of(s.Epoch), ClockMs: millis.Of(s.Clock), Pruned: s.Pruned,
	}
	if len(s.Neighbors) > 0 {
		w.Neighbors = make([]*recommendationsv1.Neighbor, len(s.Neighbors))
		for i, n := range s.Neighbors {
			w.Neighbors[i] = &recommendationsv1.Neighbor{
				Sku: n.SKU, ViewScore: n.ViewScore, PurchaseScore: n.PurchaseScore, LastMs: millis.Of(n.Last),
			}
		}
	}
	if len(s.Seen) > 0 {
		srcs := make([]int64, 0, len(s.Seen))
		for src := range s.Seen {
			srcs = append(srcs, src)
		}
		slices.Sort(srcs)
		w.Seen = make([]*recommendationsv1.Origin, len(srcs))
		for i, src := range srcs {
			w.Seen[i] = originToWire(s.Seen[src])
		}
	}
	return w
}

// ItemStateFromWire maps an item's stored state. It trusts the stored
// order: checking it would cost every pair a pass over the neighbors, and
// a state written under other weights is sorted again at its next rebase.
func ItemStateFromWire(w *recommendationsv1.ItemState) ItemState {
	s := ItemState{
		SKU: w.GetSku(), Epoch: millis.Time(w.GetEpochMs()), Clock: millis.Time(w.GetClockMs()), Pruned: max(w.GetPruned(), 0),
	}
	if ns := w.GetNeighbors(); len(ns) > 0 {
		s.Neighbors = make([]Neighbor, len(ns))
		for i, n := range ns {
			s.Neighbors[i] = Neighbor{
				SKU: n.GetSku(), ViewScore: score(n.GetViewScore()), PurchaseScore: score(n.GetPurchaseScore()),
				Last: millis.Time(n.GetLastMs()),
			}
		}
	}
	if seen := w.GetSeen(); len(seen) > 0 {
		s.Seen = make(map[int64]Origin, len(seen))
		for _, o := range seen {
			o := originFromWire(o)
			if last, ok := s.Seen[o.Source()]; !ok || o.After(last) {
				s.Seen[o.Source()] = o
			}
		}
	}
	return s
}

func score(v float64) float64 {
	if !finite(v) || v < 0 {
		return 0
	}
	return v
}

func seenToWire(ss []Seen) []*recommendationsv1.Seen {
	if len(ss) == 0 {
		return nil
	}
	out := make([]*recommendationsv1.Seen, len(ss))
	for i, s := range ss {
		out[i] = &recommendationsv1.Seen{Sku: s.SKU, AtMs: millis.Of(s.At), SessionId: s.SessionID, Signal: signalToWire(s.Signal)}
	}
	return out
}

func seenFromWire(ws []*recommendationsv1.Seen) []Seen {
	if len(ws) == 0 {
		return nil
	}
	out := make([]Seen, len(ws))
	for i, w := range ws {
		out[i] = Seen{SKU: w.GetSku(), At: millis.Time(w.GetAtMs()), SessionID: w.GetSessionId(), Signal: signalFromWire(w.GetSignal())}
	}
	return out
}

// UserHistoryToWire maps a user's history for its table.
func UserHistoryToWire(h UserHistory) *recommendationsv1.UserHistory {
	return &recommendationsv1.UserHistory{
		UserId: h.UserID, Recent: seenToWire(h.Recent), Bought: seenToWire(h.Bought), ClockMs: millis.Of(h.Clock),
		EventIds: slices.Clone(h.EventIDs), EventPrints: slices.Clone(h.EventPrints),
	}
}

// UserHistoryFromWire maps a user's stored history.
func UserHistoryFromWire(w *recommendationsv1.UserHistory) UserHistory {
	return UserHistory{
		UserID: w.GetUserId(), Recent: seenFromWire(w.GetRecent()), Bought: seenFromWire(w.GetBought()),
		Clock: millis.Time(w.GetClockMs()), EventIDs: slices.Clone(w.GetEventIds()),
		EventPrints: slices.Clone(w.GetEventPrints()),
	}
}

// BasketToWire maps an order's basket for its table.
func BasketToWire(b Basket) *recommendationsv1.Basket {
	return &recommendationsv1.Basket{OrderId: b.OrderID, Skus: slices.Clone(b.SKUs), UserId: b.UserID}
}

// BasketFromWire maps an order's stored basket.
func BasketFromWire(w *recommendationsv1.Basket) Basket {
	return Basket{OrderID: w.GetOrderId(), SKUs: slices.Clone(w.GetSkus()), UserID: w.GetUserId()}
}
