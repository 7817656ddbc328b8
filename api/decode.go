package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"
)

// Request bodies are read in three passes, each for what the next cannot
// say. json.Valid tells a body that is not JSON at all (malformed_json).
// A walk over the body's tokens beside the request struct's type then
// refuses, naming the field by its path ("lines[2].unit_price"), what
// encoding/json either lets through or reports without the path: a key
// that is not a field, or matches one only when case is ignored, or is
// given twice (unknown_field, invalid_field), and a value of the wrong
// type: a string for a number, a fraction, an exponent or an
// out-of-range number for an integer (invalid_field, "expected an
// integer number of minor units, got 12.5"). Only then does
// encoding/json fill the struct, with nothing left for it to refuse.
//
// A field whose integer counts minor units of a currency carries the tag
// units:"minor", which its expected type names: a client sending 12.5 for
// a price meant 1250.

// decodeBody reads the request body into v strictly, as decodeJSON does,
// refusing a body over MaxBodyBytes.
func (s *Server) decodeBody(ctx *fasthttp.RequestCtx, v any) (apiError, bool) {
	return s.decodeBodyUpTo(ctx, v, s.opts.MaxBodyBytes)
}

// decodeBodyUpTo is decodeBody with a limit of its own, for an endpoint
// that takes batches.
func (s *Server) decodeBodyUpTo(ctx *fasthttp.RequestCtx, v any, limit int) (apiError, bool) {
	body := ctx.PostBody()
	if len(body) > limit {
		return errBodyTooLarge, false
	}
	return decodeJSON(body, v)
}

// decodeJSON reads body, one JSON object and nothing after it, into v, a
// pointer to a struct. Every key must be one of the struct's JSON names,
// exactly and once, at every depth, and every value must fit its field.
func decodeJSON(body []byte, v any) (apiError, bool) {
	if !json.Valid(body) {
		return errMalformedJSON, false
	}
	w := walker{dec: json.NewDecoder(bytes.NewReader(body))}
	w.dec.UseNumber()
	if tok, err := w.dec.Token(); err != nil || tok != json.Delim('{') {
		// JSON, but not an object: no field to name.
		return errMalformedJSON, false
	}
	if e := w.object(reflect.TypeOf(v).Elem()); e != nil {
		return *e, false
	}
	if err := json.Unmarshal(body, v); err != nil {
		// The walk admits only what encoding/json decodes; this is a
		// request type the walk does not know.
		return errMalformedJSON, false
	}
	return apiError{}, true
}

// hasKey reports whether body is a JSON object with key at its top level,
// for an endpoint that takes two shapes of body.
func hasKey(body []byte, key string) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if tok == key {
			return true
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return false
		}
	}
	return false
}

// walker reads a body's tokens against a type, keeping the path to the
// value it reads, which is rendered only for an error.
type walker struct {
	dec  *json.Decoder
	path []step
}

// step is one key (index < 0) or one list index of a path.
type step struct {
	key   string
	index int
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// value reads one value of type t; minor says t counts minor units.
func (w *walker) value(t reflect.Type, minor bool) *apiError {
	tok, err := w.dec.Token()
	if err != nil {
		return malformed()
	}
	if tok == nil {
		// encoding/json leaves a field it reads null as it was; an
		// object where one is needed (a list's element) is not optional.
		if t.Kind() == reflect.Struct {
			return w.mismatch(t, minor, tok, false)
		}
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType || t.Kind() == reflect.Interface {
		return w.skip(tok)
	}
	switch t.Kind() {
	case reflect.Struct:
		if tok != json.Delim('{') {
			return w.mismatch(t, minor, tok, false)
		}
		return w.object(t)
	case reflect.Slice:
		if tok != json.Delim('[') {
			return w.mismatch(t, minor, tok, false)
		}
		return w.array(t.Elem(), minor)
	case reflect.Map:
		if tok != json.Delim('{') || t.Key().Kind() != reflect.String {
			return w.mismatch(t, minor, tok, false)
		}
		return w.mapValues(t.Elem(), minor)
	case reflect.String:
		if _, ok := tok.(string); !ok {
			return w.mismatch(t, minor, tok, false)
		}
	case reflect.Bool:
		if _, ok := tok.(bool); !ok {
			return w.mismatch(t, minor, tok, false)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		n, ok := tok.(json.Number)
		if !ok {
			return w.mismatch(t, minor, tok, false)
		}
		if err := fits(string(n), t); err != nil {
			return w.mismatch(t, minor, tok, errors.Is(err, strconv.ErrRange))
		}
	default:
		return w.mismatch(t, minor, tok, false)
	}
	return nil
}

// fits reports why n, a JSON number, is not a value of t, a number kind:
// a fraction or an exponent for an integer (strconv.ErrSyntax), or out of
// its range (strconv.ErrRange); nil when it is one.
func fits(n string, t reflect.Type) error {
	var err error
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		_, err = strconv.ParseInt(n, 10, t.Bits())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		_, err = strconv.ParseUint(n, 10, t.Bits())
	default:
		_, err = strconv.ParseFloat(n, t.Bits())
	}
	return err
}

// object reads the members of an object, its '{' read, into struct t.
func (w *walker) object(t reflect.Type) *apiError {
	info := structInfoOf(t)
	var seen []bool
	for w.dec.More() {
		key, e := w.member()
		if e != nil {
			return e
		}
		f, ok := info.fields[key]
		if !ok {
			e := errUnknownField.at(w.render(), "not a field of this request, which takes "+info.names)
			return &e
		}
		if seen == nil {
			seen = make([]bool, len(info.fields))
		}
		if seen[f.n] {
			e := errInvalidField.at(w.render(), "given twice")
			return &e
		}
		seen[f.n] = true
		if e := w.value(f.typ, f.minor); e != nil {
			return e
		}
		w.path = w.path[:len(w.path)-1]
	}
	return w.close()
}

// array reads the elements of an array, its '[' read, each of type elem.
func (w *walker) array(elem reflect.Type, minor bool) *apiError {
	for i := 0; w.dec.More(); i++ {
		w.path = append(w.path, step{index: i})
		if e := w.value(elem, minor); e != nil {
			return e
		}
		w.path = w.path[:len(w.path)-1]
	}
	return w.close()
}

// mapValues reads the members of an object, its '{' read, each value of
// type elem.
func (w *walker) mapValues(elem reflect.Type, minor bool) *apiError {
	for w.dec.More() {
		if _, e := w.member(); e != nil {
			return e
		}
		if e := w.value(elem, minor); e != nil {
			return e
		}
		w.path = w.path[:len(w.path)-1]
	}
	return w.close()
}

// member reads the key of an object's next member and adds it to the
// path; the caller takes it off once the member's value is read.
func (w *walker) member() (string, *apiError) {
	tok, err := w.dec.Token()
	if err != nil {
		return "", malformed()
	}
	key, _ := tok.(string)
	w.path = append(w.path, step{key: key, index: -1})
	return key, nil
}

// close reads the '}' or ']' that ends what was being read.
func (w *walker) close() *apiError {
	if _, err := w.dec.Token(); err != nil {
		return malformed()
	}
	return nil
}

// skip reads past the value tok starts, whatever it holds.
func (w *walker) skip(tok json.Token) *apiError {
	for depth := 0; ; {
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
		var err error
		if tok, err = w.dec.Token(); err != nil {
			return malformed()
		}
	}
}

// malformed is malformed_json, for input json.Valid has passed and the
// decoder still cannot read: it does not happen.
func malformed() *apiError {
	e := errMalformedJSON
	return &e
}

// mismatch is invalid_field for tok where a t was expected.
func (w *walker) mismatch(t reflect.Type, minor bool, tok json.Token, outOfRange bool) *apiError {
	detail := "expected " + expected(t, minor) + ", got " + describe(tok)
	if outOfRange {
		detail += ", which is out of range"
	}
	e := errInvalidField.at(w.render(), detail)
	return &e
}

// render writes the path as a client reads it: "views[3].sku".
func (w *walker) render() string {
	var b strings.Builder
	for i, s := range w.path {
		switch {
		case s.index >= 0:
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		case i > 0:
			b.WriteString("." + pathKey(s.key))
		default:
			b.WriteString(pathKey(s.key))
		}
	}
	return b.String()
}

// maxKeyEcho bounds how much of a client's key an error repeats.
const maxKeyEcho = 64

// pathKey is a key as a path shows it: as it is when it reads as a
// field name, quoted (and cut) otherwise, so a message never carries
// control characters or a kilobyte of a client's key.
func pathKey(key string) string {
	plain := key != "" && len(key) <= maxKeyEcho
	for _, c := range []byte(key) {
		if !(c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			plain = false
			break
		}
	}
	if plain {
		return key
	}
	if len(key) > maxKeyEcho {
		key = key[:maxKeyEcho] + "..."
	}
	return strconv.QuoteToASCII(key)
}

// expected names what a value of t must be.
func expected(t reflect.Type, minor bool) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if minor {
			return "an integer number of minor units"
		}
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "a value of another type"
}

// maxNumberEcho bounds how much of a number an error repeats.
const maxNumberEcho = 40

// describe names what a client sent: numbers as written, other values by
// their kind (a string's content may be anything, of any length).
func describe(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case string:
		return "a string"
	case json.Number:
		if len(v) > maxNumberEcho {
			return string(v[:maxNumberEcho]) + "..."
		}
		return string(v)
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return "an object"
	}
	return fmt.Sprintf("%v", tok)
}

// structInfo is what the walk needs of a request struct.
type structInfo struct {
	fields map[string]fieldInfo
	// names lists the JSON names, for an unknown field's message.
	names string
}

type fieldInfo struct {
	n     int // the field's place, for duplicate keys
	typ   reflect.Type
	minor bool
}

var structInfos sync.Map // reflect.Type -> *structInfo

func structInfoOf(t reflect.Type) *structInfo {
	if v, ok := structInfos.Load(t); ok {
		return v.(*structInfo)
	}
	info := &structInfo{fields: map[string]fieldInfo{}}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		info.fields[name] = fieldInfo{n: len(names), typ: f.Type, minor: f.Tag.Get("units") == "minor"}
		names = append(names, name)
	}
	info.names = strings.Join(names, ", ")
	v, _ := structInfos.LoadOrStore(t, info)
	return v.(*structInfo)
}
