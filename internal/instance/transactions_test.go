package instance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/internal/replay"
	"github.com/titan-commerce/titan/schemas"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	"github.com/titan-commerce/titan/sdk"
	"github.com/titan-commerce/titan/topologies/inventorytopo"
	"github.com/titan-commerce/titan/topologies/orderstopo"
	"github.com/titan-commerce/titan/topologies/pricingtopo"
)

// TestTransactionalClient: a checkout service writes the inventory's
// commands with a transactional producer, as a Kafka Streams application
// with exactly-once does, and aborts one of its transactions. The live
// group applies the committed transactions' commands and none of the
// aborted one's. Replays of the partition, which ends on a transaction's
// marker, into two shadow namespaces read it to the end, copy none of the
// aborted records, and give the live tables.
func TestTransactionalClient(t *testing.T) {
	ctx, f := startReady(t, instance.TopologyInventory)
	names := f.inst.Names()
	const sku = "sku-txn"
	now := time.Now().UnixMilli()
	record := func(c *inventoryv1.Command) *kgo.Record {
		c.Sku, c.TimestampMs = sku, now
		b, err := proto.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return &kgo.Record{Topic: string(names.Commands), Key: []byte(sku), Value: b}
	}
	restock := func(id string, qty int64) *kgo.Record {
		return record(&inventoryv1.Command{CommandId: id, Qty: qty, Kind: &inventoryv1.Command_Restock{Restock: &inventoryv1.Restock{}}})
	}
	reserve := func(order string, qty int64) *kgo.Record {
		return record(&inventoryv1.Command{CommandId: "reserve-" + order, OrderId: order, Qty: qty,
			Kind: &inventoryv1.Command_Reserve{Reserve: &inventoryv1.Reserve{TtlMs: time.Hour.Milliseconds()}}})
	}
	cl := transactional(t, f)
	writeTxn(ctx, t, cl, true, restock("restock-1", 10))
	writeTxn(ctx, t, cl, false, restock("restock-aborted", 100), reserve("o-aborted", 1))
	last := writeTxn(ctx, t, cl, true, restock("restock-2", 5), reserve("o-1", 3))

	// The commands apply in the partition's order: once the last
	// transaction's are, the aborted one's have been passed over or
	// applied.
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var got struct {
		OnHand   int64 `json:"on_hand"`
		Reserved int64 `json:"reserved"`
	}
	seen := "nothing"
	err := pollUntil(wait, "the committed commands applied", func() (bool, string) {
		status, body, err := f.get(wait, "/v1/inventory/"+sku)
		if err == nil && status == http.StatusOK && json.Unmarshal(body, &got) == nil {
			seen = string(body)
		}
		return got.OnHand == 15 && got.Reserved == 3, seen
	}, func(ctx context.Context) {
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	})
	if err != nil {
		t.Fatalf("%v (100 more on hand, or 1 more reserved, is the aborted transaction's)", err)
	}
	if status, body, err := f.get(ctx, "/v1/inventory/reservations/o-aborted"); err != nil || status != http.StatusNotFound {
		t.Errorf("the aborted transaction's reservation: %d %s %v, want 404", status, body, err)
	}

	f.waitCommittedPast(ctx, string(names.Group), last)
	if err := kafkatest.WaitCommitted(ctx, f.adm, string(names.OrdersGroup), string(names.OrderEvents)); err != nil {
		t.Fatal(err)
	}
	before := liveSnapshot(ctx, t, f.adm, f.ns)
	var copyDone replay.Progress
	diffs, _ := replayTwice(ctx, t, f, instance.ReplayableInventory, 3, lastCopy(&copyDone))
	// Three committed commands; eight offsets with the aborted ones and
	// the three markers.
	if copyDone.Done != 8 || copyDone.Total != 8 {
		t.Errorf("the copy at %d of %d offsets, want 8 of 8", copyDone.Done, copyDone.Total)
	}
	for _, d := range diffs {
		if _, ok := d.Shadow["o-aborted"]; ok {
			t.Errorf("%s holds the aborted transaction's order", d.ShadowTable)
		}
	}
	if after := liveSnapshot(ctx, t, f.adm, f.ns); !reflect.DeepEqual(after, before) {
		t.Fatalf("the live deployment changed during the replay:\nbefore %v\nafter  %v", before, after)
	}
}

// TestTransactionalOrders: a checkout service publishes order placements in
// transactions and aborts one. The saga decides the committed order and
// never sees the aborted one. Replays of the order saga into two shadow
// namespaces, whose copies release the inputs in time order and whose
// order events end on a transaction's marker, read them to the end and
// give the live orders and prices, without the aborted order.
func TestTransactionalOrders(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	f, noDemand, p := startOrders(ctx, t, "titan-test-txn")
	saga, prices, inv := orderstopo.NamesFor(f.ns), pricingtopo.NamesFor(f.ns), inventorytopo.NamesFor(f.ns)
	if _, err := p.Send(ctx, sdk.SetPrice{IdempotencyKey: "price", SKU: "sku-a", PriceMinor: 10_000, Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	// The restock goes in once the price is applied, as in
	// TestReplayOrders: its event read first would stamp the price live.
	waitCommitted(ctx, t, f, [2]string{string(prices.Group), string(prices.Commands)})
	if _, err := p.Send(ctx, sdk.Restock{IdempotencyKey: "restock", SKU: "sku-a", Qty: 10}); err != nil {
		t.Fatal(err)
	}
	waitCommitted(ctx, t, f, [2]string{string(inv.Group), string(inv.Commands)})
	f.waitLookupCurrent(ctx, string(prices.Table()))

	// The aborted order shares the committed one's partition: the saga
	// reads them in that order.
	const order = "o-1"
	aborted := "o-aborted"
	for i := 0; partition.Partition([]byte(aborted), partitions) != partition.Partition([]byte(order), partitions); i++ {
		aborted = fmt.Sprintf("o-aborted-%d", i)
	}
	placed := func(id string) *kgo.Record {
		ev := &ordersv1.OrderEvent{EventId: "placed-" + id, OrderId: id, TimestampMs: time.Now().UnixMilli(),
			Kind: &ordersv1.OrderEvent_Placed{Placed: &ordersv1.OrderPlaced{UserId: "user-" + id, DeviceId: "device-" + id,
				PaymentId: "card-" + id, Currency: "EUR", Lines: []*ordersv1.OrderLine{{Sku: "sku-a", Qty: 1, UnitPriceMinor: 10_000}}}}}
		b, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		return &kgo.Record{Topic: string(saga.Events), Key: []byte(id), Value: b}
	}
	cl := transactional(t, f)
	since := time.Now()
	writeTxn(ctx, t, cl, false, placed(aborted))
	last := writeTxn(ctx, t, cl, true, placed(order))
	out, err := p.WaitOrderOutcome(ctx, order, since)
	if err != nil {
		t.Fatal(err)
	}
	if r := out.GetRejected(); r != nil {
		t.Fatalf("order %s rejected live: %s", order, r.GetReason())
	}
	if status, body, err := f.get(ctx, "/v1/orders/"+aborted); err != nil || status != http.StatusNotFound {
		t.Errorf("the aborted order: %d %s %v, want 404", status, body, err)
	}

	f.waitCommittedPast(ctx, string(saga.Group), last)
	waitOrdersAnswered(ctx, t, f)
	before := liveSnapshot(ctx, t, f.adm, f.ns)
	// Of the order events' four offsets, one is copied: the committed
	// placement, not the aborted one or the two markers.
	copied := sumEnds(ctx, t, f, schemas.PricingCommands, schemas.PricingInternal, schemas.InventoryEvents,
		schemas.OrderEvents, schemas.OrderSaga, schemas.InventoryOrderEvents) - 3
	var copyDone replay.Progress
	diffs, _ := replayTwice(ctx, t, f, instance.ReplayableOrders, copied, lastCopy(&copyDone),
		func(c *instance.ReplayConfig) { c.PricingRules = noDemand })
	if copyDone.Done != copyDone.Total {
		t.Errorf("the copy at %d of %d offsets, want every one passed", copyDone.Done, copyDone.Total)
	}
	if _, ok := diffs[0].Shadow[aborted]; ok || len(diffs[0].Shadow) != 1 {
		t.Errorf("the shadow saga holds %d orders, want only %s", len(diffs[0].Shadow), order)
	}
	if after := liveSnapshot(ctx, t, f.adm, f.ns); !reflect.DeepEqual(after, before) {
		t.Fatalf("the live deployment changed during the replay:\nbefore %v\nafter  %v", before, after)
	}
}

// lastCopy keeps in p the last progress of a replay's copy, beside the
// progress the replay reports already.
func lastCopy(p *replay.Progress) func(*instance.ReplayConfig) {
	return func(c *instance.ReplayConfig) {
		report := c.Progress
		c.Progress = func(q replay.Progress) {
			if report != nil {
				report(q)
			}
			if q.Phase == "copy" {
				*p = q
			}
		}
	}
}

// transactional is a client's transactional producer, keying records as
// Titan does.
func transactional(t *testing.T, f *fixture) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.brokers...), kgo.RecordPartitioner(partition.Kgo()),
		kgo.TransactionalID(f.ns+".checkout"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// writeTxn writes recs in one transaction, committed or aborted, and
// returns its last record, as written.
func writeTxn(ctx context.Context, t *testing.T, cl *kgo.Client, commit bool, recs ...*kgo.Record) *kgo.Record {
	t.Helper()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatal(err)
	}
	return recs[len(recs)-1]
}

// waitCommittedPast waits until group has committed past rec. A group
// commits the offset after the last record it processed: a transaction's
// marker after it stays ahead of the commit.
func (f *fixture) waitCommittedPast(ctx context.Context, group string, rec *kgo.Record) {
	f.t.Helper()
	err := kafkatest.WaitFor(ctx, group+" past "+rec.Topic, func() (bool, string) {
		committed, err := f.adm.FetchOffsets(ctx, group)
		if err != nil {
			return false, err.Error()
		}
		o, _ := committed.Lookup(rec.Topic, rec.Partition)
		return o.At > rec.Offset, fmt.Sprintf("at %d, the record at %d", o.At, rec.Offset)
	})
	if err != nil {
		f.t.Fatal(err)
	}
}
