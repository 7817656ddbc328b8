package fraud

import (
	"fmt"
	"testing"
	"time"
)

// t0 is on an hour boundary, so bucket edges fall on round offsets.
var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// user builds observations for one user key with increasing origins.
type user struct {
	e      Entity
	offset int64
	model  *Model
}

func newUser() *user { return &user{e: NewEntity(UserKey("u1"))} }

func (u *user) step(t *testing.T, kind Kind, when time.Duration, device string, amount int64) Result {
	t.Helper()
	u.offset++
	o := Observation{
		Kind: kind, Stage: StageUser, Key: UserKey("u1"), OrderID: fmt.Sprintf("o%d", u.offset), UserID: "u1", DeviceID: device,
		Amount: amount, Time: at(when), Origin: Origin{Stream: StreamLoop, Offset: u.offset},
	}
	var res Result
	u.e, res = Step(u.e, o, Origin{Stream: StreamLoop, Offset: u.offset}, u.model, DefaultPolicy())
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	return res
}

func featureMap(fs []Feature) map[string]float64 {
	m := make(map[string]float64, len(fs))
	for _, f := range fs {
		m[f.Name] = f.Value
	}
	return m
}

func TestWindowEdges(t *testing.T) {
	const (
		s = time.Second
		m = time.Minute
		h = time.Hour
	)
	type ev struct {
		at     time.Duration
		kind   Kind
		amount int64
	}
	order := func(d time.Duration) ev { return ev{at: d, kind: KindOrder, amount: 100} }
	failed := func(d time.Duration) ev { return ev{at: d, kind: KindPaymentFailed} }
	tests := []struct {
		name   string
		events []ev
		readAt time.Duration
		want   map[string]float64 // features read at readAt
		late   int64
		clock  time.Duration
	}{
		{"two events in adjacent fine buckets", []ev{order(0), order(10 * s)}, 10 * s,
			map[string]float64{FeatureUserOrders1m: 2, FeatureUserAmount1m: 200, FeatureUserOrders1h: 2, FeatureUserOrders24h: 2}, 0, 10 * s},
		{"1m window: the partial oldest fine bucket counts whole", []ev{order(0)}, 69*s + 999*time.Millisecond,
			map[string]float64{FeatureUserOrders1m: 1}, 0, 0},
		{"1m window: a bucket ending exactly at now-1m is out", []ev{order(0)}, 70 * s,
			map[string]float64{FeatureUserOrders1m: 0, FeatureUserOrders1h: 1}, 0, 0},
		{"1m window at exactly W after the event", []ev{order(0)}, 60 * s,
			map[string]float64{FeatureUserOrders1m: 1}, 0, 0},
		{"1h window edge", []ev{order(0)}, h + 59*s,
			map[string]float64{FeatureUserOrders1h: 1, FeatureUserOrders24h: 1}, 0, 0},
		{"1h window: bucket ending at now-1h is out", []ev{order(0)}, h + m,
			map[string]float64{FeatureUserOrders1h: 0, FeatureUserOrders24h: 1}, 0, 0},
		{"24h window reaches into the partial hour", []ev{order(0)}, 24*h + 59*m,
			map[string]float64{FeatureUserOrders24h: 1}, 0, 0},
		{"24h window: hour bucket ending at now-24h is out", []ev{order(0)}, 25 * h,
			map[string]float64{FeatureUserOrders24h: 0}, 0, 0},
		{"an event in the future of now is left out", []ev{order(0), order(30 * s)}, 20 * s,
			map[string]float64{FeatureUserOrders1m: 1}, 0, 30 * s},
		{"late by one fine bucket stays in the minute", []ev{order(100 * s), order(85 * s)}, 100 * s,
			map[string]float64{FeatureUserOrders1m: 2, FeatureUserOrders1h: 2}, 0, 100 * s},
		{"late past the fine tier lands in minutes and hours only", []ev{order(100 * s), order(30 * s)}, 100 * s,
			map[string]float64{FeatureUserOrders1m: 1, FeatureUserOrders1h: 2, FeatureUserOrders24h: 2}, 0, 100 * s},
		{"late past the minute tier lands in hours only", []ev{order(2 * h), order(30 * m)}, 2 * h,
			map[string]float64{FeatureUserOrders1h: 1, FeatureUserOrders24h: 2}, 0, 2 * h},
		{"24 h late but its hour bucket is kept: counted", []ev{order(25*h + 30*m), order(h + 10*m)}, 25*h + 30*m,
			map[string]float64{FeatureUserOrders24h: 2}, 0, 25*h + 30*m},
		{"late beyond its hour bucket: Late, not counted", []ev{order(26 * h), order(h + 59*m)}, 26 * h,
			map[string]float64{FeatureUserOrders24h: 1}, 1, 26 * h},
		{"the clock never goes back", []ev{order(100 * s), order(50 * s), order(10 * s)}, 100 * s,
			map[string]float64{FeatureUserOrders1m: 2, FeatureUserOrders1h: 3}, 0, 100 * s},
		{"failed payments count apart from orders", []ev{order(0), failed(s), failed(2 * s)}, 2 * s,
			map[string]float64{FeatureUserOrders24h: 1, FeatureUserFailed24h: 2, FeatureUserAmount24h: 100}, 0, 2 * s},
		{"old buckets are pruned by newer events", []ev{order(0), order(30 * h)}, 30 * h,
			map[string]float64{FeatureUserOrders24h: 1, FeatureUserOrders1h: 1}, 0, 30 * h},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newUser()
			for _, e := range tc.events {
				u.step(t, e.kind, e.at, "dev", e.amount)
			}
			got := featureMap(u.e.Features(at(tc.readAt)))
			for name, want := range tc.want {
				if got[name] != want {
					t.Errorf("%s = %v, want %v (all: %v)", name, got[name], want, got)
				}
			}
			if u.e.Late != tc.late {
				t.Errorf("late = %d, want %d", u.e.Late, tc.late)
			}
			if !u.e.Clock.Equal(at(tc.clock)) {
				t.Errorf("clock = %v, want %v", u.e.Clock, at(tc.clock))
			}
		})
	}
}

func TestLateResult(t *testing.T) {
	u := newUser()
	u.step(t, KindOrder, 48*time.Hour, "dev", 1)
	res := u.step(t, KindOrder, 0, "dev", 1)
	if !res.Late || res.Decision == nil {
		t.Fatalf("a day-old order: late %v, decision %v; want late and still decided", res.Late, res.Decision)
	}
	if got := featureMap(res.Decision.Features)[FeatureUserOrders24h]; got != 1 {
		t.Errorf("user_orders_24h = %v, want 1: a late order is not counted", got)
	}
}

func TestPruningBoundsBuckets(t *testing.T) {
	u := newUser()
	// Three days at one event every 7 seconds, some of them late.
	for i := 0; i < 3*24*3600/7; i++ {
		when := time.Duration(i) * 7 * time.Second
		if i%5 == 0 {
			when -= 50 * time.Second
		}
		u.step(t, KindOrder, when, "dev", 1)
		if len(u.e.Fine) > 7 || len(u.e.Minutes) > 61 || len(u.e.Hours) > 25 {
			t.Fatalf("after %d events: %d/%d/%d buckets, want at most 7/61/25", i, len(u.e.Fine), len(u.e.Minutes), len(u.e.Hours))
		}
	}
	for name, bs := range map[string][]Bucket{"fine": u.e.Fine, "minutes": u.e.Minutes, "hours": u.e.Hours} {
		for i := 1; i < len(bs); i++ {
			if !bs[i-1].Start.Before(bs[i].Start) {
				t.Fatalf("%s buckets out of order at %d", name, i)
			}
		}
	}
	if len(u.e.Fine) < 6 || len(u.e.Minutes) < 60 || len(u.e.Hours) < 24 {
		t.Errorf("%d/%d/%d buckets: pruning drops buckets still in their span", len(u.e.Fine), len(u.e.Minutes), len(u.e.Hours))
	}
}

func TestMembers(t *testing.T) {
	p := Policy{MaxMembers: 3}
	e := NewEntity(DeviceKey("d1"))
	for i, uid := range []string{"a", "b", "c", "d", "e"} {
		o := NewObservation(KindOrder, fmt.Sprintf("o%d", i), uid, "d1", "", "EUR", 1, at(time.Duration(i)*time.Minute), Origin{Stream: StreamSaga, Offset: int64(i)})
		e, _ = Step(e, o, Origin{}, nil, p)
	}
	if got := featureMap(e.Features(at(5 * time.Minute)))[FeatureDeviceUsers24h]; got != 3 {
		t.Errorf("device_users_24h = %v, want 3: the count saturates at MaxMembers", got)
	}
	var ids []string
	for _, m := range e.Members {
		ids = append(ids, m.ID)
	}
	if len(ids) != 3 || ids[0] != "c" || ids[1] != "d" || ids[2] != "e" {
		t.Errorf("members %v, want the three most recently seen [c d e]", ids)
	}

	// Seeing "c" again makes it the most recent; "f" then evicts "d".
	for i, uid := range []string{"c", "f"} {
		o := NewObservation(KindOrder, fmt.Sprintf("o%d", 10+i), uid, "d1", "", "EUR", 1, at(time.Duration(10+i)*time.Minute), Origin{Stream: StreamSaga, Offset: int64(10 + i)})
		e, _ = Step(e, o, Origin{}, nil, p)
	}
	ids = ids[:0]
	for _, m := range e.Members {
		ids = append(ids, m.ID)
	}
	if len(ids) != 3 || ids[0] != "c" || ids[1] != "e" || ids[2] != "f" {
		t.Errorf("members %v, want [c e f]", ids)
	}

	// A day later every member has aged out but the newcomer.
	o := NewObservation(KindOrder, "o20", "g", "d1", "", "EUR", 1, at(25*time.Hour), Origin{Stream: StreamSaga, Offset: 20})
	e, _ = Step(e, o, Origin{}, nil, p)
	if len(e.Members) != 1 || e.Members[0].ID != "g" {
		t.Errorf("members after a day %v, want only g", e.Members)
	}
}

func TestNewDevice(t *testing.T) {
	u := newUser()
	u.model = &Model{Version: "t", ReviewAt: 1, RejectAt: 1}
	steps := []struct {
		when             time.Duration
		device           string
		newDevice, new1h float64
	}{
		{0, "a", 0, 0},               // the first order: no history, so nothing is new
		{time.Minute, "a", 0, 0},     // the known device
		{2 * time.Minute, "b", 1, 1}, // a new device for a user with history
		{3 * time.Minute, "c", 1, 2}, // and another within the hour
		{4 * time.Minute, "b", 0, 2}, // b is known now
		{2 * time.Hour, "a", 0, 0},   // the arrivals left the hour
		{27 * time.Hour, "a", 1, 1},  // forgotten after 24 h: new again
	}
	for i, s := range steps {
		res := u.step(t, KindOrder, s.when, s.device, 1)
		f := featureMap(res.Decision.Features)
		if f[FeatureUserNewDevice] != s.newDevice || f[FeatureUserNewDevices1h] != s.new1h {
			t.Errorf("step %d (%s at %v): user_new_device %v, user_new_devices_1h %v; want %v, %v",
				i, s.device, s.when, f[FeatureUserNewDevice], f[FeatureUserNewDevices1h], s.newDevice, s.new1h)
		}
	}
}
