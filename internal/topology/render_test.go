package topology_test

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/topology"
)

// drawn is a drawing read back: node labels by ID, the topology (cluster
// or subgraph label) each node sits in, and the edges as
// "from label -> to label [role kind]".
type drawn struct {
	label   map[string]string
	cluster map[string]string
	edges   []string
}

// edgeKind is how a drawing marks an edge in role beyond its label.
func edgeKind(r topology.Role) string {
	switch r {
	case topology.RoleLookup:
		return "dashed"
	case topology.RoleLoopback:
		return "both"
	}
	return "solid"
}

// wantEdges are the edges a drawing of groups must have, as drawn.edges
// spells them: reads point at the group, writes away from it.
func wantEdges(groups []topology.Group) []string {
	var out []string
	for _, g := range groups {
		for _, e := range g.Edges {
			from, to := g.Name, e.Topic
			if e.Role == topology.RoleInput || e.Role == topology.RoleJoin || e.Role == topology.RoleLookup {
				from, to = to, from
			}
			out = append(out, fmt.Sprintf("%s -> %s [%s %s]", from, to, e.Role, edgeKind(e.Role)))
		}
	}
	slices.Sort(out)
	return out
}

// checkDrawn compares a drawing with the groups it draws: a node for
// every group, in its topology, and for every topic, and exactly the
// groups' edges.
func checkDrawn(t *testing.T, groups []topology.Group, d drawn) {
	t.Helper()
	byLabel := map[string]string{}
	for id, l := range d.label {
		if prev, dup := byLabel[l]; dup {
			t.Errorf("nodes %s and %s are both labelled %q", prev, id, l)
		}
		byLabel[l] = id
	}
	for _, g := range groups {
		id, ok := byLabel[g.Name]
		if !ok {
			t.Errorf("no node for group %s", g.Name)
			continue
		}
		if d.cluster[id] != g.Topology {
			t.Errorf("group %s drawn in %q, want %q", g.Name, d.cluster[id], g.Topology)
		}
	}
	topics := topology.Topics(groups)
	for _, tp := range topics {
		if id, ok := byLabel[tp]; !ok {
			t.Errorf("no node for topic %s", tp)
		} else if d.cluster[id] != "" {
			t.Errorf("topic %s drawn inside %q", tp, d.cluster[id])
		}
	}
	if n := len(groups) + len(topics); len(d.label) != n {
		t.Errorf("%d nodes drawn, want %d", len(d.label), n)
	}
	slices.Sort(d.edges)
	if want := wantEdges(groups); !slices.Equal(d.edges, want) {
		t.Errorf("edges drawn:\n%s\nwant:\n%s", strings.Join(d.edges, "\n"), strings.Join(want, "\n"))
	}
}

// dotToken matches one DOT token: a quoted ID with its escapes, a word,
// an arrow or a punctuation mark.
var dotToken = regexp.MustCompile(`^(?:"(?:[^"\\]|\\.)*"|[A-Za-z0-9_.]+|->|[{}\[\];,=])`)

func dotTokens(t *testing.T, src string) []string {
	t.Helper()
	var out []string
	for src = strings.TrimSpace(src); src != ""; src = strings.TrimSpace(src) {
		tok := dotToken.FindString(src)
		if tok == "" {
			t.Fatalf("DOT does not tokenize at %.40q", src)
		}
		out = append(out, tok)
		src = src[len(tok):]
	}
	return out
}

func dotUnquote(tok string) string {
	if !strings.HasPrefix(tok, `"`) {
		return tok
	}
	return strings.NewReplacer(`\\`, `\`, `\"`, `"`, `\n`, "\n").Replace(tok[1 : len(tok)-1])
}

// parseDOT reads the subset of DOT's grammar a digraph of plain
// statements uses: digraph ID { stmt* } with stmt one of ID = ID;
// subgraph ID { stmt* }, ID [attrs];, or ID -> ID [attrs]; failing the
// test on anything else.
func parseDOT(t *testing.T, src string) drawn {
	t.Helper()
	toks := dotTokens(t, src)
	d := drawn{label: map[string]string{}, cluster: map[string]string{}}
	pos := 0
	next := func() string {
		if pos >= len(toks) {
			t.Fatalf("DOT ends early")
		}
		pos++
		return toks[pos-1]
	}
	expect := func(want string) {
		if got := next(); got != want {
			t.Fatalf("DOT token %d is %q, want %q", pos-1, got, want)
		}
	}
	attrs := func() map[string]string {
		a := map[string]string{}
		expect("[")
		for {
			k := next()
			if k == "]" {
				return a
			}
			if k == "," {
				continue
			}
			expect("=")
			a[k] = dotUnquote(next())
		}
	}
	var edges []struct {
		from, to string
		a        map[string]string
	}
	var block func(cluster string)
	block = func(cluster string) {
		clusterLabel := ""
		var members []string
		for {
			tok := next()
			switch {
			case tok == "}":
				for _, m := range members {
					d.cluster[m] = clusterLabel
				}
				return
			case tok == "subgraph":
				next()
				expect("{")
				block("cluster")
			case pos < len(toks) && toks[pos] == "=":
				next()
				if v := dotUnquote(next()); tok == "label" && cluster != "" {
					clusterLabel = v
				}
				expect(";")
			case pos < len(toks) && toks[pos] == "->":
				next()
				to := dotUnquote(next())
				edges = append(edges, struct {
					from, to string
					a        map[string]string
				}{dotUnquote(tok), to, attrs()})
				expect(";")
			default:
				id := dotUnquote(tok)
				if _, dup := d.label[id]; dup {
					t.Fatalf("node %q declared twice", id)
				}
				d.label[id] = attrs()["label"]
				members = append(members, id)
				expect(";")
			}
		}
	}
	expect("digraph")
	next()
	expect("{")
	block("")
	if pos != len(toks) {
		t.Fatalf("DOT goes on after the graph: %q", toks[pos:])
	}
	for _, e := range edges {
		from, ok1 := d.label[e.from]
		to, ok2 := d.label[e.to]
		if !ok1 || !ok2 {
			t.Fatalf("edge %s -> %s names an undeclared node", e.from, e.to)
		}
		kind := "solid"
		if e.a["style"] == "dashed" {
			kind = "dashed"
		}
		if e.a["dir"] == "both" {
			kind = "both"
		}
		d.edges = append(d.edges, fmt.Sprintf("%s -> %s [%s %s]", from, to, e.a["label"], kind))
	}
	return d
}

var (
	mermaidSubgraph = regexp.MustCompile(`^subgraph (\w+)\["([^"]*)"\]$`)
	mermaidNode     = regexp.MustCompile(`^(\w+)(?:\("([^"]*)"\)|\[/"([^"]*)"/\])$`)
	mermaidEdge     = regexp.MustCompile(`^(\w+) (-->|-\.->|<-->)\|(\w+)\| (\w+)$`)
)

// parseMermaid reads a Mermaid flowchart line by line: its header,
// subgraph ... end blocks, node declarations and labelled edges, failing
// the test on any other line, on an edge between undeclared nodes and on
// an unclosed subgraph.
func parseMermaid(t *testing.T, src string) drawn {
	t.Helper()
	d := drawn{label: map[string]string{}, cluster: map[string]string{}}
	lines := strings.Split(strings.TrimRight(src, "\n"), "\n")
	if lines[0] != "flowchart LR" {
		t.Fatalf("Mermaid starts %q", lines[0])
	}
	unquote := func(s string) string { return strings.ReplaceAll(s, "#quot;", `"`) }
	subgraph := ""
	for n, line := range lines[1:] {
		line = strings.TrimSpace(line)
		if m := mermaidSubgraph.FindStringSubmatch(line); m != nil {
			if subgraph != "" {
				t.Fatalf("line %d: subgraph inside %q", n+2, subgraph)
			}
			subgraph = unquote(m[2])
		} else if line == "end" {
			if subgraph == "" {
				t.Fatalf("line %d: end outside a subgraph", n+2)
			}
			subgraph = ""
		} else if m := mermaidNode.FindStringSubmatch(line); m != nil {
			if _, dup := d.label[m[1]]; dup {
				t.Fatalf("line %d: node %s declared twice", n+2, m[1])
			}
			d.label[m[1]] = unquote(m[2] + m[3])
			d.cluster[m[1]] = subgraph
		} else if m := mermaidEdge.FindStringSubmatch(line); m != nil {
			from, ok1 := d.label[m[1]]
			to, ok2 := d.label[m[4]]
			if !ok1 || !ok2 {
				t.Fatalf("line %d: edge between undeclared nodes: %s", n+2, line)
			}
			kind := map[string]string{"-->": "solid", "-.->": "dashed", "<-->": "both"}[m[2]]
			d.edges = append(d.edges, fmt.Sprintf("%s -> %s [%s %s]", from, to, m[3], kind))
		} else {
			t.Fatalf("line %d is no Mermaid statement: %q", n+2, line)
		}
	}
	if subgraph != "" {
		t.Fatalf("subgraph %q not closed", subgraph)
	}
	return d
}

// renderings are the two formats, each with its parser.
var renderings = []struct {
	name  string
	write func(*bytes.Buffer, []topology.Group) error
	parse func(*testing.T, string) drawn
}{
	{"dot", func(b *bytes.Buffer, g []topology.Group) error { return topology.WriteDOT(b, g) }, parseDOT},
	{"mermaid", func(b *bytes.Buffer, g []topology.Group) error { return topology.WriteMermaid(b, g) }, parseMermaid},
}

func TestRenderings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		groups []topology.Group
	}{
		{"every kind of edge", []topology.Group{topology.FromGraph("shop", every())}},
		{"a topic two topologies share, and a name with a quote", []topology.Group{
			topology.FromGraph("shop", every()),
			topology.FromGraph(`the "other"`, goka.DefineGroup("h", goka.Input("out", new(codec.Bytes), nop), goka.Output("in-a", new(codec.Bytes)))),
		}},
	} {
		for _, r := range renderings {
			t.Run(tc.name+"/"+r.name, func(t *testing.T) {
				var out bytes.Buffer
				if err := r.write(&out, tc.groups); err != nil {
					t.Fatal(err)
				}
				checkDrawn(t, tc.groups, r.parse(t, out.String()))
			})
		}
	}
}

// TestRenderInstanceGraphs draws what an instance runs, every topology,
// under a namespace.
func TestRenderInstanceGraphs(t *testing.T) {
	graphs, err := instance.Graphs(instance.Config{Namespace: "staging"})
	if err != nil {
		t.Fatal(err)
	}
	var groups []topology.Group
	for _, tg := range graphs {
		for _, g := range tg.Groups {
			groups = append(groups, topology.FromGraph(tg.Topology, g))
		}
	}
	for _, r := range renderings {
		t.Run(r.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := r.write(&out, groups); err != nil {
				t.Fatal(err)
			}
			checkDrawn(t, groups, r.parse(t, out.String()))
		})
	}
}

// FuzzWriteDOT: whatever the names, the DOT parses back to the same nodes
// and edges; DOT's quoting keeps every byte of a name.
func FuzzWriteDOT(f *testing.F) {
	f.Add("shop", "g", "in", "out")
	f.Add(`a "quoted" topology`, `back\slash`, "new\nline", "}; digraph x {")
	f.Fuzz(func(t *testing.T, topologyName, group, in, out string) {
		if group == in || group == out || in == out {
			return // a drawing tells nodes apart by their labels
		}
		groups := []topology.Group{{Topology: topologyName, Name: group, Edges: []topology.Edge{
			{Role: topology.RoleInput, Topic: in}, {Role: topology.RoleLookup, Topic: in}, {Role: topology.RoleOutput, Topic: out},
		}}}
		var b bytes.Buffer
		if err := topology.WriteDOT(&b, groups); err != nil {
			t.Fatal(err)
		}
		checkDrawn(t, groups, parseDOT(t, b.String()))
	})
}
