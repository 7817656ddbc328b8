package flashsale

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

type testRouter struct{}

func (testRouter) Sale(id string) string          { return id }
func (testRouter) Bucket(id string, b int) string { return fmt.Sprintf("%s#%d", id, b) }
func (testRouter) User(id, user string) string    { return id + "/" + user }

func sale(units int64, buckets int) Sale {
	return Sale{ID: "s", SKU: "sku", Units: units, Start: t0, End: t0.Add(time.Hour), PerUserLimit: 2, PriceMinor: 999, Buckets: buckets}
}

func TestShareSplitsEveryUnit(t *testing.T) {
	for _, tc := range []struct {
		units   int64
		buckets int
	}{{10, 3}, {5000, 8}, {1, 8}, {7, 1}} {
		s := sale(tc.units, tc.buckets)
		var sum int64
		for b := range tc.buckets {
			sum += s.Share(b)
		}
		if sum != tc.units {
			t.Errorf("%d units over %d buckets share %d", tc.units, tc.buckets, sum)
		}
	}
}

func openBucket(units int64, buckets, b int) BucketState {
	s, _ := DecideBucket(BucketState{}, Message{Kind: KindOpen, Sale: sale(units, buckets), Bucket: b, Units: units}, testRouter{})
	return s
}

func TestBorrowGivesHalfAndAtLeastTheWant(t *testing.T) {
	for _, tc := range []struct{ avail, want, give int64 }{{10, 1, 5}, {10, 7, 7}, {1, 1, 1}, {3, 5, 3}, {0, 2, 0}} {
		s := openBucket(tc.avail, 4, 1)
		s, out := DecideBucket(s, Message{Kind: KindBorrow, SaleID: "s", From: 0, Units: tc.want, Round: 3}, testRouter{})
		g := out.Messages[0]
		if g.Kind != KindGrant || g.Units != tc.give || g.Round != 3 || g.Key != "s#0" || s.Available != tc.avail-tc.give {
			t.Errorf("avail %d want %d: grant %+v, left %d", tc.avail, tc.want, g, s.Available)
		}
	}
}

func TestUserIdempotencyAndLimitInFlight(t *testing.T) {
	r := testRouter{}
	buy := func(key string, qty int64) Message {
		return Message{Kind: KindPurchase, SaleID: "s", UserID: "u", IdempotencyKey: key, Qty: qty, Bucket: 2, Time: t0}
	}
	s, out := DecideUser(UserState{}, buy("a", 1), r)
	if len(out.Messages) != 1 || out.Messages[0].Kind != KindTake || out.Messages[0].Already != 0 || out.Messages[0].Key != "s#2" {
		t.Fatalf("take %+v", out)
	}
	// The same attempt while in flight sends nothing more.
	if _, again := DecideUser(s, buy("a", 1), r); len(again.Messages)+len(again.Results) != 0 {
		t.Fatalf("retry in flight sent %+v", again)
	}
	// A second attempt counts the first as held.
	s, out = DecideUser(s, buy("b", 1), r)
	if out.Messages[0].Already != 1 {
		t.Fatalf("already %d, want 1", out.Messages[0].Already)
	}
	res := Message{Kind: KindTakeResult, Internal: true, Origin: Origin{Partition: 1, Offset: 10}, SaleID: "s", UserID: "u",
		IdempotencyKey: "a", Qty: 1, Sale: sale(1, 1)}
	s, out = DecideUser(s, res, r)
	if s.Purchased != 1 || len(out.Results) != 1 || out.Results[0].Status != StatusPurchased || out.Results[0].PriceMinor != 999 {
		t.Fatalf("state %+v out %+v", s, out)
	}
	// A redelivered result is ignored; a retried attempt answers the same.
	if s2, again := DecideUser(s, res, r); s2.Purchased != 1 || len(again.Results) != 0 {
		t.Fatalf("redelivered result applied: %+v", again)
	}
	if _, again := DecideUser(s, buy("a", 1), r); len(again.Results) != 1 || again.Results[0] != out.Results[0] {
		t.Fatalf("retry answered %+v, first %+v", again.Results, out.Results)
	}
}

// TestUserAnswerWithoutItsTakePending: a crash lost the state that recorded
// the take, and the bucket's answer arrived before the purchase came again.
// The answer still answers the attempt, once; the purchase then gets a copy.
func TestUserAnswerWithoutItsTakePending(t *testing.T) {
	r := testRouter{}
	buy := Message{Kind: KindPurchase, SaleID: "s", UserID: "u", IdempotencyKey: "a", Qty: 2, Bucket: 1, Time: t0}
	answer := Message{Kind: KindTakeResult, Internal: true, Origin: Origin{Stream: 1, Partition: 3, Offset: 7}, SaleID: "s",
		UserID: "u", IdempotencyKey: "a", Qty: 2, Bucket: 1, Time: t0, Sale: sale(1, 2)}
	s, out := DecideUser(UserState{}, answer, r)
	if s.Purchased != 2 || len(out.Results) != 1 || out.Results[0].Status != StatusPurchased {
		t.Fatalf("state %+v out %+v, want the attempt answered as purchased", s, out)
	}
	first := out.Results[0]
	s, out = DecideUser(s, buy, r)
	if len(out.Messages) != 0 || len(out.Results) != 1 || out.Results[0] != first || s.Purchased != 2 {
		t.Fatalf("the purchase again: out %+v purchased %d, want only a copy of %+v", out, s.Purchased, first)
	}
	// Another answer for an answered attempt changes nothing.
	again := answer
	again.Origin.Offset = 9
	if s2, out := DecideUser(s, again, r); s2.Purchased != 2 || len(out.Results) != 0 {
		t.Fatalf("a second answer applied: purchased %d out %+v", s2.Purchased, out)
	}
}

// TestUserIdempotencyKeyNamesOneAttempt: the same key with another qty is
// another attempt under a used key; it is answered as a conflict, changes
// nothing, and the first attempt keeps its own answer.
func TestUserIdempotencyKeyNamesOneAttempt(t *testing.T) {
	r := testRouter{}
	buy := func(qty int64) Message {
		return Message{Kind: KindPurchase, SaleID: "s", UserID: "u", IdempotencyKey: "a", Qty: qty, Bucket: 1, Time: t0}
	}
	wantConflict := Result{SaleID: "s", IdempotencyKey: "a", UserID: "u", Qty: 2, Status: StatusRejected,
		Reason: ReasonIdempotencyConflict, Bucket: 1, Time: t0}
	inFlight, _ := DecideUser(UserState{}, buy(1), r)
	answered, first := DecideUser(inFlight, Message{Kind: KindTakeResult, Internal: true, Origin: Origin{Offset: 1}, SaleID: "s",
		UserID: "u", IdempotencyKey: "a", Qty: 1, Bucket: 1, Sale: sale(1, 2)}, r)
	for _, tc := range []struct {
		name  string
		state UserState
	}{{"while in flight", inFlight}, {"once answered", answered}} {
		t.Run(tc.name, func(t *testing.T) {
			s, out := DecideUser(tc.state, buy(2), r)
			if len(out.Messages) != 0 || len(out.Results) != 1 || out.Results[0] != wantConflict {
				t.Fatalf("out %+v, want only %+v", out, wantConflict)
			}
			if !reflect.DeepEqual(s, tc.state) {
				t.Fatalf("a conflict changed the state:\n got %+v\nwant %+v", s, tc.state)
			}
		})
	}
	if _, again := DecideUser(answered, buy(1), r); len(again.Results) != 1 || again.Results[0] != first.Results[0] {
		t.Fatalf("after a conflict the attempt answered %+v, first %+v", again.Results, first.Results)
	}
}

func TestCloseReportsOnceTheEndHasPassed(t *testing.T) {
	r := testRouter{}
	b0 := openBucket(5, 2, 0)
	b0, _ = DecideBucket(b0, Message{Kind: KindTake, SaleID: "s", IdempotencyKey: "k", UserID: "u", Qty: 2, Time: t0.Add(time.Minute)}, r)

	// Too early: nothing happens.
	if s, out := DecideBucket(b0, Message{Kind: KindClose, SaleID: "s", Time: t0.Add(time.Minute)}, r); s.Closed || len(out.Messages) != 0 {
		t.Fatalf("closed before the end: %+v", out)
	}
	b0, out := DecideBucket(b0, Message{Kind: KindClose, SaleID: "s", Time: t0.Add(time.Hour)}, r)
	if !b0.Closed || len(out.Messages) != 1 || out.Messages[0].Kind != KindReport || out.Messages[0].Qty != 2 ||
		out.Messages[0].Key != r.Sale("s") {
		t.Fatalf("close: %+v %+v", b0, out)
	}
	// Nothing sells once closed, even an attempt made before the end.
	late := Message{Kind: KindTake, SaleID: "s", IdempotencyKey: "k2", UserID: "v", Qty: 1, Time: t0.Add(time.Minute)}
	if s, out := DecideBucket(b0, late, r); s.Sold != 2 || out.Messages[0].Reason != ReasonEnded {
		t.Fatalf("sold after close: %+v", out)
	}
	// A repeated Close repeats the report, with the same count.
	if _, again := DecideBucket(b0, Message{Kind: KindClose, SaleID: "s", Time: t0.Add(2 * time.Hour)}, r); len(again.Messages) != 1 ||
		again.Messages[0].Qty != 2 {
		t.Fatalf("repeated close: %+v", again)
	}
}

func TestExhaustedBucketAnswersAtOnceThenRechecks(t *testing.T) {
	r := testRouter{}
	b, _ := DecideBucket(BucketState{}, Message{Kind: KindOpen, Sale: sale(10, 2), Bucket: 0, Units: 0}, r)
	take := func(key string, at time.Duration) Message {
		return Message{Kind: KindTake, SaleID: "s", IdempotencyKey: key, UserID: "u" + key, Qty: 1, Time: t0.Add(at)}
	}
	b, out := DecideBucket(b, take("a", time.Second), r)
	if out.Messages[0].Kind != KindBorrow {
		t.Fatalf("a dry bucket did not borrow: %+v", out)
	}
	b, out = DecideBucket(b, Message{Kind: KindGrant, SaleID: "s", From: 1, Units: 0, Round: b.Round, Time: out.Messages[0].Time,
		Internal: true, Origin: Origin{Offset: 1}}, r)
	if len(out.Messages) != 1 || out.Messages[0].Reason != ReasonSoldOut || b.ExhaustedAt.IsZero() {
		t.Fatalf("round did not end sold out: %+v %+v", b, out)
	}
	// Within RecheckAfter: sold out at once, one message.
	if _, out := DecideBucket(b, take("b", time.Second+RecheckAfter/2), r); len(out.Messages) != 1 || out.Messages[0].Reason != ReasonSoldOut {
		t.Fatalf("exhausted bucket sent %+v", out.Messages)
	}
	// After it: borrow again.
	if _, out := DecideBucket(b, take("c", time.Second+RecheckAfter), r); out.Messages[0].Kind != KindBorrow {
		t.Fatalf("no recheck after the window: %+v", out.Messages)
	}
	// Units arriving end the exhaustion.
	b, _ = DecideBucket(b, Message{Kind: KindGrant, SaleID: "s", From: 1, Units: 2, Round: b.Round - 1, Internal: true, Origin: Origin{Offset: 2}}, r)
	if !b.ExhaustedAt.IsZero() || b.Available != 2 {
		t.Fatalf("grant did not clear exhaustion: %+v", b)
	}
}
