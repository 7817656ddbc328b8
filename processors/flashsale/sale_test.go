package flashsale

import (
	"reflect"
	"testing"
	"time"

	"github.com/titan-commerce/titan/processors/inventory"
)

// created is when the test sales are created: an hour before they start.
var created = t0.Add(-time.Hour)

func createMsg(s Sale, at time.Time) Message {
	return Message{Kind: KindCreate, SaleID: s.ID, Key: testRouter{}.Sale(s.ID), Sale: s, Time: at}
}

// answer is an inventory event about sale "s"'s allocation.
func answer(typ inventory.EventType, commandID string, qty int64, reason string) inventory.Event {
	return inventory.Event{Type: typ, CommandID: commandID, OrderID: AllocationOrder("s"), SKU: "sku", Qty: qty,
		Reason: reason, Time: created.Add(time.Second)}
}

func allocating(t *testing.T, s Sale) SaleState {
	t.Helper()
	st, out := DecideSale(SaleState{}, createMsg(s, created), testRouter{}, DefaultPolicy())
	if st.Phase != PhaseAllocating || len(out.Inventory) != 1 {
		t.Fatalf("create: %+v %+v", st, out)
	}
	return st
}

func opened(t *testing.T, s Sale) SaleState {
	t.Helper()
	st, _ := OnInventory(allocating(t, s), answer(inventory.EventReserved, AllocateCommandID(s.ID), s.Units, ""), testRouter{})
	if st.Phase != PhaseOpen {
		t.Fatalf("not open: %+v", st)
	}
	return st
}

func TestCreateReservesTheUnits(t *testing.T) {
	s := sale(10, 3)
	p := DefaultPolicy()
	st, out := DecideSale(SaleState{}, createMsg(s, created), testRouter{}, p)
	want := SaleState{Sale: s, Phase: PhaseAllocating, CreatedAt: created, Deadline: created.Add(p.CreationTimeout)}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("state %+v, want %+v", st, want)
	}
	// The TTL runs from the Create's time to a grace after the end, so a
	// replayed Create sends the very same command.
	reserve := inventory.Command{ID: "titan:flash-sale:s:allocate", Kind: inventory.KindReserve, OrderID: "titan:flash-sale:s",
		SKU: "sku", Qty: 10, TTL: time.Hour + time.Hour + p.AllocationGrace, Time: created}
	if len(out.Messages)+len(out.Results) != 0 || len(out.Inventory) != 1 || out.Inventory[0] != reserve {
		t.Fatalf("out %+v, want only %+v", out, reserve)
	}
	if _, replay := DecideSale(SaleState{}, createMsg(s, created), testRouter{}, p); !reflect.DeepEqual(replay, out) {
		t.Fatalf("replay sent %+v, first %+v", replay, out)
	}
}

// TestCreateOnce: a Create repeated with the same definition changes
// nothing in any phase; another definition under the id is refused.
func TestCreateOnce(t *testing.T) {
	s := sale(10, 3)
	failed, _ := OnInventory(allocating(t, s), answer(inventory.EventRejected, AllocateCommandID("s"), 10, inventory.ReasonInsufficientStock), testRouter{})
	other := s
	other.Units = 11
	for name, st := range map[string]SaleState{"allocating": allocating(t, s), "open": opened(t, s), "failed": failed} {
		t.Run(name, func(t *testing.T) {
			again, out := DecideSale(st, createMsg(s, created.Add(time.Minute)), testRouter{}, DefaultPolicy())
			if !reflect.DeepEqual(again, st) || !reflect.DeepEqual(out, Output{}) {
				t.Fatalf("a repeated Create: %+v %+v", again, out)
			}
			again, out = DecideSale(st, createMsg(other, created), testRouter{}, DefaultPolicy())
			if !reflect.DeepEqual(again, st) || !reflect.DeepEqual(out, Output{Refused: ReasonSaleConflict}) {
				t.Fatalf("another definition: %+v %+v", again, out)
			}
		})
	}
}

func TestCreateRefusesWhatCannotBeAllocated(t *testing.T) {
	p := DefaultPolicy()
	for _, tc := range []struct {
		name  string
		sale  func(*Sale)
		at    time.Time
		phase Phase
	}{
		{"no units", func(s *Sale) { s.Units = 0 }, created, PhaseNone},
		{"an id the inventory would refuse", func(s *Sale) { s.ID = string(make([]byte, 120)) }, created, PhaseNone},
		{"ended before its creation", nil, t0.Add(time.Hour), PhaseFailed},
		{"ends too far ahead for the allocation's TTL", nil, t0.Add(-maxAllocationTTL), PhaseFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sale(10, 1)
			if tc.sale != nil {
				tc.sale(&s)
			}
			m := createMsg(s, tc.at)
			st, out := DecideSale(SaleState{}, m, testRouter{}, p)
			if st.Phase != tc.phase || !reflect.DeepEqual(out, Output{}) {
				t.Fatalf("state %+v out %+v", st, out)
			}
			if tc.phase == PhaseFailed && st.Reason != ReasonInvalidWindow {
				t.Fatalf("reason %q", st.Reason)
			}
		})
	}
}

func TestAllocationAnswers(t *testing.T) {
	s := sale(10, 3)
	allocate := AllocateCommandID("s")
	for _, tc := range []struct {
		name    string
		ev      inventory.Event
		phase   Phase
		reason  string
		release bool
	}{
		{"reserved opens the sale", answer(inventory.EventReserved, allocate, 10, ""), PhaseOpen, "", false},
		{"out of stock", answer(inventory.EventRejected, allocate, 10, inventory.ReasonInsufficientStock), PhaseFailed, inventory.ReasonInsufficientStock, false},
		{"the id names another command", answer(inventory.EventRejected, allocate, 10, inventory.ReasonCommandIDConflict), PhaseFailed, inventory.ReasonCommandIDConflict, false},
		{"the order holds a reservation", answer(inventory.EventRejected, allocate, 10, inventory.ReasonAlreadyReserved), PhaseFailed, inventory.ReasonAlreadyReserved, false},
		{"another quantity", answer(inventory.EventReserved, allocate, 9, ""), PhaseFailed, ReasonAllocationMismatch, true},
		{"an answer to another command", answer(inventory.EventRejected, "titan:other", 10, inventory.ReasonInsufficientStock), PhaseAllocating, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, out := OnInventory(allocating(t, s), tc.ev, testRouter{})
			if st.Phase != tc.phase || st.Reason != tc.reason {
				t.Fatalf("phase %v %q, want %v %q", st.Phase, st.Reason, tc.phase, tc.reason)
			}
			if tc.release != (len(out.Inventory) == 1 && out.Inventory[0].ID == AbandonCommandID("s") &&
				out.Inventory[0].Kind == inventory.KindRelease) {
				t.Fatalf("inventory commands %+v", out.Inventory)
			}
			if tc.phase != PhaseOpen {
				if len(out.Messages) != 0 {
					t.Fatalf("opened buckets: %+v", out.Messages)
				}
				return
			}
			var units int64
			for b, m := range out.Messages {
				units += m.Units
				if m.Kind != KindOpen || m.Bucket != b || m.Key != (testRouter{}).Bucket("s", b) || m.Sale != s {
					t.Fatalf("open %+v", m)
				}
			}
			if len(out.Messages) != 3 || units != 10 {
				t.Fatalf("opened %d buckets with %d units", len(out.Messages), units)
			}
			// The answer again (a redelivery) opens nothing more.
			if again, out := OnInventory(st, tc.ev, testRouter{}); !reflect.DeepEqual(again, st) || len(out.Messages) != 0 {
				t.Fatalf("redelivered answer: %+v", out)
			}
		})
	}
}

// TestAbandonReleasesAfterTheDeadline: a creation the inventory does not
// answer in time fails, and the release of its allocation follows the
// reserve; a reserve answered after that changes nothing.
func TestAbandonReleasesAfterTheDeadline(t *testing.T) {
	s := sale(10, 3)
	st := allocating(t, s)
	abandon := func(at time.Time) Message {
		return Message{Kind: KindAbandon, SaleID: "s", Key: testRouter{}.Sale("s"), Time: at}
	}
	if st.Overdue(st.Deadline.Add(-time.Millisecond)) || !st.Overdue(st.Deadline) {
		t.Fatalf("overdue around the deadline %v", st.Deadline)
	}
	if again, out := DecideSale(st, abandon(st.Deadline.Add(-time.Millisecond)), testRouter{}, DefaultPolicy()); !reflect.DeepEqual(again, st) ||
		!reflect.DeepEqual(out, Output{}) {
		t.Fatalf("abandoned before the deadline: %+v %+v", again, out)
	}
	at := st.Deadline.Add(time.Second)
	failed, out := DecideSale(st, abandon(at), testRouter{}, DefaultPolicy())
	release := inventory.Command{ID: "titan:flash-sale:s:abandon", Kind: inventory.KindRelease, OrderID: "titan:flash-sale:s",
		SKU: "sku", Time: at}
	if failed.Phase != PhaseFailed || failed.Reason != ReasonCreationTimedOut || len(out.Inventory) != 1 || out.Inventory[0] != release {
		t.Fatalf("abandon: %+v %+v", failed, out)
	}
	for _, late := range []inventory.Event{
		answer(inventory.EventReserved, AllocateCommandID("s"), 10, ""),
		answer(inventory.EventReleased, AbandonCommandID("s"), 10, ""),
		answer(inventory.EventRejected, AbandonCommandID("s"), 0, inventory.ReasonNotFound),
	} {
		if again, out := OnInventory(failed, late, testRouter{}); !reflect.DeepEqual(again, failed) || !reflect.DeepEqual(out, Output{}) {
			t.Fatalf("%v after the abandon: %+v %+v", late.Type, again, out)
		}
	}
	if again, out := DecideSale(failed, abandon(at.Add(time.Minute)), testRouter{}, DefaultPolicy()); !reflect.DeepEqual(again, failed) ||
		!reflect.DeepEqual(out, Output{}) {
		t.Fatalf("a repeated abandon: %+v %+v", again, out)
	}
	// An open sale is past abandoning.
	open := opened(t, s)
	if again, out := DecideSale(open, abandon(at), testRouter{}, DefaultPolicy()); again.Phase != PhaseOpen || len(out.Inventory) != 0 {
		t.Fatalf("abandoned an open sale: %+v %+v", again, out)
	}
}

func report(b int, n, off int64) Message {
	return Message{Kind: KindReport, SaleID: "s", Key: "s", Bucket: b, Qty: n, Internal: true, Origin: Origin{Offset: off},
		Time: t0.Add(time.Hour)}
}

// reported is an open sale of 10 units over 2 buckets that sold sold, once
// both buckets have reported.
func reported(t *testing.T, sold0, sold1 int64) (SaleState, Output) {
	t.Helper()
	st, out := DecideSale(opened(t, sale(10, 2)), report(0, sold0, 1), testRouter{}, DefaultPolicy())
	if st.Phase != PhaseOpen || !st.Closing() || len(out.Inventory) != 0 {
		t.Fatalf("settled before every bucket reported: %+v %+v", st, out)
	}
	return DecideSale(st, report(1, sold1, 2), testRouter{}, DefaultPolicy())
}

func TestSettlementCommitsWhatWasSold(t *testing.T) {
	st, out := reported(t, 2, 3)
	settle := inventory.Command{ID: "titan:flash-sale:s:settle", Kind: inventory.KindCommit, OrderID: "titan:flash-sale:s", SKU: "sku",
		Qty: 5, Time: t0.Add(time.Hour)}
	if st.Phase != PhaseSettling || st.Closing() || st.Sold() != 5 || len(out.Inventory) != 1 || out.Inventory[0] != settle {
		t.Fatalf("settlement %+v %+v", st, out)
	}
	// A repeated report changes nothing: the settlement is out.
	if again, out := DecideSale(st, report(1, 3, 3), testRouter{}, DefaultPolicy()); again.Phase != PhaseSettling || len(out.Inventory) != 0 {
		t.Fatalf("repeat %+v", out)
	}
	nothing, out := reported(t, 0, 0)
	if nothing.Phase != PhaseSettling || len(out.Inventory) != 1 || out.Inventory[0].Kind != inventory.KindRelease || out.Inventory[0].Qty != 0 {
		t.Fatalf("a sale that sold nothing gives the allocation back: %+v", out.Inventory)
	}
}

func TestSettlementAnswers(t *testing.T) {
	settle := SettleCommandID("s")
	for _, tc := range []struct {
		name   string
		ev     inventory.Event
		phase  Phase
		reason string
	}{
		{"committed", answer(inventory.EventCommitted, settle, 5, ""), PhaseSettled, ""},
		{"released", answer(inventory.EventReleased, settle, 10, ""), PhaseSettled, ""},
		{"the allocation is gone", answer(inventory.EventRejected, settle, 5, inventory.ReasonNotFound), PhaseSettlementFailed, inventory.ReasonNotFound},
		{"the allocation expired", answer(inventory.EventRejected, settle, 5, inventory.ReasonExpired), PhaseSettlementFailed, inventory.ReasonExpired},
		{"someone released it", answer(inventory.EventRejected, settle, 5, inventory.ReasonAlreadyReleased), PhaseSettlementFailed, inventory.ReasonAlreadyReleased},
		{"an answer to another command", answer(inventory.EventRejected, "titan:other", 5, inventory.ReasonNotFound), PhaseSettling, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, _ := reported(t, 2, 3)
			st, out := OnInventory(st, tc.ev, testRouter{})
			if st.Phase != tc.phase || st.Reason != tc.reason || !reflect.DeepEqual(out, Output{}) {
				t.Fatalf("phase %v %q out %+v, want %v %q", st.Phase, st.Reason, out, tc.phase, tc.reason)
			}
			if tc.phase == PhaseSettled && (!st.Settled() || st.Closing()) {
				t.Fatalf("settled %v closing %v", st.Settled(), st.Closing())
			}
		})
	}
}

// TestAllocationLost: an allocation that ends by anything but the
// settlement fails the settlement at once, while the sale sells or after
// it, with the reason the settlement would have met.
func TestAllocationLost(t *testing.T) {
	expired := answer(inventory.EventExpired, "titan:sweeper", 10, "")
	expired.ReserveCommandID = AllocateCommandID("s")
	for _, tc := range []struct {
		name   string
		ev     inventory.Event
		reason string
	}{
		{"expired", expired, inventory.ReasonExpired},
		{"released by another command", answer(inventory.EventReleased, "titan:operator", 10, ""), inventory.ReasonAlreadyReleased},
		{"committed by another command", answer(inventory.EventCommitted, "titan:operator", 10, ""), inventory.ReasonAlreadyCommitted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			open := opened(t, sale(10, 2))
			settling, _ := reported(t, 2, 3)
			for _, st := range []SaleState{open, settling} {
				st, out := OnInventory(st, tc.ev, testRouter{})
				if st.Phase != PhaseSettlementFailed || st.Reason != tc.reason || !reflect.DeepEqual(out, Output{}) {
					t.Fatalf("phase %v %q out %+v", st.Phase, st.Reason, out)
				}
			}
			// A sale that lost its allocation while selling is still
			// closed, for its final count, and settles nothing.
			st, _ := OnInventory(open, tc.ev, testRouter{})
			if !st.Closing() {
				t.Fatal("not closing")
			}
			st, _ = DecideSale(st, report(0, 2, 1), testRouter{}, DefaultPolicy())
			st, out := DecideSale(st, report(1, 3, 2), testRouter{}, DefaultPolicy())
			if st.Phase != PhaseSettlementFailed || st.Closing() || st.Sold() != 5 || len(out.Inventory) != 0 {
				t.Fatalf("after the reports: %+v %+v", st, out)
			}
		})
	}
	// Another order's expiry is none of the sale's business.
	other := expired
	other.ReserveCommandID = "titan:other"
	if st, _ := OnInventory(opened(t, sale(10, 2)), other, testRouter{}); st.Phase != PhaseOpen {
		t.Fatalf("phase %v", st.Phase)
	}
}

// TestAllocationIsTitans runs the sale key's commands and a client's
// through the inventory's own decision logic: while the sale holds its
// units no client can end the allocation or reserve them, and an abandoned
// creation gives them all back.
func TestAllocationIsTitans(t *testing.T) {
	s := sale(5, 1)
	pol := inventory.DefaultPolicy()
	inv, _ := inventory.Decide(inventory.NewState(), inventory.Command{ID: "restock", Kind: inventory.KindRestock, SKU: "sku", Qty: 5, Time: created}, pol)
	apply := func(c inventory.Command, internal bool) inventory.Event {
		t.Helper()
		c.Internal = internal
		var events []inventory.Event
		inv, events = inventory.Decide(inv, c, pol)
		if err := inventory.CheckState(inv); err != nil {
			t.Fatal(err)
		}
		return events[len(events)-1]
	}
	st, out := DecideSale(SaleState{}, createMsg(s, created), testRouter{}, DefaultPolicy())
	if ev := apply(out.Inventory[0], true); ev.Type != inventory.EventReserved {
		t.Fatalf("allocation %+v", ev)
	}
	for _, k := range []inventory.Kind{inventory.KindRelease, inventory.KindCommit} {
		ev := apply(inventory.Command{ID: "client-" + k.String(), Kind: k, OrderID: AllocationOrder("s"), SKU: "sku", Time: created}, false)
		if ev.Type != inventory.EventRejected || ev.Reason != inventory.ReasonReservedID {
			t.Fatalf("a client's %v of the allocation: %+v", k, ev)
		}
	}
	ev := apply(inventory.Command{ID: "r", Kind: inventory.KindReserve, OrderID: "o", SKU: "sku", Qty: 1, TTL: time.Hour, Time: created}, false)
	if ev.Reason != inventory.ReasonInsufficientStock {
		t.Fatalf("a normal reservation of the sale's units: %+v", ev)
	}
	// The answer was lost: the deadline passes, and the release that
	// follows the reserve gives every unit back.
	_, out = DecideSale(st, Message{Kind: KindAbandon, SaleID: "s", Key: "s", Time: st.Deadline}, testRouter{}, DefaultPolicy())
	if ev := apply(out.Inventory[0], true); ev.Type != inventory.EventReleased || inv.Stock != (inventory.Stock{OnHand: 5}) {
		t.Fatalf("release %+v, stock %+v", ev, inv.Stock)
	}
}
