package compat

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Rule names one kind of breaking change. The names are buf's where buf has
// the rule, so whoever knows `buf breaking` knows what each one means.
type Rule string

const (
	FileSamePackage                       Rule = "FILE_SAME_PACKAGE"
	MessageNoDelete                       Rule = "MESSAGE_NO_DELETE"
	EnumNoDelete                          Rule = "ENUM_NO_DELETE"
	FieldNoDeleteUnlessNumberReserved     Rule = "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED"
	FieldNoDeleteUnlessNameReserved       Rule = "FIELD_NO_DELETE_UNLESS_NAME_RESERVED"
	FieldSameName                         Rule = "FIELD_SAME_NAME"
	FieldSameJSONName                     Rule = "FIELD_SAME_JSON_NAME"
	FieldSameType                         Rule = "FIELD_SAME_TYPE"
	FieldSameCardinality                  Rule = "FIELD_SAME_CARDINALITY"
	FieldSameOneof                        Rule = "FIELD_SAME_ONEOF"
	ReservedMessageNoDelete               Rule = "RESERVED_MESSAGE_NO_DELETE"
	EnumValueNoDeleteUnlessNumberReserved Rule = "ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED"
	EnumValueNoDeleteUnlessNameReserved   Rule = "ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED"
	EnumValueSameName                     Rule = "ENUM_VALUE_SAME_NAME"
	ReservedEnumNoDelete                  Rule = "RESERVED_ENUM_NO_DELETE"
)

// Break is one change from the published schema that a reader or writer of
// the published schema would trip over.
type Break struct {
	Rule Rule
	// File is the published file that declares Element.
	File string
	// Kind is "message", "enum" or "package".
	Kind string
	// Element is the full name of the message or enum, or the package.
	Element string
	// Member is the field, enum value or reservation concerned, with its
	// number ("field sku = 3"); empty when the break is the element's own.
	Member string
	// Detail says what changed and why it breaks.
	Detail string
}

func (b Break) String() string {
	var s strings.Builder
	s.WriteString(b.File + ": " + b.Kind + " " + b.Element)
	if b.Member != "" {
		s.WriteString(", " + b.Member)
	}
	s.WriteString(": " + string(b.Rule) + ": " + b.Detail)
	return s.String()
}

// Check returns every breaking change from published to current, sorted by
// file, element and member. It errors only when either set does not form a
// consistent schema (a missing import, an unresolved type).
//
// Elements are matched by full name and fields by number, as the binary
// encoding matches them; names are compared too, because JSON, which the
// API and the SDKs speak, carries fields and enum values by name. Additions
// (fields, enum values, messages, enums, files, reservations) never break.
func Check(published, current *descriptorpb.FileDescriptorSet) ([]Break, error) {
	pub, err := protodesc.NewFiles(published)
	if err != nil {
		return nil, fmt.Errorf("compat: published schema: %w", err)
	}
	cur, err := protodesc.NewFiles(current)
	if err != nil {
		return nil, fmt.Errorf("compat: current schema: %w", err)
	}
	c := &checker{cur: cur}
	pub.RangeFiles(func(f protoreflect.FileDescriptor) bool {
		c.file(f)
		return true
	})
	slices.SortFunc(c.breaks, func(a, b Break) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Element, b.Element),
			cmp.Compare(a.Member, b.Member),
			cmp.Compare(a.Rule, b.Rule),
		)
	})
	return c.breaks, nil
}

type checker struct {
	cur    *protoregistry.Files
	breaks []Break
}

func (c *checker) add(rule Rule, d protoreflect.Descriptor, member, format string, args ...any) {
	kind := "message"
	if _, ok := d.(protoreflect.EnumDescriptor); ok {
		kind = "enum"
	}
	c.breaks = append(c.breaks, Break{
		Rule:    rule,
		File:    d.ParentFile().Path(),
		Kind:    kind,
		Element: string(d.FullName()),
		Member:  member,
		Detail:  fmt.Sprintf(format, args...),
	})
}

func (c *checker) file(f protoreflect.FileDescriptor) {
	// A file that moved is no break by itself: its messages are looked up by
	// full name wherever they now live.
	if cf, err := c.cur.FindFileByPath(f.Path()); err == nil && cf.Package() != f.Package() {
		c.breaks = append(c.breaks, Break{
			Rule:    FileSamePackage,
			File:    f.Path(),
			Kind:    "package",
			Element: string(f.Package()),
			Detail: fmt.Sprintf("package changed from %s to %s: every message and enum it declares changes its full name",
				f.Package(), cf.Package()),
		})
	}
	c.messages(f.Messages())
	c.enums(f.Enums())
}

func (c *checker) messages(ms protoreflect.MessageDescriptors) {
	for i := range ms.Len() {
		m := ms.Get(i)
		// A map's entry message is compared as the map field's key and value
		// types, where a break reads as the field's.
		if m.IsMapEntry() {
			continue
		}
		d, _ := c.cur.FindDescriptorByName(m.FullName())
		cm, ok := d.(protoreflect.MessageDescriptor)
		if !ok {
			c.add(MessageNoDelete, m, "",
				"message removed or renamed: fields that carry it, and code that names it, no longer resolve")
			continue
		}
		c.message(m, cm)
		c.messages(m.Messages())
		c.enums(m.Enums())
	}
}

func (c *checker) message(p, cm protoreflect.MessageDescriptor) {
	for i := range p.Fields().Len() {
		pf := p.Fields().Get(i)
		cf := cm.Fields().ByNumber(pf.Number())
		if cf == nil {
			c.fieldDeleted(p, cm, pf)
			continue
		}
		c.field(p, pf, cf)
	}
	c.reservations(p, messageReserved(p), messageReserved(cm), "field")
}

func (c *checker) fieldDeleted(p, cm protoreflect.MessageDescriptor, pf protoreflect.FieldDescriptor) {
	member := fieldMember(pf)
	if !cm.ReservedRanges().Has(pf.Number()) {
		c.add(FieldNoDeleteUnlessNumberReserved, p, member,
			"field removed without reserving %d: a later field given that number would misread the records already written",
			pf.Number())
	}
	// A field that kept its name under another number still takes the same
	// JSON; only its number is gone, which the rule above reports.
	if !cm.ReservedNames().Has(pf.Name()) && cm.Fields().ByName(pf.Name()) == nil {
		c.add(FieldNoDeleteUnlessNameReserved, p, member,
			"field removed without reserving %q: a later field given that name would take over its JSON",
			pf.Name())
	}
}

func (c *checker) field(p protoreflect.MessageDescriptor, pf, cf protoreflect.FieldDescriptor) {
	member := fieldMember(pf)
	if pf.Name() != cf.Name() {
		c.add(FieldSameName, p, member,
			"field %d renamed from %s to %s: JSON readers accept the proto name, and clients that send it are refused",
			pf.Number(), pf.Name(), cf.Name())
	}
	if pf.JSONName() != cf.JSONName() {
		c.add(FieldSameJSONName, p, member,
			"JSON name changed from %s to %s: JSON written by the API, the SDKs and clients no longer reads back",
			pf.JSONName(), cf.JSONName())
	}
	if pc, cc := cardinality(pf), cardinality(cf); pc != cc {
		c.add(FieldSameCardinality, p, member,
			"cardinality changed from %s to %s: a singular reader keeps one element of a list, and JSON switches between a value and an array",
			pc, cc)
	}
	if pt, ct := typeName(pf), typeName(cf); pt != ct {
		c.add(FieldSameType, p, member, "type changed from %s to %s: %s", pt, ct, typeChange(pf, cf))
	}
	if po, co := oneofName(pf), oneofName(cf); po != co {
		c.add(FieldSameOneof, p, member,
			"oneof changed from %s to %s: a oneof keeps only the last of its members set, so records that set more than one of them lose all but one",
			po, co)
	}
}

func (c *checker) enums(es protoreflect.EnumDescriptors) {
	for i := range es.Len() {
		e := es.Get(i)
		d, _ := c.cur.FindDescriptorByName(e.FullName())
		ce, ok := d.(protoreflect.EnumDescriptor)
		if !ok {
			c.add(EnumNoDelete, e, "",
				"enum removed or renamed: fields that carry it, and code that names it, no longer resolve")
			continue
		}
		c.enum(e, ce)
	}
}

func (c *checker) enum(p, ce protoreflect.EnumDescriptor) {
	for i := range p.Values().Len() {
		pv := p.Values().Get(i)
		member := fmt.Sprintf("value %s = %d", pv.Name(), pv.Number())
		// Aliases share a number, so a value is kept when its name still
		// carries its number, whatever else shares it.
		if cv := ce.Values().ByName(pv.Name()); cv != nil && cv.Number() == pv.Number() {
			continue
		}
		if cv := ce.Values().ByNumber(pv.Number()); cv != nil {
			c.add(EnumValueSameName, p, member,
				"value %d renamed from %s to %s: JSON carries enum values by name, and the old name no longer reads",
				pv.Number(), pv.Name(), cv.Name())
			continue
		}
		if !ce.ReservedRanges().Has(pv.Number()) {
			c.add(EnumValueNoDeleteUnlessNumberReserved, p, member,
				"value removed without reserving %d: a later value given that number would change what old records say",
				pv.Number())
		}
		if !ce.ReservedNames().Has(pv.Name()) && ce.Values().ByName(pv.Name()) == nil {
			c.add(EnumValueNoDeleteUnlessNameReserved, p, member,
				"value removed without reserving %q: a later value given that name would change what old JSON says",
				pv.Name())
		}
	}
	c.reservations(p, enumReserved(p), enumReserved(ce), "value")
}

// reserved is what a message or enum reserves, its numbers as half-open
// ranges whatever form the descriptor keeps them in.
type reserved struct {
	ranges [][2]int64
	names  protoreflect.Names
}

func messageReserved(m protoreflect.MessageDescriptor) reserved {
	r := reserved{names: m.ReservedNames()}
	for i := range m.ReservedRanges().Len() {
		g := m.ReservedRanges().Get(i) // already [start, end)
		r.ranges = append(r.ranges, [2]int64{int64(g[0]), int64(g[1])})
	}
	return r
}

func enumReserved(e protoreflect.EnumDescriptor) reserved {
	r := reserved{names: e.ReservedNames()}
	for i := range e.ReservedRanges().Len() {
		g := e.ReservedRanges().Get(i) // [start, end], inclusive
		r.ranges = append(r.ranges, [2]int64{int64(g[0]), int64(g[1]) + 1})
	}
	return r
}

// reservations reports what the published element reserved and the current
// one no longer does: dropping a reservation is how a number or a name of a
// removed field or value gets reused.
func (c *checker) reservations(d protoreflect.Descriptor, pub, cur reserved, what string) {
	rule := ReservedMessageNoDelete
	if _, ok := d.(protoreflect.EnumDescriptor); ok {
		rule = ReservedEnumNoDelete
	}
	for _, r := range pub.ranges {
		if !covered(r[0], r[1], cur.ranges) {
			c.add(rule, d, "reserved "+span(r[0], r[1]),
				"reserved numbers no longer all reserved: a %s given one of them misreads the records of the %s it replaced",
				what, what)
		}
	}
	for i := range pub.names.Len() {
		if n := pub.names.Get(i); !cur.names.Has(n) {
			c.add(rule, d, "reserved "+strconv.Quote(string(n)),
				"reserved name no longer reserved: a %s given it takes over the JSON of the %s it replaced",
				what, what)
		}
	}
}

func fieldMember(f protoreflect.FieldDescriptor) string {
	return fmt.Sprintf("field %s = %d", f.Name(), f.Number())
}

// covered reports whether the half-open numbers [start, end) all lie in the
// union of half-open ranges, which may touch, overlap or come in any order.
func covered(start, end int64, ranges [][2]int64) bool {
	for pos := start; pos < end; {
		next := pos
		for _, r := range ranges {
			if r[0] <= pos && pos < r[1] && r[1] > next {
				next = r[1]
			}
		}
		if next == pos {
			return false
		}
		pos = next
	}
	return true
}

// span writes half-open [start, end) as a .proto reserved line does.
func span(start, end int64) string {
	if end-start == 1 {
		return strconv.FormatInt(start, 10)
	}
	return fmt.Sprintf("%d to %d", start, end-1)
}

func cardinality(f protoreflect.FieldDescriptor) string {
	switch {
	case f.IsList() || f.IsMap():
		return "repeated"
	case f.Cardinality() == protoreflect.Required:
		return "required"
	}
	// Explicit presence (proto3 optional) against implicit is not a break:
	// both encode and read a set value the same way.
	return "singular"
}

func typeName(f protoreflect.FieldDescriptor) string {
	switch {
	case f.IsMap():
		return "map<" + typeName(f.MapKey()) + ", " + typeName(f.MapValue()) + ">"
	case f.Message() != nil:
		return string(f.Message().FullName())
	case f.Enum() != nil:
		return string(f.Enum().FullName())
	}
	return f.Kind().String()
}

// typeChange says why a change of type breaks. Titan reads records back
// from changelogs for as long as a table lives, so a change counts even when
// the wire type stays: int32 to int64 truncates in old readers, int64 is a
// string in JSON where int32 is a number, and sign or zigzag changes what
// the same bits mean.
func typeChange(pf, cf protoreflect.FieldDescriptor) string {
	pw, cw := wireType(pf), wireType(cf)
	switch {
	case pw != cw:
		return fmt.Sprintf("the wire type changes from %s to %s, so each version's readers lose the field in the other's records", pw, cw)
	case pf.Message() != nil && cf.Message() != nil:
		return "the field now holds another message, whose fields are not held to the published one's"
	case pf.Enum() != nil && cf.Enum() != nil:
		return "the field now holds another enum, whose values are not held to the published one's"
	}
	return fmt.Sprintf("the wire type stays %s, but values are read with another width, sign or meaning, and JSON writes them differently", pw)
}

func wireType(f protoreflect.FieldDescriptor) string {
	if f.IsMap() {
		return "length-delimited"
	}
	switch f.Kind() {
	case protoreflect.BoolKind, protoreflect.EnumKind,
		protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Uint32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
		return "varint"
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return "32-bit"
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return "64-bit"
	case protoreflect.GroupKind:
		return "group"
	}
	return "length-delimited"
}

// oneofName is the field's oneof, or "none". A proto3 optional field sits in
// a synthetic oneof of its own that changes nothing on the wire or in JSON,
// so it counts as none.
func oneofName(f protoreflect.FieldDescriptor) string {
	if o := f.ContainingOneof(); o != nil && !o.IsSynthetic() {
		return string(o.Name())
	}
	return "none"
}
