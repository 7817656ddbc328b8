package fraud

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func testModel() *Model {
	return &Model{
		Version: "test", Transform: "log1p", Bias: -5, ReviewAt: 0.5, RejectAt: 0.9, MaxReasons: 5,
		Weights: map[string]float64{FeatureUserOrders1h: 1},
		Rules: []Rule{{Name: "many", Action: OutcomeReject,
			Conditions: []Condition{{Feature: FeatureCardUsers24h, Op: ">=", Value: 3}}}},
	}
}

func TestChainForwardsAndDecides(t *testing.T) {
	m := testModel()
	o := NewObservation(KindOrder, "o1", "u1", "d1", "c1", "EUR", 1500, at(0), Origin{Stream: StreamSaga, Partition: 3, Offset: 7})
	if o.Stage != StageDevice || o.Key != "d:d1" {
		t.Fatalf("NewObservation addressed %v %q, want device d:d1", o.Stage, o.Key)
	}
	dev, res := Step(NewEntity(o.Key), o, Origin{Stream: StreamObservations, Partition: 1, Offset: 40}, m, DefaultPolicy())
	if res.Forward == nil || res.Decision != nil {
		t.Fatalf("device stage: %+v, want a forward only", res)
	}
	fwd := *res.Forward
	if fwd.Stage != StageCard || fwd.Key != "c:c1" || fwd.Origin != (Origin{Stream: StreamObservations, Partition: 1, Offset: 40}) {
		t.Fatalf("device forward %v %q %+v", fwd.Stage, fwd.Key, fwd.Origin)
	}
	if f := featureMap(fwd.Features); f[FeatureDeviceOrders1h] != 1 || f[FeatureDeviceUsers24h] != 1 {
		t.Errorf("device features %v", f)
	}
	if len(o.Features) != 0 {
		t.Errorf("Step changed its input's features")
	}
	if len(dev.Recent) != 0 {
		t.Errorf("a forwarding stage kept a decision")
	}

	_, res = Step(NewEntity(fwd.Key), fwd, Origin{Stream: StreamLoop, Offset: 1}, m, DefaultPolicy())
	if res.Forward == nil || res.Forward.Stage != StageUser || res.Forward.Key != "u:u1" {
		t.Fatalf("card forward %+v", res.Forward)
	}
	fwd = *res.Forward
	usr, res := Step(NewEntity(fwd.Key), fwd, Origin{Stream: StreamLoop, Offset: 2}, m, DefaultPolicy())
	if res.Forward != nil || res.Decision == nil {
		t.Fatalf("user stage: %+v, want a decision", res)
	}
	d := res.Decision
	if d.OrderID != "o1" || d.UserID != "u1" || !d.Time.Equal(at(0)) || d.ModelVersion != "test" || d.Outcome != OutcomeApprove {
		t.Errorf("decision %+v", d)
	}
	f := featureMap(d.Features)
	for _, name := range []string{FeatureDeviceOrders1h, FeatureCardUsers24h, FeatureUserOrders1m, FeatureOrderAmount} {
		if _, ok := f[name]; !ok {
			t.Errorf("decision lacks %s: %v", name, f)
		}
	}
	if f[FeatureOrderAmount] != 1500 {
		t.Errorf("order_amount %v", f[FeatureOrderAmount])
	}
	if got := usr.Decisions(); len(got) != 1 || got[0].OrderID != "o1" {
		t.Errorf("user decisions %+v", got)
	}
}

func TestFailedPaymentIsCountedNotScored(t *testing.T) {
	o := NewObservation(KindPaymentFailed, "o1", "u1", "", "", "", 900, at(0), Origin{Stream: StreamSaga})
	if o.Stage != StageUser {
		t.Fatalf("no device or card: stage %v, want user", o.Stage)
	}
	e, res := Step(NewEntity(o.Key), o, Origin{}, testModel(), DefaultPolicy())
	if res.Decision != nil || res.Forward != nil || res.Err != nil {
		t.Fatalf("failed payment at the last stage: %+v", res)
	}
	if f := featureMap(e.Features(at(0))); f[FeatureUserFailed24h] != 1 || f[FeatureUserOrders24h] != 0 {
		t.Errorf("features %v", f)
	}
}

func TestRoute(t *testing.T) {
	tests := []struct {
		user, device, card string
		stages             []Stage
	}{
		{"u", "d", "c", []Stage{StageDevice, StageCard, StageUser}},
		{"u", "", "c", []Stage{StageCard, StageUser}},
		{"u", "d", "", []Stage{StageDevice, StageUser}},
		{"", "d", "c", []Stage{StageDevice, StageCard}},
		{"", "", "", []Stage{StageUser}},
	}
	for _, tc := range tests {
		o := NewObservation(KindOrder, "o", tc.user, tc.device, tc.card, "EUR", 1, at(0), Origin{})
		var got []Stage
		for o.Stage != StageUnknown {
			got = append(got, o.Stage)
			if err := o.Validate(); err != nil {
				t.Fatalf("%+v: %v", tc, err)
			}
			o.Stage, o.Key = o.Route(o.Stage)
		}
		if !reflect.DeepEqual(got, tc.stages) {
			t.Errorf("%+v: stages %v, want %v", tc, got, tc.stages)
		}
	}
}

func TestAnonymousOrderIsScoredNotCounted(t *testing.T) {
	o := NewObservation(KindOrder, "o", "", "", "", "EUR", 1, at(0), Origin{})
	e, res := Step(NewEntity(o.Key), o, Origin{}, testModel(), DefaultPolicy())
	if res.Decision == nil {
		t.Fatal("no decision")
	}
	if !reflect.DeepEqual(e, NewEntity(o.Key)) {
		t.Errorf("the shared anonymous entity changed: %+v", e)
	}
}

func TestDedupeByIdentity(t *testing.T) {
	m := testModel()
	p := DefaultPolicy()
	obs := func(order string, origin Origin, when time.Duration) Observation {
		return Observation{Kind: KindOrder, Stage: StageUser, Key: "u:u1", OrderID: order, UserID: "u1", Amount: 1, Time: at(when), Origin: origin}
	}
	e := NewEntity("u:u1")
	e, first := Step(e, obs("o1", Origin{Stream: 1, Partition: 2, Offset: 10}, 0), Origin{}, m, p)
	tests := []struct {
		name      string
		o         Observation
		duplicate bool
		orders    float64
	}{
		{"the same copy again", obs("o1", Origin{Stream: 1, Partition: 2, Offset: 10}, 0), true, 1},
		// A stage that forwards a copy gives it its own read position:
		// the copy is the same order whatever its origin.
		{"a copy from another origin", obs("o1", Origin{Stream: 1, Partition: 5, Offset: 99}, 0), true, 1},
		{"another order, older origin", obs("o0", Origin{Stream: 1, Partition: 2, Offset: 9}, time.Second), false, 2},
		{"another order", obs("o2", Origin{Stream: 0, Partition: 2, Offset: 1}, 2*time.Second), false, 3},
		{"the first order again, later", obs("o1", Origin{Stream: 1, Partition: 2, Offset: 11}, 3*time.Second), true, 3},
	}
	for _, tc := range tests {
		before := e
		var res Result
		e, res = Step(e, tc.o, Origin{}, m, p)
		if res.Duplicate != tc.duplicate {
			t.Errorf("%s: duplicate %v, want %v", tc.name, res.Duplicate, tc.duplicate)
		}
		if res.Decision == nil {
			t.Errorf("%s: no decision; a duplicate must be answered again", tc.name)
		}
		if got := featureMap(e.Features(at(3 * time.Second)))[FeatureUserOrders1m]; got != tc.orders {
			t.Errorf("%s: user_orders_1m %v, want %v", tc.name, got, tc.orders)
		}
		if tc.duplicate && !reflect.DeepEqual(e, before) {
			t.Errorf("%s: a duplicate changed the entity", tc.name)
		}
	}
	// The copy of o1 gets o1's first decision, not a new one (stored
	// without its features).
	_, res := Step(e, obs("o1", Origin{Stream: 1, Partition: 2, Offset: 10}, 0), Origin{}, m, p)
	want := *first.Decision
	want.Features = nil
	if !reflect.DeepEqual(*res.Decision, want) {
		t.Errorf("duplicate decision %+v, want the first %+v", res.Decision, first.Decision)
	}
}

func TestDedupeFailedPayments(t *testing.T) {
	fail := func(when time.Duration) Observation {
		return Observation{Kind: KindPaymentFailed, Stage: StageUser, Key: "u:u1", OrderID: "o1", UserID: "u1", Time: at(when)}
	}
	e := NewEntity("u:u1")
	for i, tc := range []struct {
		o         Observation
		duplicate bool
		failed    float64
	}{
		{fail(0), false, 1},
		{fail(0), true, 1},
		// The order's second failed attempt is another event.
		{fail(time.Minute), false, 2},
	} {
		var res Result
		e, res = Step(e, tc.o, Origin{}, nil, DefaultPolicy())
		if res.Duplicate != tc.duplicate {
			t.Errorf("%d: duplicate %v, want %v", i, res.Duplicate, tc.duplicate)
		}
		if got := featureMap(e.Features(at(time.Minute)))[FeatureUserFailed24h]; got != tc.failed {
			t.Errorf("%d: user_failed_24h %v, want %v", i, got, tc.failed)
		}
	}
}

// TestDuplicateCountedOnceDownstream: a stage that sees a copy forwards it
// (it may be its own record replayed after a crash), and the copy arrives
// at the next stage from a new position; the next stage still counts the
// order once.
func TestDuplicateCountedOnceDownstream(t *testing.T) {
	o := NewObservation(KindOrder, "o", "u", "d", "c", "EUR", 1, at(0), Origin{Stream: StreamSaga, Offset: 5})
	dev := NewEntity(o.Key)
	dev, first := Step(dev, o, Origin{Stream: StreamObservations, Offset: 1}, nil, DefaultPolicy())
	_, second := Step(dev, o, Origin{Stream: StreamObservations, Offset: 2}, nil, DefaultPolicy())
	if !second.Duplicate || second.Forward == nil {
		t.Fatalf("copy at the device: %+v; want it forwarded", second)
	}
	card := NewEntity(first.Forward.Key)
	card, _ = Step(card, *first.Forward, Origin{Stream: StreamLoop, Offset: 1}, nil, DefaultPolicy())
	card, res := Step(card, *second.Forward, Origin{Stream: StreamLoop, Offset: 2}, nil, DefaultPolicy())
	if !res.Duplicate {
		t.Errorf("the card counted the copy again")
	}
	if got := featureMap(card.Features(at(0)))[FeatureCardOrders1h]; got != 1 {
		t.Errorf("card_orders_1h %v, want 1", got)
	}
}

func TestObservedIsPrunedAndCapped(t *testing.T) {
	p := Policy{MaxSeen: 2}
	e := NewEntity("u:u")
	for i, order := range []string{"a", "b", "c"} {
		o := Observation{Kind: KindOrder, Stage: StageUser, Key: "u:u", OrderID: order, UserID: "u", Time: at(time.Duration(i) * time.Second)}
		e, _ = Step(e, o, Origin{}, nil, p)
	}
	if got := ids(e.Observed); !reflect.DeepEqual(got, []string{"o:b", "o:c"}) {
		t.Errorf("observed %v, want the last two", got)
	}
	// A day and more later the old ids are gone.
	late := Observation{Kind: KindOrder, Stage: StageUser, Key: "u:u", OrderID: "d", UserID: "u", Time: at(26 * time.Hour)}
	e, _ = Step(e, late, Origin{}, nil, p)
	if got := ids(e.Observed); !reflect.DeepEqual(got, []string{"o:d"}) {
		t.Errorf("observed %v after a day, want only the newest", got)
	}
}

func ids(obs []Observed) []string {
	var out []string
	for _, o := range obs {
		out = append(out, o.ID)
	}
	return out
}

func TestDecisionsAreCapped(t *testing.T) {
	p := Policy{MaxDecisions: 2}
	e := NewEntity("u:u")
	for i := int64(0); i < 4; i++ {
		o := Observation{Kind: KindOrder, Stage: StageUser, Key: "u:u", OrderID: string(rune('a' + i)), UserID: "u", Time: at(0),
			Origin: Origin{Offset: i}}
		e, _ = Step(e, o, Origin{}, nil, p)
	}
	if d := e.Decisions(); len(d) != 2 || d[0].OrderID != "c" || d[1].OrderID != "d" {
		t.Errorf("decisions %+v, want the last two", d)
	}
}

func TestStepRefusesInvalid(t *testing.T) {
	good := NewObservation(KindOrder, "o", "u", "d", "c", "EUR", 1, at(0), Origin{})
	tests := map[string]func(*Observation){
		"unknown kind":        func(o *Observation) { o.Kind = KindUnknown },
		"unknown stage":       func(o *Observation) { o.Stage = StageUnknown },
		"key for stage":       func(o *Observation) { o.Key = "c:c" },
		"no order id":         func(o *Observation) { o.OrderID = "" },
		"zero time":           func(o *Observation) { o.Time = time.Time{} },
		"negative":            func(o *Observation) { o.Amount = -1 },
		"card stage, no card": func(o *Observation) { o.Stage, o.Key, o.PaymentID = StageCard, "c:", "" },
	}
	for name, mut := range tests {
		o := good
		mut(&o)
		e := NewEntity(o.Key)
		got, res := Step(e, o, Origin{}, nil, DefaultPolicy())
		if !errors.Is(res.Err, ErrInvalid) || res.Forward != nil || res.Decision != nil || !reflect.DeepEqual(got, e) {
			t.Errorf("%s: %+v", name, res)
		}
	}
	_, res := Step(NewEntity("d:other"), good, Origin{}, nil, DefaultPolicy())
	if !errors.Is(res.Err, ErrInvalid) {
		t.Errorf("an observation for another key: %v", res.Err)
	}
}
