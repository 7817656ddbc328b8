package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/topology"
	"github.com/titan-commerce/titan/schemas"
)

const topologyUsage = `Usage:
  titan topology describe [flags]            every goka group an instance runs, topology by topology: its inputs,
                                             joins, lookups, loopback, table and outputs with their partition counts
                                             on the cluster; exits 1 when a topic is missing or a group's inputs,
                                             joins, loopback and table differ in partition count
  titan topology graph --format dot|mermaid  the same groups and topics as Graphviz DOT or Mermaid, on stdout

Both describe the groups titan run builds from the same flags, without starting any.

Flags (environment variable in brackets):
`

// topologyCommand runs a topology command.
func topologyCommand(args []string, stdout, stderr io.Writer) int {
	return subcommand("topology", topologyUsage, []string{"describe", "graph"}, topologyFlags, args, stdout, stderr)
}

// topologyFlags declares the flags of a topology command; do runs it once
// they are parsed.
func topologyFlags(cmd string, stderr io.Writer) (*flag.FlagSet, func(stdout, stderr io.Writer) int) {
	fs := flag.NewFlagSet("titan topology "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		namespace  = fs.String("namespace", "", "namespace of the deployment, as given to titan run [TITAN_NAMESPACE]")
		topologies = fs.String("topologies", "", "comma-separated topologies, as given to titan run; empty means all [TITAN_TOPOLOGIES]")
		brokers    *string
		timeout    *time.Duration
		format     *string
	)
	env := map[string]string{"namespace": "TITAN_NAMESPACE", "topologies": "TITAN_TOPOLOGIES"}
	if cmd == "describe" {
		brokers = fs.String("brokers", "", "comma-separated Kafka brokers of the cluster to check [TITAN_KAFKA_BROKERS]")
		timeout = fs.Duration("timeout", 30*time.Second, "how long reading the cluster's topics may take")
		env["brokers"] = "TITAN_KAFKA_BROKERS"
	} else {
		format = fs.String("format", "dot", "dot (Graphviz) or mermaid")
	}
	return fs, func(stdout, stderr io.Writer) int {
		errs := applyEnv(fs, env)
		if brokers != nil && len(splitList(*brokers)) == 0 {
			errs = append(errs, errors.New("--brokers: describe checks the topics on a cluster; name its brokers"))
		}
		if format != nil && *format != "dot" && *format != "mermaid" {
			errs = append(errs, fmt.Errorf("--format %q: want dot or mermaid", *format))
		}
		if timeout != nil && *timeout <= 0 {
			errs = append(errs, fmt.Errorf("--timeout %v: must be positive", *timeout))
		}
		var groups []topology.Group
		if len(errs) == 0 {
			var err error
			groups, err = describedGroups(*namespace, splitList(*topologies))
			errs = append(errs, err)
		}
		if err := errors.Join(errs...); err != nil {
			fmt.Fprintf(stderr, "titan: %v\n", err)
			return 2
		}
		if cmd == "graph" {
			write := topology.WriteDOT
			if *format == "mermaid" {
				write = topology.WriteMermaid
			}
			if err := write(stdout, groups); err != nil {
				fmt.Fprintf(stderr, "titan: %v\n", err)
				return 1
			}
			return 0
		}
		return describe(splitList(*brokers), *timeout, groups, stdout, stderr)
	}
}

// describedGroups are the groups an instance of namespace running
// topologies builds (every topology when empty).
func describedGroups(namespace string, topologies []string) ([]topology.Group, error) {
	graphs, err := instance.Graphs(instance.Config{Namespace: namespace, Topologies: topologies})
	if err != nil {
		return nil, err
	}
	var out []topology.Group
	for _, t := range graphs {
		for _, g := range t.Groups {
			out = append(out, topology.FromGraph(t.Topology, g))
		}
	}
	// Each name is the namespace and a valid name of Titan's: one that
	// Kafka refuses has the namespace at fault.
	for _, tp := range topology.Topics(out) {
		if err := schemas.CheckTopic(tp); err != nil {
			return nil, fmt.Errorf("--namespace %q: %w", namespace, err)
		}
	}
	return out, nil
}

// describe reads the partition counts of the groups' topics on brokers,
// writes the description and returns 1 when the cluster does not fit it.
func describe(brokers []string, timeout time.Duration, groups []topology.Group, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	partitions, err := partitionCounts(ctx, brokers, topology.Topics(groups))
	if err != nil {
		fmt.Fprintf(stderr, "titan: %v\n", err)
		return 1
	}
	problems := topology.Check(groups, partitions)
	if err := topology.WriteDescription(stdout, groups, partitions, problems); err != nil {
		fmt.Fprintf(stderr, "titan: %v\n", err)
		return 1
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "titan: the cluster does not fit the topologies: %d problems\n", len(problems))
		return 1
	}
	return 0
}

// partitionCounts are the partition counts of the topics that exist on
// brokers among topics.
func partitionCounts(ctx context.Context, brokers []string, topics []string) (map[string]int32, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, fmt.Errorf("--brokers %v: %w", brokers, err)
	}
	defer cl.Close()
	details, err := kadm.NewClient(cl).ListTopics(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("listing topics on %v: %w", brokers, err)
	}
	out := make(map[string]int32, len(details))
	for name, d := range details {
		switch {
		case d.Err == nil:
			out[name] = int32(len(d.Partitions))
		case !errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			// Not missing, but unreadable (not authorized, say): saying
			// it is missing would send the operator to create it.
			return nil, fmt.Errorf("topic %s: %w", name, d.Err)
		}
	}
	return out, nil
}
