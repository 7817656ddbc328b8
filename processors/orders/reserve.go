package orders

import (
	"github.com/titan-commerce/titan/processors/inventory"
)

// OnInventory applies one inventory event about the order. Only answers to
// the saga's own commands count (CommandID, or ReserveCommandID for an
// expiry): a shop may send commands for the same order by hand, and their
// results say nothing about the saga's lines. A line moves forward only
// (reserving, reserved, then one end), so a redelivered event is ignored.
func OnInventory(o Order, e inventory.Event, pol Policy) (Order, Effects) {
	if o.Status == StatusUnknown || e.OrderID != o.ID {
		return o, Effects{}
	}
	i := o.lineIndex(e.SKU)
	if i < 0 {
		return o, Effects{}
	}
	id := e.CommandID
	if e.Type == inventory.EventExpired {
		id = e.ReserveCommandID
	}
	var kind inventory.Kind
	for _, k := range []inventory.Kind{inventory.KindReserve, inventory.KindCommit, inventory.KindRelease} {
		if id == CommandID(o.ID, e.SKU, k) {
			kind = k
		}
	}
	if kind == inventory.KindUnknown {
		return o, Effects{}
	}

	line := o.Lines[i].Status
	switch {
	case e.Type == inventory.EventExpired && (line == LineReserving || line == LineReserved):
		return o.onExpired(i, e, pol)
	case kind == inventory.KindReserve && line == LineReserving && e.Type == inventory.EventReserved:
		return o.onReserved(i, e, pol)
	case kind == inventory.KindReserve && line == LineReserving && e.Type == inventory.EventRejected:
		return o.onRefused(i, e, pol)
	case kind == inventory.KindCommit && line == LineReserved:
		return o.onCommitResult(i, e, pol)
	case kind == inventory.KindRelease && line == LineReserved:
		return o.onReleaseResult(i, e, pol)
	}
	return o, Effects{}
}

func (o Order) lineIndex(sku string) int {
	for i := range o.Lines {
		if o.Lines[i].SKU == sku {
			return i
		}
	}
	return -1
}

// onReserved confirms the order with its last reservation. A reservation
// that arrives after the order was rejected is released at once: nobody
// will commit it, and holding it until its TTL would keep stock from other
// buyers.
func (o Order) onReserved(i int, e inventory.Event, pol Policy) (Order, Effects) {
	pol = pol.withDefaults()
	o = o.clone()
	now := o.at(e.Time)
	o.Lines[i].Status = LineReserved
	o.record(now, StepReserved, e.SKU, pol)
	switch o.Status {
	case StatusReserving:
		for _, l := range o.Lines {
			if l.Status != LineReserved {
				return o, Effects{}
			}
		}
		return o, o.confirm(now, pol)
	case StatusRejected:
		o.record(now, StepRelease, e.SKU, pol)
		return o, Effects{Inventory: []inventory.Command{o.command(i, inventory.KindRelease, now, pol)}}
	}
	return o, Effects{}
}

// onRefused rejects the order for a line the inventory would not reserve,
// or only notes the refusal when the order already ended.
func (o Order) onRefused(i int, e inventory.Event, pol Policy) (Order, Effects) {
	pol = pol.withDefaults()
	o = o.clone()
	now := o.at(e.Time)
	o.Lines[i].Status, o.Lines[i].Reason = LineRefused, e.Reason
	o.record(now, StepRefused, e.SKU+": "+e.Reason, pol)
	if o.Status != StatusReserving {
		return o, Effects{}
	}
	return o, o.reject(ReasonOutOfStock, "sku "+e.SKU+": "+e.Reason, now, pol)
}

// onExpired handles a reservation the inventory expired. While reserving it
// is a refusal: the order cannot be confirmed with a line that holds
// nothing. After confirmation it means the commit came later than the TTL,
// which only happens when the saga lags by more than Policy.ReserveTTL; the
// order stays confirmed (its outcome is out) and the history says so.
func (o Order) onExpired(i int, e inventory.Event, pol Policy) (Order, Effects) {
	pol = pol.withDefaults()
	o = o.clone()
	now := o.at(e.Time)
	o.Lines[i].Status, o.Lines[i].Reason = LineExpired, inventory.ReasonExpired
	o.record(now, StepExpired, e.SKU, pol)
	switch o.Status {
	case StatusReserving:
		return o, o.reject(ReasonReservationExpired, "sku "+e.SKU+": "+inventory.ReasonExpired, now, pol)
	case StatusConfirmed:
		o.record(now, StepCommitFailed, e.SKU+": "+inventory.ReasonExpired, pol)
	}
	return o, Effects{}
}

// onCommitResult ends a confirmed order's line. A refused commit leaves the
// order confirmed; the line takes the state the refusal reports and the
// history records the failure for an operator.
func (o Order) onCommitResult(i int, e inventory.Event, pol Policy) (Order, Effects) {
	pol = pol.withDefaults()
	o = o.clone()
	now := o.at(e.Time)
	l := &o.Lines[i]
	switch e.Type {
	case inventory.EventCommitted:
		l.Status = LineCommitted
		o.record(now, StepCommitted, e.SKU, pol)
		return o, Effects{}
	case inventory.EventRejected:
	default:
		return o, Effects{}
	}
	l.Reason = e.Reason
	switch e.Reason {
	case inventory.ReasonAlreadyCommitted:
		l.Status = LineCommitted
	case inventory.ReasonAlreadyReleased:
		l.Status = LineReleased
	case inventory.ReasonExpired:
		l.Status = LineExpired
	default:
		l.Status = LineRefused
	}
	o.record(now, StepCommitFailed, e.SKU+": "+e.Reason, pol)
	return o, Effects{}
}

// onReleaseResult ends a rejected order's line. A refused release still
// ends it: whatever the reason, the saga holds nothing on the SKU anymore.
func (o Order) onReleaseResult(i int, e inventory.Event, pol Policy) (Order, Effects) {
	pol = pol.withDefaults()
	o = o.clone()
	now := o.at(e.Time)
	l := &o.Lines[i]
	switch e.Type {
	case inventory.EventReleased:
		l.Status = LineReleased
		o.record(now, StepReleased, e.SKU, pol)
	case inventory.EventRejected:
		l.Status, l.Reason = LineReleased, e.Reason
		if e.Reason == inventory.ReasonExpired {
			l.Status = LineExpired
		}
		o.record(now, StepReleaseFailed, e.SKU+": "+e.Reason, pol)
	default:
		return o, Effects{}
	}
	return o, Effects{}
}
