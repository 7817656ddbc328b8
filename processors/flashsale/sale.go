package flashsale

import (
	"fmt"
	"strings"
	"time"

	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
)

// The ids a sale uses in the SKU's inventory. All lie in Titan's namespace,
// so no client command can name them: the inventory refuses a client's
// command under them, and a client's commit or release of the reservation
// they make (see processors/inventory, "Titan's commands and clients'").

// AllocationPrefix starts the order id of every sale's allocation.
const AllocationPrefix = schemas.ReservedPrefix + "flash-sale:"

// AllocationOrder is the order id under which a sale's units are reserved
// in the SKU's inventory, from its creation until its settlement.
func AllocationOrder(saleID string) string { return AllocationPrefix + saleID }

// SaleOfAllocation is the sale whose allocation orderID names.
func SaleOfAllocation(orderID string) (string, bool) {
	return strings.CutPrefix(orderID, AllocationPrefix)
}

// AllocateCommandID names the reserve that allocates the sale's units.
func AllocateCommandID(saleID string) string { return AllocationOrder(saleID) + ":allocate" }

// AbandonCommandID names the release of an abandoned creation's allocation.
func AbandonCommandID(saleID string) string { return AllocationOrder(saleID) + ":abandon" }

// SettleCommandID names the settlement: the commit of what was sold, or the
// release of an allocation nothing was sold from.
func SettleCommandID(saleID string) string { return AllocationOrder(saleID) + ":settle" }

// Policy bounds a sale's creation and its allocation.
type Policy struct {
	// CreationTimeout is how long after its Create a sale waits for the
	// inventory's answer to its allocation. Past it the settler abandons
	// the creation, and the sale key releases whatever the allocation
	// holds: an answer lost, or held up behind a stalled partition, cannot
	// keep the units from other buyers for the allocation's whole TTL.
	CreationTimeout time.Duration
	// AllocationGrace keeps the allocation reserved this long past the
	// sale's end, so the settlement, which takes a few trips through Kafka
	// after the end, finds it open even when it comes late.
	AllocationGrace time.Duration
}

// DefaultPolicy gives a creation a minute and the settlement a day.
func DefaultPolicy() Policy {
	return Policy{CreationTimeout: time.Minute, AllocationGrace: 24 * time.Hour}
}

// Validate reports a policy that cannot work.
func (p Policy) Validate() error {
	if p.CreationTimeout <= 0 || p.AllocationGrace < 0 || p.AllocationGrace >= maxAllocationTTL {
		return fmt.Errorf("flashsale: policy: creation timeout %v must be positive, allocation grace %v in [0, %v)",
			p.CreationTimeout, p.AllocationGrace, maxAllocationTTL)
	}
	return nil
}

// maxAllocationTTL is the longest reservation the inventory takes.
const maxAllocationTTL = time.Duration(schemas.MaxReserveTTLMs) * time.Millisecond

// AllocationTTL is the TTL of the allocation of sale s created at created:
// until AllocationGrace after the end. It is computed from the Create's own
// time, never from a clock, so a Create processed again after a crash sends
// the same command, which the inventory recognises by its id.
func (p Policy) AllocationTTL(s Sale, created time.Time) time.Duration {
	return s.End.Add(p.AllocationGrace).Sub(created).Truncate(time.Millisecond)
}

// Fits reports whether a sale created at created can be allocated: it ends
// after that, and its allocation's TTL is one the inventory takes.
func (p Policy) Fits(s Sale, created time.Time) bool {
	ttl := p.AllocationTTL(s, created)
	return s.End.After(created) && ttl > 0 && ttl <= maxAllocationTTL
}

// Phase is where a sale is in its life. The order of the constants is the
// wire enum's (flashsalev1.SalePhase).
type Phase uint8

const (
	// PhaseNone: no Create yet.
	PhaseNone Phase = iota
	// PhaseAllocating: the allocation's reserve is sent, not yet answered.
	PhaseAllocating
	// PhaseFailed: the creation failed (Reason); terminal. Whatever the
	// allocation may hold has been released.
	PhaseFailed
	// PhaseOpen: the units are reserved and the buckets opened.
	PhaseOpen
	// PhaseSettling: every bucket has reported; the settlement is sent.
	PhaseSettling
	// PhaseSettled: the inventory took what was sold and got the rest
	// back; terminal.
	PhaseSettled
	// PhaseSettlementFailed: the allocation was gone when the sale
	// settled, or ended before by another command or its TTL (Reason);
	// terminal. The units the sale sold did not leave the SKU's stock,
	// which an operator has to put right.
	PhaseSettlementFailed
)

var phaseNames = [...]string{"none", "allocating", "failed", "open", "settling", "settled", "settlement_failed"}

func (p Phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return "unknown"
}

// Reasons a creation or a settlement fails for, besides the inventory's
// own (insufficient_stock, reservation_expired, ...), which are passed on
// as they are. Stable: clients and operators match on them.
const (
	// ReasonCreationTimedOut: the inventory did not answer the allocation
	// by the creation's deadline.
	ReasonCreationTimedOut = "creation_timed_out"
	// ReasonInvalidWindow: the sale ended before its Create, or ends too
	// far ahead for its allocation's TTL.
	ReasonInvalidWindow = "invalid_window"
	// ReasonAllocationMismatch: the inventory reserved another quantity
	// under the allocation's command id than the sale's units.
	ReasonAllocationMismatch = "allocation_mismatch"
	// ReasonSaleConflict refuses a Create of another definition under an
	// id that is taken.
	ReasonSaleConflict = "sale_conflict"
)

// SaleState is the state of a sale key.
type SaleState struct {
	Sale  Sale
	Phase Phase
	// Reason says why the creation (PhaseFailed) or the settlement
	// (PhaseSettlementFailed) failed.
	Reason string
	// CreatedAt is the Create's time; Deadline is when the creation is
	// abandoned if the inventory has not answered.
	CreatedAt, Deadline time.Time
	// Reports holds the final count of each closed bucket.
	Reports map[int]int64
	Seen    Seen
}

// Defined reports whether the sale's units were allocated and its buckets
// opened: it sells, or sold.
func (s SaleState) Defined() bool { return s.Phase >= PhaseOpen }

// Settled reports whether the inventory confirmed the settlement.
func (s SaleState) Settled() bool { return s.Phase == PhaseSettled }

// Overdue reports whether the creation is still unanswered at now, past its
// deadline: the settler then abandons it.
func (s SaleState) Overdue(now time.Time) bool {
	return s.Phase == PhaseAllocating && !now.Before(s.Deadline)
}

// Closing reports whether the settler must (still) close the sale's buckets
// once its end has passed: until every bucket has reported. A sale whose
// allocation was lost while it sold is closed too, so its final count is
// known to whoever puts the stock right.
func (s SaleState) Closing() bool {
	switch s.Phase {
	case PhaseOpen:
		return true
	case PhaseSettlementFailed:
		return len(s.Reports) < s.Sale.Buckets
	}
	return false
}

// Sold is what the buckets that reported sold.
func (s SaleState) Sold() int64 {
	var n int64
	for _, q := range s.Reports {
		n += q
	}
	return n
}

// DecideSale applies a message to a sale key: a Create, an Abandon, or a
// bucket's Report. The inventory's answers go through OnInventory.
//
// A Create is applied once: a repeat of the same definition changes
// nothing (the first one's allocation stands, whatever its outcome), and
// another definition under the id is refused (Output.Refused).
func DecideSale(s SaleState, m Message, r Router, p Policy) (SaleState, Output) {
	if !fresh(&s.Seen, m) {
		return s, Output{}
	}
	switch m.Kind {
	case KindCreate:
		return s.create(m, p)
	case KindAbandon:
		return s.abandon(m)
	case KindReport:
		return s.report(m)
	}
	return s, Output{}
}

// create starts the creation: the sale key itself sends the allocation's
// reserve, so the reserve is in the inventory's internal topic before any
// release the sale key sends later for the same SKU.
func (s SaleState) create(m Message, p Policy) (SaleState, Output) {
	if !m.Sale.Valid() || m.Sale.ID != m.SaleID {
		return s, Output{}
	}
	if s.Phase != PhaseNone {
		if s.Sale.Equal(m.Sale) {
			return s, Output{}
		}
		return s, Output{Refused: ReasonSaleConflict}
	}
	s.Sale, s.CreatedAt = m.Sale, m.Time
	if !p.Fits(m.Sale, m.Time) {
		s.Phase, s.Reason = PhaseFailed, ReasonInvalidWindow
		return s, Output{}
	}
	s.Phase, s.Deadline = PhaseAllocating, m.Time.Add(p.CreationTimeout)
	return s, Output{Inventory: []inventory.Command{{
		ID: AllocateCommandID(s.Sale.ID), Kind: inventory.KindReserve, OrderID: AllocationOrder(s.Sale.ID),
		SKU: s.Sale.SKU, Qty: s.Sale.Units, TTL: p.AllocationTTL(s.Sale, s.CreatedAt), Time: s.CreatedAt,
	}}}
}

// abandon fails a creation still unanswered at its deadline (the Abandon's
// time, the settler's clock, is checked against it) and releases the
// allocation. The release follows the reserve on the same topic and
// partition (both keyed by SKU, both sent by this key), so the inventory
// applies it after the reserve and the units come back even when the
// reserve's answer was lost; when the reserve was refused, the release
// finds nothing and changes nothing.
func (s SaleState) abandon(m Message) (SaleState, Output) {
	if !s.Overdue(m.Time) {
		return s, Output{}
	}
	s.Phase, s.Reason = PhaseFailed, ReasonCreationTimedOut
	return s, Output{Inventory: []inventory.Command{s.release(m.Time)}}
}

func (s SaleState) release(at time.Time) inventory.Command {
	return inventory.Command{ID: AbandonCommandID(s.Sale.ID), Kind: inventory.KindRelease,
		OrderID: AllocationOrder(s.Sale.ID), SKU: s.Sale.SKU, Time: at}
}

// report records a closed bucket's final count; once every bucket has
// reported, the sale settles: it commits what was sold from the allocation
// and the inventory gets the rest back (all of it, by a release, when
// nothing sold). A sale whose allocation was lost records the counts for
// the operator and sends nothing.
func (s SaleState) report(m Message) (SaleState, Output) {
	if (s.Phase != PhaseOpen && s.Phase != PhaseSettlementFailed) || m.Bucket < 0 || m.Bucket >= s.Sale.Buckets {
		return s, Output{}
	}
	reports := make(map[int]int64, len(s.Reports)+1)
	for b, n := range s.Reports {
		reports[b] = n
	}
	reports[m.Bucket] = m.Qty
	s.Reports = reports
	if len(s.Reports) < s.Sale.Buckets || s.Phase != PhaseOpen {
		return s, Output{}
	}
	s.Phase = PhaseSettling
	c := inventory.Command{ID: SettleCommandID(s.Sale.ID), Kind: inventory.KindCommit,
		OrderID: AllocationOrder(s.Sale.ID), SKU: s.Sale.SKU, Qty: s.Sold(), Time: m.Time}
	if c.Qty == 0 {
		c.Kind = inventory.KindRelease
	}
	return s, Output{Inventory: []inventory.Command{c}}
}

// OnInventory applies one of the inventory's events about the sale's
// allocation. Only the answers to the sale's own commands move it (by
// command id; an expiry by the id of the reserve that made the
// reservation), and each phase moves forward only, so a redelivered or
// late answer changes nothing: a reserve answered after the creation was
// abandoned stays released.
//
// An allocation that ends by anything but the settlement (it expired, or a
// command that is not the sale's committed or released it) is lost: the
// units the sale sells are no longer set aside for it. The sale then fails
// its settlement at once, with the reason the settlement would have met.
func OnInventory(s SaleState, e inventory.Event, r Router) (SaleState, Output) {
	id := s.Sale.ID
	if s.Phase == PhaseNone || e.OrderID != AllocationOrder(id) {
		return s, Output{}
	}
	switch {
	case e.Type == inventory.EventExpired:
		if e.ReserveCommandID == AllocateCommandID(id) {
			return s.lost(inventory.ReasonExpired), Output{}
		}
	case e.CommandID == AllocateCommandID(id):
		return s.allocated(e, r)
	case e.CommandID == SettleCommandID(id):
		return s.settled(e), Output{}
	case e.CommandID == AbandonCommandID(id):
	case e.Type == inventory.EventCommitted:
		return s.lost(inventory.ReasonAlreadyCommitted), Output{}
	case e.Type == inventory.EventReleased:
		return s.lost(inventory.ReasonAlreadyReleased), Output{}
	}
	return s, Output{}
}

// allocated takes the answer to the allocation's reserve: the sale opens
// every bucket with its share, or fails with the inventory's reason.
func (s SaleState) allocated(e inventory.Event, r Router) (SaleState, Output) {
	if s.Phase != PhaseAllocating {
		return s, Output{}
	}
	switch {
	case e.Type == inventory.EventRejected:
		s.Phase, s.Reason = PhaseFailed, e.Reason
		return s, Output{}
	case e.Type != inventory.EventReserved:
		return s, Output{}
	case e.Qty != s.Sale.Units:
		s.Phase, s.Reason = PhaseFailed, ReasonAllocationMismatch
		return s, Output{Inventory: []inventory.Command{s.release(e.Time)}}
	}
	s.Phase = PhaseOpen
	var out Output
	for b := range s.Sale.Buckets {
		out.Messages = append(out.Messages, Message{
			Kind: KindOpen, SaleID: s.Sale.ID, Key: r.Bucket(s.Sale.ID, b), Time: e.Time,
			Sale: s.Sale, Bucket: b, Units: s.Sale.Share(b),
		})
	}
	return s, out
}

// settled takes the answer to the settlement.
func (s SaleState) settled(e inventory.Event) SaleState {
	if s.Phase != PhaseSettling {
		return s
	}
	switch e.Type {
	case inventory.EventCommitted, inventory.EventReleased:
		s.Phase = PhaseSettled
	case inventory.EventRejected:
		s.Phase, s.Reason = PhaseSettlementFailed, e.Reason
	}
	return s
}

// lost fails the settlement of a sale whose allocation ended under it.
func (s SaleState) lost(reason string) SaleState {
	if s.Phase == PhaseOpen || s.Phase == PhaseSettling {
		s.Phase, s.Reason = PhaseSettlementFailed, reason
	}
	return s
}
