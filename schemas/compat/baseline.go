package compat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	// Every generated package registers its file with the Go registry when
	// linked in; Current sees only these. TestEveryProtoIsChecked fails when
	// a .proto under schemas/proto has no import here.
	_ "github.com/titan-commerce/titan/schemas/flashsale/v1"
	_ "github.com/titan-commerce/titan/schemas/fraud/v1"
	_ "github.com/titan-commerce/titan/schemas/inventory/v1"
	_ "github.com/titan-commerce/titan/schemas/orders/v1"
	_ "github.com/titan-commerce/titan/schemas/pricing/v1"
	_ "github.com/titan-commerce/titan/schemas/recommendations/v1"
)

// Root is where Titan's .proto files sit, relative to schemas/proto: the
// path prefix of every file Current gathers.
const Root = "titan/"

// Current returns the schema this build is compiled with: every registered
// file under Root and the files they import, sorted by path.
func Current() *descriptorpb.FileDescriptorSet {
	seen := map[string]protoreflect.FileDescriptor{}
	var visit func(f protoreflect.FileDescriptor)
	visit = func(f protoreflect.FileDescriptor) {
		if _, ok := seen[f.Path()]; ok {
			return
		}
		seen[f.Path()] = f
		for i := range f.Imports().Len() {
			visit(f.Imports().Get(i).FileDescriptor)
		}
	}
	protoregistry.GlobalFiles.RangeFiles(func(f protoreflect.FileDescriptor) bool {
		if strings.HasPrefix(f.Path(), Root) {
			visit(f)
		}
		return true
	})
	paths := make([]string, 0, len(seen))
	for p := range seen {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	set := &descriptorpb.FileDescriptorSet{}
	for _, p := range paths {
		set.File = append(set.File, protodesc.ToFileDescriptorProto(seen[p]))
	}
	return set
}

// Marshal writes a descriptor set as indented JSON with the field names of
// descriptor.proto, so that a change to the baseline reads as a diff. The
// indentation is redone because protojson varies its spacing on purpose,
// which would make the same set churn between builds.
func Marshal(set *descriptorpb.FileDescriptorSet) ([]byte, error) {
	raw, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("compat: encoding the descriptor set: %w", err)
	}
	var compact, out bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, fmt.Errorf("compat: compacting the descriptor set: %w", err)
	}
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		return nil, fmt.Errorf("compat: indenting the descriptor set: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// Unmarshal reads what Marshal wrote.
func Unmarshal(b []byte) (*descriptorpb.FileDescriptorSet, error) {
	set := &descriptorpb.FileDescriptorSet{}
	if err := protojson.Unmarshal(b, set); err != nil {
		return nil, fmt.Errorf("compat: decoding the descriptor set: %w", err)
	}
	return set, nil
}

// ReadBaseline reads the published schema from path.
func ReadBaseline(path string) (*descriptorpb.FileDescriptorSet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("compat: reading the baseline: %w", err)
	}
	set, err := Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("compat: baseline %s: %w", path, err)
	}
	return set, nil
}

// ErrBreaking is returned by Record when current breaks the baseline and
// breaking changes were not accepted.
var ErrBreaking = errors.New("compat: the schema breaks the published one")

// Record makes current the baseline at path and returns the breaking
// changes that recording it accepts. Additions are recorded freely; a
// breaking change is recorded only with acceptBreaking, and otherwise the
// baseline stays as it was and the error wraps ErrBreaking. A missing
// baseline is a first recording, which breaks nothing.
func Record(path string, current *descriptorpb.FileDescriptorSet, acceptBreaking bool) ([]Break, error) {
	var breaks []Break
	published, err := ReadBaseline(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if breaks, err = Check(published, current); err != nil {
			return nil, err
		}
	}
	if len(breaks) > 0 && !acceptBreaking {
		return breaks, fmt.Errorf("%w; %s left as it was", ErrBreaking, path)
	}
	b, err := Marshal(current)
	if err != nil {
		return breaks, err
	}
	// Written beside the baseline and renamed over it, so an interrupted
	// run leaves the old baseline whole.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".baseline-*")
	if err != nil {
		return breaks, fmt.Errorf("compat: writing the baseline: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return breaks, fmt.Errorf("compat: writing the baseline %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return breaks, fmt.Errorf("compat: writing the baseline %s: %w", tmp.Name(), err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return breaks, fmt.Errorf("compat: writing the baseline %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return breaks, fmt.Errorf("compat: writing the baseline %s: %w", path, err)
	}
	return breaks, nil
}
