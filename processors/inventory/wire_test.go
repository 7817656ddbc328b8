package inventory

import (
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// The numbering of the plain enums mirrors the wire enums; the mapping
// functions convert by number, so a drift would silently rename events.
func TestEnumsMatchWire(t *testing.T) {
	for typ, name := range map[EventType]inventoryv1.EventType{
		EventRestocked: inventoryv1.EventType_EVENT_TYPE_RESTOCKED,
		EventReserved:  inventoryv1.EventType_EVENT_TYPE_RESERVED,
		EventRejected:  inventoryv1.EventType_EVENT_TYPE_REJECTED,
		EventCommitted: inventoryv1.EventType_EVENT_TYPE_COMMITTED,
		EventReleased:  inventoryv1.EventType_EVENT_TYPE_RELEASED,
		EventExpired:   inventoryv1.EventType_EVENT_TYPE_EXPIRED,
	} {
		if inventoryv1.EventType(typ) != name {
			t.Errorf("%v maps to %v, want %v", typ, inventoryv1.EventType(typ), name)
		}
	}
	for st, name := range map[ReservationStatus]inventoryv1.ReservationStatus{
		StatusOpen:      inventoryv1.ReservationStatus_RESERVATION_STATUS_OPEN,
		StatusCommitted: inventoryv1.ReservationStatus_RESERVATION_STATUS_COMMITTED,
		StatusReleased:  inventoryv1.ReservationStatus_RESERVATION_STATUS_RELEASED,
		StatusExpired:   inventoryv1.ReservationStatus_RESERVATION_STATUS_EXPIRED,
	} {
		if inventoryv1.ReservationStatus(st) != name {
			t.Errorf("%v maps to %v, want %v", st, inventoryv1.ReservationStatus(st), name)
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	s := NewState()
	p := DefaultPolicy()
	for _, c := range []Command{
		restock("c1", 10, 0),
		reserve("c2", "o1", 3, time.Minute, 1),
		reserve("c3", "o2", 2, time.Second, 2),
		commit("c4", "o1", 3), // expires o2 on its way
		reserve("c5", "o3", 1, time.Minute, 10),
		reserve("c6", "o4", 1, time.Second, 11),
		expire("x1", "o4", 20), // remembered with expiries and no result
	} {
		s, _ = Decide(s, c, p)
	}
	if len(s.Applied) != 7 || len(s.Applied[3].Expired) != 1 || len(s.Applied[6].Expired) != 1 {
		t.Fatalf("applied %+v: want c4 and x1 remembered with one expiry each", s.Applied)
	}
	b, err := proto.Marshal(StateToWire(s))
	if err != nil {
		t.Fatal(err)
	}
	var w inventoryv1.SkuState
	if err := proto.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	if got := StateFromWire(&w); !reflect.DeepEqual(got, s) {
		t.Fatalf("round trip changed the state:\n got %+v\nwant %+v", got, s)
	}
	if got := StateFromWire(nil); got.Offset != -1 || got.Stock != (Stock{}) {
		t.Fatalf("nil state is %+v", got)
	}
}

func TestCommandRoundTrip(t *testing.T) {
	for _, c := range []Command{
		restock("c1", 10, 0),
		reserve("c2", "o1", 3, 90*time.Second, 1),
		commit("c3", "o1", 2),
		release("c4", "o1", 3),
		expire("c5", "o1", 4),
	} {
		c.Partition, c.Offset = 3, 42
		if got := CommandFromWire(CommandToWire(c), 3, 42); !reflect.DeepEqual(got, c) {
			t.Errorf("round trip of %v: got %+v want %+v", c.Kind, got, c)
		}
	}
}

func TestIndexRoundTrip(t *testing.T) {
	x := OrderIndex{OrderID: "o1", Lines: []Event{
		{Type: EventReserved, OrderID: "o1", SKU: "a", Qty: 2, Time: at(1), ExpiresAt: at(61), Offset: 4, Partition: 1, Stock: Stock{OnHand: 5, Reserved: 2}},
	}}
	if got := IndexFromWire(IndexToWire(x)); !reflect.DeepEqual(got, x) {
		t.Fatalf("got %+v want %+v", got, x)
	}
}
