package fraud

import (
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	fraudv1 "github.com/titan-commerce/titan/schemas/fraud/v1"
)

// The plain enums convert to the wire ones by number, so a drift would
// silently rename kinds, stages or outcomes.
func TestEnumsMatchWire(t *testing.T) {
	for k, w := range map[Kind]fraudv1.ObservationKind{
		KindOrder:         fraudv1.ObservationKind_OBSERVATION_KIND_ORDER,
		KindPaymentFailed: fraudv1.ObservationKind_OBSERVATION_KIND_PAYMENT_FAILED,
	} {
		if fraudv1.ObservationKind(k) != w {
			t.Errorf("%v maps to %v", k, fraudv1.ObservationKind(k))
		}
	}
	for s, w := range map[Stage]fraudv1.Stage{
		StageDevice: fraudv1.Stage_STAGE_DEVICE, StageCard: fraudv1.Stage_STAGE_CARD, StageUser: fraudv1.Stage_STAGE_USER,
	} {
		if fraudv1.Stage(s) != w {
			t.Errorf("%v maps to %v", s, fraudv1.Stage(s))
		}
	}
	for o, w := range map[Outcome]fraudv1.Outcome{
		OutcomeApprove: fraudv1.Outcome_OUTCOME_APPROVE, OutcomeReview: fraudv1.Outcome_OUTCOME_REVIEW, OutcomeReject: fraudv1.Outcome_OUTCOME_REJECT,
	} {
		if fraudv1.Outcome(o) != w {
			t.Errorf("%v maps to %v", o, fraudv1.Outcome(o))
		}
	}
}

// roundTrip marshals a wire message and decodes it into a fresh one, as
// the topic and the table do.
func roundTrip[M proto.Message](t *testing.T, m M, fresh M) M {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(b, fresh); err != nil {
		t.Fatal(err)
	}
	return fresh
}

func TestObservationRoundTrip(t *testing.T) {
	o := NewObservation(KindPaymentFailed, "o1", "u1", "d1", "c1", "EUR", 1234, at(1500*time.Millisecond), Origin{Stream: 2, Partition: 5, Offset: 99})
	o.Features = []Feature{{"device_orders_1h", 3}, {"device_users_24h", 1}}
	got := ObservationFromWire(roundTrip(t, ObservationToWire(o), &fraudv1.Observation{}))
	if !reflect.DeepEqual(got, o) {
		t.Errorf("round trip\n got %+v\nwant %+v", got, o)
	}
}

func TestDecisionRoundTrip(t *testing.T) {
	d := Decision{
		OrderID: "o1", UserID: "u1", Outcome: OutcomeReview, Score: 0.625, ModelVersion: "v3", Time: at(time.Minute),
		Reasons:  []Reason{{"velocity", "user_orders_1h=7 >= 6", 0}, {"user_orders_1h", "user_orders_1h=7", 1.25}},
		Features: []Feature{{"user_orders_1h", 7}},
	}
	got := DecisionFromWire(roundTrip(t, DecisionToWire(d), &fraudv1.Decision{}))
	if !reflect.DeepEqual(got, d) {
		t.Errorf("round trip\n got %+v\nwant %+v", got, d)
	}
	if got := DecisionFromWire(&fraudv1.Decision{Outcome: 42}); got.Outcome != OutcomeUnknown {
		t.Errorf("an unknown outcome maps to %v", got.Outcome)
	}
}

func TestEntityRoundTrip(t *testing.T) {
	u := newUser()
	u.model = testModel()
	u.step(t, KindOrder, 0, "a", 100)
	u.step(t, KindPaymentFailed, 30*time.Second, "b", 0)
	u.step(t, KindOrder, 2*time.Hour, "b", 250)
	u.step(t, KindOrder, time.Minute, "a", 7) // late
	u.step(t, KindOrder, 30*time.Hour, "c", 1)
	u.step(t, KindOrder, 0, "c", 1) // too late: counted in Late
	e := u.e
	if e.Late != 1 || len(e.Hours) == 0 || len(e.Members) == 0 || len(e.Recent) == 0 || len(e.Observed) == 0 {
		t.Fatalf("fixture too thin: %+v", e)
	}
	got := EntityFromWire(roundTrip(t, EntityToWire(e), &fraudv1.Entity{}))
	if !reflect.DeepEqual(got, e) {
		t.Errorf("round trip\n got %+v\nwant %+v", got, e)
	}
	if got := EntityFromWire(roundTrip(t, EntityToWire(NewEntity("d:x")), &fraudv1.Entity{})); !reflect.DeepEqual(got, NewEntity("d:x")) {
		t.Errorf("empty entity round trip %+v", got)
	}
}
