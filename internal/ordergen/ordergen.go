// Package ordergen generates a reproducible day of shop traffic for tests
// and benchmarks: a catalog, legitimate orders shaped like a real day, and
// planted fraud whose every order is labelled with its pattern, so a test
// can measure how much of it the fraud scoring catches and how many honest
// orders it bothers.
//
// The same Config (Seed included) always gives the same Day, byte for byte.
package ordergen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

// Patterns label the events of a Day.
const (
	PatternLegit           = ""
	PatternCardTesting     = "card_testing"
	PatternAccountTakeover = "account_takeover"
	PatternVelocity        = "velocity"
)

// Patterns lists the planted patterns in report order.
var Patterns = []string{PatternCardTesting, PatternAccountTakeover, PatternVelocity}

// Config describes a day. Zero sizes take DefaultConfig's; the rates are
// taken as given, zero included.
type Config struct {
	Seed int64
	// Start is the day's first instant; every event falls in
	// [Start, Start+24h).
	Start time.Time
	// Users is the number of legitimate users; each has 1 to
	// DevicesPerUser usual devices and 1 to CardsPerUser cards.
	Users          int
	DevicesPerUser int
	CardsPerUser   int
	SKUs           int
	Currency       string
	LegitOrders    int
	// Incidents of each planted pattern.
	CardTesting      int
	AccountTakeovers int
	VelocityAbusers  int
	// MismatchRate is the share of legitimate orders with one line at a
	// price other than the catalog's.
	MismatchRate float64
	// FailRate is the share of legitimate orders followed by a failed
	// payment attempt.
	FailRate float64
	// SharedCardRate is the share of users whose first card is also a card
	// of another user (a household).
	SharedCardRate float64
}

// DefaultConfig is a day of 20,000 legitimate orders from 8,000 users with
// a few dozen planted incidents.
func DefaultConfig() Config {
	return Config{
		Seed:             1,
		Start:            time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC),
		Users:            8000,
		DevicesPerUser:   3,
		CardsPerUser:     2,
		SKUs:             500,
		Currency:         "EUR",
		LegitOrders:      20000,
		CardTesting:      20,
		AccountTakeovers: 30,
		VelocityAbusers:  20,
		MismatchRate:     0.005,
		FailRate:         0.03,
		SharedCardRate:   0.02,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Start.IsZero() {
		c.Start = d.Start
	}
	if c.Users <= 0 {
		c.Users = d.Users
	}
	if c.DevicesPerUser <= 0 {
		c.DevicesPerUser = d.DevicesPerUser
	}
	if c.CardsPerUser <= 0 {
		c.CardsPerUser = d.CardsPerUser
	}
	if c.SKUs <= 0 {
		c.SKUs = d.SKUs
	}
	if c.Currency == "" {
		c.Currency = d.Currency
	}
	if c.LegitOrders < 0 {
		c.LegitOrders = 0
	}
	return c
}

// Item is one catalog entry.
type Item struct {
	SKU      string
	Price    int64 // minor units
	Currency string
	// Stock is the units to restock before the day. Scarce items get less
	// than the day's orders ask for, so some of their orders run out.
	Stock  int64
	Scarce bool
}

// Event is one order event of the day with its label.
type Event struct {
	Order *ordersv1.OrderEvent
	// Pattern is PatternLegit or the planted pattern the order belongs to.
	Pattern string
	// Incident numbers the planted incidents from 1 (0 for legit traffic):
	// the orders of one card-testing run, one takeover, one abuser.
	Incident int
	// Mismatch marks a placed order with a line priced off the catalog.
	Mismatch bool
}

// Placed reports whether the event places an order (the others are failed
// payments).
func (e Event) Placed() bool { return e.Order.GetPlaced() != nil }

// Day is a generated day: the catalog and every event in time order.
type Day struct {
	Catalog []Item
	Events  []Event
}

// ScarceSKUs is how many of the most demanded SKUs get less stock than
// their demand.
const ScarceSKUs = 5

// scarceShare and plentyShare size stock against the day's demand.
const (
	scarceShare = 0.6
	plentyShare = 2.0
)

type user struct {
	id      string
	devices []string
	cards   []string
	weight  float64
}

type gen struct {
	cfg       Config
	rng       *rand.Rand
	zipf      *rand.Zipf
	cat       []Item
	cheap     []int // catalog indexes, cheapest tenth
	dear      []int // catalog indexes, dearest sixth
	users     []user
	cum       []float64
	events    []Event
	orders    int
	ids       int
	incidents int
	// firstOrder is each legit user's earliest order time, for takeovers.
	firstOrder map[int]time.Time
}

// Generate builds the day described by cfg.
func Generate(cfg Config) Day {
	cfg = cfg.withDefaults()
	g := &gen{
		cfg:        cfg,
		rng:        rand.New(rand.NewPCG(uint64(cfg.Seed), 0x7469_7461_6e)),
		firstOrder: map[int]time.Time{},
	}
	g.catalog()
	g.population()
	g.legit()
	g.cardTesting()
	g.takeovers()
	g.velocity()
	g.stock()
	sort.SliceStable(g.events, func(i, j int) bool {
		a, b := g.events[i].Order, g.events[j].Order
		if a.GetTimestampMs() != b.GetTimestampMs() {
			return a.GetTimestampMs() < b.GetTimestampMs()
		}
		return a.GetEventId() < b.GetEventId()
	})
	return Day{Catalog: g.cat, Events: g.events}
}

func (g *gen) catalog() {
	n := g.cfg.SKUs
	g.cat = make([]Item, n)
	lo, hi := math.Log(299), math.Log(49_900)
	for i := range g.cat {
		p := int64(math.Exp(lo + g.rng.Float64()*(hi-lo)))
		g.cat[i] = Item{SKU: fmt.Sprintf("sku-%05d", i), Price: p/100*100 + 99, Currency: g.cfg.Currency}
	}
	byPrice := make([]int, n)
	for i := range byPrice {
		byPrice[i] = i
	}
	sort.SliceStable(byPrice, func(a, b int) bool { return g.cat[byPrice[a]].Price < g.cat[byPrice[b]].Price })
	g.cheap = byPrice[:max(1, n/10)]
	g.dear = byPrice[n-max(1, n/6):]
	g.zipf = rand.NewZipf(g.rng, 1.1, 2, uint64(n-1))
}

func (g *gen) population() {
	g.users = make([]user, g.cfg.Users)
	g.cum = make([]float64, g.cfg.Users)
	total := 0.0
	for i := range g.users {
		u := user{id: fmt.Sprintf("user-%06d", i), weight: math.Exp(g.rng.NormFloat64() * 0.6)}
		for d := range g.pick([]float64{50, 35, 15}[:g.cfg.DevicesPerUser]) + 1 {
			u.devices = append(u.devices, fmt.Sprintf("dev-%06d-%d", i, d))
		}
		for c := range g.pick([]float64{70, 30}[:min(2, g.cfg.CardsPerUser)]) + 1 {
			u.cards = append(u.cards, fmt.Sprintf("card-%06d-%d", i, c))
		}
		if i > 0 && g.rng.Float64() < g.cfg.SharedCardRate {
			u.cards[0] = g.users[g.rng.IntN(i)].cards[0]
		}
		g.users[i] = u
		total += u.weight
		g.cum[i] = total
	}
}

// pick draws an index with the given relative weights.
func (g *gen) pick(weights []float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	x := g.rng.Float64() * total
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

// diurnal weighs the hours of the day: quiet nights, a lunch peak and an
// evening peak.
var diurnal = []float64{1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 4, 4.5, 5, 6, 5.5, 5, 4.5, 4.5, 5, 6, 7, 7, 6, 4, 2}

func (g *gen) timeOfDay() time.Duration {
	h := g.pick(diurnal)
	return time.Duration(h)*time.Hour + time.Duration(g.rng.Int64N(int64(time.Hour/time.Millisecond)))*time.Millisecond
}

func (g *gen) legit() {
	for range g.cfg.LegitOrders {
		ui := sort.SearchFloat64s(g.cum, g.rng.Float64()*g.cum[len(g.cum)-1])
		ui = min(ui, len(g.users)-1)
		u := g.users[ui]
		at := g.cfg.Start.Add(g.timeOfDay())
		dev := u.devices[0]
		if len(u.devices) > 1 && g.rng.Float64() < 0.3 {
			dev = u.devices[1+g.rng.IntN(len(u.devices)-1)]
		}
		card := u.cards[0]
		if len(u.cards) > 1 && g.rng.Float64() < 0.2 {
			card = u.cards[1]
		}
		lines := g.lines(g.pick([]float64{50, 30, 15, 5})+1, nil, 3)
		mismatch := g.rng.Float64() < g.cfg.MismatchRate
		if mismatch {
			l := lines[g.rng.IntN(len(lines))]
			// A stale price from before a rise: 5 to 20 % below the
			// catalog, beyond any sensible tolerance of a price check.
			l.UnitPriceMinor = l.UnitPriceMinor * (80 + g.rng.Int64N(16)) / 100
		}
		ev := g.place(at, u.id, dev, card, lines, PatternLegit, 0)
		g.events[len(g.events)-1].Mismatch = mismatch
		if f, ok := g.firstOrder[ui]; !ok || at.Before(f) {
			g.firstOrder[ui] = at
		}
		if g.rng.Float64() < g.cfg.FailRate {
			g.fail(ev, at.Add(g.seconds(5, 90)), PatternLegit, 0)
		}
	}
}

// lines draws n distinct SKUs, by popularity or from pool, with qty up to
// maxQty (mostly 1).
func (g *gen) lines(n int, pool []int, maxQty int) []*ordersv1.OrderLine {
	seen := map[int]bool{}
	var out []*ordersv1.OrderLine
	for tries := 0; len(out) < n && tries < 20*n; tries++ {
		var i int
		if pool != nil {
			i = pool[g.rng.IntN(len(pool))]
		} else {
			i = int(g.zipf.Uint64())
		}
		if seen[i] {
			continue
		}
		seen[i] = true
		qty := int64(1 + g.pick([]float64{80, 15, 5}[:maxQty]))
		out = append(out, &ordersv1.OrderLine{Sku: g.cat[i].SKU, Qty: qty, UnitPriceMinor: g.cat[i].Price})
	}
	return out
}

func (g *gen) seconds(lo, hi int) time.Duration {
	return time.Duration(lo)*time.Second + time.Duration(g.rng.Int64N(int64(hi-lo)*1000))*time.Millisecond
}

func (g *gen) nextEventID() string {
	g.ids++
	return fmt.Sprintf("evt-%08d", g.ids)
}

// place appends an OrderPlaced event and returns it.
func (g *gen) place(at time.Time, userID, device, card string, lines []*ordersv1.OrderLine, pattern string, incident int) *ordersv1.OrderEvent {
	g.orders++
	ev := &ordersv1.OrderEvent{
		EventId:     g.nextEventID(),
		OrderId:     fmt.Sprintf("ord-%08d", g.orders),
		TimestampMs: at.UnixMilli(),
		Kind: &ordersv1.OrderEvent_Placed{Placed: &ordersv1.OrderPlaced{
			UserId: userID, DeviceId: device, PaymentId: card, Currency: g.cfg.Currency, Lines: lines,
		}},
	}
	g.events = append(g.events, Event{Order: ev, Pattern: pattern, Incident: incident})
	return ev
}

var failReasons = []string{"card_declined", "insufficient_funds", "cvc_mismatch"}

// fail appends a failed payment for a placed order.
func (g *gen) fail(placed *ordersv1.OrderEvent, at time.Time, pattern string, incident int) {
	p := placed.GetPlaced()
	g.events = append(g.events, Event{
		Order: &ordersv1.OrderEvent{
			EventId:     g.nextEventID(),
			OrderId:     placed.GetOrderId(),
			TimestampMs: at.UnixMilli(),
			Kind: &ordersv1.OrderEvent_PaymentFailed{PaymentFailed: &ordersv1.PaymentFailed{
				UserId: p.GetUserId(), DeviceId: p.GetDeviceId(), PaymentId: p.GetPaymentId(),
				AmountMinor: Total(placed), Reason: failReasons[g.rng.IntN(len(failReasons))],
			}},
		},
		Pattern:  pattern,
		Incident: incident,
	})
}

// Total is the amount of a placed order: qty times unit price over its
// lines; 0 for other events.
func Total(ev *ordersv1.OrderEvent) int64 {
	var sum int64
	for _, l := range ev.GetPlaced().GetLines() {
		sum += l.GetQty() * l.GetUnitPriceMinor()
	}
	return sum
}

// incidentStart is a random start that leaves room for span before the
// day ends.
func (g *gen) incidentStart(span time.Duration) time.Time {
	latest := 24*time.Hour - span - time.Minute
	return g.cfg.Start.Add(time.Hour + time.Duration(g.rng.Int64N(int64(latest-time.Hour))))
}

// cardTesting plants runs of small orders on one card from many new users
// within an hour, some of them failing.
func (g *gen) cardTesting() {
	for i := range g.cfg.CardTesting {
		inc := g.incident()
		card := fmt.Sprintf("ct-card-%03d", i)
		users := 10 + g.rng.IntN(21)
		orders := users + g.rng.IntN(users/3+1)
		devices := 2 + g.rng.IntN(5)
		span := time.Duration(15+g.rng.IntN(46)) * time.Minute
		start := g.incidentStart(span)
		for k := range orders {
			at := start.Add(time.Duration(g.rng.Int64N(int64(span))))
			uid := fmt.Sprintf("ct-user-%03d-%02d", i, k%users)
			dev := fmt.Sprintf("ct-dev-%03d-%d", i, g.rng.IntN(devices))
			ev := g.place(at, uid, dev, card, g.lines(1, g.cheap, 1), PatternCardTesting, inc)
			if g.rng.Float64() < 0.4 {
				g.fail(ev, at.Add(g.seconds(2, 30)), PatternCardTesting, inc)
			}
		}
	}
}

// takeovers plant, on legitimate users with history, a burst of 3 to 6
// expensive orders within half an hour from 1 to 3 devices the user never
// used, paid with the user's own cards.
func (g *gen) takeovers() {
	victims := make([]int, 0, len(g.firstOrder))
	for ui, first := range g.firstOrder {
		if first.Sub(g.cfg.Start) < 20*time.Hour {
			victims = append(victims, ui)
		}
	}
	sort.Ints(victims)
	for i := range g.cfg.AccountTakeovers {
		if len(victims) == 0 {
			return
		}
		inc := g.incident()
		k := g.rng.IntN(len(victims))
		ui := victims[k]
		victims = append(victims[:k], victims[k+1:]...)
		u := g.users[ui]
		from := g.firstOrder[ui].Add(time.Hour)
		to := g.cfg.Start.Add(24*time.Hour - 31*time.Minute)
		if !from.Before(to) {
			from = to.Add(-time.Minute)
		}
		start := from.Add(time.Duration(g.rng.Int64N(int64(to.Sub(from)))))
		devices := 1 + g.rng.IntN(3)
		orders := 3 + g.rng.IntN(4)
		for k := range orders {
			at := start.Add(time.Duration(k)*5*time.Minute + g.seconds(0, 240))
			dev := fmt.Sprintf("ato-dev-%03d-%d", i, k%devices)
			card := u.cards[g.rng.IntN(len(u.cards))]
			g.place(at, u.id, dev, card, g.lines(2+g.rng.IntN(3), g.dear, 2), PatternAccountTakeover, inc)
		}
	}
}

// velocity plants new users placing 10 to 40 ordinary orders within a few
// minutes from one device and card.
func (g *gen) velocity() {
	for i := range g.cfg.VelocityAbusers {
		inc := g.incident()
		uid := fmt.Sprintf("vel-user-%03d", i)
		dev := fmt.Sprintf("vel-dev-%03d", i)
		card := fmt.Sprintf("vel-card-%03d", i)
		orders := 10 + g.rng.IntN(31)
		span := time.Duration(3+g.rng.IntN(13)) * time.Minute
		start := g.incidentStart(span)
		for range orders {
			at := start.Add(time.Duration(g.rng.Int64N(int64(span))))
			g.place(at, uid, dev, card, g.lines(1+g.pick([]float64{60, 40}), nil, 2), PatternVelocity, inc)
		}
	}
}

func (g *gen) incident() int {
	g.incidents++
	return g.incidents
}

// stock gives the ScarceSKUs most demanded SKUs 60% of the units the day
// orders (so their later orders run out) and every other SKU twice its
// demand, at least 10 units.
func (g *gen) stock() {
	demand := make(map[string]int64, len(g.cat))
	for _, e := range g.events {
		for _, l := range e.Order.GetPlaced().GetLines() {
			demand[l.GetSku()] += l.GetQty()
		}
	}
	byDemand := make([]int, len(g.cat))
	for i := range byDemand {
		byDemand[i] = i
	}
	sort.SliceStable(byDemand, func(a, b int) bool { return demand[g.cat[byDemand[a]].SKU] > demand[g.cat[byDemand[b]].SKU] })
	for rank, i := range byDemand {
		d := demand[g.cat[i].SKU]
		if rank < ScarceSKUs && d > 0 {
			g.cat[i].Scarce = true
			g.cat[i].Stock = int64(float64(d) * scarceShare)
			continue
		}
		g.cat[i].Stock = max(10, int64(float64(d)*plentyShare))
	}
}
