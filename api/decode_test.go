package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// decodeTargets are the request types the decoder is tried on: every
// shape the endpoints use (strings, integers, pointers, lists of
// objects, amounts in minor units).
var decodeTargets = []func() any{
	func() any { return new(viewRequest) },
	func() any { return new(viewBatchRequest) },
	func() any { return new(placeOrderRequest) },
	func() any { return new(setPriceRequest) },
	func() any { return new(flashSaleRequest) },
	func() any { return new(reserveRequest) },
	func() any { return new(purchaseRequest) },
	newProbe,
}

// probe has the kinds of field no request uses yet, so the walk is tried
// on them too.
type probe struct {
	U uint8            `json:"u"`
	F float32          `json:"f"`
	M map[string]int64 `json:"m" units:"minor"`
	R json.RawMessage  `json:"r"`
}

// TestDecodeJSON: what each kind of bad body is refused with, and the
// path and type its message names.
func TestDecodeJSON(t *testing.T) {
	for _, c := range []struct {
		name, body string
		target     func() any
		code       Code
		message    string
	}{
		{"not JSON", `{"sku":`, decodeTargets[0], errMalformedJSON.Code, ""},
		{"two objects", `{} {}`, decodeTargets[0], errMalformedJSON.Code, ""},
		{"an array", `[{}]`, decodeTargets[0], errMalformedJSON.Code, ""},
		{"null", `null`, decodeTargets[0], errMalformedJSON.Code, ""},
		{"string for a string", `{"sku":1.5}`, decodeTargets[0], errInvalidField.Code, "sku: expected a string, got 1.5"},
		{"bool for an integer", `{"timestamp_ms":true}`, decodeTargets[0], errInvalidField.Code, "timestamp_ms: expected an integer, got true"},
		{"array for an integer", `{"timestamp_ms":[1]}`, decodeTargets[0], errInvalidField.Code, "timestamp_ms: expected an integer, got an array"},
		{"below int64", `{"timestamp_ms":-9223372036854775809}`, decodeTargets[0], errInvalidField.Code,
			"timestamp_ms: expected an integer, got -9223372036854775809, which is out of range"},
		{"a long number cut", `{"timestamp_ms":1.` + strings.Repeat("5", 100) + `}`, decodeTargets[0], errInvalidField.Code,
			"timestamp_ms: expected an integer, got 1." + strings.Repeat("5", 38) + "..."},
		{"int for a bucket count", `{"buckets":1e1}`, decodeTargets[4], errInvalidField.Code, "buckets: expected an integer, got 1e1"},
		{"deep path", `{"views":[{"user_id":"u","sku":"a"},{"user_id":"u","sku":"a","session_id":{}}]}`, decodeTargets[1],
			errInvalidField.Code, "views[1].session_id: expected a string, got an object"},
		{"object for a list", `{"lines":{"sku":"a"}}`, decodeTargets[2], errInvalidField.Code, "lines: expected an array, got an object"},
		{"minor units in a list", `{"lines":[{"unit_price":-0.01}]}`, decodeTargets[2], errInvalidField.Code,
			"lines[0].unit_price: expected an integer number of minor units, got -0.01"},
		{"unknown key deep", `{"views":[{"colour":"red"}]}`, decodeTargets[1], errUnknownField.Code,
			"views[0].colour: not a field of this request, which takes user_id, sku, session_id, timestamp_ms, idempotency_key"},
		{"unknown key quoted", `{"a\nb":1}`, decodeTargets[6], errUnknownField.Code,
			`"a\nb": not a field of this request, which takes user_id, qty, idempotency_key`},
		{"unknown key cut", `{"` + strings.Repeat("k", 100) + `":1}`, decodeTargets[6], errUnknownField.Code,
			`"` + strings.Repeat("k", 64) + `...": not a field of this request, which takes user_id, qty, idempotency_key`},
		{"uint out of range", `{"u":256}`, newProbe, errInvalidField.Code, "u: expected a non-negative integer, got 256, which is out of range"},
		{"uint negative", `{"u":-1}`, newProbe, errInvalidField.Code, "u: expected a non-negative integer, got -1"},
		{"float out of range", `{"f":1e39}`, newProbe, errInvalidField.Code, "f: expected a number, got 1e39, which is out of range"},
		{"map value", `{"m":{"a b":1.5}}`, newProbe, errInvalidField.Code, `m."a b": expected an integer number of minor units, got 1.5`},
		{"raw skipped", `{"r":{"x":[1,{"y":null}]},"u":"s"}`, newProbe, errInvalidField.Code, "u: expected a non-negative integer, got a string"},
		{"given twice deep", `{"lines":[{"sku":"a","sku":"a"}]}`, decodeTargets[2], errInvalidField.Code, "lines[0].sku: given twice"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, ok := decodeJSON([]byte(c.body), c.target())
			if ok || e.Code != c.code {
				t.Fatalf("decode %s = %+v, %v; want %s", c.body, e, ok, c.code)
			}
			if c.message != "" && e.Message != c.message {
				t.Errorf("message %q\nwant    %q", e.Message, c.message)
			}
			if c.message != "" && !strings.HasPrefix(c.message, e.Field+": ") {
				t.Errorf("field %q does not start the message %q", e.Field, e.Message)
			}
		})
	}
	var p probe
	if e, ok := decodeJSON([]byte(`{"u":255,"f":-1.5e3,"m":{"a":-7},"r":[{"z":1}]}`), &p); !ok {
		t.Fatalf("refused: %+v", e)
	}
	if p.U != 255 || p.F != -1500 || p.M["a"] != -7 || string(p.R) != `[{"z":1}]` {
		t.Errorf("decoded %+v", p)
	}
	// What the decoder takes, encoding/json takes as it is: null leaves a
	// field as it was, and an integer may be written -0.
	var r viewRequest
	if e, ok := decodeJSON([]byte(` {"user_id":"u","sku":null,"timestamp_ms":-0,"idempotency_key":null} `), &r); !ok {
		t.Fatalf("refused: %+v", e)
	}
	if r.UserID != "u" || r.TimestampMs == nil || *r.TimestampMs != 0 || r.IdempotencyKey != nil {
		t.Errorf("decoded %+v", r)
	}
}

func newProbe() any { return new(probe) }

// FuzzDecodeJSON checks the decoder against encoding/json on every
// request type: malformed_json exactly for bodies that are not one JSON
// object; what it accepts encoding/json decodes (with unknown fields
// refused) to the same value; what encoding/json refuses for a type it
// refuses too, inside an object; and every refusal that names a field starts its message
// with it.
func FuzzDecodeJSON(f *testing.F) {
	for _, b := range badViews(1_733_400_000_000) {
		f.Add(uint8(0), []byte(b.view))
		f.Add(uint8(1), []byte(batch(b.view, b.view)))
	}
	for _, s := range []string{
		`{"lines":[{"sku":"a","qty":1,"unit_price":12.5}],"order_id":"o"}`,
		`{"base_price":12.5,"currency":"EUR"}`,
		`{"base_price":1e400}`,
		`{"id":"s","price":-1,"buckets":null}`,
		`{"order_id":"o","qty":1,"ttl_ms":60000,"command_id":"c"}`,
		`{"user_id":"u","qty":9223372036854775808}`,
		`{"views":[{"user_id":"u","sku":"a"}]}`,
		`{"views":[[],{}]}`,
		`{"\u0073ku":"a","user_id":"u"}`,
		`{}`, `[]`, `null`, `"x"`, `{"a":{"b":[1,{"c":null}]}}`,
	} {
		for k := range decodeTargets {
			f.Add(uint8(k), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		target := decodeTargets[int(kind)%len(decodeTargets)]
		v := target()
		e, ok := decodeJSON(body, v)

		isObject := json.Valid(body) && bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{"))
		if (e.Code == errMalformedJSON.Code) == isObject {
			t.Fatalf("%q: %+v, yet the body is a JSON object: %v", body, e, isObject)
		}
		want := target()
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		stdErr := dec.Decode(want)
		if ok {
			if stdErr != nil || !reflect.DeepEqual(v, want) {
				t.Fatalf("%q: accepted as %+v; encoding/json: %+v, %v", body, v, want, stdErr)
			}
			return
		}
		var typeErr *json.UnmarshalTypeError
		if errors.As(stdErr, &typeErr) && isObject && e.Code != errInvalidField.Code && e.Code != errUnknownField.Code {
			t.Fatalf("%q: encoding/json says %v, the decoder %+v", body, stdErr, e)
		}
		want2, known := byCode(e.Code)
		if !known || want2.status != 400 {
			t.Fatalf("%q: refused with %+v, not a 400 of the catalogue", body, e)
		}
		if err := catalogueMessage(want2, e.Message, e.Field); err != nil {
			t.Fatalf("%q: %v", body, err)
		}
	})
}
