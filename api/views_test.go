package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/titan-commerce/titan/schemas"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
)

const viewsURI = "/v1/recommendations/views"

// viewBody is the JSON of a view, from name, value pairs of raw JSON.
func viewBody(fields ...string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i+1 < len(fields); i += 2 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(strconv.Quote(fields[i]) + ":" + fields[i+1])
	}
	return b.String() + "}"
}

func batch(views ...string) string { return `{"views":[` + strings.Join(views, ",") + `]}` }

// errorField reads the field an error body names.
func errorField(t *testing.T, r response) (field, message string) {
	t.Helper()
	var e struct{ Field, Message string }
	decodeInto(t, r.body, &e)
	return e.Field, e.Message
}

func decodeInto(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}

var randomEventID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestRecordView: one view without a key or a time gets a new event id
// and the API's clock, and is sent alone; the answer lists it as sent.
func TestRecordView(t *testing.T) {
	e := newRecsEnv(t, Options{})
	r := e.mustDo(t, "POST", viewsURI, viewBody("user_id", `"u-1"`, "sku", `"sku/1"`, "session_id", `"s-1"`), 202)
	checkFields(t, r, []string{"accepted", "views"})
	got := decode[viewsAcceptedJSON](t, r)
	sent := e.recs.sentViews()
	if len(sent) != 1 || e.recs.batches() != 1 || got.Accepted != 1 || len(got.Views) != 1 {
		t.Fatalf("answer %+v, sent %v", got, sent)
	}
	v := sent[0]
	want := &recommendationsv1.ViewEvent{EventId: v.GetEventId(), UserId: "u-1", Sku: "sku/1", SessionId: "s-1",
		TimestampMs: e.recs.now.UnixMilli()}
	if !randomEventID.MatchString(v.GetEventId()) || !reflect.DeepEqual(viewOf(v), viewOf(want)) {
		t.Errorf("sent %v, want %v with a new event id", v, want)
	}
	if got.Views[0] != viewOf(v) {
		t.Errorf("answer %+v, sent %+v", got.Views[0], viewOf(v))
	}
	// Another request without a key is another event.
	e.mustDo(t, "POST", viewsURI, viewBody("user_id", `"u-1"`, "sku", `"sku/1"`, "session_id", `"s-1"`), 202)
	if sent := e.recs.sentViews(); len(sent) != 2 || sent[1].GetEventId() == v.GetEventId() {
		t.Errorf("two views without a key share an event id: %v", sent)
	}
}

func viewOf(v *recommendationsv1.ViewEvent) viewJSON {
	return viewJSON{EventID: v.GetEventId(), UserID: v.GetUserId(), SKU: v.GetSku(), SessionID: v.GetSessionId(), TimestampMs: v.GetTimestampMs()}
}

// TestRecordViewsBatch: a batch is sent in one call, in its order, each
// view with its own time or the clock's, and answered in the same order.
func TestRecordViewsBatch(t *testing.T) {
	e := newRecsEnv(t, Options{})
	at := e.recs.now.UnixMilli() - 60_000
	body := batch(
		viewBody("user_id", `"u-1"`, "sku", `"a"`, "timestamp_ms", strconv.FormatInt(at, 10), "idempotency_key", `"k-1"`),
		viewBody("user_id", `"u-1"`, "sku", `"b"`, "session_id", `"s"`, "idempotency_key", `"k-2"`),
		viewBody("user_id", `"u-2"`, "sku", `"a"`, "idempotency_key", `"k-1"`),
		viewBody("user_id", `"u-3"`, "sku", `"c"`),
	)
	got := decode[viewsAcceptedJSON](t, e.mustDo(t, "POST", viewsURI, body, 202))
	sent := e.recs.sentViews()
	if e.recs.batches() != 1 || len(sent) != 4 || got.Accepted != 4 || len(got.Views) != 4 {
		t.Fatalf("%d batches of %d views sent, answer %+v", e.recs.batches(), len(sent), got)
	}
	now := e.recs.now.UnixMilli()
	want := []viewJSON{
		{EventID: viewEventID("u-1", "k-1"), UserID: "u-1", SKU: "a", TimestampMs: at},
		{EventID: viewEventID("u-1", "k-2"), UserID: "u-1", SKU: "b", SessionID: "s", TimestampMs: now},
		{EventID: viewEventID("u-2", "k-1"), UserID: "u-2", SKU: "a", TimestampMs: now},
		{EventID: sent[3].GetEventId(), UserID: "u-3", SKU: "c", TimestampMs: now},
	}
	for i, v := range sent {
		if viewOf(v) != want[i] || got.Views[i] != want[i] {
			t.Errorf("view %d: sent %+v, answered %+v, want %+v", i, viewOf(v), got.Views[i], want[i])
		}
	}
	if !randomEventID.MatchString(sent[3].GetEventId()) {
		t.Errorf("a view without a key got event id %q", sent[3].GetEventId())
	}
}

// TestViewEventIDs: an idempotency key gives the same event id every
// time, another key or another user another one; the id is not the key,
// stays out of Titan's namespace, and fits the id rule.
func TestViewEventIDs(t *testing.T) {
	e := newRecsEnv(t, Options{})
	idOf := func(user, key string) string {
		t.Helper()
		r := e.mustDo(t, "POST", viewsURI, viewBody("user_id", strconv.Quote(user), "sku", `"a"`, "idempotency_key", strconv.Quote(key)), 202)
		return decode[viewsAcceptedJSON](t, r).Views[0].EventID
	}
	first := idOf("u-1", "k-1")
	if again := idOf("u-1", "k-1"); again != first {
		t.Errorf("the same key gave %q, then %q", first, again)
	}
	ids := map[string]string{first: "u-1/k-1"}
	for _, c := range [][2]string{{"u-1", "k-2"}, {"u-2", "k-1"}, {"u-1", "k-1 "}, {"u-1k", "-1"}, {"u-1", strings.Repeat("k", 128)}} {
		id := idOf(c[0], c[1])
		if prev, dup := ids[id]; dup {
			t.Errorf("%s/%s and %s share event id %q", c[0], c[1], prev, id)
		}
		ids[id] = c[0] + "/" + c[1]
	}
	for id := range ids {
		if !strings.HasPrefix(id, viewEventIDPrefix) || len(id) > 128 || strings.Contains(id, "k-1") {
			t.Errorf("derived event id %q: want %s and a digest", id, viewEventIDPrefix)
		}
	}
	if sent := e.recs.sentViews(); len(sent) != 2+len(ids)-1 {
		t.Errorf("%d views sent, want %d", len(sent), 2+len(ids)-1)
	}
}

// badView is a view that breaks one rule, the field it names and the
// code it gets.
type badView struct {
	name  string
	view  string
	field string
	code  Code
}

// badViews lists a bad value of every field of a view. now is the API's
// clock in Unix milliseconds.
func badViews(now int64) []badView {
	long := `"` + strings.Repeat("x", 129) + `"`
	v := func(fields ...string) string {
		base := map[string]string{"user_id": `"u-9"`, "sku": `"sku-9"`}
		var out []string
		for _, k := range []string{"user_id", "sku"} {
			if !contains(fields, k) {
				out = append(out, k, base[k])
			}
		}
		return viewBody(append(out, fields...)...)
	}
	ms := func(d int64) string { return strconv.FormatInt(now+d, 10) }
	return []badView{
		{"user_id missing", viewBody("sku", `"a"`), "user_id", errInvalidUserID.Code},
		{"user_id empty", v("user_id", `""`), "user_id", errInvalidUserID.Code},
		{"user_id 129 bytes", v("user_id", long), "user_id", errInvalidUserID.Code},
		{"user_id newline", v("user_id", `"u\n"`), "user_id", errInvalidUserID.Code},
		{"user_id reserved", v("user_id", `"titan:u"`), "user_id", errReservedID.Code},
		{"user_id number", v("user_id", `7`), "user_id", errInvalidField.Code},
		{"sku missing", viewBody("user_id", `"u"`), "sku", errInvalidSKU.Code},
		{"sku 129 bytes", v("sku", long), "sku", errInvalidSKU.Code},
		{"sku NUL", v("sku", `"a\u0000"`), "sku", errInvalidSKU.Code},
		{"sku object", v("sku", `{}`), "sku", errInvalidField.Code},
		{"session_id 129 bytes", v("session_id", long), "session_id", errInvalidSessionID.Code},
		{"session_id control", v("session_id", `"s\u0085"`), "session_id", errInvalidSessionID.Code},
		{"session_id reserved", v("session_id", `"titan:gap:1"`), "session_id", errReservedID.Code},
		{"timestamp_ms zero", v("timestamp_ms", `0`), "timestamp_ms", errInvalidTimestamp.Code},
		{"timestamp_ms negative", v("timestamp_ms", `-1`), "timestamp_ms", errInvalidTimestamp.Code},
		{"timestamp_ms over an hour old", v("timestamp_ms", ms(-3_600_001)), "timestamp_ms", errInvalidTimestamp.Code},
		{"timestamp_ms over 5 minutes ahead", v("timestamp_ms", ms(300_001)), "timestamp_ms", errInvalidTimestamp.Code},
		{"timestamp_ms in seconds", v("timestamp_ms", strconv.FormatInt(now/1000, 10)), "timestamp_ms", errInvalidTimestamp.Code},
		{"timestamp_ms fraction", v("timestamp_ms", `1733400000000.5`), "timestamp_ms", errInvalidField.Code},
		{"timestamp_ms string", v("timestamp_ms", `"1733400000000"`), "timestamp_ms", errInvalidField.Code},
		{"timestamp_ms beyond int64", v("timestamp_ms", `9223372036854775808`), "timestamp_ms", errInvalidField.Code},
		{"idempotency_key empty", v("idempotency_key", `""`), "idempotency_key", errInvalidIdempotencyKey.Code},
		{"idempotency_key 129 bytes", v("idempotency_key", long), "idempotency_key", errInvalidIdempotencyKey.Code},
		{"idempotency_key reserved", v("idempotency_key", `"titan:k"`), "idempotency_key", errReservedID.Code},
		{"idempotency_key number", v("idempotency_key", `1`), "idempotency_key", errInvalidField.Code},
		{"event_id given", v("event_id", `"e-1"`), "event_id", errUnknownField.Code},
		{"upper-case key", v("SKU", `"a"`), "SKU", errUnknownField.Code},
		{"key given twice", viewBody("user_id", `"u-9"`, "sku", `"a"`, "sku", `"b"`), "sku", errInvalidField.Code},
	}
}

func contains(fields []string, k string) bool {
	for i := 0; i < len(fields); i += 2 {
		if fields[i] == k {
			return true
		}
	}
	return false
}

// TestRecordViewsInvalidFields: a bad field of a single view is named as
// it is, of a batch's view with the view's index; either way nothing is
// sent, not even the batch's good views.
func TestRecordViewsInvalidFields(t *testing.T) {
	e := newRecsEnv(t, Options{})
	good := func(i int) string { return viewBody("user_id", `"u-`+strconv.Itoa(i)+`"`, "sku", `"a"`) }
	for _, b := range badViews(e.recs.now.UnixMilli()) {
		t.Run(b.name, func(t *testing.T) {
			r := e.do("POST", viewsURI, b.view)
			checkError(t, r, b.code)
			if f, _ := errorField(t, r); f != b.field {
				t.Errorf("single view: field %q, want %q: %s", f, b.field, r)
			}
			r = e.do("POST", viewsURI, batch(good(0), good(1), good(2), b.view, good(4)))
			checkError(t, r, b.code)
			if f, _ := errorField(t, r); f != "views[3]."+b.field {
				t.Errorf("batch: field %q, want %q: %s", f, "views[3]."+b.field, r)
			}
		})
	}
	if n := len(e.recs.sentViews()); n != 0 {
		t.Errorf("bad views sent %d view(s)", n)
	}
}

// TestRecordViewsRepeatedKey: two views of one user under one key would
// be one event, so the batch is refused naming the second; two users may
// use the same key.
func TestRecordViewsRepeatedKey(t *testing.T) {
	e := newRecsEnv(t, Options{})
	r := e.do("POST", viewsURI, batch(
		viewBody("user_id", `"u-1"`, "sku", `"a"`, "idempotency_key", `"k"`),
		viewBody("user_id", `"u-2"`, "sku", `"a"`, "idempotency_key", `"k"`),
		viewBody("user_id", `"u-1"`, "sku", `"b"`, "idempotency_key", `"k"`),
	))
	checkError(t, r, errInvalidViews.Code)
	if f, m := errorField(t, r); f != "views[2].idempotency_key" || !strings.Contains(m, "views[0].idempotency_key") {
		t.Errorf("field %q, message %q: want views[2] named as repeating views[0]", f, m)
	}
	if n := len(e.recs.sentViews()); n != 0 {
		t.Errorf("%d viewBody(s) sent", n)
	}
}

// TestRecordViewsBatchBounds: a batch holds 1 to maxViewsPerBatch views
// and may be as large as the transport reads; past either bound it is
// refused and nothing is sent.
func TestRecordViewsBatchBounds(t *testing.T) {
	e := newRecsEnv(t, Options{MaxBodyBytes: 16 << 10})
	many := func(n int) string {
		vs := make([]string, n)
		for i := range vs {
			vs[i] = viewBody("user_id", `"u-`+strconv.Itoa(i)+`"`, "sku", `"sku-`+strconv.Itoa(i%7)+`"`)
		}
		return batch(vs...)
	}
	for _, c := range []struct {
		name, body string
		code       Code
		field      string
	}{
		{"empty", `{"views":[]}`, errInvalidViews.Code, "views"},
		{"null", `{"views":null}`, errInvalidViews.Code, "views"},
		{"one over", many(maxViewsPerBatch + 1), errInvalidViews.Code, "views"},
		{"not a list", `{"views":{}}`, errInvalidField.Code, "views"},
		{"a view beside", `{"views":[],"user_id":"u"}`, errUnknownField.Code, "user_id"},
		{"a string for a view", batch(`"u-1"`), errInvalidField.Code, "views[0]"},
		{"null for a view", batch(`null`), errInvalidField.Code, "views[0]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.do("POST", viewsURI, c.body)
			checkError(t, r, c.code)
			if f, _ := errorField(t, r); f != c.field {
				t.Errorf("field %q, want %q: %s", f, c.field, r)
			}
		})
	}
	if _, m := errorField(t, e.do("POST", viewsURI, many(maxViewsPerBatch+1))); !strings.Contains(m, "holds 501 views") {
		t.Errorf("message %q does not say how many views the batch holds", m)
	}
	// Four times the body limit is refused whole, as a body too large.
	pad := strings.Repeat(" ", 4*e.s.opts.MaxBodyBytes)
	checkError(t, e.do("POST", viewsURI, batch(viewBody("user_id", `"u"`, "sku", `"a"`))+pad), errBodyTooLarge.Code)
	// A single view has the limit of every other body.
	checkError(t, e.do("POST", viewsURI, viewBody("user_id", `"u"`, "sku", `"a"`)+pad[:e.s.opts.MaxBodyBytes]), errBodyTooLarge.Code)
	if n := len(e.recs.sentViews()); n != 0 {
		t.Fatalf("%d viewBody(s) sent", n)
	}

	full := many(maxViewsPerBatch)
	if len(full) <= e.s.opts.MaxBodyBytes {
		t.Fatalf("a full batch of %d bytes does not test the batch's own limit", len(full))
	}
	got := decode[viewsAcceptedJSON](t, e.mustDo(t, "POST", viewsURI, full, 202))
	if got.Accepted != maxViewsPerBatch || len(e.recs.sentViews()) != maxViewsPerBatch || e.recs.batches() != 1 {
		t.Errorf("a full batch: %d accepted, %d sent in %d batches", got.Accepted, len(e.recs.sentViews()), e.recs.batches())
	}
}

// TestRecordViewsSendFailure: a producer that cannot take the views
// without queueing sheds them with 429 and Retry-After; one that fails
// otherwise is 503, to be retried with the same keys.
func TestRecordViewsSendFailure(t *testing.T) {
	e := newRecsEnv(t, Options{RetryAfter: 3e9})
	body := viewBody("user_id", `"u"`, "sku", `"a"`, "idempotency_key", `"k"`)
	e.recs.failSends(fmt.Errorf("buffer full: %w", ErrOverloaded))
	r := e.do("POST", viewsURI, body)
	checkError(t, r, errOverloaded.Code)
	if r.retryAfter != "3" {
		t.Errorf("Retry-After %q, want 3", r.retryAfter)
	}
	e.recs.failSends(errors.New("broker away"))
	checkError(t, e.do("POST", viewsURI, body), errUnavailable.Code)
	e.recs.failSends(nil)
	e.mustDo(t, "POST", viewsURI, body, 202)
}

// TestRecordViewsNotEnabled: an instance without the recommendations
// answers not_enabled, whatever the body.
func TestRecordViewsNotEnabled(t *testing.T) {
	e := newEnv(t, Options{})
	checkError(t, e.do("POST", viewsURI, viewBody("user_id", `"u"`, "sku", `"a"`)), errNotEnabled.Code)
	checkError(t, e.do("GET", viewsURI, ``), errMethodNotAllowed.Code)
}

// TestFloatForIntegerNamesTheField: 12.5 where an integer is expected is
// invalid_field naming the field by its path and the type expected, here
// and on the endpoints that take amounts in minor units; nothing is sent.
func TestFloatForIntegerNamesTheField(t *testing.T) {
	e := newFullEnv(t, Options{})
	line := `{"sku":"a","qty":1,"unit_price":100}`
	for _, c := range []struct {
		uri, body, field, message string
	}{
		{viewsURI, viewBody("user_id", `"u"`, "sku", `"a"`, "timestamp_ms", `12.5`),
			"timestamp_ms", "timestamp_ms: expected an integer, got 12.5"},
		{viewsURI, batch(viewBody("user_id", `"u"`, "sku", `"a"`), viewBody("user_id", `"u"`, "sku", `"a"`, "timestamp_ms", `1e12`)),
			"views[1].timestamp_ms", "views[1].timestamp_ms: expected an integer, got 1e12"},
		{"/v1/prices/sku-1", `{"base_price":12.5,"currency":"EUR"}`,
			"base_price", "base_price: expected an integer number of minor units, got 12.5"},
		{"/v1/prices/sku-1", `{"base_price":"1250","currency":"EUR"}`,
			"base_price", "base_price: expected an integer number of minor units, got a string"},
		{"/v1/prices/sku-1", `{"base_price":99999999999999999999,"currency":"EUR"}`,
			"base_price", "base_price: expected an integer number of minor units, got 99999999999999999999, which is out of range"},
		{"/v1/orders", `{"order_id":"o-9","user_id":"u","device_id":"d","payment_id":"p","lines":[` + line + `,{"sku":"b","qty":1,"unit_price":12.5}]}`,
			"lines[1].unit_price", "lines[1].unit_price: expected an integer number of minor units, got 12.5"},
		{"/v1/flash-sales", strings.Replace(activeSale("fs-8", "sku-1", 1, 1, 1).body(), `"price":1999`, `"price":0.5`, 1),
			"price", "price: expected an integer number of minor units, got 0.5"},
		{"/v1/inventory/sku-1/restock", `{"qty":12.5}`, "qty", "qty: expected an integer, got 12.5"},
	} {
		before := e.sent()
		r := e.do("POST", c.uri, c.body)
		checkError(t, r, errInvalidField.Code)
		if f, m := errorField(t, r); f != c.field || m != c.message {
			t.Errorf("POST %s %s: field %q message %q, want %q %q", c.uri, c.body, f, m, c.field, c.message)
		}
		if e.sent() != before {
			t.Errorf("POST %s %s sent something", c.uri, c.body)
		}
	}
}

// TestRecordViewsTimeWindow: timestamp_ms is held to the deps' time
// window around the API's clock, narrowed behind by the send's wait, so
// that Kafka's receiving the view later does not take it out of the
// window the processor applies.
func TestRecordViewsTimeWindow(t *testing.T) {
	const wait = 2 * time.Second
	e := newRecsEnv(t, Options{CommandWait: wait})
	now := e.recs.now.UnixMilli()
	post := func(d time.Duration) response {
		return e.do("POST", viewsURI, viewBody("user_id", `"u"`, "sku", `"a"`, "timestamp_ms", strconv.FormatInt(now+d.Milliseconds(), 10)))
	}
	def := schemas.DefaultTimeWindow()
	for _, c := range []struct {
		at     time.Duration
		status int
	}{
		{def.Ahead, 202},
		{def.Ahead + time.Millisecond, 400},
		{-def.Behind + wait, 202},
		{-def.Behind + wait - time.Millisecond, 400},
		{-def.Behind, 400},
	} {
		if r := post(c.at); r.status != c.status {
			t.Errorf("timestamp_ms now%+v: %d %s, want %d", c.at, r.status, r, c.status)
		}
	}
	rebuild(t, e.testEnv, func(d *Deps) {
		d.Recommendations.TimeWindow = schemas.TimeWindow{Ahead: time.Second, Behind: 10 * time.Second}
	})
	for _, c := range []struct {
		at     time.Duration
		status int
	}{
		{time.Second, 202},
		{time.Second + time.Millisecond, 400},
		{-8 * time.Second, 202},
		{-8*time.Second - time.Millisecond, 400},
	} {
		if r := post(c.at); r.status != c.status {
			t.Errorf("window 1s/10s, timestamp_ms now%+v: %d %s, want %d", c.at, r.status, r, c.status)
		}
	}
}
