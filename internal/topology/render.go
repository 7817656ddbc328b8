package topology

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// The graphs drawn below have two kinds of node, groups and topics, and
// an edge for every Edge of a group (eachArc). A group's
// node sits in a cluster (DOT) or subgraph (Mermaid) of its topology; a
// topic's stands on its own, since several topologies share topics.

// eachArc calls arc for every edge of groups with its ends' node IDs
// (group's and topic's) in the direction records flow: from the topic for
// what the group reads (input, join, lookup), to it for what the group
// writes (table, output, and loopback, which a drawing marks both ways).
func eachArc(groups []Group, group func(Group) string, topic func(string) string, arc func(from, to string, r Role)) {
	for _, g := range groups {
		for _, e := range g.Edges {
			from, to := group(g), topic(e.Topic)
			if e.Role == RoleInput || e.Role == RoleJoin || e.Role == RoleLookup {
				from, to = to, from
			}
			arc(from, to, e.Role)
		}
	}
}

// byTopology groups the groups by topology, in their order of first
// appearance.
func byTopology(groups []Group) (names []string, members map[string][]Group) {
	members = map[string][]Group{}
	for _, g := range groups {
		if _, ok := members[g.Topology]; !ok {
			names = append(names, g.Topology)
		}
		members[g.Topology] = append(members[g.Topology], g)
	}
	return names, members
}

// dotQuote quotes s as a DOT ID.
func dotQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// WriteDOT writes the groups as a Graphviz digraph. Node IDs are "group:"
// or "topic:" followed by the name, so a topic named like a group stays
// apart from it.
func WriteDOT(w io.Writer, groups []Group) error {
	b := bufio.NewWriter(w)
	fmt.Fprintln(b, "digraph titan {")
	fmt.Fprintln(b, "  rankdir=LR;")
	names, members := byTopology(groups)
	for n, t := range names {
		fmt.Fprintf(b, "  subgraph cluster_%d {\n    label=%s;\n", n, dotQuote(t))
		for _, g := range members[t] {
			fmt.Fprintf(b, "    %s [label=%s, shape=box, style=rounded];\n", dotQuote("group:"+g.Name), dotQuote(g.Name))
		}
		fmt.Fprintln(b, "  }")
	}
	for _, t := range Topics(groups) {
		fmt.Fprintf(b, "  %s [label=%s, shape=cds];\n", dotQuote("topic:"+t), dotQuote(t))
	}
	attrs := map[Role]string{RoleLookup: ", style=dashed", RoleLoopback: ", dir=both"}
	eachArc(groups, func(g Group) string { return dotQuote("group:" + g.Name) }, func(t string) string { return dotQuote("topic:" + t) },
		func(from, to string, r Role) {
			fmt.Fprintf(b, "  %s -> %s [label=%s%s];\n", from, to, dotQuote(string(r)), attrs[r])
		})
	fmt.Fprintln(b, "}")
	return b.Flush()
}

// mermaidLabel quotes s as a Mermaid node label; Mermaid takes entity
// codes, not backslashes, inside quotes.
func mermaidLabel(s string) string {
	return `"` + strings.NewReplacer(`"`, "#quot;", "\n", " ").Replace(s) + `"`
}

// WriteMermaid writes the groups as a Mermaid flowchart. Mermaid IDs are
// plain words, so groups are g0, g1, ... and topics t0, t1, ..., each
// labelled with its name.
func WriteMermaid(w io.Writer, groups []Group) error {
	b := bufio.NewWriter(w)
	fmt.Fprintln(b, "flowchart LR")
	groupID, topicID := map[string]string{}, map[string]string{}
	names, members := byTopology(groups)
	for n, t := range names {
		fmt.Fprintf(b, "  subgraph s%d[%s]\n", n, mermaidLabel(t))
		for _, g := range members[t] {
			id := fmt.Sprintf("g%d", len(groupID))
			groupID[g.Name] = id
			fmt.Fprintf(b, "    %s(%s)\n", id, mermaidLabel(g.Name))
		}
		fmt.Fprintln(b, "  end")
	}
	for n, t := range Topics(groups) {
		topicID[t] = fmt.Sprintf("t%d", n)
		fmt.Fprintf(b, "  %s[/%s/]\n", topicID[t], mermaidLabel(t))
	}
	arrows := map[Role]string{RoleLookup: "-.->", RoleLoopback: "<-->"}
	eachArc(groups, func(g Group) string { return groupID[g.Name] }, func(t string) string { return topicID[t] },
		func(from, to string, r Role) {
			arrow := arrows[r]
			if arrow == "" {
				arrow = "-->"
			}
			fmt.Fprintf(b, "  %s %s|%s| %s\n", from, arrow, r, to)
		})
	return b.Flush()
}
