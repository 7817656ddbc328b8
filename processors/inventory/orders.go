package inventory

// OrderIndex is the order-keyed view of reservations: for one order, the
// latest event of its reservation on each SKU. The API reads it to find
// the SKUs behind Commit(order) and Release(order), and to answer polls.
type OrderIndex struct {
	OrderID string
	Lines   []Event
}

// IndexEvent folds one reservation event into an order's index and reports
// whether it changed anything. Events are applied in the order of their
// SKU's sequence numbers, so a retried command's result, re-published with
// its first number, never turns a committed line back into reserved. A
// rejection is recorded only for a SKU the order holds nothing on: "commit
// rejected, already committed" says nothing new about the reservation.
func IndexEvent(x OrderIndex, e Event) (OrderIndex, bool) {
	if e.OrderID == "" || e.Type == EventRestocked || e.Type == EventUnknown {
		return x, false
	}
	if e.Type == EventRejected && (e.Reason == ReasonCommandIDConflict || e.Reason == ReasonReservedID) {
		// Refused for what the command was, not for the reservation: the
		// order's line is as it was.
		return x, false
	}
	x.OrderID = e.OrderID
	for i, line := range x.Lines {
		if line.SKU != e.SKU {
			continue
		}
		if e.Type == EventRejected && line.Type != EventRejected {
			return x, false
		}
		if e.Seq < line.Seq || (e.Seq == line.Seq && e == line) {
			return x, false
		}
		if e.Seq == line.Seq && line.Type == EventExpired {
			// A command whose time expired the reservation yields the expiry
			// and then its own result at the same offset; the expiry stands.
			return x, false
		}
		lines := append([]Event(nil), x.Lines...)
		lines[i] = e
		x.Lines = lines
		return x, true
	}
	x.Lines = append(append([]Event(nil), x.Lines...), e)
	return x, true
}
