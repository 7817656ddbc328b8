package inventory

import "testing"

func TestIndexEvent(t *testing.T) {
	ev := func(typ EventType, sku string, seq int64, reason string) Event {
		return Event{Type: typ, OrderID: "o1", SKU: sku, Seq: seq, Reason: reason, Qty: 1}
	}
	// Offsets of the public and the internal topic say nothing about each
	// other; the SKU's sequence orders them.
	at := func(e Event, offset int64, internal bool) Event {
		e.Offset, e.Internal = offset, internal
		return e
	}
	tests := []struct {
		name   string
		events []Event
		want   map[string]EventType // sku -> latest type
	}{
		{"reserve then commit", []Event{ev(EventReserved, "a", 1, ""), ev(EventCommitted, "a", 5, "")},
			map[string]EventType{"a": EventCommitted}},
		{"a retried reserve does not undo a commit", []Event{
			ev(EventReserved, "a", 1, ""), ev(EventCommitted, "a", 5, ""), ev(EventReserved, "a", 1, "")},
			map[string]EventType{"a": EventCommitted}},
		{"a rejected commit leaves the reservation as it is", []Event{
			ev(EventReserved, "a", 1, ""), ev(EventCommitted, "a", 5, ""), ev(EventRejected, "a", 9, ReasonAlreadyCommitted)},
			map[string]EventType{"a": EventCommitted}},
		{"a rejected reserve is recorded", []Event{ev(EventRejected, "a", 1, ReasonInsufficientStock)},
			map[string]EventType{"a": EventRejected}},
		{"a later reserve replaces a rejection", []Event{
			ev(EventRejected, "a", 1, ReasonInsufficientStock), ev(EventReserved, "a", 4, "")},
			map[string]EventType{"a": EventReserved}},
		{"expiry at the offset of the command that caused it stands", []Event{
			ev(EventReserved, "a", 1, ""), ev(EventExpired, "a", 7, ""), ev(EventRejected, "a", 7, ReasonExpired)},
			map[string]EventType{"a": EventExpired}},
		{"topics' offsets do not order a SKU's events", []Event{
			at(ev(EventReserved, "a", 1, ""), 900, false), at(ev(EventCommitted, "a", 2, ""), 3, true)},
			map[string]EventType{"a": EventCommitted}},
		{"a refused command says nothing about the reservation", []Event{
			ev(EventRejected, "a", 1, ReasonInsufficientStock), ev(EventRejected, "a", 2, ReasonCommandIDConflict),
			ev(EventReserved, "b", 1, ""), ev(EventRejected, "b", 3, ReasonReservedID)},
			map[string]EventType{"a": EventRejected, "b": EventReserved}},
		{"lines per sku", []Event{ev(EventReserved, "a", 1, ""), ev(EventReserved, "b", 1, ""), ev(EventReleased, "b", 2, "")},
			map[string]EventType{"a": EventReserved, "b": EventReleased}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var x OrderIndex
			for _, e := range tt.events {
				x, _ = IndexEvent(x, e)
			}
			if len(x.Lines) != len(tt.want) {
				t.Fatalf("lines %+v, want %v", x.Lines, tt.want)
			}
			for _, l := range x.Lines {
				if tt.want[l.SKU] != l.Type {
					t.Fatalf("sku %s is %v, want %v", l.SKU, l.Type, tt.want[l.SKU])
				}
			}
		})
	}
	if _, changed := IndexEvent(OrderIndex{}, Event{Type: EventRestocked, SKU: "a"}); changed {
		t.Fatal("a restock changed an order index")
	}
}
