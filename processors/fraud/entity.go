package fraud

import (
	"fmt"
	"time"
)

// Entity is everything the fraud table keeps for one device, card or user
// key. The zero value of every field is "nothing seen yet".
type Entity struct {
	Key string
	// Clock is the latest event time counted; it never goes back.
	Clock time.Time
	// FirstSeen is the earliest event time counted.
	FirstSeen time.Time
	// Fine, Minutes and Hours are the three tiers of counters, each sorted
	// by start, oldest first (see the package comment).
	Fine, Minutes, Hours []Bucket
	Members              []Member
	// Observed holds what was counted in the last day, oldest first, so a
	// copy is counted once.
	Observed []Observed
	// Recent holds the last decisions this entity made, oldest first.
	Recent []Decision
	// Late counts the observations too old for any window.
	Late int64
}

// NewEntity is the state of a key never seen.
func NewEntity(key string) Entity { return Entity{Key: key} }

// Decisions returns the entity's recent decisions, oldest first.
func (e Entity) Decisions() []Decision { return append([]Decision(nil), e.Recent...) }

// clone copies the slices Step changes in place, so the caller's entity is
// never modified through shared backing arrays.
func (e Entity) clone() Entity {
	e.Fine = append([]Bucket(nil), e.Fine...)
	e.Minutes = append([]Bucket(nil), e.Minutes...)
	e.Hours = append([]Bucket(nil), e.Hours...)
	e.Members = append([]Member(nil), e.Members...)
	e.Observed = append([]Observed(nil), e.Observed...)
	e.Recent = append([]Decision(nil), e.Recent...)
	return e
}

// Step applies one observation addressed to e's key: it counts it (once per
// origin), measures the stage's features, and either forwards the
// observation to the next stage or, at the last stage of an order, scores
// it with m. at is the observation's own place in the stream Step's caller
// reads; it becomes the Origin of the forwarded copy.
func Step(e Entity, o Observation, at Origin, m *Model, p Policy) (Entity, Result) {
	if err := o.Validate(); err != nil {
		return e, Result{Err: err}
	}
	if e.Key != "" && e.Key != o.Key {
		return e, Result{Err: fmt.Errorf("%w: key %q sent to entity %q", ErrInvalid, o.Key, e.Key)}
	}
	p = p.withDefaults()
	next, nextKey := o.Route(o.Stage)
	decides := next == StageUnknown && o.Kind == KindOrder

	// An observation with no user id reaches the shared "u:" key only to be
	// scored: counting it there would merge every anonymous order into one
	// very busy user.
	if o.Stage == StageUser && o.UserID == "" {
		var res Result
		if decides {
			res.Decision = decide(o, nil, m)
		}
		return e, res
	}

	e = e.clone()
	e.Key = o.Key
	var res Result
	var sc scoring
	if e.fresh(o, p.MaxSeen) {
		sc.newDevice = o.Stage == StageUser && e.isNewDevice(o)
		res.Late = !e.count(o, p)
	} else {
		res.Duplicate = true
	}

	var feats []Feature
	if o.Kind == KindOrder {
		now := e.Clock.UnixMilli()
		if t := o.Time.UnixMilli(); t > now {
			now = t
		}
		feats = e.features(o.Stage, now, &sc)
	}

	if next != StageUnknown {
		fwd := o
		fwd.Stage, fwd.Key, fwd.Origin = next, nextKey, at
		fwd.Features = append(append(make([]Feature, 0, len(o.Features)+len(feats)), o.Features...), feats...)
		res.Forward = &fwd
		return e, res
	}
	if !decides {
		return e, res
	}
	if res.Duplicate {
		if d, ok := e.recent(o.OrderID); ok {
			res.Decision = &d
			return e, res
		}
	}
	res.Decision = decide(o, feats, m)
	if !res.Duplicate {
		// Kept without its features: they are most of a decision's size,
		// the windows that gave them are in the entity itself, and the
		// decision sent to the order carries them.
		kept := *res.Decision
		kept.Features = nil
		e.Recent = append(e.Recent, kept)
		if n := len(e.Recent) - p.MaxDecisions; n > 0 {
			e.Recent = append([]Decision(nil), e.Recent[n:]...)
		}
	}
	return e, res
}

// decide scores an order with the features of the stages it visited.
func decide(o Observation, feats []Feature, m *Model) *Decision {
	all := make([]Feature, 0, len(o.Features)+len(feats)+1)
	all = append(append(append(all, o.Features...), feats...), Feature{FeatureOrderAmount, float64(o.Amount)})
	d := Score(all, m)
	d.OrderID, d.UserID, d.Time = o.OrderID, o.UserID, o.Time
	return &d
}

func (e Entity) recent(orderID string) (Decision, bool) {
	for i := len(e.Recent) - 1; i >= 0; i-- {
		if e.Recent[i].OrderID == orderID {
			return e.Recent[i], true
		}
	}
	return Decision{}, false
}

// fresh reports whether o has not been counted here yet, and records it.
// An id is remembered while its event time is within the longest window's
// reach of the clock (a copy older than that counts in no window anyway),
// and at most limit of them, the oldest forgotten first.
func (e *Entity) fresh(o Observation, limit int) bool {
	id := o.ID()
	horizon := max(e.Clock.UnixMilli(), o.Time.UnixMilli()) - observedRetain
	keep := e.Observed[:0]
	seen := false
	for _, x := range e.Observed {
		if x.At.UnixMilli() <= horizon {
			continue
		}
		keep = append(keep, x)
		seen = seen || x.ID == id
	}
	e.Observed = keep
	if seen {
		return false
	}
	e.Observed = append(e.Observed, Observed{ID: id, At: o.Time})
	if n := len(e.Observed) - limit; n > 0 {
		e.Observed = append([]Observed(nil), e.Observed[n:]...)
	}
	return true
}

// isNewDevice reports, before o is counted, whether o's device is unknown
// to a user that has history.
func (e Entity) isNewDevice(o Observation) bool {
	if e.FirstSeen.IsZero() || o.DeviceID == "" {
		return false
	}
	clock := e.Clock.UnixMilli()
	if t := o.Time.UnixMilli(); t > clock {
		clock = t
	}
	i := memberIndex(e.Members, o.DeviceID)
	return i < 0 || e.Members[i].LastSeen.UnixMilli() <= clock-memberRetain
}

// count adds o to the windows and members; false when o was too late for
// any of them.
func (e *Entity) count(o Observation, p Policy) bool {
	t := o.Time.UnixMilli()
	clock := t
	if !e.Clock.IsZero() && e.Clock.UnixMilli() > clock {
		clock = e.Clock.UnixMilli()
	}
	e.Clock = time.UnixMilli(clock).UTC()
	e.Fine = fineTier.prune(e.Fine, clock)
	e.Minutes = minuteTier.prune(e.Minutes, clock)
	e.Hours = hourTier.prune(e.Hours, clock)
	e.Members = pruneMembers(e.Members, clock)

	// The hour tier keeps the longest, so an event it refuses is refused by
	// all three.
	var ok bool
	if e.Hours, ok = hourTier.add(e.Hours, t, clock, o.Kind, o.Amount); !ok {
		e.Late++
		return false
	}
	e.Minutes, _ = minuteTier.add(e.Minutes, t, clock, o.Kind, o.Amount)
	e.Fine, _ = fineTier.add(e.Fine, t, clock, o.Kind, o.Amount)

	at := time.UnixMilli(t).UTC()
	if e.FirstSeen.IsZero() || at.Before(e.FirstSeen) {
		e.FirstSeen = at
	}
	if id := o.memberID(); id != "" && t > clock-memberRetain {
		e.Members = touchMember(e.Members, id, at, p.MaxMembers)
	}
	return true
}

// memberID is the id this stage remembers as a member.
func (o Observation) memberID() string {
	if o.Stage == StageUser {
		return o.DeviceID
	}
	return o.UserID
}
