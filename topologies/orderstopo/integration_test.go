package orderstopo_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/ordergen"
	"github.com/titan-commerce/titan/internal/proctest"
	"github.com/titan-commerce/titan/processors/orders"
	"github.com/titan-commerce/titan/schemas"
	fraudv1 "github.com/titan-commerce/titan/schemas/fraud/v1"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

// TestOrderDay replays a generated day of checkout traffic, planted fraud
// included, through two instances on the real broker, one of which stops
// a third of the way through and comes back at two thirds, while a tenth of
// the orders are sent twice. It then checks the saga's promises against
// what the topics hold: every order ends exactly once, a rejected order
// holds no stock, a confirmed one has sold its every line, and every SKU's
// ledger balances; and it reports how much of each fraud pattern the
// scoring caught.
func TestOrderDay(t *testing.T) {
	d := newDeployment(t)
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	day, cfg := dayOf(3000)

	a := d.start(ctx, "a", t.TempDir())
	bDir := t.TempDir()
	b := d.start(ctx, "b", bDir)
	if err := waitReady(ctx, a, b); err != nil {
		t.Fatal(err)
	}
	placed := d.replay(ctx, day, cfg,
		func() {
			// One instance leaves; its partitions move to the other.
			if err := b.stop(); err != nil {
				t.Fatal(err)
			}
		},
		func() {
			// It comes back with the state it had; partitions move again.
			d.start(ctx, "b2", bDir)
		})
	d.verify(ctx, day, placed, true)
}

// TestOrderDayKilled is TestOrderDay with titan processes, one of which is
// killed with SIGKILL a third of the way through and restarted on its state
// directory at two thirds. What it had sent but not committed is sent
// again: outcomes may be published twice (never two different ones), and
// every promise of the saga still holds. Fraud rates are only reported:
// a replayed observation may be scored a second time.
func TestOrderDayKilled(t *testing.T) {
	d := newDeployment(t)
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	day, cfg := dayOf(1500)

	bin := proctest.Build(ctx, t)
	logDir := t.TempDir()
	spawn := func(id, dir string) *proctest.Proc {
		p := proctest.Spawn(t, bin, id, logDir, "--brokers", strings.Join(d.brokers, ","), "--namespace", d.ns,
			"--state-dir", dir, "--partitions", fmt.Sprint(partitions), "--instance-id", id,
			"--topologies", instance.TopologyInventory+","+instance.TopologyOrders,
			"--order-reserve-ttl", reserveTTL.String(), "--dedupe-window", dedupeWindow.String(),
			"--max-time-ahead", dayWindow.Ahead.String(), "--max-time-behind", dayWindow.Behind.String())
		if err := p.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		return p
	}
	spawn("a", t.TempDir())
	bDir := t.TempDir()
	b := spawn("b", bDir)
	placed := d.replay(ctx, day, cfg, b.Kill, func() { spawn("b", bDir) })
	d.verify(ctx, day, placed, false)
}

// dayWindow admits the replayed day's event times, which span from twelve
// hours before now to twelve after (and the stock an hour before that),
// while the day is produced in minutes: the instances are told so, as a
// shop replaying history would tell them.
var dayWindow = schemas.TimeWindow{Ahead: 14 * time.Hour, Behind: 14 * time.Hour}

// dayOf generates the day the tests replay, with legit orders, and the
// planted patterns in proportion.
func dayOf(legit int) (ordergen.Day, ordergen.Config) {
	cfg := ordergen.DefaultConfig()
	cfg.Seed = 20261126
	cfg.Users, cfg.SKUs, cfg.LegitOrders = legit/2, 150, legit
	cfg.CardTesting, cfg.AccountTakeovers, cfg.VelocityAbusers = max(2, legit/750), max(4, legit/375), max(2, legit/750)
	cfg.MismatchRate = 0.02
	// The day is now: the inventory's expiry sweeper reads the wall clock.
	// Everything it stamps, the catalog an hour before the day included,
	// lies within 13 h of the wall clock whatever the minute, an hour
	// inside the topologies' time window (14 h either way).
	cfg.Start = time.Now().UTC().Truncate(time.Hour).Add(-11 * time.Hour)
	return ordergen.Generate(cfg), cfg
}

// replay stocks the catalog and produces the day's events, calling
// interrupt a third of the way through and resume at two thirds. It
// returns the placed orders by id.
//
// The day is replayed an hour of event time at a time: each hour is
// produced at once and processed before the next begins. Fraud features are
// windows over event time, so replaying the whole day at once would let
// partitions race hours ahead of each other and score an order before the
// history it should be judged against.
func (d *deployment) replay(ctx context.Context, day ordergen.Day, cfg ordergen.Config, interrupt, resume func()) map[string]ordergen.Event {
	t := d.t
	began := time.Now()
	d.stockUp(ctx, day, cfg.Start.Add(-time.Hour))
	rng := rand.New(rand.NewPCG(7, 7))
	placed := map[string]ordergen.Event{}
	hour := cfg.Start.Add(time.Hour)
	for n, e := range day.Events {
		if at := time.UnixMilli(e.Order.GetTimestampMs()); !at.Before(hour) {
			d.waitOutcomes(ctx, len(placed))
			hour = at.Truncate(time.Hour).Add(time.Hour)
		}
		d.produce(ctx, string(d.ord.Events), e.Order.GetOrderId(), e.Order)
		if e.Placed() {
			placed[e.Order.GetOrderId()] = e
			if rng.IntN(10) == 0 {
				// A checkout retrying after a timeout sends the same event.
				d.produce(ctx, string(d.ord.Events), e.Order.GetOrderId(), e.Order)
			}
		}
		switch n {
		case len(day.Events) / 3:
			interrupt()
		case 2 * len(day.Events) / 3:
			resume()
		}
	}
	d.flush(ctx)
	d.waitOutcomes(ctx, len(placed))
	t.Logf("%d events, %d orders: every order ended %v after the first was produced",
		len(day.Events), len(placed), time.Since(began).Round(time.Millisecond))
	return placed
}

// verify checks the saga's promises once every order has ended, and
// reports the fraud rates (holding them to a floor when strict).
func (d *deployment) verify(ctx context.Context, day ordergen.Day, placed map[string]ordergen.Event, strict bool) {
	t := d.t
	outs, copies, err := d.outcomes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	demand, err := d.demandPriced(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkOutcomes(t, placed, outs, copies, demand)

	// Releases of rejected orders and commits of confirmed ones follow the
	// outcome; wait until the inventory has answered them all.
	var res map[string]map[string]*inventoryv1.Event
	err = kafkatest.WaitFor(ctx, "every reservation of an ended order is closed", func() (bool, string) {
		var err error
		if res, err = d.reservations(ctx); err != nil {
			return false, err.Error()
		}
		return settled(placed, outs, res)
	})
	if err != nil {
		t.Fatal(err)
	}
	stock, err := d.stock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkLedgers(t, day, placed, outs, stock)

	decisions, err := d.decisions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reportFraud(t, day, decisions, strict)
}

func checkOutcomes(t *testing.T, placed map[string]ordergen.Event, outs map[string]*ordersv1.OrderEvent, copies map[string]int, demand map[string]bool) {
	t.Helper()
	reasons := map[string]int{}
	again, byDemand := 0, 0
	for id, e := range placed {
		out, ok := outs[id]
		if !ok {
			t.Errorf("order %s has no outcome", id)
			continue
		}
		if out.GetEventId() != orders.OutcomeEventID(id) {
			t.Errorf("order %s: outcome event id %q", id, out.GetEventId())
		}
		again += copies[id] - 1
		switch {
		case out.GetConfirmed() != nil:
			reasons["confirmed"]++
			if e.Mismatch {
				t.Errorf("order %s has a line off the catalog price and was confirmed", id)
			}
		case out.GetRejected() != nil:
			r := out.GetRejected().GetReason()
			reasons[r]++
			if r == orders.ReasonPriceMismatch && !e.Mismatch {
				byDemand++
				if !anyLine(e, demand) {
					t.Errorf("order %s at catalog prices rejected for price_mismatch: %s", id, out.GetRejected().GetDetail())
				}
			}
			if e.Mismatch && r != orders.ReasonPriceMismatch && r != orders.ReasonFraudRejected {
				t.Errorf("order %s has a line off the catalog price and was rejected for %s", id, r)
			}
		default:
			t.Errorf("order %s: outcome of kind %T", id, out.GetKind())
		}
	}
	for id := range outs {
		if _, ok := placed[id]; !ok {
			t.Errorf("outcome for order %s, which was never placed", id)
		}
	}
	t.Logf("outcomes: %v; outcome copies published again: %d; rejected at catalog prices moved by demand: %d",
		reasons, again, byDemand)
	if reasons[orders.ReasonOutOfStock] == 0 {
		t.Errorf("no order ran out of stock, though %d SKUs were stocked below demand", ordergen.ScarceSKUs)
	}
	if reasons["confirmed"] == 0 || reasons[orders.ReasonFraudRejected] == 0 || reasons[orders.ReasonPriceMismatch] == 0 {
		t.Errorf("the day should confirm orders and reject some for fraud and price: %v", reasons)
	}
}

func anyLine(e ordergen.Event, skus map[string]bool) bool {
	for _, l := range e.Order.GetPlaced().GetLines() {
		if skus[l.GetSku()] {
			return true
		}
	}
	return false
}

// settled reports whether every line of every ended order is closed: sold
// for a confirmed order, released or refused for a rejected one.
func settled(placed map[string]ordergen.Event, outs map[string]*ordersv1.OrderEvent, res map[string]map[string]*inventoryv1.Event) (bool, string) {
	for id, e := range placed {
		confirmed := outs[id].GetConfirmed() != nil
		for _, l := range e.Order.GetPlaced().GetLines() {
			ev := res[id][l.GetSku()]
			switch {
			case confirmed && ev.GetType() != inventoryv1.EventType_EVENT_TYPE_COMMITTED:
				return false, fmt.Sprintf("confirmed order %s, %s: %v", id, l.GetSku(), ev.GetType())
			case !confirmed && ev != nil && ev.GetType() != inventoryv1.EventType_EVENT_TYPE_RELEASED &&
				ev.GetType() != inventoryv1.EventType_EVENT_TYPE_REJECTED:
				return false, fmt.Sprintf("rejected order %s, %s: %v", id, l.GetSku(), ev.GetType())
			}
		}
	}
	return true, ""
}

// checkLedgers: nothing is left reserved, nothing went below zero, and
// every unit is on hand or sold to a confirmed order.
func checkLedgers(t *testing.T, day ordergen.Day, placed map[string]ordergen.Event, outs map[string]*ordersv1.OrderEvent, stock map[string]*inventoryv1.Stock) {
	t.Helper()
	sold := map[string]int64{}
	for id, e := range placed {
		if outs[id].GetConfirmed() == nil {
			continue
		}
		for _, l := range e.Order.GetPlaced().GetLines() {
			sold[l.GetSku()] += l.GetQty()
		}
	}
	for _, it := range day.Catalog {
		s := stock[it.SKU]
		if s == nil {
			t.Errorf("%s: no inventory event", it.SKU)
			continue
		}
		if s.GetReserved() != 0 || s.GetOnHand() < 0 || s.GetSold() != sold[it.SKU] || s.GetOnHand()+s.GetSold() != it.Stock {
			t.Errorf("%s: ledger %v, want reserved 0, sold %d of %d restocked", it.SKU, s, sold[it.SKU], it.Stock)
		}
	}
}

// reportFraud logs detection and false-positive rates per pattern and
// holds them to the floor the pure replay of the same model clears with
// room to spare.
func reportFraud(t *testing.T, day ordergen.Day, decisions map[string]string, strict bool) {
	t.Helper()
	flagged := map[string]bool{}
	for id, o := range decisions {
		flagged[id] = o != fraudv1.Outcome_OUTCOME_APPROVE.String()
	}
	rep := ordergen.Rates(day, flagged, true)
	t.Logf("fraud scoring on the broker (first order of each incident excluded):\n%s", rep)
	if !strict {
		return
	}
	for _, r := range rep.Detection {
		if r.Missing > 0 || r.Share() < 0.7 {
			t.Errorf("%s", r)
		}
	}
	if fp := rep.FalsePositives; fp.Missing > 0 || fp.Share() > 0.03 {
		t.Errorf("false positives %s", fp)
	}
}
