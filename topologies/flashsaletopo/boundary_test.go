package flashsaletopo_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkaadmin"
	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/internal/topology"
	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/processors/inventory"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	"github.com/titan-commerce/titan/sdk"
	"github.com/titan-commerce/titan/state"
	"github.com/titan-commerce/titan/topologies/flashsaletopo"
	"github.com/titan-commerce/titan/topologies/inventorytopo"
)

// TestPublicTopicsRefuseTitansMessages: what only Titan may send, sent on
// the public topics by a client's producer, is set aside with its reason
// and changes nothing: an inventory command on a sale's allocation, and a
// creation, a retired definition, an abandon or a close of a sale.
func TestPublicTopicsRefuseTitansMessages(t *testing.T) {
	d := newDeployment(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	n := d.start(ctx, "a", t.TempDir())
	if err := d.waitStable(ctx, 1, nodesReady(n)); err != nil {
		t.Fatal(err)
	}
	il := d.inventoryLog()
	sv := d.saleView(ctx)
	b := d.buyer()
	s := flashsale.Sale{ID: "fs-public", SKU: "sku-fs-public", Units: 3, Start: ms(time.Now()), End: ms(time.Now().Add(time.Hour)),
		PerUserLimit: 1, Buckets: 2}
	d.openSale(ctx, b, il, sv, s, 3)

	// A client's producer, with the partitioner every writer uses, that
	// checks nothing.
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.brokers...), kgo.RecordPartitioner(partition.Kgo()), kgo.ClientID("titan-test-client"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(topic goka.Stream, key string, m proto.Message) {
		t.Helper()
		v, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: string(topic), Key: []byte(key), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	order := flashsale.AllocationOrder(s.ID)
	for _, c := range []inventory.Command{
		{ID: "client-release", Kind: inventory.KindRelease, OrderID: order, SKU: s.SKU, Time: now},
		{ID: "client-commit", Kind: inventory.KindCommit, OrderID: order, SKU: s.SKU, Qty: 3, Time: now},
		{ID: flashsale.SettleCommandID(s.ID), Kind: inventory.KindRelease, OrderID: "o-1", SKU: s.SKU, Time: now},
	} {
		produce(d.inv.Commands, c.SKU, inventory.CommandToWire(c))
	}
	other := s
	other.ID = "fs-forged"
	for _, m := range []flashsale.Message{
		{Kind: flashsale.KindCreate, SaleID: other.ID, Key: d.router.Sale(other.ID), Sale: other, Time: now},
		{Kind: flashsale.KindDefine, SaleID: other.ID, Key: d.router.Sale(other.ID), Sale: other, Time: now},
		{Kind: flashsale.KindAbandon, SaleID: s.ID, Key: d.router.Sale(s.ID), Time: now.Add(time.Hour)},
		{Kind: flashsale.KindClose, SaleID: s.ID, Key: d.router.Bucket(s.ID, 1), Bucket: 1, Time: now.Add(2 * time.Hour)},
	} {
		produce(d.fs.Commands, m.Key, flashsale.MessageToWire(m))
	}

	for _, want := range []struct {
		topic   goka.Stream
		reasons map[string]int
	}{
		{d.inv.DeadLetters, map[string]int{"reserved_id": 3}},
		{d.fs.DeadLetters, map[string]int{"internal_kind": 4}},
	} {
		total := 0
		for _, n := range want.reasons {
			total += n
		}
		got, err := d.deadLetters(ctx, want.topic, total)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want.reasons) {
			t.Errorf("%s: dead letters by reason %v, want %v", want.topic, got, want.reasons)
		}
	}
	// Nothing changed: the forged sale does not exist, the real one is
	// open with every unit, and the inventory holds the allocation.
	if st, err := saleState(sv, d.router, other.ID); err != nil || st.Phase != flashsale.PhaseNone {
		t.Errorf("forged sale %+v %v", st, err)
	}
	if st, err := saleState(sv, d.router, s.ID); err != nil || st.Phase != flashsale.PhaseOpen {
		t.Errorf("sale %+v %v", st, err)
	}
	buckets, err := bucketStates(sv, d.router, s)
	if err != nil || buckets[1].Closed {
		t.Errorf("bucket 1 closed by a client: %+v %v", buckets, err)
	}
	iv := d.startView(ctx, d.inv.Table(), inventorytopo.HeadCodec)
	if v, err := iv.Get(s.SKU); err != nil || v == nil || v.(inventory.Head).Stock != (inventory.Stock{OnHand: 3, Reserved: 3}) {
		t.Errorf("stock %+v %v", v, err)
	}
}

// deadLetters reads topic from the start until it holds at least n dead
// letters (or a little while has passed with fewer) and counts them by
// reason.
func (d *deployment) deadLetters(ctx context.Context, topic goka.Stream, n int) (map[string]int, error) {
	cl := d.reader(topic)
	byReason := map[string]int{}
	total := 0
	quiet := time.Now().Add(15 * time.Second)
	for total < n && time.Now().Before(quiet) {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var bad error
		fetches.EachRecord(func(r *kgo.Record) {
			var dl observe.DeadLetter
			if err := json.Unmarshal(r.Value, &dl); err != nil {
				bad = errors.Join(bad, err)
				return
			}
			byReason[dl.Reason]++
			total++
		})
		if bad != nil {
			return nil, bad
		}
	}
	return byReason, nil
}

// TestCreationStallReleasesOnTheBroker: the inventory applies the sale's
// allocation but its answer never reaches the sale key (here, the
// inventory runs without the route back). Past the deadline the settler
// abandons the creation; the sale fails with the reason, and the release
// the sale key sends lands after its reserve on the inventory's internal
// topic, so the units are available again.
func TestCreationStallReleasesOnTheBroker(t *testing.T) {
	d := newDeployment(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	n := d.startWith(ctx, "inventory-only", t.TempDir(), instance.TopologyInventory)
	if err := kafkaadmin.Ensure(ctx, d.adm, 1, d.fs.Topics(partitions)); err != nil {
		t.Fatal(err)
	}
	const timeout = 3 * time.Second
	topo := d.startFlashSale(ctx, flashsale.Policy{CreationTimeout: timeout, AllocationGrace: time.Hour})
	if err := d.waitStable(ctx, 1, func() (bool, string) {
		return n.inst.Ready() && topo.Recovered(), "not ready"
	}); err != nil {
		t.Fatal(err)
	}
	il := d.inventoryLog()
	sv := d.saleView(ctx)
	iv := d.startView(ctx, d.inv.Table(), inventorytopo.HeadCodec)
	b := d.buyer()
	s := flashsale.Sale{ID: "fs-stall", SKU: "sku-fs-stall", Units: 5, Start: ms(time.Now()), End: ms(time.Now().Add(time.Hour)),
		PerUserLimit: 1, Buckets: 2}
	d.restock(ctx, il, s.SKU, 5)
	created := time.Now()
	d.create(ctx, b, s)

	var st flashsale.SaleState
	err := waitFor(ctx, "the creation abandoned", func() (bool, string) {
		var err error
		st, err = saleState(sv, d.router, s.ID)
		return err == nil && st.Phase == flashsale.PhaseFailed, fmt.Sprintf("%+v %v", st, err)
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Reason != flashsale.ReasonCreationTimedOut || time.Since(created) < timeout {
		t.Errorf("failed %q after %v, deadline %v", st.Reason, time.Since(created), timeout)
	}
	order := flashsale.AllocationOrder(s.ID)
	err = il.pollUntil(ctx, "the allocation reserved, then released", func() (bool, string) {
		evs := il.allocations[order]
		return len(evs) >= 2, fmt.Sprintf("%d events", len(evs))
	})
	if err != nil {
		t.Fatal(err)
	}
	if evs := il.allocations[order]; evs[0].Type != inventory.EventReserved || evs[0].CommandID != flashsale.AllocateCommandID(s.ID) ||
		evs[1].Type != inventory.EventReleased || evs[1].CommandID != flashsale.AbandonCommandID(s.ID) || len(evs) != 2 {
		t.Errorf("allocation events %+v", evs)
	}
	err = waitFor(ctx, "the units back", func() (bool, string) {
		v, err := iv.Get(s.SKU)
		if err != nil || v == nil {
			return false, fmt.Sprint(err)
		}
		stock := v.(inventory.Head).Stock
		return stock == inventory.Stock{OnHand: 5}, fmt.Sprintf("%+v", stock)
	})
	if err != nil {
		t.Error(err)
	}
	if buckets, err := bucketStates(sv, d.router, s); err != nil || buckets[0].Opened || buckets[1].Opened {
		t.Errorf("buckets opened: %+v %v", buckets, err)
	}
}

// startFlashSale runs the flash-sale topology by itself in this process,
// with policy, until the test ends.
func (d *deployment) startFlashSale(ctx context.Context, policy flashsale.Policy) *flashsaletopo.Topology {
	t := d.t
	t.Helper()
	sb, err := state.NewBuilder(t.TempDir(), state.WithSync(state.SyncNone))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.brokers...), kgo.RecordPartitioner(partition.Kgo()), kgo.ProducerLinger(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	topo, err := flashsaletopo.New(flashsaletopo.Options{
		Base: topology.Base{
			Goka:       gokaopts.Config{Brokers: d.brokers, Replication: 1, Storage: sb.Build, ClientID: "titan-test-flashsale", Logger: d.log},
			Partitions: partitions,
			Logger:     d.log,
		},
		Names: d.fs, Inventory: d.inv.Internal,
		Local: func(topic string) []storage.Storage {
			var out []storage.Storage
			for _, p := range sb.Open(topic) {
				if p.Storage.Recovered() {
					out = append(out, p.Storage)
				}
			}
			return out
		},
		Send:   sdk.NewKeyed(cl, string(d.fs.Internal), (*flashsalev1.Message).GetKey).SendAll,
		Policy: policy, SettleInterval: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- topo.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("flash-sale topology: %v", err)
			}
		case <-time.After(stopWait):
			t.Errorf("flash-sale topology did not stop within %v", stopWait)
		}
		cl.Close()
		_ = sb.Close()
	})
	return topo
}

// TestStartRefusesMispartitionedFlashSaleTopics: the allocations topic the
// inventory answers a sale on must be co-partitioned with the sale keys:
// an instance refuses to start on one with another partition count, and
// the co-partitioning check names the group.
func TestStartRefusesMispartitionedFlashSaleTopics(t *testing.T) {
	d := newDeployment(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := kafkaadmin.Ensure(ctx, d.adm, 1, []kafkaadmin.Topic{{Name: string(d.fs.Allocations), Partitions: partitions / 2}}); err != nil {
		t.Fatal(err)
	}
	_, err := instance.New(ctx, instance.Config{
		Brokers: d.brokers, Namespace: d.ns, StateDir: t.TempDir(), Partitions: partitions,
		Topologies: []string{instance.TopologyInventory, instance.TopologyFlashSale}, Logger: d.log,
	})
	if !errors.Is(err, kafkaadmin.ErrMismatch) {
		t.Fatalf("instance started on an allocations topic of %d partitions: %v", partitions/2, err)
	}
	if err := kafkaadmin.Ensure(ctx, d.adm, 1, d.fs.Topics(partitions)[:2]); err != nil {
		t.Fatal(err)
	}
	err = kafkaadmin.CheckCopartitioned(ctx, d.adm, d.fs.Copartitioned()...)
	if !errors.Is(err, kafkaadmin.ErrNotCopartitioned) || !strings.Contains(err.Error(), string(d.fs.Group)) {
		t.Fatalf("co-partitioning check: %v", err)
	}
}
