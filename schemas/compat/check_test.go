package compat

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

const (
	inventory = "titan/inventory/v1/inventory.proto"
	fraud     = "titan/fraud/v1/fraud.proto"
	flashsale = "titan/flashsale/v1/flashsale.proto"
	recs      = "titan/recommendations/v1/recommendations.proto"

	command = "titan.inventory.v1.Command"
	entity  = "titan.fraud.v1.Entity"
	events  = "titan.inventory.v1.EventType"
)

type want struct {
	rule    Rule
	file    string
	element string
	member  string
}

func (w want) String() string {
	return fmt.Sprintf("%s %s %s [%s]", w.rule, w.file, w.element, w.member)
}

// TestCheck edits a copy of the current schema and checks which edits are
// reported as breaking, and under which rule, file, element and member.
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		// published, when set, edits the published schema first; edit
		// then changes a copy of it.
		published func(s *set)
		edit      func(s *set)
		want      []want
	}{
		{
			name: "remove a field",
			edit: func(s *set) { s.removeField(command, "sku") },
			want: []want{
				{FieldNoDeleteUnlessNumberReserved, inventory, command, "field sku = 3"},
				{FieldNoDeleteUnlessNameReserved, inventory, command, "field sku = 3"},
			},
		},
		{
			name: "remove a field reserving its number and name",
			edit: func(s *set) {
				s.removeField(command, "sku")
				s.reserveField(command, 3, "sku")
			},
		},
		{
			name: "remove a field reserving only its number",
			edit: func(s *set) {
				s.removeField(command, "sku")
				s.reserveField(command, 3, "")
			},
			want: []want{{FieldNoDeleteUnlessNameReserved, inventory, command, "field sku = 3"}},
		},
		{
			name: "remove a field reserving only its name",
			edit: func(s *set) {
				s.removeField(command, "sku")
				s.reserveField(command, 0, "sku")
			},
			want: []want{{FieldNoDeleteUnlessNumberReserved, inventory, command, "field sku = 3"}},
		},
		{
			name: "change a field's wire type",
			edit: func(s *set) { s.field(command, "qty").Type = descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum() },
			want: []want{{FieldSameType, inventory, command, "field qty = 4"}},
		},
		{
			name: "widen a field within its wire type",
			edit: func(s *set) {
				s.field("titan.inventory.v1.Event", "partition").Type = descriptorpb.FieldDescriptorProto_TYPE_INT64.Enum()
			},
			want: []want{{FieldSameType, inventory, "titan.inventory.v1.Event", "field partition = 10"}},
		},
		{
			name: "renumber a field",
			edit: func(s *set) { s.field(command, "sku").Number = proto.Int32(99) },
			want: []want{{FieldNoDeleteUnlessNumberReserved, inventory, command, "field sku = 3"}},
		},
		{
			name: "reuse a removed field's number",
			edit: func(s *set) {
				s.removeField(command, "order_id")
				s.field(command, "sku").Number = proto.Int32(2)
			},
			want: []want{
				{FieldSameName, inventory, command, "field order_id = 2"},
				{FieldSameJSONName, inventory, command, "field order_id = 2"},
				{FieldNoDeleteUnlessNumberReserved, inventory, command, "field sku = 3"},
			},
		},
		{
			name: "rename a field",
			edit: func(s *set) {
				f := s.field(command, "sku")
				f.Name, f.JsonName = proto.String("sku_code"), nil
			},
			want: []want{
				{FieldSameName, inventory, command, "field sku = 3"},
				{FieldSameJSONName, inventory, command, "field sku = 3"},
			},
		},
		{
			name: "rename a field keeping its JSON name",
			edit: func(s *set) { s.field(command, "sku").Name = proto.String("sku_code") },
			want: []want{{FieldSameName, inventory, command, "field sku = 3"}},
		},
		{
			name: "change a field's JSON name",
			edit: func(s *set) { s.field(command, "order_id").JsonName = proto.String("order") },
			want: []want{{FieldSameJSONName, inventory, command, "field order_id = 2"}},
		},
		{
			name: "make a field repeated",
			edit: func(s *set) { s.field(command, "qty").Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum() },
			want: []want{{FieldSameCardinality, inventory, command, "field qty = 4"}},
		},
		{
			name: "give a field explicit presence",
			edit: func(s *set) {
				m := s.message(command)
				m.OneofDecl = append(m.OneofDecl, &descriptorpb.OneofDescriptorProto{Name: proto.String("_sku")})
				f := s.field(command, "sku")
				f.OneofIndex, f.Proto3Optional = proto.Int32(int32(len(m.OneofDecl)-1)), proto.Bool(true)
			},
		},
		{
			name: "move a field into a oneof",
			edit: func(s *set) {
				// The oneof's members must stay together, so sku moves to
				// the end, after kind's.
				f := s.removeField(command, "sku")
				f.OneofIndex = proto.Int32(0)
				s.message(command).Field = append(s.message(command).Field, f)
			},
			want: []want{{FieldSameOneof, inventory, command, "field sku = 3"}},
		},
		{
			name: "move a field out of a oneof",
			edit: func(s *set) { s.field(command, "expire").OneofIndex = nil },
			want: []want{{FieldSameOneof, inventory, command, "field expire = 14"}},
		},
		{
			name: "add a field to a oneof",
			edit: func(s *set) {
				f := scalar("recount", 15, "TYPE_MESSAGE")
				f.TypeName, f.OneofIndex = proto.String(".titan.inventory.v1.Restock"), proto.Int32(0)
				s.message(command).Field = append(s.message(command).Field, f)
			},
		},
		{
			name: "add a field",
			edit: func(s *set) {
				s.message(command).Field = append(s.message(command).Field, scalar("channel", 6, "TYPE_STRING"))
			},
		},
		{
			name: "add a reserved range and name",
			edit: func(s *set) {
				m := s.message(command)
				m.ReservedRange = append(m.ReservedRange,
					&descriptorpb.DescriptorProto_ReservedRange{Start: proto.Int32(100), End: proto.Int32(200)})
				m.ReservedName = append(m.ReservedName, "legacy")
			},
		},
		{
			name: "drop a reservation",
			edit: func(s *set) {
				m := s.message(entity)
				m.ReservedRange, m.ReservedName = nil, nil
			},
			want: []want{
				{ReservedMessageNoDelete, fraud, entity, "reserved 8"},
				{ReservedMessageNoDelete, fraud, entity, `reserved "seen"`},
			},
		},
		{
			name: "reuse a reserved number and name",
			edit: func(s *set) {
				m := s.message(entity)
				m.ReservedRange, m.ReservedName = nil, nil
				m.Field = append(m.Field, scalar("seen", 8, "TYPE_INT64"))
			},
			want: []want{
				{ReservedMessageNoDelete, fraud, entity, "reserved 8"},
				{ReservedMessageNoDelete, fraud, entity, `reserved "seen"`},
			},
		},
		{
			name: "reserve the same numbers in other ranges",
			edit: func(s *set) {
				s.message(entity).ReservedRange = []*descriptorpb.DescriptorProto_ReservedRange{
					{Start: proto.Int32(12), End: proto.Int32(20)},
					{Start: proto.Int32(8), End: proto.Int32(9)},
				}
			},
		},
		{
			name: "change a map's key type",
			edit: func(s *set) {
				s.field("titan.flashsale.v1.SaleState.SeenEntry", "key").Type = descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
			},
			want: []want{{FieldSameType, flashsale, "titan.flashsale.v1.SaleState", "field seen = 3"}},
		},
		{
			name: "remove a message",
			edit: func(s *set) { s.removeTop(inventory, "OrderReservations") },
			want: []want{{MessageNoDelete, inventory, "titan.inventory.v1.OrderReservations", ""}},
		},
		{
			name: "rename a message",
			edit: func(s *set) {
				s.message("titan.inventory.v1.Stock").Name = proto.String("Ledger")
				s.retype(".titan.inventory.v1.Stock", ".titan.inventory.v1.Ledger")
			},
			want: []want{
				{MessageNoDelete, inventory, "titan.inventory.v1.Stock", ""},
				{FieldSameType, inventory, "titan.inventory.v1.Event", "field stock = 11"},
				{FieldSameType, inventory, "titan.inventory.v1.SkuState", "field stock = 1"},
			},
		},
		{
			name: "move a message to another file of its package",
			edit: func(s *set) {
				f := s.file(inventory)
				stock := s.message("titan.inventory.v1.Stock")
				s.removeTop(inventory, "Stock")
				s.fds.File = append(s.fds.File, &descriptorpb.FileDescriptorProto{
					Name:        proto.String("titan/inventory/v1/stock.proto"),
					Package:     f.Package,
					Syntax:      f.Syntax,
					Options:     f.Options,
					MessageType: []*descriptorpb.DescriptorProto{stock},
				})
				f.Dependency = append(f.Dependency, "titan/inventory/v1/stock.proto")
			},
		},
		{
			name: "remove an enum",
			edit: func(s *set) {
				s.removeTop(inventory, "ReservationStatus")
				f := s.field("titan.inventory.v1.Reservation", "status")
				f.Type, f.TypeName = descriptorpb.FieldDescriptorProto_TYPE_INT32.Enum(), nil
			},
			want: []want{
				{EnumNoDelete, inventory, "titan.inventory.v1.ReservationStatus", ""},
				{FieldSameType, inventory, "titan.inventory.v1.Reservation", "field status = 5"},
			},
		},
		{
			name: "remove an enum value",
			edit: func(s *set) { s.removeValue(events, "EVENT_TYPE_EXPIRED") },
			want: []want{
				{EnumValueNoDeleteUnlessNumberReserved, inventory, events, "value EVENT_TYPE_EXPIRED = 6"},
				{EnumValueNoDeleteUnlessNameReserved, inventory, events, "value EVENT_TYPE_EXPIRED = 6"},
			},
		},
		{
			name: "remove an enum value reserving its number and name",
			edit: func(s *set) {
				s.removeValue(events, "EVENT_TYPE_EXPIRED")
				e := s.enum(events)
				e.ReservedRange = append(e.ReservedRange,
					&descriptorpb.EnumDescriptorProto_EnumReservedRange{Start: proto.Int32(6), End: proto.Int32(6)})
				e.ReservedName = append(e.ReservedName, "EVENT_TYPE_EXPIRED")
			},
		},
		{
			name: "drop an enum's reservations",
			published: func(s *set) {
				e := s.enum(events)
				e.ReservedRange = append(e.ReservedRange,
					&descriptorpb.EnumDescriptorProto_EnumReservedRange{Start: proto.Int32(20), End: proto.Int32(29)})
				e.ReservedName = append(e.ReservedName, "EVENT_TYPE_ADJUSTED")
			},
			edit: func(s *set) {
				e := s.enum(events)
				e.ReservedRange, e.ReservedName = nil, nil
			},
			want: []want{
				{ReservedEnumNoDelete, inventory, events, "reserved 20 to 29"},
				{ReservedEnumNoDelete, inventory, events, `reserved "EVENT_TYPE_ADJUSTED"`},
			},
		},
		{
			name: "reuse a reserved enum number",
			published: func(s *set) {
				e := s.enum(events)
				e.ReservedRange = append(e.ReservedRange,
					&descriptorpb.EnumDescriptorProto_EnumReservedRange{Start: proto.Int32(7), End: proto.Int32(9)})
			},
			edit: func(s *set) {
				e := s.enum(events)
				e.ReservedRange[0].Start = proto.Int32(8)
				e.Value = append(e.Value, &descriptorpb.EnumValueDescriptorProto{
					Name: proto.String("EVENT_TYPE_ADJUSTED"), Number: proto.Int32(7)})
			},
			want: []want{{ReservedEnumNoDelete, inventory, events, "reserved 7 to 9"}},
		},
		{
			name: "rename an enum value",
			edit: func(s *set) { s.value(events, "EVENT_TYPE_EXPIRED").Name = proto.String("EVENT_TYPE_TIMED_OUT") },
			want: []want{{EnumValueSameName, inventory, events, "value EVENT_TYPE_EXPIRED = 6"}},
		},
		{
			name: "add an enum value",
			edit: func(s *set) {
				e := s.enum(events)
				e.Value = append(e.Value, &descriptorpb.EnumValueDescriptorProto{
					Name: proto.String("EVENT_TYPE_ADJUSTED"), Number: proto.Int32(7)})
			},
		},
		{
			name: "rename a package",
			edit: func(s *set) {
				s.file(recs).Package = proto.String("titan.recommendations.v2")
				s.retype(".titan.recommendations.v1", ".titan.recommendations.v2")
			},
			want: append([]want{
				{FileSamePackage, recs, "titan.recommendations.v1", ""},
				{EnumNoDelete, recs, "titan.recommendations.v1.Signal", ""},
			}, messagesDeleted(recs, "titan.recommendations.v1",
				"ViewEvent", "Origin", "Pair", "Neighbor", "ItemState", "KeyWrite", "Seen", "UserHistory", "Basket")...),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub := Current()
			if tc.published != nil {
				edit(t, pub, tc.published)
			}
			cur := proto.Clone(pub).(*descriptorSet)
			edit(t, cur, tc.edit)
			breaks, err := Check(pub, cur)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]want, len(breaks))
			for i, b := range breaks {
				got[i] = want{b.Rule, b.File, b.Element, b.Member}
				s := b.String()
				for _, part := range []string{b.File, b.Element, b.Member, string(b.Rule)} {
					if !strings.Contains(s, part) {
						t.Errorf("%q does not name %q", s, part)
					}
				}
				if b.Detail == "" {
					t.Errorf("%s has no detail", s)
				}
			}
			order := func(a, b want) int { return cmp.Compare(a.String(), b.String()) }
			slices.SortFunc(got, order)
			wanted := slices.SortedFunc(slices.Values(tc.want), order)
			if !slices.Equal(got, wanted) {
				t.Errorf("breaks:\n%v\nwant:\n%v\nas reported:\n%s", got, wanted, strings.Join(strs(breaks), "\n"))
			}
		})
	}
}

func messagesDeleted(file, pkg string, names ...string) []want {
	var ws []want
	for _, n := range names {
		ws = append(ws, want{MessageNoDelete, file, pkg + "." + n, ""})
	}
	return ws
}

func strs(breaks []Break) []string {
	s := make([]string, len(breaks))
	for i, b := range breaks {
		s[i] = b.String()
	}
	return s
}

// TestBreakString pins the form a break is reported in, which the test
// failure and `make schema-baseline` print.
func TestBreakString(t *testing.T) {
	cur := Current()
	edit(t, cur, func(s *set) { s.field(command, "qty").Type = descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum() })
	breaks, err := Check(Current(), cur)
	if err != nil {
		t.Fatal(err)
	}
	want := "titan/inventory/v1/inventory.proto: message titan.inventory.v1.Command, field qty = 4: FIELD_SAME_TYPE: " +
		"type changed from int64 to string: the wire type changes from varint to length-delimited, " +
		"so each version's readers lose the field in the other's records"
	if len(breaks) != 1 || breaks[0].String() != want {
		t.Errorf("breaks:\n%s\nwant:\n%s", strings.Join(strs(breaks), "\n"), want)
	}
}

func TestCheckRefusesAnInconsistentSchema(t *testing.T) {
	cur := Current()
	edit(t, cur, func(s *set) { s.removeTop(inventory, "Stock") }) // Event.stock still names it
	if _, err := Check(Current(), cur); err == nil || !strings.Contains(err.Error(), "current schema") {
		t.Errorf("Check of a schema with an unresolved type: err %v, want one naming the current schema", err)
	}
}
