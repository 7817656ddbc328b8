package compat

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

type descriptorSet = descriptorpb.FileDescriptorSet

// set finds the parts of a descriptor set by full name, for the edits the
// table tests make to a copy of the current schema. A name that is not
// there fails the test: an edit that silently did nothing would pass as
// "not breaking".
type set struct {
	t   *testing.T
	fds *descriptorSet
}

func edit(t *testing.T, fds *descriptorSet, f func(*set)) {
	t.Helper()
	f(&set{t: t, fds: fds})
}

func (s *set) file(path string) *descriptorpb.FileDescriptorProto {
	s.t.Helper()
	for _, f := range s.fds.GetFile() {
		if f.GetName() == path {
			return f
		}
	}
	s.t.Fatalf("no file %s", path)
	return nil
}

// message returns the message with the full name, nested or not.
func (s *set) message(full string) *descriptorpb.DescriptorProto {
	s.t.Helper()
	var find func(prefix string, ms []*descriptorpb.DescriptorProto) *descriptorpb.DescriptorProto
	find = func(prefix string, ms []*descriptorpb.DescriptorProto) *descriptorpb.DescriptorProto {
		for _, m := range ms {
			name := prefix + "." + m.GetName()
			if name == full {
				return m
			}
			if strings.HasPrefix(full, name+".") {
				if n := find(name, m.GetNestedType()); n != nil {
					return n
				}
			}
		}
		return nil
	}
	for _, f := range s.fds.GetFile() {
		if m := find(f.GetPackage(), f.GetMessageType()); m != nil {
			return m
		}
	}
	s.t.Fatalf("no message %s", full)
	return nil
}

// enum returns the top-level enum with the full name.
func (s *set) enum(full string) *descriptorpb.EnumDescriptorProto {
	s.t.Helper()
	for _, f := range s.fds.GetFile() {
		for _, e := range f.GetEnumType() {
			if f.GetPackage()+"."+e.GetName() == full {
				return e
			}
		}
	}
	s.t.Fatalf("no enum %s", full)
	return nil
}

func (s *set) field(message, name string) *descriptorpb.FieldDescriptorProto {
	s.t.Helper()
	for _, f := range s.message(message).GetField() {
		if f.GetName() == name {
			return f
		}
	}
	s.t.Fatalf("no field %s in %s", name, message)
	return nil
}

func (s *set) removeField(message, name string) *descriptorpb.FieldDescriptorProto {
	s.t.Helper()
	m, f := s.message(message), s.field(message, name)
	m.Field = slices.DeleteFunc(m.Field, func(g *descriptorpb.FieldDescriptorProto) bool { return g == f })
	return f
}

func (s *set) reserveField(message string, number int32, name string) {
	m := s.message(message)
	if number != 0 {
		m.ReservedRange = append(m.ReservedRange,
			&descriptorpb.DescriptorProto_ReservedRange{Start: proto.Int32(number), End: proto.Int32(number + 1)})
	}
	if name != "" {
		m.ReservedName = append(m.ReservedName, name)
	}
}

func (s *set) value(enum, name string) *descriptorpb.EnumValueDescriptorProto {
	s.t.Helper()
	for _, v := range s.enum(enum).GetValue() {
		if v.GetName() == name {
			return v
		}
	}
	s.t.Fatalf("no value %s in %s", name, enum)
	return nil
}

func (s *set) removeValue(enum, name string) *descriptorpb.EnumValueDescriptorProto {
	s.t.Helper()
	e, v := s.enum(enum), s.value(enum, name)
	e.Value = slices.DeleteFunc(e.Value, func(w *descriptorpb.EnumValueDescriptorProto) bool { return w == v })
	return v
}

// removeTop removes a top-level message or enum of a file.
func (s *set) removeTop(path, name string) {
	s.t.Helper()
	f := s.file(path)
	n := len(f.MessageType) + len(f.EnumType)
	f.MessageType = slices.DeleteFunc(f.MessageType, func(m *descriptorpb.DescriptorProto) bool { return m.GetName() == name })
	f.EnumType = slices.DeleteFunc(f.EnumType, func(e *descriptorpb.EnumDescriptorProto) bool { return e.GetName() == name })
	if len(f.MessageType)+len(f.EnumType) != n-1 {
		s.t.Fatalf("no top-level %s in %s", name, path)
	}
}

// retype points every field whose type is from at to.
func (s *set) retype(from, to string) {
	var walk func(ms []*descriptorpb.DescriptorProto)
	walk = func(ms []*descriptorpb.DescriptorProto) {
		for _, m := range ms {
			for _, f := range m.GetField() {
				if f.GetTypeName() == from {
					f.TypeName = proto.String(to)
				} else if strings.HasPrefix(f.GetTypeName(), from+".") {
					f.TypeName = proto.String(to + strings.TrimPrefix(f.GetTypeName(), from))
				}
			}
			walk(m.GetNestedType())
		}
	}
	for _, f := range s.fds.GetFile() {
		walk(f.GetMessageType())
	}
}

func scalar(name string, number int32, typ string) *descriptorpb.FieldDescriptorProto {
	return &descriptorpb.FieldDescriptorProto{
		Name:   proto.String(name),
		Number: proto.Int32(number),
		Label:  descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
		Type:   descriptorpb.FieldDescriptorProto_Type(descriptorpb.FieldDescriptorProto_Type_value[typ]).Enum(),
	}
}
