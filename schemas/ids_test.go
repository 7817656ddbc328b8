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

func TestDeriveID(t *testing.T) {
	long := strings.Repeat("k", schemas.MaxIDBytes)
	for _, tc := range []struct {
		key, want string
	}{
		{"checkout-42", "sdk:k:checkout-42"},
		{"sdk:k:x", "sdk:k:sdk:k:x"},
		{strings.Repeat("k", schemas.MaxIDBytes-6), "sdk:k:" + strings.Repeat("k", schemas.MaxIDBytes-6)},
		// One byte more and the key no longer fits beside the prefix.
		{strings.Repeat("k", schemas.MaxIDBytes-5), "sdk:h:e7c25ef1e1aa1e8c52d7c06ff7b1af5c47b16b0dbd98a1b8a54d5a8b2d23a0e5"},
	} {
		got := schemas.DeriveID(tc.key)
		if strings.HasPrefix(tc.want, "sdk:h:") {
			// The digest's value is sha-256's; what matters here is its
			// form and that it is stable.
			if !strings.HasPrefix(got, "sdk:h:") || len(got) != len("sdk:h:")+64 {
				t.Errorf("DeriveID(%d bytes) = %q, want a digest", len(tc.key), got)
			}
		} else if got != tc.want {
			t.Errorf("DeriveID(%q) = %q, want %q", tc.key, got, tc.want)
		}
		if again := schemas.DeriveID(tc.key); again != got {
			t.Errorf("DeriveID(%q) changed: %q then %q", tc.key, got, again)
		}
		if err := schemas.CheckClientID("command_id", got, schemas.ReasonMissingCommandID); err != nil {
			t.Errorf("DeriveID(%q) = %q breaks the id rule: %v", tc.key, got, err)
		}
		if !schemas.Derived(got) {
			t.Errorf("Derived(%q) = false", got)
		}
	}
	if schemas.DeriveID(long) == schemas.DeriveID(long+"x") {
		t.Error("two long keys share a derived id")
	}
	// A short key that spells another key's digest form stays apart from it.
	digest := schemas.DeriveID(long)
	if schemas.DeriveID(strings.TrimPrefix(digest, "sdk:")) == digest {
		t.Error("a key spelling a digest derives the digest")
	}
}

func TestRefuseDerived(t *testing.T) {
	if err := schemas.RefuseDerived("command_id", "cmd-1"); err != nil {
		t.Errorf("cmd-1: %v", err)
	}
	err := schemas.RefuseDerived("command_id", schemas.DeriveID("k"))
	var inv *schemas.InvalidError
	if !errors.As(err, &inv) || inv.Field != "command_id" || inv.Reason != schemas.ReasonDerivedID {
		t.Errorf("derived id: got %v, want command_id derived_id", err)
	}
}
