package pricing

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/schemas"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
)

// FuzzCommand decodes arbitrary bytes as a pricing command the way the
// topology does (unmarshal, validate, map, apply). Nothing may panic; a
// command the schema accepts must be one Apply acts on, and one it refuses
// must leave the state alone.
func FuzzCommand(f *testing.F) {
	for _, c := range []Command{
		setBase("c1", 12_345, 1),
		upsert("c2", pct("spring", 1250, 0, 3600), 2),
		upsert("c3", fixed("flat", 500, 10, 20), 3),
		endCampaign("c4", "spring", 5),
		check("o1", 6),
		tickAt(7),
	} {
		b, err := proto.Marshal(CommandToWire(c))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0xff})

	p := DefaultPolicy()
	base := NewState()
	base, _, _ = Apply(base, setBase("seed-base", 10_000, 0), p)
	base, _, _ = Apply(base, upsert("seed-campaign", pct("spring", 1000, 0, 100_000), 0), p)
	base, _ = Observe(base, signal(0, 0, 100, 0), p)
	base, _ = Observe(base, signal(1, 10, 90, 1), p)

	f.Fuzz(func(t *testing.T, data []byte) {
		var w pricingv1.Command
		if err := proto.Unmarshal(data, &w); err != nil {
			return
		}
		err := schemas.ValidatePricingCommand(&w)
		c := CommandFromWire(&w)
		if err != nil {
			var inv *schemas.InvalidError
			if !errors.As(err, &inv) || !errors.Is(err, schemas.ErrInvalid) {
				t.Fatalf("validation error %v is not an *InvalidError", err)
			}
			s, changes, q := Apply(base, c, p)
			if c.valid() {
				return // stricter on the wire (sku, ids) than Apply needs
			}
			if len(changes) != 0 || q != nil || !protoEqual(StateToWire(s), StateToWire(base)) {
				t.Fatalf("an invalid command (%v) changed the state", err)
			}
			return
		}
		if !c.valid() {
			t.Fatalf("schema accepts %+v but Apply would ignore it", c)
		}
		s, changes, q := Apply(base, c, p)
		checkInvariants(t, s, changes, q, p)
		if (c.Kind == KindCheck) != (q != nil) {
			t.Fatalf("%s answered quote %v", c.Kind, q)
		}
	})
}

// Apply repeats the schema's limits so it is total on any Command; they
// must not drift apart.
func TestLimitsMatchSchemas(t *testing.T) {
	if maxPrice != schemas.MaxPriceMinor || maxPercentBps != schemas.MaxPercentBps || maxIDBytes != schemas.MaxIDBytes {
		t.Fatal("limits differ from the schemas package")
	}
}
