package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/kafkaadmin"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/topology"
)

// TestTopologyDescribe creates the topics of every topology under a
// namespace of its own, one input with a partition too many and one
// output not at all, and checks that describe reports both and nothing
// else, exits 1, and passes the topologies that do not use either.
func TestTopologyDescribe(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	adm := kafkatest.Admin(t, brokers)
	ns := kafkatest.Prefix(t)
	kafkatest.DeleteNamespace(t, adm, ns)
	groups, err := describedGroups(ns, nil)
	if err != nil {
		t.Fatal(err)
	}
	var users topology.Group
	for _, g := range groups {
		if g.Name == ns+".titan-recs-users" {
			users = g
		}
	}
	if users.Name == "" {
		t.Fatalf("no recommendations users group among %d groups", len(groups))
	}
	misPartitioned := users.Edges[0].Topic // the views, an input
	missing := ns + ".titan.fraud.dlq"     // an output of the fraud group alone
	var create []string
	for _, tp := range topology.Topics(groups) {
		if tp != misPartitioned && tp != missing {
			create = append(create, tp)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for n, topics := range map[int32][]string{2: create, 3: {misPartitioned}} {
		resp, err := adm.CreateTopics(ctx, n, 1, nil, topics...)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatalf("creating %d topics: %v", len(topics), err)
		}
		// A topic just created is unknown to a broker for a moment.
		served := make([]kafkaadmin.Topic, len(topics))
		for i, tp := range topics {
			served[i] = kafkaadmin.Topic{Name: tp, Partitions: n}
		}
		if err := kafkaadmin.WaitServing(ctx, adm, served); err != nil {
			t.Fatal(err)
		}
	}

	describe := func(args ...string) (int, string, string) {
		var out, errs bytes.Buffer
		code := run(append([]string{"topology", "describe", "--brokers", strings.Join(brokers, ","), "--namespace", ns}, args...), &out, &errs)
		return code, out.String(), errs.String()
	}
	code, out, errs := describe()
	if code != 1 {
		t.Fatalf("describe exited %d, want 1:\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{
		"\n2 problems:\n",
		fmt.Sprintf("  missing topic: %s (output of %s.titan-fraud) does not exist\n", missing, ns),
		fmt.Sprintf("  not co-partitioned: %s.titan-recs-users needs one partition count for its inputs, joins, loopback and table, and has %s=3 %s.titan.recommendations.purchases=2 %s.titan-recs-users-table=2\n",
			ns, misPartitioned, ns, ns),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("describe does not say %q:\n%s", want, out)
		}
	}
	// The rows, with the columns' padding taken out.
	var rows []string
	for _, line := range strings.Split(out, "\n") {
		rows = append(rows, strings.Join(strings.Fields(line), " "))
	}
	for _, want := range []string{
		fmt.Sprintf("input %s 3 partitions", misPartitioned),
		fmt.Sprintf("output %s missing", missing),
		fmt.Sprintf("table %s.titan-inventory-table 2 partitions group table; the topic is its changelog", ns),
		fmt.Sprintf("lookup %s.titan-pricing-table 2 partitions", ns),
		fmt.Sprintf("loopback %s.titan-fraud-loop 2 partitions", ns),
	} {
		if !slices.Contains(rows, want) {
			t.Errorf("describe has no row %q:\n%s", want, out)
		}
	}
	for _, g := range groups {
		if !strings.Contains(out, "  group "+g.Name+"\n") {
			t.Errorf("describe leaves out group %s", g.Name)
		}
	}
	for _, heading := range []string{"inventory", "flashsale", "pricing", "fraud", "orders", "recommendations"} {
		if !strings.Contains(out, "topology "+heading+"\n") {
			t.Errorf("describe leaves out topology %s:\n%s", heading, out)
		}
	}
	if !strings.Contains(errs, "2 problems") {
		t.Errorf("stderr %q does not say the cluster does not fit", errs)
	}

	// Neither topic belongs to the inventory or the flash sales.
	code, out, errs = describe("--topologies", "inventory,flashsale")
	if code != 0 || !strings.Contains(out, "\nok: 4 groups,") || strings.Contains(out, "recs") {
		t.Errorf("describe --topologies inventory,flashsale exited %d:\n%s\n%s", code, out, errs)
	}
	t.Setenv("TITAN_TOPOLOGIES", "inventory")
	if code, out, _ = describe(); code != 0 || !strings.Contains(out, "\nok: 2 groups,") {
		t.Errorf("describe with TITAN_TOPOLOGIES=inventory exited %d:\n%s", code, out)
	}
}

func TestTopologyUsage(t *testing.T) {
	t.Setenv("TITAN_KAFKA_BROKERS", "") // make test sets it
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"topology"}, 0, "titan topology describe"},
		{[]string{"topology", "help"}, 0, "--format"},
		{[]string{"topology", "draw"}, 2, `unknown topology command "draw"`},
		{[]string{"topology", "describe"}, 2, "--brokers: describe checks the topics on a cluster"},
		{[]string{"topology", "describe", "--brokers", "127.0.0.1:1", "--timeout", "0s"}, 2, "--timeout"},
		{[]string{"topology", "describe", "--brokers", "127.0.0.1:1", "--timeout", "300ms"}, 1, "listing topics"},
		{[]string{"topology", "graph", "--format", "svg"}, 2, `--format "svg": want dot or mermaid`},
		{[]string{"topology", "graph", "--topologies", "nope"}, 2, "nope"},
		{[]string{"topology", "graph", "--namespace", "bad/name"}, 2, "namespace"},
	} {
		var out, errs bytes.Buffer
		code := run(tc.args, &out, &errs)
		if code != tc.code || !strings.Contains(out.String()+errs.String(), tc.want) {
			t.Errorf("titan %q exited %d with %q %q; want %d and %q", tc.args, code, out.String(), errs.String(), tc.code, tc.want)
		}
	}
}

// TestTopologyGraph: graph writes the instance's groups in the format
// asked for, the same drawing internal/topology makes of them (whose tests
// parse it back), and DOT when none is asked for.
func TestTopologyGraph(t *testing.T) {
	groups, err := describedGroups("staging", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args  []string
		write func(*bytes.Buffer, []topology.Group) error
	}{
		{nil, func(b *bytes.Buffer, g []topology.Group) error { return topology.WriteDOT(b, g) }},
		{[]string{"--format", "dot"}, func(b *bytes.Buffer, g []topology.Group) error { return topology.WriteDOT(b, g) }},
		{[]string{"--format", "mermaid"}, func(b *bytes.Buffer, g []topology.Group) error { return topology.WriteMermaid(b, g) }},
	} {
		var out, errs, want bytes.Buffer
		if code := run(append([]string{"topology", "graph", "--namespace", "staging"}, tc.args...), &out, &errs); code != 0 {
			t.Fatalf("graph %q exited %d: %s", tc.args, code, errs.String())
		}
		if err := tc.write(&want, groups); err != nil {
			t.Fatal(err)
		}
		if out.String() != want.String() {
			t.Errorf("graph %q wrote\n%s\nwant\n%s", tc.args, out.String(), want.String())
		}
		for _, g := range groups {
			if !strings.Contains(out.String(), `"`+g.Name+`"`) {
				t.Errorf("graph %q leaves out %s", tc.args, g.Name)
			}
		}
	}
}
