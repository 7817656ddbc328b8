package orders

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/titan-commerce/titan/processors/inventory"
)

// TestSagaProperties runs random orders through the saga with the fraud,
// pricing and inventory processors simulated around it. Every topic is a
// log read at least once: each source stays in order, different sources
// interleave at random, and a consumer may rewind and read a suffix again,
// as after a crash or a rebalance. It checks, whatever the interleaving:
//   - CheckOrder and the wire round trip after every step, and that an
//     immediate duplicate changes nothing and sends nothing;
//   - every order ends terminal with exactly one outcome, agreeing with it;
//   - a rejected order holds nothing (every line released, skipped or
//     refused) and a confirmed one has every line committed;
//   - no reserve is ever sent for an order rejected by fraud or pricing;
//   - stock never goes negative, and once everything is delivered nothing is
//     reserved and the units sold are those of the confirmed orders;
//   - with a deadline scanner sending timeouts at random times, some runs
//     with a step timeout shorter than the answers take, an order that
//     times out releases everything it held, also the reservations whose
//     answers come after.
func TestSagaProperties(t *testing.T) {
	var timedOut, heldWhenTimedOut int
	for seed := range uint64(300) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			s := newSim(t, rand.New(rand.NewPCG(seed, 7)))
			s.run()
			timedOut += s.timedOut
			heldWhenTimedOut += s.heldWhenTimedOut
		})
	}
	// The runs must exercise what they claim to.
	if timedOut == 0 || heldWhenTimedOut == 0 {
		t.Fatalf("%d orders timed out, %d of them holding reservations: the deadline is not exercised", timedOut, heldWhenTimedOut)
	}
	t.Logf("%d orders timed out, %d of them while reserving", timedOut, heldWhenTimedOut)
}

// topic is one partition's log and its consumer's position.
type topic struct {
	msgs    []any
	next    int
	rewinds int
}

type cancelMsg struct {
	orderID string
	reason  string
	at      time.Time
}

// timeoutMsg is the deadline scanner's Timeout for an order.
type timeoutMsg struct {
	steps int64
	at    time.Time
}

// sku is the simulated inventory of one SKU: a tiny model of inventory's
// semantics (one reservation per order, answers remembered per command id).
type sku struct {
	onHand, reserved, sold, initial int64
	holds                           map[string]*hold
	answers                         map[string]inventory.Event
}

type hold struct {
	qty  int64
	open bool
	how  string
}

type sim struct {
	t     *testing.T
	rng   *rand.Rand
	pol   Policy
	clock time.Time

	orders   map[string]Order
	verdicts map[string]string
	cancels  map[string]bool
	catalog  map[string]int64 // no entry: the SKU has no price
	skus     map[string]*sku

	orderEvents map[string]*topic // per order: placed, payment failed, cancel
	sagaInbox   map[string]*topic // per order: fraud verdicts and quotes
	invCommands map[string]*topic // per SKU
	invEvents   map[string]*topic // per SKU, read by the saga
	priceChecks map[string]*topic // per SKU
	fraudInbox  *topic

	outcomes map[string][]Outcome
	reserves map[string]int

	// timedOut counts orders rejected as timed out; heldWhenTimedOut those
	// of them that timed out while reserving.
	timedOut, heldWhenTimedOut int
}

func newSim(t *testing.T, rng *rand.Rand) *sim {
	s := &sim{
		t: t, rng: rng, pol: DefaultPolicy(), clock: t0,
		orders: map[string]Order{}, verdicts: map[string]string{}, cancels: map[string]bool{},
		catalog: map[string]int64{}, skus: map[string]*sku{},
		orderEvents: map[string]*topic{}, sagaInbox: map[string]*topic{},
		invCommands: map[string]*topic{}, invEvents: map[string]*topic{}, priceChecks: map[string]*topic{},
		fraudInbox: &topic{},
		outcomes:   map[string][]Outcome{}, reserves: map[string]int{},
	}
	names := []string{"s0", "s1", "s2", "s3"}
	for _, n := range names {
		if rng.IntN(8) > 0 {
			s.catalog[n] = 100 * int64(1+rng.IntN(20))
		}
		stock := int64(rng.IntN(7))
		s.skus[n] = &sku{onHand: stock, initial: stock, holds: map[string]*hold{}, answers: map[string]inventory.Event{}}
	}
	for i := range 1 + rng.IntN(6) {
		s.newOrder(fmt.Sprintf("o%d", i), names)
	}
	return s
}

func (s *sim) newOrder(id string, names []string) {
	rng := s.rng
	p := Placed{
		EventID: id + "-placed", OrderID: id, UserID: "u" + id, DeviceID: "d" + id, PaymentID: "p" + id,
		Currency: "EUR", Time: s.clock.Add(time.Duration(rng.IntN(5000)) * time.Millisecond),
	}
	for _, i := range rng.Perm(len(names))[:1+rng.IntN(3)] {
		price := s.catalog[names[i]]
		if rng.IntN(8) == 0 {
			price += price/20 + 1 // beyond the 1 % tolerance
		}
		p.Lines = append(p.Lines, Line{SKU: names[i], Qty: int64(1 + rng.IntN(3)), UnitPrice: price})
	}
	s.verdicts[id] = []string{FraudApprove, FraudApprove, FraudApprove, FraudApprove, FraudReview, FraudReject}[rng.IntN(6)]

	log := &topic{msgs: []any{p}}
	if rng.IntN(3) == 0 {
		log.msgs = append(log.msgs, FailedPayment{EventID: id + "-pf", OrderID: id, UserID: p.UserID, DeviceID: p.DeviceID,
			PaymentID: p.PaymentID, Amount: 100, Reason: "declined", Time: p.Time.Add(time.Second)})
	}
	if rng.IntN(6) == 0 {
		s.cancels[id] = true
		log.msgs = append(log.msgs, cancelMsg{orderID: id, reason: "buyer", at: p.Time.Add(2 * time.Second)})
	}
	s.orderEvents[id] = log
	s.sagaInbox[id] = &topic{}
}

func (s *sim) run() {
	for range 100_000 {
		var ready []*topic
		var kinds []func(any)
		add := func(m map[string]*topic, deliver func(any)) {
			for _, k := range slices.Sorted(maps.Keys(m)) {
				if tp := m[k]; tp.next < len(tp.msgs) {
					ready, kinds = append(ready, tp), append(kinds, deliver)
				}
			}
		}
		add(s.orderEvents, s.toSaga)
		add(s.sagaInbox, s.toSaga)
		add(s.invEvents, s.toSaga)
		add(s.invCommands, s.toInventory)
		add(s.priceChecks, s.toPricing)
		if s.fraudInbox.next < len(s.fraudInbox.msgs) {
			ready, kinds = append(ready, s.fraudInbox), append(kinds, s.toFraud)
		}
		if len(ready) == 0 {
			if s.scanDeadlines() {
				continue
			}
			s.finalChecks()
			return
		}
		if s.rng.IntN(40) == 0 {
			s.scanDeadlines()
		}
		i := s.rng.IntN(len(ready))
		tp := ready[i]
		msg := tp.msgs[tp.next]
		tp.next++
		s.clock = s.clock.Add(time.Duration(s.rng.IntN(2000)) * time.Millisecond)
		kinds[i](msg)
		if tp.rewinds < 2 && s.rng.IntN(30) == 0 {
			tp.rewinds++
			tp.next = s.rng.IntN(tp.next)
		}
	}
	s.t.Fatal("the simulation did not settle")
}

// scanDeadlines plays the deadline scanner: it sends every open order a
// Timeout for the step count it has now. Answers still on their way race
// it. It reports whether it sent any.
func (s *sim) scanDeadlines() bool {
	sent := false
	for _, id := range slices.Sorted(maps.Keys(s.orders)) {
		o := s.orders[id]
		if o.Status == StatusUnknown || o.Status.Terminal() {
			continue
		}
		s.sagaInbox[id].msgs = append(s.sagaInbox[id].msgs, sagaMsg{id, timeoutMsg{steps: o.Steps(), at: s.now()}})
		sent = true
	}
	return sent
}

func orderOf(msg any) string {
	switch m := msg.(type) {
	case Placed:
		return m.OrderID
	case FailedPayment:
		return m.OrderID
	case inventory.Event:
		return m.OrderID
	case sagaMsg:
		return m.orderID
	case cancelMsg:
		return m.orderID
	}
	panic(fmt.Sprintf("no order id in %T", msg))
}

// sagaMsg is a fraud verdict or a quote on the saga topic.
type sagaMsg struct {
	orderID string
	msg     any
}

func (s *sim) apply(id string, msg any) (Order, Effects) {
	o := s.orders[id]
	switch m := msg.(type) {
	case Placed:
		next, fx, err := Place(o, m, s.pol)
		if err != nil {
			s.t.Fatalf("place %s: %v", id, err)
		}
		return next, fx
	case FailedPayment:
		return PaymentFailed(o, m, s.pol)
	case cancelMsg:
		return Cancel(o, m.reason, m.at, s.pol)
	case FraudVerdict:
		return OnFraud(o, m, s.pol)
	case PriceQuote:
		return OnQuote(o, m, s.pol)
	case inventory.Event:
		return OnInventory(o, m, s.pol)
	case timeoutMsg:
		return Timeout(o, m.steps, m.at, s.pol)
	}
	s.t.Fatalf("unknown message %T", msg)
	return Order{}, Effects{}
}

func (s *sim) toSaga(msg any) {
	id := orderOf(msg)
	if sm, ok := msg.(sagaMsg); ok {
		msg = sm.msg
	}
	o, fx := s.apply(id, msg)
	if err := CheckOrder(o); err != nil {
		s.t.Fatalf("after %T: %v", msg, err)
	}
	stored := OrderFromWire(OrderToWire(o))
	if !reflect.DeepEqual(stored, o) {
		s.t.Fatalf("wire round trip of %s:\n got %+v\nwant %+v", id, stored, o)
	}
	s.orders[id] = stored
	if s.rng.IntN(5) == 0 && o.Status != StatusUnknown {
		again, fx2 := s.apply(id, msg)
		if !fx2.Empty() || !reflect.DeepEqual(again, o) {
			s.t.Fatalf("an immediate duplicate of %T changed %s or sent %q", msg, id, summary(fx2))
		}
	}
	s.route(id, fx)
}

func (s *sim) route(id string, fx Effects) {
	if fx.Fraud != nil {
		s.fraudInbox.msgs = append(s.fraudInbox.msgs, *fx.Fraud)
	}
	for _, pc := range fx.PriceChecks {
		s.topicOf(s.priceChecks, pc.SKU).msgs = append(s.topicOf(s.priceChecks, pc.SKU).msgs, pc)
	}
	for _, c := range fx.Inventory {
		if c.Kind == inventory.KindReserve {
			s.reserves[id]++
		}
		s.topicOf(s.invCommands, c.SKU).msgs = append(s.topicOf(s.invCommands, c.SKU).msgs, c)
	}
	if fx.Outcome != nil {
		s.outcomes[id] = append(s.outcomes[id], *fx.Outcome)
	}
}

func (s *sim) topicOf(m map[string]*topic, key string) *topic {
	if m[key] == nil {
		m[key] = &topic{}
	}
	return m[key]
}

func (s *sim) now() time.Time { return s.clock.Truncate(time.Millisecond) }

// toFraud answers an order's scoring request with the order's verdict; a
// request read again is answered again.
func (s *sim) toFraud(msg any) {
	req := msg.(FraudRequest)
	if req.Kind != FraudKindOrder {
		return
	}
	v := FraudVerdict{Outcome: s.verdicts[req.OrderID], Score: 0.5, Reasons: []FraudReason{{Code: "r"}}, ModelVersion: "m", Time: s.now()}
	inbox := s.sagaInbox[req.OrderID]
	inbox.msgs = append(inbox.msgs, sagaMsg{req.OrderID, v})
}

func (s *sim) toPricing(msg any) {
	pc := msg.(PriceCheck)
	price, found := s.catalog[pc.SKU]
	q := PriceQuote{SKU: pc.SKU, Line: pc.Line, Found: found, Time: s.now()}
	if found {
		q.Price, q.Currency = price, "EUR"
	}
	inbox := s.sagaInbox[pc.OrderID]
	inbox.msgs = append(inbox.msgs, sagaMsg{pc.OrderID, q})
}

// toInventory applies a command to the SKU model and publishes its answer;
// a command seen before gets its first answer again.
func (s *sim) toInventory(msg any) {
	c := msg.(inventory.Command)
	st := s.skus[c.SKU]
	e, seen := st.answers[c.ID]
	if !seen {
		e = st.apply(c)
		e.CommandID, e.OrderID, e.SKU, e.Time = c.ID, c.OrderID, c.SKU, s.now()
		st.answers[c.ID] = e
	}
	if st.onHand < 0 || st.reserved < 0 || st.reserved > st.onHand {
		s.t.Fatalf("stock of %s broken: %+v", c.SKU, *st)
	}
	log := s.topicOf(s.invEvents, c.SKU)
	log.msgs = append(log.msgs, e)
}

func (st *sku) apply(c inventory.Command) inventory.Event {
	h := st.holds[c.OrderID]
	switch c.Kind {
	case inventory.KindReserve:
		switch {
		case h != nil:
			return inventory.Event{Type: inventory.EventRejected, Reason: inventory.ReasonAlreadyReserved}
		case c.Qty > st.onHand-st.reserved:
			return inventory.Event{Type: inventory.EventRejected, Reason: inventory.ReasonInsufficientStock}
		}
		st.holds[c.OrderID] = &hold{qty: c.Qty, open: true}
		st.reserved += c.Qty
		return inventory.Event{Type: inventory.EventReserved, Qty: c.Qty}
	case inventory.KindCommit, inventory.KindRelease:
		switch {
		case h == nil:
			return inventory.Event{Type: inventory.EventRejected, Reason: inventory.ReasonNotFound}
		case !h.open:
			return inventory.Event{Type: inventory.EventRejected, Reason: h.how}
		}
		h.open = false
		st.reserved -= h.qty
		if c.Kind == inventory.KindCommit {
			h.how = inventory.ReasonAlreadyCommitted
			st.onHand -= h.qty
			st.sold += h.qty
			return inventory.Event{Type: inventory.EventCommitted, Qty: h.qty}
		}
		h.how = inventory.ReasonAlreadyReleased
		return inventory.Event{Type: inventory.EventReleased, Qty: h.qty}
	}
	return inventory.Event{Type: inventory.EventRejected, Reason: inventory.ReasonInvalidCommand}
}

func (s *sim) finalChecks() {
	t := s.t
	sold := map[string]int64{}
	for _, id := range slices.Sorted(maps.Keys(s.orderEvents)) {
		o := s.orders[id]
		outs := s.outcomes[id]
		if !o.Status.Terminal() || len(outs) != 1 {
			t.Fatalf("order %s ends %s with %d outcomes", id, o.Status, len(outs))
		}
		if out := outs[0]; out.Confirmed != (o.Status == StatusConfirmed) || out.Reason != o.Reason {
			t.Fatalf("order %s is %s %s but its outcome says %+v", id, o.Status, o.Reason, out)
		}
		for _, l := range o.Lines {
			switch {
			case o.Status == StatusConfirmed && l.Status != LineCommitted:
				t.Fatalf("confirmed order %s has line %s %s", id, l.SKU, l.Status)
			case o.Status == StatusRejected && l.Status != LineReleased && l.Status != LineSkipped && l.Status != LineRefused:
				t.Fatalf("rejected order %s has line %s %s", id, l.SKU, l.Status)
			}
			if o.Status == StatusConfirmed {
				sold[l.SKU] += l.Qty
			}
		}
		switch o.Reason {
		case ReasonFraudRejected, ReasonPriceMismatch, ReasonPriceUnavailable:
			if s.reserves[id] != 0 {
				t.Fatalf("order %s rejected as %s sent %d reserves", id, o.Reason, s.reserves[id])
			}
		}
		if o.Reason == ReasonTimedOut {
			s.timedOut++
			if s.reserves[id] > 0 {
				s.heldWhenTimedOut++
			}
			continue
		}
		if v := s.verdicts[id]; !s.cancels[id] && (v == FraudReject) != (o.Reason == ReasonFraudRejected) {
			t.Fatalf("order %s: verdict %s, reason %q", id, v, o.Reason)
		}
		if o.Status == StatusConfirmed && s.verdicts[id] == FraudReject {
			t.Fatalf("order %s confirmed against a fraud rejection", id)
		}
	}
	for name, st := range s.skus {
		if st.reserved != 0 || st.sold != sold[name] || st.onHand+st.sold != st.initial {
			t.Fatalf("sku %s ends %+v, confirmed orders bought %d", name, *st, sold[name])
		}
	}
}
