package pricingtopo_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/instancetest"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/partition"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
	"github.com/titan-commerce/titan/topologies/pricingtopo"
)

// A campaign on a SKU that sees no traffic starts and ends on time: only a
// base price and the campaign are sent, and the ticker publishes the rest.
func TestCampaignStartsAndEndsWithoutTraffic(t *testing.T) {
	ns := kafkatest.Prefix(t)
	names := pricingtopo.NamesFor(ns)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	inst := instancetest.Run(ctx, t, instance.Config{
		Namespace:     ns,
		Partitions:    2,
		InstanceID:    "ticker-test",
		Topologies:    []string{instance.TopologyInventory, instance.TopologyOrders},
		SweepInterval: 200 * time.Millisecond,
	})
	brokers := inst.Brokers()
	adm := kafkatest.Admin(t, brokers)

	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(partition.Kgo()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	const sku = "quiet-sku"
	now := time.Now()
	start, end := now.Add(3*time.Second).UnixMilli(), now.Add(6*time.Second).UnixMilli()
	var recs []*kgo.Record
	for _, c := range []*pricingv1.Command{
		{CommandId: "base", Sku: sku, TimestampMs: now.UnixMilli(),
			Kind: &pricingv1.Command_SetBase{SetBase: &pricingv1.SetBasePrice{PriceMinor: 10_000, Currency: "EUR"}}},
		{CommandId: "campaign", Sku: sku, TimestampMs: now.UnixMilli(),
			Kind: &pricingv1.Command_UpsertCampaign{UpsertCampaign: &pricingv1.UpsertCampaign{Campaign: &pricingv1.Campaign{
				Id: "flash", Kind: pricingv1.CampaignKind_CAMPAIGN_KIND_PERCENT, PercentBps: 2500,
				StartsAtMs: start, EndsAtMs: end}}}},
	} {
		b, err := proto.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: string(names.Commands), Key: []byte(sku), Value: b})
	}
	if err := client.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	want := []string{
		fmt.Sprintf("base_price 10000 @%d", now.UnixMilli()),
		fmt.Sprintf("campaign_started 7500 @%d", start),
		fmt.Sprintf("campaign_ended 10000 @%d", end),
	}
	var got []string
	err = kafkatest.WaitFor(ctx, "price changes", func() (bool, string) {
		recs, err := kafkatest.ReadAll(ctx, brokers, adm, string(names.Events))
		if err != nil {
			return false, err.Error()
		}
		got = got[:0]
		for _, r := range recs {
			var pc pricingv1.PriceChanged
			if err := proto.Unmarshal(r.Value, &pc); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s %d @%d", pc.GetCause(), pc.GetPriceMinor(), pc.GetTimestampMs()))
		}
		return len(got) >= len(want), fmt.Sprint(got)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("published %q, want %q", got, want)
	}

	// The changes came from the ticker's commands, one per boundary unless
	// a tick was resent.
	cmds, err := kafkatest.ReadAll(ctx, brokers, adm, string(names.Internal))
	if err != nil {
		t.Fatal(err)
	}
	ticks := map[string]bool{}
	for _, r := range cmds {
		var c pricingv1.Command
		if err := proto.Unmarshal(r.Value, &c); err != nil {
			t.Fatal(err)
		}
		if c.GetTick() != nil {
			ticks[c.GetCommandId()] = true
		}
	}
	for _, due := range []int64{start, end} {
		if id := fmt.Sprintf("titan:tick:%s:%d", sku, due); !ticks[id] {
			t.Errorf("no tick %s among %v", id, ticks)
		}
	}
}
