package instance

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/lovoo/goka"
)

// edges spells out a group graph: each kind of edge with its topics.
func edges(g *goka.GroupGraph) string {
	topics := func(es ...goka.Edge) []string {
		var out []string
		for _, e := range es {
			if e != nil {
				out = append(out, e.Topic())
			}
		}
		return out
	}
	return fmt.Sprintf("inputs %q joins %q lookups %q loop %q table %q outputs %q",
		topics(g.InputStreams()...), topics(g.JointTables()...), topics(g.LookupTables()...),
		topics(g.LoopStream()), topics(g.GroupTable()), topics(g.OutputStreams()...))
}

// TestGraphsAreWhatRuns: the graphs Graphs returns for a configuration
// are those of the processors New builds for it, group by group and edge
// by edge, for each set of topologies; New here builds them on the
// embedded broker, and Run runs them until they are ready.
func TestGraphsAreWhatRuns(t *testing.T) {
	for _, topologies := range [][]string{
		{TopologyInventory},
		{TopologyInventory, TopologyFlashSale},
		{TopologyInventory, TopologyOrders, TopologyRecommendations},
		{TopologyInventory, TopologyFlashSale, TopologyOrders, TopologyRecommendations},
	} {
		t.Run(fmt.Sprint(topologies), func(t *testing.T) {
			cfg := Config{Namespace: "ns", Topologies: topologies, Partitions: 1, PeerAddr: "",
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			graphs, err := Graphs(cfg)
			if err != nil {
				t.Fatal(err)
			}
			described := map[string]string{}
			var names []string
			for _, tg := range graphs {
				names = append(names, tg.Topology)
				for _, g := range tg.Groups {
					described[string(g.Group())] = edges(g)
				}
			}
			wantNames := slices.Clone(topologies)
			if slices.Contains(topologies, TopologyOrders) {
				// The saga runs with the pricing and fraud groups it asks.
				wantNames = slices.Insert(wantNames, slices.Index(wantNames, TopologyOrders), "pricing", "fraud")
			}
			if !slices.Equal(names, wantNames) {
				t.Errorf("topologies %q, want %q", names, wantNames)
			}
			inst, err := New(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			done := make(chan error, 1)
			go func() { done <- inst.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
			}()
			// Waited for, so that stopping it is not a failed start.
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for !inst.Ready() {
				select {
				case <-ctx.Done():
					t.Fatalf("not ready; %d of %d groups running", len(inst.processors()), len(described))
				case <-tick.C:
				}
			}
			running := map[string]string{}
			for group, p := range inst.processors() {
				running[group] = edges(p.Graph())
			}
			if !maps.Equal(described, running) {
				t.Errorf("described:\n%v\nrunning:\n%v", described, running)
			}
		})
	}
}
