package schemas_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/titan-commerce/titan/schemas"
)

func TestValidID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"order-1", true},
		{"Größe 42 €", true},
		{"a/b:c", true},
		{"注文-1", true},
		{strings.Repeat("x", schemas.MaxIDBytes), true},
		{"...", true},
		{".a", true},

		{"", false},
		{strings.Repeat("x", schemas.MaxIDBytes+1), false},
		{strings.Repeat("é", schemas.MaxIDBytes/2+1), false}, // bytes, not characters
		{".", false},
		{"..", false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a\tb", false},
		{"a\x7fb", false},
		{"a\u0085b", false},            // C1 control
		{"a\u200bb", false},            // zero-width space
		{"a\u200db", false},            // zero-width joiner
		{"a\ufeffb", false},            // byte-order mark
		{"order-\u202e1-redro", false}, // right-to-left override
		{"a\u2066b\u2069", false},      // bidi isolates
		{"a\u2028b", false},            // line separator
		{"a\u00a0b", false},            // no-break space
		{"a\ue000b", false},            // private use
		{"a\xffb", false},              // not UTF-8
	} {
		if got := schemas.ValidID(tc.id); got != tc.want {
			t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestCheckClientID(t *testing.T) {
	checkInvalid(t, schemas.CheckClientID("order_id", "titan:order:o-1:sku:reserve", schemas.ReasonMissingOrderID),
		"order_id", schemas.ReasonReservedID)
	checkInvalid(t, schemas.CheckClientID("order_id", "", schemas.ReasonMissingOrderID), "order_id", schemas.ReasonMissingOrderID)
	checkInvalid(t, schemas.CheckClientID("order_id", "..", schemas.ReasonMissingOrderID), "order_id", schemas.ReasonInvalidID)
	if err := schemas.CheckClientID("order_id", "Titan:x", schemas.ReasonMissingOrderID); err != nil {
		t.Errorf("the prefix is case-sensitive: %v", err)
	}
	if err := schemas.CheckID("command_id", "titan:expire:x", schemas.ReasonMissingCommandID); err != nil {
		t.Errorf("CheckID accepts Titan's own ids: %v", err)
	}
	checkInvalid(t, schemas.CheckSKU("sku", "a\u200bb"), "sku", schemas.ReasonInvalidSKU)
	checkInvalid(t, schemas.CheckSKU("sku", "."), "sku", schemas.ReasonInvalidSKU)
}

func TestTimeWindow(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_000)
	w := schemas.TimeWindow{Ahead: time.Minute, Behind: time.Hour}
	ok := []int64{at.UnixMilli(), at.Add(time.Minute).UnixMilli(), at.Add(-time.Hour).UnixMilli()}
	for _, ms := range ok {
		if err := w.Check("timestamp_ms", ms, at); err != nil {
			t.Errorf("%d: %v", ms, err)
		}
	}
	bad := []int64{0, -1, math.MinInt64, math.MaxInt64, math.MaxInt64 - 1,
		at.Add(time.Minute + time.Millisecond).UnixMilli(), at.Add(-time.Hour - time.Millisecond).UnixMilli(),
		at.AddDate(1, 0, 0).UnixMilli()}
	for _, ms := range bad {
		checkInvalid(t, w.Check("timestamp_ms", ms, at), "timestamp_ms", schemas.ReasonInvalidTimestamp)
	}
	// The record's own time may be anything a broker stores, also far off.
	for _, ref := range []time.Time{time.UnixMilli(math.MaxInt64), time.UnixMilli(math.MinInt64), {}} {
		_ = w.Check("timestamp_ms", math.MaxInt64, ref)
		_ = w.Check("timestamp_ms", 1, ref)
	}
	if err := (schemas.TimeWindow{Ahead: -1}).Validate(); err == nil {
		t.Error("a negative window must not validate")
	}
}

func FuzzTimeWindow(f *testing.F) {
	f.Add(int64(1_700_000_000_000), int64(1_700_000_000_000), int64(60_000), int64(3_600_000))
	f.Add(int64(math.MaxInt64), int64(math.MinInt64), int64(math.MaxInt64), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, ms, ref, ahead, behind int64) {
		if ahead < 0 || behind < 0 {
			return
		}
		w := schemas.TimeWindow{Ahead: time.Duration(ahead), Behind: time.Duration(behind)}
		err := w.Check("timestamp_ms", ms, time.UnixMilli(ref))
		// Compare in 128 bits: the check must agree with exact arithmetic.
		refMs := time.UnixMilli(ref).UnixMilli()
		lo, hi := new(big).set(refMs).add(-w.Behind.Milliseconds()), new(big).set(refMs).add(w.Ahead.Milliseconds())
		inside := ms > 0 && !new(big).set(ms).less(lo) && !hi.less(new(big).set(ms))
		if inside != (err == nil) {
			t.Fatalf("ms %d ref %d window %+v: err %v, inside %v", ms, ref, w, err, inside)
		}
	})
}

// big is a 128-bit signed integer, enough for a sum of two int64.
type big struct{ hi, lo int64 }

func (b *big) set(v int64) *big {
	b.lo = v
	b.hi = 0
	if v < 0 {
		b.hi = -1
	}
	return b
}

func (b *big) add(v int64) *big {
	var o big
	o.set(v)
	lo := uint64(b.lo) + uint64(o.lo)
	carry := int64(0)
	if lo < uint64(b.lo) {
		carry = 1
	}
	b.hi += o.hi + carry
	b.lo = int64(lo)
	return b
}

func (b *big) less(o *big) bool {
	if b.hi != o.hi {
		return b.hi < o.hi
	}
	return uint64(b.lo) < uint64(o.lo)
}

func TestCheckTopic(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"titan.inventory.commands", true},
		{"a", true},
		{"A-b_c.9", true},
		{strings.Repeat("t", 249), true},
		{"", false},
		{".", false},
		{"..", false},
		{strings.Repeat("t", 250), false},
		{"../etc", false},
		{"a/b", false},
		{"sku 1", false},
		{"ü", false},
		{"a\x00b", false},
	} {
		err := schemas.CheckTopic(tc.name)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, schemas.ErrInvalidTopic)) {
			t.Errorf("CheckTopic(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
