// Package sessiongen generates reproducible shopping sessions for testing
// recommendations: a catalog whose popularity follows a Zipf law, users
// who view items in sessions and sometimes buy some of them, planted
// affinity groups (items that co-occur in sessions far above chance) in
// the middle of the noise, and optionally a trend that starts part way
// through. Report helpers measure how well top-10 lists recover the
// planted groups and how soon they pick up the trend.
//
// The same Config (Seed included) always gives the same Stream.
package sessiongen

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
)

// Config describes a stream. Zero fields take DefaultConfig's, except the
// shift, which is off unless Shift.AtEvent is positive.
type Config struct {
	Seed  int64
	Start time.Time
	// Span is the time the sessions' starts spread over.
	Span     time.Duration
	Items    int
	Users    int
	Sessions int
	// NoiseViews is the mean number of views of popular-by-chance items
	// per session (uniform in [1, 2*NoiseViews-1]).
	NoiseViews int
	// Zipf is the exponent of item popularity (> 1).
	Zipf float64
	// Groups planted groups of 2 to GroupSize items, disjoint, drawn from
	// outside the HeadItems most popular items.
	Groups    int
	GroupSize int
	HeadItems int
	// AffinityRate is the share of sessions that view a planted group
	// (each member with probability 0.9, at least two of them).
	AffinityRate float64
	// PurchaseRate is the share of sessions that end in an order of some
	// of the items viewed.
	PurchaseRate float64
	// SessionIDRate is the share of sessions whose views carry a session
	// id; the others leave sessions to the processor's gap rule.
	SessionIDRate float64
	// DuplicateRate is the share of views sent twice with one event id.
	DuplicateRate float64
	Shift         Shift
}

// Shift plants a trend: from about event AtEvent on, a share Rate of the
// sessions also view Item and Partner together.
type Shift struct {
	AtEvent int
	Rate    float64
	// Item is picked in the middle of the head when empty, so its top 10
	// is full of established neighbors the trend has to overtake; Partner
	// is picked outside the groups and the head.
	Item, Partner string
}

// DefaultConfig is a week of 20,000 sessions from 3,000 users over 1,000
// items with 50 planted groups.
func DefaultConfig() Config {
	return Config{
		Seed:          1,
		Start:         time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC),
		Span:          7 * 24 * time.Hour,
		Items:         1000,
		Users:         3000,
		Sessions:      20000,
		NoiseViews:    5,
		Zipf:          1.1,
		Groups:        50,
		GroupSize:     3,
		HeadItems:     20,
		AffinityRate:  0.1,
		PurchaseRate:  0.15,
		SessionIDRate: 0.5,
		DuplicateRate: 0.01,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Start.IsZero() {
		c.Start = d.Start
	}
	if c.Span <= 0 {
		c.Span = d.Span
	}
	for _, f := range []struct{ v, def *int }{
		{&c.Items, &d.Items}, {&c.Users, &d.Users}, {&c.Sessions, &d.Sessions}, {&c.NoiseViews, &d.NoiseViews},
		{&c.Groups, &d.Groups}, {&c.GroupSize, &d.GroupSize}, {&c.HeadItems, &d.HeadItems},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	c.GroupSize = max(c.GroupSize, 2)
	if c.Zipf <= 1 {
		c.Zipf = d.Zipf
	}
	for _, f := range []struct{ v, def *float64 }{
		{&c.AffinityRate, &d.AffinityRate}, {&c.PurchaseRate, &d.PurchaseRate},
		{&c.SessionIDRate, &d.SessionIDRate}, {&c.DuplicateRate, &d.DuplicateRate},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	if c.Shift.AtEvent > 0 && c.Shift.Rate <= 0 {
		c.Shift.Rate = 0.03
	}
	return c
}

// Kind says what an event is.
type Kind uint8

const (
	KindView Kind = iota + 1
	// KindPurchase is one line of an order, as inventory's Committed
	// event reports it.
	KindPurchase
)

// Purchase is one bought line.
type Purchase struct {
	OrderID string
	UserID  string
	SKU     string
	Time    time.Time
}

// Event is one view or one bought line.
type Event struct {
	Kind     Kind
	View     *recommendationsv1.ViewEvent
	Purchase Purchase
	// Trend marks the views and lines of the planted trend.
	Trend bool
}

// Time is when the event happened.
func (e Event) Time() time.Time {
	if e.Kind == KindView {
		return time.UnixMilli(e.View.GetTimestampMs()).UTC()
	}
	return e.Purchase.Time
}

// Stream is a generated stream: the catalog, the planted groups, and the
// events in time order.
type Stream struct {
	// Items, the most popular first.
	Items  []string
	Groups [][]string
	Events []Event
	// Shift is the planted trend with AtEvent set to the index of its
	// first event, or -1 without one.
	Shift Shift
}

type gen struct {
	cfg      Config
	rng      *rand.Rand
	zipf     *rand.Zipf
	items    []string
	inGroup  map[string]bool
	groups   [][]string
	events   []Event
	ids      int
	shiftOn  bool
	shift    Shift
	sessions int
}

// Generate builds the stream cfg describes.
func Generate(cfg Config) Stream {
	cfg = cfg.withDefaults()
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x7265_6373))
	g := &gen{
		cfg:     cfg,
		rng:     rng,
		zipf:    rand.NewZipf(rng, cfg.Zipf, 1, uint64(cfg.Items-1)),
		inGroup: map[string]bool{},
		shift:   cfg.Shift,
	}
	for i := range cfg.Items {
		g.items = append(g.items, fmt.Sprintf("sku-%04d", i))
	}
	g.plant()

	starts := make([]time.Duration, cfg.Sessions)
	for i := range starts {
		starts[i] = time.Duration(g.rng.Int64N(int64(cfg.Span)))
	}
	slices.Sort(starts)
	for _, off := range starts {
		if cfg.Shift.AtEvent > 0 && len(g.events) >= cfg.Shift.AtEvent {
			g.shiftOn = true
		}
		g.session(cfg.Start.Add(off))
	}
	slices.SortStableFunc(g.events, func(a, b Event) int { return a.Time().Compare(b.Time()) })

	out := Stream{Items: g.items, Groups: g.groups, Events: g.events, Shift: g.shift}
	out.Shift.AtEvent = -1
	if cfg.Shift.AtEvent > 0 {
		out.Shift.AtEvent = slices.IndexFunc(g.events, func(e Event) bool { return e.Trend })
	}
	return out
}

// plant draws the groups and the trend's items from outside the head.
func (g *gen) plant() {
	pool := slices.Clone(g.items[min(g.cfg.HeadItems, len(g.items)):])
	g.rng.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	take := func() string {
		if len(pool) == 0 {
			return ""
		}
		s := pool[0]
		pool = pool[1:]
		return s
	}
	for range g.cfg.Groups {
		n := 2 + g.rng.IntN(g.cfg.GroupSize-1)
		if len(pool) < n {
			break
		}
		var grp []string
		for range n {
			s := take()
			grp = append(grp, s)
			g.inGroup[s] = true
		}
		g.groups = append(g.groups, grp)
	}
	if g.cfg.Shift.AtEvent > 0 {
		if g.shift.Item == "" {
			g.shift.Item = g.items[min(g.cfg.HeadItems/2, len(g.items)-1)]
		}
		if g.shift.Partner == "" {
			g.shift.Partner = take()
		}
	}
}

func (g *gen) popular() string { return g.items[g.zipf.Uint64()] }

// session appends one session's views and, sometimes, its order.
func (g *gen) session(start time.Time) {
	g.sessions++
	user := fmt.Sprintf("user-%05d", g.rng.IntN(g.cfg.Users))
	sessionID := ""
	if g.rng.Float64() < g.cfg.SessionIDRate {
		sessionID = fmt.Sprintf("s-%06d", g.sessions)
	}

	n := 1 + g.rng.IntN(2*g.cfg.NoiseViews-1)
	type view struct {
		sku   string
		trend bool
	}
	var views []view
	for range n {
		views = append(views, view{sku: g.popular()})
	}
	insert := func(v view) {
		i := g.rng.IntN(len(views) + 1)
		views = slices.Insert(views, i, v)
	}
	var planted []string
	if len(g.groups) > 0 && g.rng.Float64() < g.cfg.AffinityRate {
		grp := g.groups[g.rng.IntN(len(g.groups))]
		for i, s := range grp {
			if g.rng.Float64() < 0.9 || len(grp)-i <= 2-len(planted) {
				planted = append(planted, s)
			}
		}
		for _, s := range planted {
			insert(view{sku: s})
		}
	}
	trend := g.shiftOn && g.shift.Item != "" && g.rng.Float64() < g.cfg.Shift.Rate
	if trend {
		insert(view{sku: g.shift.Item, trend: true})
		insert(view{sku: g.shift.Partner, trend: true})
	}

	at := start
	for _, v := range views {
		g.ids++
		ev := &recommendationsv1.ViewEvent{
			EventId: fmt.Sprintf("v-%07d", g.ids), UserId: user, Sku: v.sku, SessionId: sessionID,
			TimestampMs: at.UnixMilli(),
		}
		g.events = append(g.events, Event{Kind: KindView, View: ev, Trend: v.trend})
		if g.rng.Float64() < g.cfg.DuplicateRate {
			g.events = append(g.events, Event{Kind: KindView, View: ev, Trend: v.trend})
		}
		at = at.Add(time.Duration(20+g.rng.IntN(160)) * time.Second)
	}

	if g.rng.Float64() >= g.cfg.PurchaseRate {
		return
	}
	var lines []string
	for _, s := range planted {
		if g.rng.Float64() < 0.7 {
			lines = append(lines, s)
		}
	}
	if trend && g.rng.Float64() < 0.7 {
		lines = append(lines, g.shift.Item, g.shift.Partner)
	}
	if len(lines) == 0 || g.rng.Float64() < 0.5 {
		lines = append(lines, views[g.rng.IntN(len(views))].sku)
	}
	order := fmt.Sprintf("order-%06d", g.sessions)
	at = at.Add(time.Minute)
	for i, s := range lines {
		if slices.Contains(lines[:i], s) {
			continue
		}
		g.events = append(g.events, Event{
			Kind:     KindPurchase,
			Purchase: Purchase{OrderID: order, UserID: user, SKU: s, Time: at},
			Trend:    trend && (s == g.shift.Item || s == g.shift.Partner),
		})
	}
}
