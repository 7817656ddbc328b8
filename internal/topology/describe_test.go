package topology_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"

	"github.com/titan-commerce/titan/internal/topology"
)

func nop(goka.Context, any) {}

// every is a group with one edge of every kind goka has.
func every() *goka.GroupGraph {
	return goka.DefineGroup("g",
		goka.Input("in-a", new(codec.Bytes), nop),
		goka.Input("in-b", new(codec.Bytes), nop),
		goka.Join("joined-table", new(codec.Bytes)),
		goka.Lookup("looked-up-table", new(codec.Bytes)),
		goka.Loop(new(codec.Bytes), nop),
		goka.Persist(new(codec.Bytes)),
		goka.Output("out", new(codec.Bytes)),
	)
}

func TestFromGraph(t *testing.T) {
	got := topology.FromGraph("shop", every())
	want := topology.Group{Topology: "shop", Name: "g", Edges: []topology.Edge{
		{Role: topology.RoleInput, Topic: "in-a"},
		{Role: topology.RoleInput, Topic: "in-b"},
		{Role: topology.RoleJoin, Topic: "joined-table"},
		{Role: topology.RoleLookup, Topic: "looked-up-table"},
		{Role: topology.RoleLoopback, Topic: "g-loop"},
		{Role: topology.RoleTable, Topic: "g-table"},
		{Role: topology.RoleOutput, Topic: "out"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FromGraph =\n%+v\nwant\n%+v", got, want)
	}
	// A stateless group without a loopback has neither edge.
	bare := topology.FromGraph("shop", goka.DefineGroup("s", goka.Input("in", new(codec.Bytes), nop)))
	if len(bare.Edges) != 1 || bare.Edges[0] != (topology.Edge{Role: topology.RoleInput, Topic: "in"}) {
		t.Errorf("stateless group described as %+v", bare)
	}
}

func TestCheck(t *testing.T) {
	g := topology.FromGraph("shop", every())
	all := func(n int32) map[string]int32 {
		return map[string]int32{"in-a": n, "in-b": n, "joined-table": n, "looked-up-table": n, "g-loop": n, "g-table": n, "out": n}
	}
	with := func(n int32, topic string, m int32) map[string]int32 {
		p := all(n)
		if m < 0 {
			delete(p, topic)
		} else {
			p[topic] = m
		}
		return p
	}
	for _, tc := range []struct {
		name       string
		partitions map[string]int32
		want       []string // Problem.String() of each
	}{
		{"every topic present and equal", all(4), nil},
		{"a lookup may differ: it is read whole", with(4, "looked-up-table", 1), nil},
		{"an output may differ: it is written by key", with(4, "out", 12), nil},
		{"an input that differs", with(4, "in-b", 3), []string{
			"not co-partitioned: g needs one partition count for its inputs, joins, loopback and table, and has in-a=4 in-b=3 joined-table=4 g-loop=4 g-table=4"}},
		{"a join that differs", with(4, "joined-table", 8), []string{"joined-table=8"}},
		{"a loopback that differs", with(4, "g-loop", 2), []string{"g-loop=2"}},
		{"a table that differs from its first input", with(4, "g-table", 5), []string{"g-table=5"}},
		{"a missing output", with(4, "out", -1), []string{"missing topic: out (output of g) does not exist"}},
		{"a missing table, the rest equal", with(4, "g-table", -1), []string{"missing topic: g-table (table of g) does not exist"}},
		{"a missing input beside one that differs", func() map[string]int32 { p := with(4, "in-a", -1); p["in-b"] = 2; return p }(), []string{
			"missing topic: in-a (input of g)", "in-b=2 joined-table=4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := topology.Check([]topology.Group{g}, tc.partitions)
			if len(got) != len(tc.want) {
				t.Fatalf("Check = %v, want %d problems", got, len(tc.want))
			}
			for i, p := range got {
				if !strings.Contains(p.String(), tc.want[i]) {
					t.Errorf("problem %d = %q, want it to contain %q", i, p, tc.want[i])
				}
			}
		})
	}
}

func TestTopics(t *testing.T) {
	a := topology.FromGraph("x", every())
	b := topology.FromGraph("y", goka.DefineGroup("h", goka.Input("out", new(codec.Bytes), nop), goka.Output("in-a", new(codec.Bytes))))
	want := []string{"g-loop", "g-table", "in-a", "in-b", "joined-table", "looked-up-table", "out"}
	if got := topology.Topics([]topology.Group{a, b}); !reflect.DeepEqual(got, want) {
		t.Errorf("Topics = %q, want %q", got, want)
	}
}

func TestWriteDescription(t *testing.T) {
	groups := []topology.Group{
		topology.FromGraph("shop", every()),
		topology.FromGraph("shop", goka.DefineGroup("h", goka.Input("out", new(codec.Bytes), nop))),
		topology.FromGraph("other", goka.DefineGroup("k", goka.Input("in-a", new(codec.Bytes), nop))),
	}
	partitions := map[string]int32{"in-a": 4, "in-b": 4, "joined-table": 4, "looked-up-table": 1, "g-loop": 4, "g-table": 4, "out": 6}
	var out bytes.Buffer
	if err := topology.WriteDescription(&out, groups, partitions, topology.Check(groups, partitions)); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"topology shop\n  group g\n",
		"  group h\n",
		"\ntopology other\n  group k\n",
		"lookup    looked-up-table  1 partitions",
		"table     g-table          4 partitions  group table; the topic is its changelog",
		"loopback  g-loop           4 partitions",
		"output    out              6 partitions",
		"ok: 3 groups, 7 topics",
	} {
		says(t, text, want)
	}
	if strings.Count(text, "topology shop") != 1 {
		t.Errorf("a topology's groups are not under one heading:\n%s", text)
	}

	delete(partitions, "out")
	partitions["in-b"] = 2
	out.Reset()
	if err := topology.WriteDescription(&out, groups, partitions, topology.Check(groups, partitions)); err != nil {
		t.Fatal(err)
	}
	text = out.String()
	for _, want := range []string{
		"output    out              missing",
		"3 problems:\n",
		"  missing topic: out (output of g) does not exist\n",
		"  not co-partitioned: g needs",
		"  missing topic: out (input of h) does not exist\n",
	} {
		says(t, text, want)
	}
	if strings.Contains(text, "ok:") {
		t.Errorf("a description with problems says ok:\n%s", text)
	}
}

func says(t *testing.T, description, want string) {
	t.Helper()
	if !strings.Contains(description, want) {
		t.Errorf("description lacks %q:\n%s", want, description)
	}
}
