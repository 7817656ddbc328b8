package topology

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/lovoo/goka"
)

// Role is how a group uses a topic.
type Role string

// The roles of goka's edges. A group reads its inputs, joins and loopback
// partition by partition, beside the same partition of its table, so
// those must be co-partitioned; lookups are read whole and outputs are
// written by key, so their partition counts are free.
const (
	RoleInput    Role = "input"
	RoleJoin     Role = "join"
	RoleLookup   Role = "lookup"
	RoleLoopback Role = "loopback"
	RoleTable    Role = "table"
	RoleOutput   Role = "output"
)

// Copartitioned reports whether a topic in role must have as many
// partitions as the group's other co-partitioned topics.
func (r Role) Copartitioned() bool {
	return r == RoleInput || r == RoleJoin || r == RoleLoopback || r == RoleTable
}

// Edge is one topic of a group and how the group uses it.
type Edge struct {
	Role  Role
	Topic string
}

// Group is one goka group as a plain value: its name, the topology it
// belongs to and its topics in the order goka's graph lists them (inputs,
// joins, lookups, loopback, table, outputs).
type Group struct {
	Topology string
	Name     string
	Edges    []Edge
}

// FromGraph describes g, a group of the named topology. The table is
// goka's group table, whose name is that of its changelog topic.
func FromGraph(topology string, g *goka.GroupGraph) Group {
	out := Group{Topology: topology, Name: string(g.Group())}
	add := func(r Role, es ...goka.Edge) {
		for _, e := range es {
			if e != nil {
				out.Edges = append(out.Edges, Edge{Role: r, Topic: e.Topic()})
			}
		}
	}
	add(RoleInput, g.InputStreams()...)
	add(RoleJoin, g.JointTables()...)
	add(RoleLookup, g.LookupTables()...)
	add(RoleLoopback, g.LoopStream())
	add(RoleTable, g.GroupTable())
	add(RoleOutput, g.OutputStreams()...)
	return out
}

// Topics lists every topic the groups name, once each, sorted.
func Topics(groups []Group) []string {
	var out []string
	for _, g := range groups {
		for _, e := range g.Edges {
			out = append(out, e.Topic)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Problem is what keeps a group from running as declared on a cluster.
type Problem struct {
	Group string
	// Missing is set when the topic Edge names does not exist.
	Missing bool
	Edge    Edge
	// Counts, for a group whose co-partitioned topics differ, are each
	// of those topics with its partition count, in the group's order.
	Counts []TopicCount
}

// TopicCount is a topic and its partition count.
type TopicCount struct {
	Topic      string
	Partitions int32
}

func (p Problem) String() string {
	if p.Missing {
		return fmt.Sprintf("missing topic: %s (%s of %s) does not exist", p.Edge.Topic, p.Edge.Role, p.Group)
	}
	counts := make([]string, len(p.Counts))
	for i, c := range p.Counts {
		counts[i] = fmt.Sprintf("%s=%d", c.Topic, c.Partitions)
	}
	return fmt.Sprintf("not co-partitioned: %s needs one partition count for its inputs, joins, loopback and table, and has %s",
		p.Group, strings.Join(counts, " "))
}

// Check compares the groups with a cluster's topics, partitions holding
// each existing topic's partition count: every topic a group names must
// exist, and a group's co-partitioned topics must have equal counts, or
// a key's records reach an instance that does not hold its state.
func Check(groups []Group, partitions map[string]int32) []Problem {
	var out []Problem
	for _, g := range groups {
		var counts []TopicCount
		equal := true
		for _, e := range g.Edges {
			n, ok := partitions[e.Topic]
			if !ok {
				out = append(out, Problem{Group: g.Name, Missing: true, Edge: e})
				continue
			}
			if !e.Role.Copartitioned() {
				continue
			}
			equal = equal && (len(counts) == 0 || counts[0].Partitions == n)
			counts = append(counts, TopicCount{Topic: e.Topic, Partitions: n})
		}
		if !equal {
			out = append(out, Problem{Group: g.Name, Counts: counts})
		}
	}
	return out
}

// WriteDescription writes the groups topology by topology, each topic
// with its role and partition count ("missing" when partitions lacks it),
// then the problems, or that there are none.
func WriteDescription(w io.Writer, groups []Group, partitions map[string]int32, problems []Problem) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	topology := ""
	for _, g := range groups {
		if g.Topology != topology {
			if topology != "" {
				fmt.Fprintln(tw)
			}
			topology = g.Topology
			fmt.Fprintf(tw, "topology %s\n", topology)
		}
		fmt.Fprintf(tw, "  group %s\n", g.Name)
		for _, e := range g.Edges {
			count := "missing"
			if n, ok := partitions[e.Topic]; ok {
				count = fmt.Sprintf("%d partitions", n)
			}
			note := ""
			if e.Role == RoleTable {
				note = "\tgroup table; the topic is its changelog"
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s%s\n", e.Role, e.Topic, count, note)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(problems) == 0 {
		_, err := fmt.Fprintf(w, "\nok: %d groups, %d topics, every topic present and every group co-partitioned\n", len(groups), len(Topics(groups)))
		return err
	}
	fmt.Fprintf(w, "\n%d problems:\n", len(problems))
	for _, p := range problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
	return nil
}
