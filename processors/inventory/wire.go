package inventory

import (
	"time"

	"github.com/titan-commerce/titan/internal/millis"
	"github.com/titan-commerce/titan/schemas"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// The wire forms live in schemas/; these functions map them to the plain
// values Decide works on. Times travel as Unix milliseconds; zero maps to
// the zero time and back.

// CommandFromWire maps a decoded command; partition and offset come from
// the record that carried it.
func CommandFromWire(c *inventoryv1.Command, partition int32, offset int64) Command {
	out := Command{
		ID:        c.GetCommandId(),
		OrderID:   c.GetOrderId(),
		SKU:       c.GetSku(),
		Qty:       c.GetQty(),
		Time:      millis.Time(c.GetTimestampMs()),
		Partition: partition,
		Offset:    offset,
	}
	switch k := c.GetKind().(type) {
	case *inventoryv1.Command_Restock:
		out.Kind = KindRestock
	case *inventoryv1.Command_Reserve:
		out.Kind = KindReserve
		out.TTL = -1 // invalid, unless it is in range (and cannot overflow)
		if ms := k.Reserve.GetTtlMs(); ms > 0 && ms <= schemas.MaxReserveTTLMs {
			out.TTL = time.Duration(ms) * time.Millisecond
		}
	case *inventoryv1.Command_Commit:
		out.Kind = KindCommit
	case *inventoryv1.Command_Release:
		out.Kind = KindRelease
	case *inventoryv1.Command_Expire:
		out.Kind = KindExpire
	}
	return out
}

// CommandToWire is the inverse of CommandFromWire, for producers.
func CommandToWire(c Command) *inventoryv1.Command {
	out := &inventoryv1.Command{
		CommandId:   c.ID,
		OrderId:     c.OrderID,
		Sku:         c.SKU,
		Qty:         c.Qty,
		TimestampMs: millis.Of(c.Time),
	}
	switch c.Kind {
	case KindRestock:
		out.Kind = &inventoryv1.Command_Restock{Restock: &inventoryv1.Restock{}}
	case KindReserve:
		out.Kind = &inventoryv1.Command_Reserve{Reserve: &inventoryv1.Reserve{TtlMs: c.TTL.Milliseconds()}}
	case KindCommit:
		out.Kind = &inventoryv1.Command_Commit{Commit: &inventoryv1.Commit{}}
	case KindRelease:
		out.Kind = &inventoryv1.Command_Release{Release: &inventoryv1.Release{}}
	case KindExpire:
		out.Kind = &inventoryv1.Command_Expire{Expire: &inventoryv1.Expire{}}
	}
	return out
}

func stockToWire(s Stock) *inventoryv1.Stock {
	return &inventoryv1.Stock{OnHand: s.OnHand, Reserved: s.Reserved, Sold: s.Sold}
}

func stockFromWire(s *inventoryv1.Stock) Stock {
	return Stock{OnHand: s.GetOnHand(), Reserved: s.GetReserved(), Sold: s.GetSold()}
}

// EventToWire maps an event for publishing.
func EventToWire(e Event) *inventoryv1.Event {
	return &inventoryv1.Event{
		Type:             inventoryv1.EventType(e.Type),
		CommandId:        e.CommandID,
		OrderId:          e.OrderID,
		Sku:              e.SKU,
		Qty:              e.Qty,
		TimestampMs:      millis.Of(e.Time),
		Reason:           e.Reason,
		ExpiresAtMs:      millis.Of(e.ExpiresAt),
		Offset:           e.Offset,
		Partition:        e.Partition,
		Stock:            stockToWire(e.Stock),
		ReserveCommandId: e.ReserveCommandID,
		Seq:              e.Seq,
		Internal:         e.Internal,
	}
}

// EventFromWire maps a decoded event.
func EventFromWire(e *inventoryv1.Event) Event {
	return Event{
		Type:             EventType(e.GetType()),
		CommandID:        e.GetCommandId(),
		OrderID:          e.GetOrderId(),
		SKU:              e.GetSku(),
		Qty:              e.GetQty(),
		Time:             millis.Time(e.GetTimestampMs()),
		Reason:           e.GetReason(),
		ExpiresAt:        millis.Time(e.GetExpiresAtMs()),
		Offset:           e.GetOffset(),
		Partition:        e.GetPartition(),
		Stock:            stockFromWire(e.GetStock()),
		ReserveCommandID: e.GetReserveCommandId(),
		Seq:              e.GetSeq(),
		Internal:         e.GetInternal(),
	}
}

// StateToWire maps a whole SKU's state to one value, the layout 1 of the
// table (see SkuState); tests and tools that hold a State use it.
func StateToWire(s State) *inventoryv1.SkuState {
	out := &inventoryv1.SkuState{
		Stock:          stockToWire(s.Stock),
		Offset:         s.Offset,
		InternalOffset: s.InternalOffset,
		Seq:            s.Seq,
		ClockMs:        millis.Of(s.Clock),
		NextExpiryMs:   millis.Of(s.NextExpiry()),
		Reservations:   make([]*inventoryv1.Reservation, len(s.Reservations)),
		Applied:        make([]*inventoryv1.AppliedCommand, len(s.Applied)),
	}
	for i, r := range s.Reservations {
		out.Reservations[i] = ReservationToWire(r)
	}
	for i, a := range s.Applied {
		out.Applied[i] = AppliedToWire(a)
	}
	return out
}

// ReservationToWire maps a reservation.
func ReservationToWire(r Reservation) *inventoryv1.Reservation {
	return &inventoryv1.Reservation{
		OrderId:     r.OrderID,
		Qty:         r.Qty,
		ExpiresAtMs: millis.Of(r.ExpiresAt),
		CommandId:   r.CommandID,
		Status:      inventoryv1.ReservationStatus(r.Status),
		ClosedAtMs:  millis.Of(r.ClosedAt),
		Internal:    r.Internal,
	}
}

// ReservationFromWire maps a decoded reservation.
func ReservationFromWire(r *inventoryv1.Reservation) Reservation {
	return Reservation{
		OrderID:   r.GetOrderId(),
		CommandID: r.GetCommandId(),
		Qty:       r.GetQty(),
		ExpiresAt: millis.Time(r.GetExpiresAtMs()),
		Status:    ReservationStatus(r.GetStatus()),
		ClosedAt:  millis.Time(r.GetClosedAtMs()),
		Internal:  r.GetInternal(),
	}
}

// AppliedToWire maps a remembered command.
func AppliedToWire(a Applied) *inventoryv1.AppliedCommand {
	out := &inventoryv1.AppliedCommand{
		CommandId:   a.CommandID,
		AppliedAtMs: millis.Of(a.At),
		Fingerprint: a.Fingerprint,
		Seq:         a.Seq,
	}
	if a.Result.Type != EventUnknown {
		out.Result = EventToWire(a.Result)
	}
	if len(a.Expired) > 0 {
		out.Expired = make([]*inventoryv1.Event, len(a.Expired))
		for j, e := range a.Expired {
			out.Expired[j] = EventToWire(e)
		}
	}
	return out
}

// AppliedFromWire maps a decoded remembered command.
func AppliedFromWire(a *inventoryv1.AppliedCommand) Applied {
	out := Applied{
		CommandID:   a.GetCommandId(),
		Fingerprint: a.GetFingerprint(),
		At:          millis.Time(a.GetAppliedAtMs()),
		Seq:         a.GetSeq(),
	}
	if a.GetResult() != nil {
		out.Result = EventFromWire(a.GetResult())
	}
	if n := len(a.GetExpired()); n > 0 {
		out.Expired = make([]Event, n)
		for j, e := range a.GetExpired() {
			out.Expired[j] = EventFromWire(e)
		}
	}
	return out
}

// LoggedToWire maps a remembered command's place.
func LoggedToWire(l Logged) *inventoryv1.LoggedCommand {
	return &inventoryv1.LoggedCommand{CommandId: l.CommandID, Expire: l.Expire, AtMs: millis.Of(l.At), Ended: l.Ended}
}

// LoggedFromWire maps a decoded place; seq is the key's.
func LoggedFromWire(w *inventoryv1.LoggedCommand, seq int64) Logged {
	return Logged{Seq: seq, CommandID: w.GetCommandId(), Expire: w.GetExpire(), At: millis.Time(w.GetAtMs()), Ended: w.GetEnded()}
}

// HeadToWire maps a head, in the layout that keeps the SKU's memory under
// keys of its own; the caller adds what the topology keeps beside it.
func HeadToWire(h Head) *inventoryv1.SkuState {
	return &inventoryv1.SkuState{
		Stock:          stockToWire(h.Stock),
		Offset:         h.Offset,
		InternalOffset: h.InternalOffset,
		Seq:            h.Seq,
		ClockMs:        millis.Of(h.Clock),
		NextExpiryMs:   millis.Of(h.NextExpiry),
		NextOrder:      h.NextOrder,
		OldestSeq:      h.Oldest,
		OldestAtMs:     millis.Of(h.OldestAt),
		Layout:         2,
	}
}

// HeadFromWire maps a table value of either layout; nil is a SKU never
// seen. The head of a layout 1 value is that of its StateFromWire.
func HeadFromWire(w *inventoryv1.SkuState) Head {
	if w == nil {
		return NewHead()
	}
	if w.GetLayout() < 2 {
		return StateFromWire(w).Head()
	}
	return Head{
		Stock:          stockFromWire(w.GetStock()),
		Offset:         w.GetOffset(),
		InternalOffset: w.GetInternalOffset(),
		Seq:            w.GetSeq(),
		Clock:          millis.Time(w.GetClockMs()),
		NextExpiry:     millis.Time(w.GetNextExpiryMs()),
		NextOrder:      w.GetNextOrder(),
		Oldest:         w.GetOldestSeq(),
		OldestAt:       millis.Time(w.GetOldestAtMs()),
	}
}

// StateFromWire maps a value of layout 1; nil is a SKU never seen.
func StateFromWire(w *inventoryv1.SkuState) State {
	if w == nil {
		return NewState()
	}
	s := State{
		Stock:          stockFromWire(w.GetStock()),
		Offset:         w.GetOffset(),
		InternalOffset: w.GetInternalOffset(),
		Seq:            w.GetSeq(),
		Clock:          millis.Time(w.GetClockMs()),
	}
	if n := len(w.GetReservations()); n > 0 {
		s.Reservations = make([]Reservation, n)
		for i, r := range w.GetReservations() {
			s.Reservations[i] = ReservationFromWire(r)
		}
	}
	if n := len(w.GetApplied()); n > 0 {
		s.Applied = make([]Applied, n)
		for i, a := range w.GetApplied() {
			s.Applied[i] = AppliedFromWire(a)
			if s.Applied[i].Seq == 0 {
				// Kept before commands carried their seq: one per seq, the
				// last at the state's.
				s.Applied[i].Seq = s.Seq - int64(n-1-i)
			}
		}
	}
	return s
}

// IndexToWire maps an order index for its table.
func IndexToWire(x OrderIndex) *inventoryv1.OrderReservations {
	out := &inventoryv1.OrderReservations{OrderId: x.OrderID, Latest: make([]*inventoryv1.Event, len(x.Lines))}
	for i, e := range x.Lines {
		out.Latest[i] = EventToWire(e)
	}
	return out
}

// IndexFromWire maps an order index table value; nil is an unknown order.
func IndexFromWire(w *inventoryv1.OrderReservations) OrderIndex {
	x := OrderIndex{OrderID: w.GetOrderId()}
	for _, e := range w.GetLatest() {
		x.Lines = append(x.Lines, EventFromWire(e))
	}
	return x
}
