package fraud

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	fraudv1 "github.com/titan-commerce/titan/schemas/fraud/v1"
)

// FuzzObservationStep feeds arbitrary bytes through the path of a record
// from the observations or loop topic: decode, map, Step against a fresh
// entity and a busy one. Nothing may panic, and a valid observation must
// leave the entity within its bounds.
func FuzzObservationStep(f *testing.F) {
	for _, o := range []Observation{
		NewObservation(KindOrder, "o1", "u1", "d1", "c1", "EUR", 1500, at(0), Origin{Stream: 2, Offset: 1}),
		NewObservation(KindPaymentFailed, "o1", "u1", "", "c1", "", 10, at(time.Hour), Origin{Stream: 1, Partition: 3, Offset: 9}),
		{Kind: KindOrder, Stage: StageUser, Key: "u:u1", OrderID: "o", UserID: "u1", DeviceID: "d9", Time: at(-30 * time.Hour),
			Features: []Feature{{FeatureCardUsers24h, 40}, {"junk", -1}}},
	} {
		b, err := proto.Marshal(ObservationToWire(o))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x50, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})

	model := loadDeployModel(f)
	busy := make(map[Stage]Entity)
	for _, st := range []Stage{StageDevice, StageCard, StageUser} {
		e := NewEntity("")
		for i := 0; i < 50; i++ {
			o := NewObservation(KindOrder, fmt.Sprintf("o%d", i), "u1", "d1", "c1", "EUR", 100, at(time.Duration(i)*time.Minute), Origin{Offset: int64(i)})
			for o.Stage != st {
				o.Stage, o.Key = o.Route(o.Stage)
			}
			e, _ = Step(e, o, Origin{}, model, DefaultPolicy())
		}
		busy[st] = e
	}

	f.Fuzz(func(t *testing.T, b []byte) {
		var w fraudv1.Observation
		if proto.Unmarshal(b, &w) != nil {
			return
		}
		o := ObservationFromWire(&w)
		for _, e := range []Entity{NewEntity(o.Key), busy[o.Stage]} {
			if e.Key != "" && e.Key != o.Key {
				e.Key = o.Key
			}
			got, res := Step(e, o, Origin{Stream: 1, Offset: 1}, model, DefaultPolicy())
			if res.Err != nil {
				continue
			}
			if len(got.Fine) > 7 || len(got.Minutes) > 61 || len(got.Hours) > 25 || len(got.Members) > DefaultPolicy().MaxMembers {
				t.Fatalf("entity out of bounds: %d/%d/%d buckets, %d members", len(got.Fine), len(got.Minutes), len(got.Hours), len(got.Members))
			}
			if d := res.Decision; d != nil && !(d.Score >= 0 && d.Score <= 1) {
				t.Fatalf("score %v", d.Score)
			}
			EntityFromWire(EntityToWire(got))
		}
	})
}
