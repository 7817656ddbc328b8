package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/partition"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
	"github.com/titan-commerce/titan/topologies/pricingtopo"
)

// TestReplayBadInputExits2: a mistake in a replay command exits 2 with a
// message naming the flag, before any broker is asked (127.0.0.1:1 has
// none).
func TestReplayBadInputExits2(t *testing.T) {
	rules := writeFile(t, "rules.json", `{"max_campaign_discount_bps": "20%"}`)
	b := []string{"--brokers", "127.0.0.1:1", "--topology", "pricing"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{append([]string{"replay", "--shadow", "Not OK"}, b...), "--shadow"},
		{[]string{"replay", "--brokers", "127.0.0.1:1", "--shadow", "a", "--topology", "api"}, "--topology"},
		{append([]string{"replay", "--shadow", "a", "--from-offset", "0:x"}, b...), "--from-offset"},
		{append([]string{"replay", "--shadow", "a", "--to-offset", "-5"}, b...), "--to-offset"},
		{append([]string{"replay", "--shadow", "a", "--since", "yesterday"}, b...), "--since"},
		{append([]string{"replay", "--shadow", "a", "--since", "1h", "--until", "2h"}, b...), "--until"},
		{append([]string{"replay", "--shadow", "a", "--pricing-rules", rules}, b...), "--pricing-rules"},
		{append([]string{"replay", "--shadow", "a", "--log-level", "loud"}, b...), "--log-level"},
		{append([]string{"replay", "--shadow", "a", "--max-time-behind", "-1s"}, b...), "--max-time-behind"},
		{[]string{"replay", "--brokers", "127.0.0.1:1", "--shadow", "a", "--topology", "inventory", "--pricing-rules", rules}, "only the pricing topology and the order saga price"},
		{append([]string{"replay", "--shadow", "a", "--fraud-model", rules}, b...), "only the fraud topology scores"},
		{[]string{"replay", "--brokers", "127.0.0.1:1", "--shadow", "a", "--topology", "fraud", "--fraud-model", rules}, "--fraud-model"},
		{append([]string{"replay", "--shadow", "a", "extra"}, b...), `unexpected argument "extra"`},
		{append([]string{"replay", "diff", "--shadow", "a", "--limit", "-1"}, b...), "--limit"},
		{[]string{"replay", "diff", "--brokers", "127.0.0.1:1", "--shadow", "a", "--topology", "api"}, "--topology"},
		{[]string{"replay", "drop", "--brokers", "127.0.0.1:1", "--shadow", "a.b"}, "--shadow"},
		{[]string{"replay", "--no-such-flag"}, "no-such-flag"},
		{append([]string{"replay", "diff", "--shadow", "a", "--live", "prod", "--namespace", "staging"}, b...), "name two deployments"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(tc.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%q exited %d with %q, want 2 naming %s", tc.args, code, stderr.String(), tc.want)
		}
	}
	t.Setenv("TITAN_KAFKA_BROKERS", "")
	var stderr bytes.Buffer
	if code := run([]string{"replay", "--shadow", "a", "--topology", "pricing"}, &bytes.Buffer{}, &stderr); code != 2 || !strings.Contains(stderr.String(), "--brokers") {
		t.Errorf("a replay without brokers exited %d with %q, want 2 naming --brokers", code, stderr.String())
	}
	// titan run takes the rules file too, and refuses one it cannot read.
	if code := run([]string{"run", "--pricing-rules", rules}, &bytes.Buffer{}, &stderr); code != 2 || !strings.Contains(stderr.String(), "pricing rules") {
		t.Errorf("titan run with a bad rules file exited %d with %q, want 2", code, stderr.String())
	}
	var help bytes.Buffer
	if code := run([]string{"replay", "help"}, &help, &help); code != 0 || !strings.Contains(help.String(), "--from-offset") || !strings.Contains(help.String(), "exit 0 when identical") {
		t.Errorf("replay help exited %d:\n%s", code, help.String())
	}
}

// TestReplayCommand runs titan replay, diff and drop against a live
// instance: progress comes as plain lines off a terminal, diff exits 0 for
// a faithful replay and 1, naming the SKU, for one under a changed rule,
// and 2 once the shadow is dropped.
func TestReplayCommand(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	ns := kafkatest.Prefix(t)
	adm := kafkatest.Admin(t, brokers)
	kafkatest.DeleteNamespace(t, adm, ns)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	inst, err := instance.New(ctx, instance.Config{Brokers: brokers, Namespace: ns, StateDir: t.TempDir(), Partitions: 2,
		InstanceID: "replay-cli", Topologies: []string{instance.TopologyInventory, instance.TopologyOrders},
		Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inst.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		select {
		case <-done:
		case <-time.After(90 * time.Second):
			t.Error("instance did not stop within 90s")
		}
	})
	names := pricingtopo.NamesFor(ns)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(partition.Kgo()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	now := time.Now()
	var recs []*kgo.Record
	for _, c := range []*pricingv1.Command{
		{CommandId: "base-1", Sku: "sku-1", TimestampMs: now.UnixMilli(), Kind: &pricingv1.Command_SetBase{SetBase: &pricingv1.SetBasePrice{PriceMinor: 10_000, Currency: "EUR"}}},
		{CommandId: "base-2", Sku: "sku-2", TimestampMs: now.UnixMilli(), Kind: &pricingv1.Command_SetBase{SetBase: &pricingv1.SetBasePrice{PriceMinor: 5_000, Currency: "EUR"}}},
		{CommandId: "sale-1", Sku: "sku-1", TimestampMs: now.UnixMilli(), Kind: &pricingv1.Command_UpsertCampaign{UpsertCampaign: &pricingv1.UpsertCampaign{
			Campaign: &pricingv1.Campaign{Id: "sale", Kind: pricingv1.CampaignKind_CAMPAIGN_KIND_PERCENT, PercentBps: 4000,
				StartsAtMs: now.Add(-time.Hour).UnixMilli(), EndsAtMs: now.Add(time.Hour).UnixMilli()}}}},
	} {
		b, err := proto.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: string(names.Commands), Key: []byte(c.GetSku()), Value: b})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := kafkatest.WaitCommitted(ctx, adm, string(names.Group), string(names.Commands)); err != nil {
		t.Fatal(err)
	}

	titan := func(want int, args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		args = append(args, "--brokers", strings.Join(brokers, ","), "--namespace", ns, "--shadow", "cli")
		if code := run(args, &stdout, &stderr); code != want {
			t.Fatalf("titan %q exited %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, want, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	out := titan(0, "replay", "--topology", "pricing")
	for _, want := range []string{"replay copy: 3/3 records (100%)", "replay process: 3/3 records (100%)", "replayed 3 records of pricing into shadow namespace " + ns + ".shadow-cli"} {
		if !strings.Contains(out, want) {
			t.Errorf("replay printed no %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\r") || strings.Count(out, "replay copy: 3/3 records") != 1 {
		t.Errorf("replay drew a bar off a terminal, or said the copy ended more than once:\n%q", out)
	}
	if out := titan(0, "replay", "diff", "--topology", "pricing"); !strings.Contains(out, "the tables are identical") {
		t.Errorf("diff of a faithful replay:\n%s", out)
	}
	// --live names the live deployment as --namespace does, over the
	// environment's.
	t.Setenv("TITAN_NAMESPACE", "elsewhere")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"replay", "diff", "--topology", "pricing", "--brokers", strings.Join(brokers, ","), "--live", ns, "--shadow", "cli"},
		&stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "live "+ns+".titan-pricing-table") {
		t.Errorf("diff --live exited %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	rules := writeFile(t, "rules.json", `{"max_campaign_discount_bps": 2500}`)
	titan(0, "replay", "--topology", "pricing", "--replace", "--pricing-rules", rules)
	out = titan(1, "replay", "diff", "--topology", "pricing")
	for _, want := range []string{"keys: 1 equal, 1 different, 0 only in live, 0 only in shadow", "~ sku-1\n", `current.priceMinor: "6000" -> "7500"`} {
		if !strings.Contains(out, want) {
			t.Errorf("diff under a changed rule printed no %q:\n%s", want, out)
		}
	}
	if out := titan(0, "replay", "drop"); !strings.Contains(out, "dropped shadow namespace "+ns+".shadow-cli") {
		t.Errorf("drop printed %q", out)
	}
	titan(2, "replay", "diff", "--topology", "pricing")
}
