package instance_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/internal/replay"
	"github.com/titan-commerce/titan/processors/fraud"
	fraudv1 "github.com/titan-commerce/titan/schemas/fraud/v1"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
	"github.com/titan-commerce/titan/topologies/fraudtopo"
	"github.com/titan-commerce/titan/topologies/orderstopo"
	"github.com/titan-commerce/titan/topologies/pricingtopo"
	"github.com/titan-commerce/titan/topologies/recommendationstopo"
)

// TestReplayPricing is the use case of titan replay: live traffic of base
// prices and campaigns goes through the pricing group; replayed into two
// shadow namespaces it gives the same table twice, equal to live; replayed
// under a rule that limits campaign discounts to 20 %, the diff names
// exactly the SKUs whose campaigns asked for more. No replay changes the
// live groups' committed offsets or the ends of the live topics.
func TestReplayPricing(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	f := start(ctx, t, instance.TopologyInventory, instance.TopologyOrders)
	f.waitReady(ctx)
	names := pricingtopo.NamesFor(f.ns)

	// Twelve SKUs at 100.00: four with a 50 % campaign and one with 30.00
	// off (more than the limit tried below), two with 10 % (less), five
	// with none.
	now := time.Now()
	var cmds []*pricingv1.Command
	moved := []string{}
	for i := range 12 {
		sku := fmt.Sprintf("sku-%02d", i)
		cmds = append(cmds, &pricingv1.Command{CommandId: "base-" + sku, Sku: sku, TimestampMs: now.UnixMilli(),
			Kind: &pricingv1.Command_SetBase{SetBase: &pricingv1.SetBasePrice{PriceMinor: 10_000, Currency: "EUR"}}})
		c := &pricingv1.Campaign{Id: "winter", StartsAtMs: now.Add(-time.Hour).UnixMilli(), EndsAtMs: now.Add(24 * time.Hour).UnixMilli()}
		switch {
		case i < 4:
			c.Kind, c.PercentBps = pricingv1.CampaignKind_CAMPAIGN_KIND_PERCENT, 5000
		case i == 4:
			c.Kind, c.AmountMinor = pricingv1.CampaignKind_CAMPAIGN_KIND_FIXED, 3000
		case i < 7:
			c.Kind, c.PercentBps = pricingv1.CampaignKind_CAMPAIGN_KIND_PERCENT, 1000
		default:
			continue
		}
		if i <= 4 {
			moved = append(moved, sku)
		}
		cmds = append(cmds, &pricingv1.Command{CommandId: "campaign-" + sku, Sku: sku, TimestampMs: now.UnixMilli(),
			Kind: &pricingv1.Command_UpsertCampaign{UpsertCampaign: &pricingv1.UpsertCampaign{Campaign: c}}})
	}
	msgs := make([]proto.Message, len(cmds))
	for i, c := range cmds {
		msgs[i] = c
	}
	send(ctx, t, f.brokers, string(names.Commands), msgs, func(m proto.Message) string { return m.(*pricingv1.Command).GetSku() })
	if err := kafkatest.WaitCommitted(ctx, f.adm, string(names.Group), string(names.Commands)); err != nil {
		t.Fatal(err)
	}

	before := liveSnapshot(ctx, t, f.adm, f.ns)
	var (
		mu    sync.Mutex
		lines []string
	)
	run := func(shadow, rules string, replace bool) (instance.ReplayResult, error) {
		return instance.Replay(ctx, instance.ReplayConfig{
			Brokers: f.brokers, Namespace: f.ns, Shadow: shadow, Topology: instance.ReplayablePricing,
			StateDir: t.TempDir(), PricingRules: rules, Replace: replace, Timeout: 2 * time.Minute,
			ProgressEvery: 200 * time.Millisecond,
			Progress: func(p replay.Progress) {
				mu.Lock()
				defer mu.Unlock()
				lines = append(lines, p.Line())
			},
		})
	}
	diff := func(shadow string) instance.TableDiff {
		t.Helper()
		d, err := instance.DiffTables(ctx, instance.DiffConfig{Brokers: f.brokers, Namespace: f.ns, Shadow: shadow, Topology: instance.ReplayablePricing})
		if err != nil {
			t.Fatal(err)
		}
		if len(d) != 1 || d[0].LiveTable != string(names.Table()) {
			t.Fatalf("pricing's tables compared: %+v", d)
		}
		return d[0]
	}

	// The same input into two shadow namespaces: identical tables, equal
	// to live.
	var tables []map[string]string
	for _, shadow := range []string{"a", "b"} {
		res, err := run(shadow, "", false)
		if err != nil {
			t.Fatalf("replay into %s: %v", shadow, err)
		}
		if res.Copied != int64(len(cmds)) || res.DeadLetters != 0 {
			t.Fatalf("replay into %s copied %d records with %d dead letters, want %d and none", shadow, res.Copied, res.DeadLetters, len(cmds))
		}
		d := diff(shadow)
		if !d.Summary.Identical() || d.Summary.Equal != 12 {
			t.Fatalf("shadow %s against live: %+v", shadow, d.Summary)
		}
		tables = append(tables, d.Shadow)
	}
	if !reflect.DeepEqual(tables[0], tables[1]) {
		t.Fatal("the two shadow tables differ")
	}
	mu.Lock()
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "replay copy: 19/19 records (100%)") }) ||
		!slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "replay process: 19/19 records (100%)") }) {
		t.Errorf("progress lines %q lack the end of the copy and of the processing", lines)
	}
	mu.Unlock()

	// A shadow namespace is not overwritten unless asked.
	if _, err := run("a", "", false); !errors.Is(err, instance.ErrReplay) || !strings.Contains(err.Error(), "--replace") {
		t.Fatalf("replay into an existing shadow: %v, want an error that names --replace", err)
	}

	// A changed rule: no campaign takes more than 20 % off.
	rules := filepath.Join(t.TempDir(), "rules.json")
	if err := os.WriteFile(rules, []byte(`{"max_campaign_discount_bps": 2000}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := run("a", rules, true); err != nil {
		t.Fatalf("replay with the limit: %v", err)
	}
	d := diff("a")
	if !reflect.DeepEqual(d.Summary.Different, moved) || len(d.Summary.OnlyLive)+len(d.Summary.OnlyShadow) != 0 || d.Summary.Equal != 12-len(moved) {
		t.Fatalf("diff under the limit: %+v, want exactly %v different", d.Summary, moved)
	}
	var report strings.Builder
	if err := replay.Report(&report, d.Summary, d.Live, d.Shadow, 10); err != nil {
		t.Fatal(err)
	}
	t.Logf("diff under the limit:\n%s", report.String())
	for _, want := range []string{"~ sku-00\n", `current.priceMinor: "5000" -> "8000"`, `current.priceMinor: "7000" -> "8000"`} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, report.String())
		}
	}

	// Bounded ranges: a time after every record selects nothing; the first
	// offset of each partition gives a table of the SKUs first priced
	// there, at their base prices, which live has moved on from or holds
	// more of.
	_, err := instance.Replay(ctx, instance.ReplayConfig{Brokers: f.brokers, Namespace: f.ns, Shadow: "later", Topology: instance.ReplayablePricing,
		Since: time.Now().Add(time.Hour)})
	if !errors.Is(err, replay.ErrBadRange) || !strings.Contains(err.Error(), "selects no records") {
		t.Fatalf("a replay since a time after every record: %v", err)
	}
	res, err := instance.Replay(ctx, instance.ReplayConfig{Brokers: f.brokers, Namespace: f.ns, Shadow: "head", Topology: instance.ReplayablePricing,
		To: []replay.Offset{{Partition: -1, Offset: 1}}, Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ends, err := kafkatest.EndOffsets(ctx, f.adm, string(names.Commands))
	if err != nil {
		t.Fatal(err)
	}
	var firsts int64
	for p, end := range ends {
		if want := (replay.Span{From: 0, To: min(end, 1)}); res.Plan["titan.pricing.commands"][p] != want {
			t.Errorf("partition %d spans %v, want %v", p, res.Plan["titan.pricing.commands"][p], want)
		}
		firsts += min(end, 1)
	}
	if d := diff("head"); res.Copied != firsts || len(d.Shadow) != int(firsts) || len(d.Summary.OnlyShadow) != 0 {
		t.Fatalf("a replay of each partition's first offset copied %d records, want %d, and holds %d keys: %+v", res.Copied, firsts, len(d.Shadow), d.Summary)
	}

	if after := liveSnapshot(ctx, t, f.adm, f.ns); !reflect.DeepEqual(after, before) {
		t.Fatalf("the live deployment changed during the replays:\nbefore %v\nafter  %v", before, after)
	}
	if before.committed[string(names.Group)] == nil {
		t.Fatalf("no committed offsets of %s to compare: %v", names.Group, before.committed)
	}
}

// TestReplayInventory: inventory traffic (restocks, reservations, one
// refused for want of stock, a commit) replayed into a shadow namespace
// gives the same stock table and order index as live, and leaves the live
// groups' committed offsets and the live topics' ends as they were.
func TestReplayInventory(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	f := start(ctx, t, instance.TopologyInventory)
	f.waitReady(ctx)
	names := f.inst.Names()
	now := time.Now().UnixMilli()
	var cmds []*inventoryv1.Command
	for i := range 6 {
		sku := fmt.Sprintf("sku-%d", i)
		cmds = append(cmds, &inventoryv1.Command{CommandId: "restock-" + sku, Sku: sku, Qty: 10, TimestampMs: now,
			Kind: &inventoryv1.Command_Restock{Restock: &inventoryv1.Restock{}}})
	}
	reserve := func(order, sku string, qty int64) *inventoryv1.Command {
		return &inventoryv1.Command{CommandId: "reserve-" + order, OrderId: order, Sku: sku, Qty: qty, TimestampMs: now,
			Kind: &inventoryv1.Command_Reserve{Reserve: &inventoryv1.Reserve{TtlMs: time.Hour.Milliseconds()}}}
	}
	cmds = append(cmds, reserve("o-1", "sku-0", 3), reserve("o-2", "sku-1", 50), reserve("o-3", "sku-2", 4),
		&inventoryv1.Command{CommandId: "commit-o-1", OrderId: "o-1", Sku: "sku-0", TimestampMs: now,
			Kind: &inventoryv1.Command_Commit{Commit: &inventoryv1.Commit{}}})
	var msgs []proto.Message
	for _, c := range cmds {
		msgs = append(msgs, c)
	}
	send(ctx, t, f.brokers, string(names.Commands), msgs, func(m proto.Message) string { return m.(*inventoryv1.Command).GetSku() })
	// In order: the stock group writes the order events the orders group reads, so the latter's
	// end offsets are final only once the former has caught up.
	for _, gt := range [][2]string{{string(names.Group), string(names.Commands)}, {string(names.OrdersGroup), string(names.OrderEvents)}} {
		if err := kafkatest.WaitCommitted(ctx, f.adm, gt[0], gt[1]); err != nil {
			t.Fatal(err)
		}
	}

	before := liveSnapshot(ctx, t, f.adm, f.ns)
	var lines []string
	res, err := instance.Replay(ctx, instance.ReplayConfig{Brokers: f.brokers, Namespace: f.ns, Shadow: "inv", Topology: instance.ReplayableInventory,
		StateDir: t.TempDir(), Timeout: 2 * time.Minute, Progress: func(p replay.Progress) { lines = append(lines, p.Line()) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Copied != int64(len(cmds)) || res.DeadLetters != 0 {
		t.Fatalf("copied %d records with %d dead letters, want %d and none", res.Copied, res.DeadLetters, len(cmds))
	}
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "replay process titan-inventory-orders: ") }) {
		t.Errorf("no progress of the order index in %q", lines)
	}
	diffs, err := instance.DiffTables(ctx, instance.DiffConfig{Brokers: f.brokers, Namespace: f.ns, Shadow: "inv", Topology: instance.ReplayableInventory})
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) != 2 || diffs[0].LiveTable != string(names.Table()) || diffs[1].LiveTable != string(names.OrdersTable()) {
		t.Fatalf("inventory's tables compared: %+v", diffs)
	}
	for _, d := range diffs {
		var report strings.Builder
		_ = replay.Report(&report, d.Summary, d.Live, d.Shadow, 5)
		// Every SKU's head and its side keys; every order reserved.
		if !d.Summary.Identical() || d.Summary.Equal < 3 {
			t.Errorf("%s against live:\n%s", d.ShadowTable, report.String())
		}
	}
	if after := liveSnapshot(ctx, t, f.adm, f.ns); !reflect.DeepEqual(after, before) {
		t.Fatalf("the live deployment changed during the replay:\nbefore %v\nafter  %v", before, after)
	}
}

// send produces messages, keyed by key, as a client would.
func send(ctx context.Context, t *testing.T, brokers []string, topic string, msgs []proto.Message, key func(proto.Message) string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(partition.Kgo()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for _, m := range msgs {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(key(m)), Value: b})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// snapshot is what a replay must not change: the committed offsets of
// every live group and the end offsets of every live topic.
type snapshot struct {
	committed map[string]map[string]map[int32]int64
	ends      map[string]map[int32]int64
}

func liveSnapshot(ctx context.Context, t *testing.T, adm *kadm.Client, ns string) snapshot {
	t.Helper()
	live := func(name string) bool {
		return strings.HasPrefix(name, ns+".") && !strings.HasPrefix(name, ns+".shadow-")
	}
	s := snapshot{committed: map[string]map[string]map[int32]int64{}, ends: map[string]map[int32]int64{}}
	groups, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.Groups() {
		if !live(g) {
			continue
		}
		committed, err := adm.FetchOffsets(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		s.committed[g] = map[string]map[int32]int64{}
		committed.Each(func(o kadm.OffsetResponse) {
			if s.committed[g][o.Topic] == nil {
				s.committed[g][o.Topic] = map[int32]int64{}
			}
			s.committed[g][o.Topic][o.Partition] = o.At
		})
	}
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range topics.Names() {
		if !live(name) {
			continue
		}
		ends, err := kafkatest.EndOffsets(ctx, adm, name)
		if err != nil {
			t.Fatal(err)
		}
		s.ends[name] = ends
	}
	return s
}

// TestReplayRefusesBadConfiguration: a mistake in a replay's settings is an
// ErrReplay naming the flag, found before anything is read or written (the
// broker given here does not exist).
func TestReplayRefusesBadConfiguration(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules.json")
	if err := os.WriteFile(rules, []byte(`{"max_campaign_discount_bps": 20000}`), 0o600); err != nil {
		t.Fatal(err)
	}
	good := instance.ReplayConfig{Brokers: []string{"127.0.0.1:1"}, Namespace: "prod", Shadow: "try-1", Topology: instance.ReplayablePricing}
	now := time.Now()
	for _, tc := range []struct {
		name string
		edit func(*instance.ReplayConfig)
		want string
	}{
		{"no brokers", func(c *instance.ReplayConfig) { c.Brokers = nil }, "--brokers"},
		{"a shadow name with a dot", func(c *instance.ReplayConfig) { c.Shadow = "a.b" }, `--shadow "a.b"`},
		{"an empty shadow name", func(c *instance.ReplayConfig) { c.Shadow = "" }, "--shadow"},
		{"a topology it cannot replay", func(c *instance.ReplayConfig) { c.Topology = "api" }, `--topology "api" cannot be replayed; supported: pricing, inventory, recommendations, fraud, orders, flashsale`},
		{"until before since", func(c *instance.ReplayConfig) { c.Since, c.Until = now, now.Add(-time.Hour) }, "--until"},
		{"rules out of range", func(c *instance.ReplayConfig) { c.PricingRules = rules }, "--pricing-rules"},
		{"rules for the inventory", func(c *instance.ReplayConfig) { c.Topology, c.PricingRules = instance.ReplayableInventory, rules }, "only the pricing topology and the order saga price"},
		{"rules missing", func(c *instance.ReplayConfig) { c.PricingRules = rules + ".missing" }, "--pricing-rules"},
		{"a fraud model for pricing", func(c *instance.ReplayConfig) { c.FraudModel = rules }, "only the fraud topology scores"},
		{"a negative reserve TTL", func(c *instance.ReplayConfig) {
			c.Topology, c.OrderReserveTTL = instance.ReplayableOrders, -time.Second
		}, "order reserve TTL"},
		{"a fraud model that is no model", func(c *instance.ReplayConfig) { c.Topology, c.FraudModel = instance.ReplayableFraud, rules }, "--fraud-model"},
		{"a fraud model missing", func(c *instance.ReplayConfig) { c.Topology, c.FraudModel = instance.ReplayableFraud, rules+".missing" }, "--fraud-model"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			_, err := instance.Replay(t.Context(), cfg)
			if !errors.Is(err, instance.ErrReplay) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Replay = %v, want an ErrReplay naming %q", err, tc.want)
			}
		})
	}
	if _, err := instance.DiffTables(t.Context(), instance.DiffConfig{Brokers: []string{"127.0.0.1:1"}, Shadow: "x", Topology: "api"}); !errors.Is(err, instance.ErrReplay) || !strings.Contains(err.Error(), "cannot be replayed") {
		t.Fatalf("DiffTables of an unsupported topology: %v", err)
	}
	for live, want := range map[string]string{"": "shadow-a", "prod": "prod.shadow-a"} {
		if ns, err := instance.ShadowNamespace(live, "a"); err != nil || ns != want {
			t.Errorf("ShadowNamespace(%q, a) = %q, %v; want %q", live, ns, err, want)
		}
	}
}

// TestReplayRecommendations: views of four users' sessions and two
// confirmed orders (and a rejected one, which buys nothing) replayed into
// two shadow namespaces give the same users, baskets and items tables
// twice, equal to live, the purchases and pairs made again by the shadow's
// own groups, and leave the live groups' committed offsets and the live
// topics' ends as they were.
func TestReplayRecommendations(t *testing.T) {
	ctx, f := startReady(t, instance.TopologyInventory, instance.TopologyRecommendations)
	names := recommendationstopo.NamesFor(f.ns)
	outcomes := orderstopo.NamesFor(f.ns).Outcomes
	// One time for every event: an item's epoch and scores then do not
	// hang on which of its senders' pairs reach it first.
	now := time.Now().UnixMilli()
	var views []proto.Message
	for u := range 4 {
		user := fmt.Sprintf("user-%d", u)
		for i := range 3 {
			views = append(views, &recommendationsv1.ViewEvent{EventId: fmt.Sprintf("view-%d-%d", u, i), UserId: user,
				Sku: fmt.Sprintf("sku-%d", (u+i)%5), SessionId: "s-" + user, TimestampMs: now})
		}
	}
	send(ctx, t, f.brokers, string(names.Views), views, func(m proto.Message) string { return m.(*recommendationsv1.ViewEvent).GetUserId() })
	line := func(sku string) *ordersv1.OrderLine {
		return &ordersv1.OrderLine{Sku: sku, Qty: 1, UnitPriceMinor: 500}
	}
	orders := []proto.Message{
		&ordersv1.OrderEvent{EventId: "out-o-1", OrderId: "o-1", TimestampMs: now, Kind: &ordersv1.OrderEvent_Confirmed{Confirmed: &ordersv1.OrderConfirmed{
			UserId: "buyer-1", Currency: "EUR", TotalMinor: 1500, Lines: []*ordersv1.OrderLine{line("sku-7"), line("sku-8"), line("sku-9")}}}},
		&ordersv1.OrderEvent{EventId: "out-o-2", OrderId: "o-2", TimestampMs: now, Kind: &ordersv1.OrderEvent_Confirmed{Confirmed: &ordersv1.OrderConfirmed{
			UserId: "buyer-2", Currency: "EUR", TotalMinor: 1000, Lines: []*ordersv1.OrderLine{line("sku-7"), line("sku-1")}}}},
		&ordersv1.OrderEvent{EventId: "out-o-3", OrderId: "o-3", TimestampMs: now, Kind: &ordersv1.OrderEvent_Rejected{Rejected: &ordersv1.OrderRejected{Reason: "out_of_stock"}}},
	}
	send(ctx, t, f.brokers, string(outcomes), orders, func(m proto.Message) string { return m.(*ordersv1.OrderEvent).GetOrderId() })
	for group, topic := range map[string]string{string(names.OrdersGroup): string(outcomes), string(names.UsersGroup): string(names.Views)} {
		if err := kafkatest.WaitCommitted(ctx, f.adm, group, topic); err != nil {
			t.Fatal(err)
		}
	}
	// In order: the users group writes the pairs the items group reads, from the purchases too.
	for _, gt := range [][2]string{{string(names.UsersGroup), string(names.Purchases)}, {string(names.ItemsGroup), string(names.Pairs)}} {
		if err := kafkatest.WaitCommitted(ctx, f.adm, gt[0], gt[1]); err != nil {
			t.Fatal(err)
		}
	}

	before := liveSnapshot(ctx, t, f.adm, f.ns)
	diffs, lines := replayTwice(ctx, t, f, instance.ReplayableRecommendations, len(views)+len(orders))
	for _, group := range []string{"titan-recs-users", "titan-recs-items"} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "replay process "+group+": ") }) {
			t.Errorf("no progress of %s in %q", group, lines)
		}
	}
	want := []string{string(names.UsersTable()), string(names.OrdersTable()), string(names.ItemsTable())}
	if len(diffs) != len(want) {
		t.Fatalf("recommendations' tables compared: %+v", diffs)
	}
	// Six users (four who viewed, two who bought), two baskets, and the
	// heads of the eight items seen, each beside its neighbors.
	for i, keys := range []int{6, 2, 8} {
		d := diffs[i]
		heads := 0
		for k := range d.Shadow {
			if !strings.Contains(k, "\x00") {
				heads++
			}
		}
		if d.LiveTable != want[i] || heads != keys || (i == 2) != (d.Summary.Equal > keys) {
			t.Errorf("%s against %s: %d heads, %+v", d.ShadowTable, d.LiveTable, heads, d.Summary)
		}
	}
	if after := liveSnapshot(ctx, t, f.adm, f.ns); !reflect.DeepEqual(after, before) {
		t.Fatalf("the live deployment changed during the replays:\nbefore %v\nafter  %v", before, after)
	}
}

// startReady starts an instance of topologies and waits until it is
// ready; the context it returns bounds the test.
func startReady(t *testing.T, topologies ...string) (context.Context, *fixture) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	t.Cleanup(cancel)
	f := start(ctx, t, topologies...)
	f.waitReady(ctx)
	return ctx, f
}

// replayTwice replays topology into the shadow namespaces a and b (their
// configuration changed by with), checks
// that each copied copied records and set none aside, that each of its
// tables is identical to live, and that the two shadows' tables are equal,
// and returns shadow b's diffs and the progress lines of both.
func replayTwice(ctx context.Context, t *testing.T, f *fixture, topology string, copied int, with ...func(*instance.ReplayConfig)) ([]instance.TableDiff, []string) {
	t.Helper()
	var (
		lines  []string
		shadow [][]instance.TableDiff
	)
	for _, name := range []string{"a", "b"} {
		cfg := instance.ReplayConfig{Brokers: f.brokers, Namespace: f.ns, Shadow: name,
			Topology: topology, StateDir: t.TempDir(), Timeout: 2 * time.Minute,
			Progress: func(p replay.Progress) { lines = append(lines, p.Line()) }}
		for _, w := range with {
			w(&cfg)
		}
		res, err := instance.Replay(ctx, cfg)
		if err != nil {
			t.Fatalf("replay into %s: %v", name, err)
		}
		if res.Copied != int64(copied) || res.DeadLetters != 0 {
			t.Fatalf("replay into %s copied %d records with %d dead letters, want %d and none", name, res.Copied, res.DeadLetters, copied)
		}
		diffs, err := instance.DiffTables(ctx, instance.DiffConfig{Brokers: f.brokers, Namespace: f.ns, Shadow: name, Topology: topology})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range diffs {
			if !d.Summary.Identical() {
				var report strings.Builder
				_ = replay.Report(&report, d.Summary, d.Live, d.Shadow, 5)
				t.Errorf("%s against %s:\n%s", d.ShadowTable, d.LiveTable, report.String())
			}
		}
		shadow = append(shadow, diffs)
	}
	for i := range shadow[0] {
		if !reflect.DeepEqual(shadow[0][i].Shadow, shadow[1][i].Shadow) {
			t.Errorf("the two shadows' %s differ", shadow[0][i].LiveTable)
		}
	}
	// Dropping a shadow leaves none of its groups and topics.
	ns, err := instance.DropShadowNamespace(ctx, f.brokers, f.ns, "a")
	if err != nil {
		t.Fatal(err)
	}
	groups, err := f.adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	topics, err := f.adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append(groups.Groups(), topics.Names()...) {
		if strings.HasPrefix(name, ns+".") {
			t.Errorf("%s is left after dropping %s", name, ns)
		}
	}
	return shadow[1], lines
}

// TestReplayFraud: observations as the saga sends them (orders from shared
// and separate devices, one without a device, a failed payment) go through
// the live fraud group; replayed into two shadow namespaces, where the loop
// from device to card to user is the shadow's own, they give the same
// table of devices, cards and users twice, equal to live, and leave the
// live groups' committed offsets and the live topics' ends as they were.
func TestReplayFraud(t *testing.T) {
	ctx, f := startReady(t, instance.TopologyInventory, instance.TopologyOrders)
	names := fraudtopo.NamesFor(f.ns)
	saga := orderstopo.NamesFor(f.ns)
	now := time.Now()
	// Each card is paid with from one device and each user pays with one
	// card, so every key reads its observations from one partition, in the
	// order live read them.
	obs := []fraud.Observation{
		fraud.NewObservation(fraud.KindOrder, "o-1", "u-0", "d-0", "c-0", "EUR", 12_000, now.Add(-5*time.Minute), fraud.Origin{}),
		fraud.NewObservation(fraud.KindOrder, "o-2", "u-0", "d-0", "c-0", "EUR", 90_000, now.Add(-4*time.Minute), fraud.Origin{}),
		fraud.NewObservation(fraud.KindOrder, "o-3", "u-1", "d-1", "c-1", "EUR", 3_000, now.Add(-4*time.Minute), fraud.Origin{}),
		fraud.NewObservation(fraud.KindPaymentFailed, "o-3", "u-1", "d-1", "c-1", "EUR", 3_000, now.Add(-3*time.Minute), fraud.Origin{}),
		fraud.NewObservation(fraud.KindOrder, "o-4", "u-2", "d-0", "c-2", "EUR", 45_000, now.Add(-2*time.Minute), fraud.Origin{}),
		fraud.NewObservation(fraud.KindOrder, "o-5", "u-3", "", "c-3", "EUR", 7_000, now.Add(-time.Minute), fraud.Origin{}),
	}
	msgs := make([]proto.Message, len(obs))
	for i, o := range obs {
		msgs[i] = fraud.ObservationToWire(o)
	}
	send(ctx, t, f.brokers, string(names.Observations), msgs, func(m proto.Message) string { return m.(*fraudv1.Observation).GetKey() })
	// The loop is waited for twice: a card's forward to the user is
	// written while the card reads it.
	for _, topic := range []string{string(names.Observations), string(names.Loop()), string(names.Loop())} {
		if err := kafkatest.WaitCommitted(ctx, f.adm, string(names.Group), topic); err != nil {
			t.Fatal(err)
		}
	}
	// The saga reads the decisions, of orders it does not know.
	if err := kafkatest.WaitCommitted(ctx, f.adm, string(saga.Group), string(saga.Saga)); err != nil {
		t.Fatal(err)
	}

	before := liveSnapshot(ctx, t, f.adm, f.ns)
	diffs, _ := replayTwice(ctx, t, f, instance.ReplayableFraud, len(obs))
	if len(diffs) != 1 || diffs[0].LiveTable != string(names.Table()) {
		t.Fatalf("fraud's tables compared: %+v", diffs)
	}
	table := diffs[0].Shadow
	for _, key := range []string{fraud.DeviceKey("d-0"), fraud.DeviceKey("d-1"), fraud.CardKey("c-0"), fraud.CardKey("c-1"), fraud.CardKey("c-2"),
		fraud.CardKey("c-3"), fraud.UserKey("u-0"), fraud.UserKey("u-1"), fraud.UserKey("u-2"), fraud.UserKey("u-3")} {
		if _, ok := table[key]; !ok {
			t.Errorf("the shadow table lacks %s: %v", key, table)
		}
	}
	// Every user scored its orders: the decisions are in the table.
	if !strings.Contains(table[fraud.UserKey("u-0")], `"o-2"`) {
		t.Errorf("u-0 holds no decision on o-2: %s", table[fraud.UserKey("u-0")])
	}
	if after := liveSnapshot(ctx, t, f.adm, f.ns); !reflect.DeepEqual(after, before) {
		t.Fatalf("the live deployment changed during the replays:\nbefore %v\nafter  %v", before, after)
	}
}
