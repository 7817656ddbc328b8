package instance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/internal/replay"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// TestTransactionalClient: a checkout service writes the inventory's
// commands with a transactional producer, as a Kafka Streams application
// with exactly-once does, and aborts one of its transactions. The live
// group applies the committed transactions' commands and none of the
// aborted one's. A replay of the partition, which ends on a transaction's
// marker, reads it to the end, copies none of the aborted records, and
// gives the live tables.
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
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.brokers...), kgo.RecordPartitioner(partition.Kgo()),
		kgo.TransactionalID(f.ns+".checkout"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// txn returns its last record, as written.
	txn := func(commit bool, recs ...*kgo.Record) *kgo.Record {
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
	txn(true, restock("restock-1", 10))
	txn(false, restock("restock-aborted", 100), reserve("o-aborted", 1))
	last := txn(true, restock("restock-2", 5), reserve("o-1", 3))

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
	err = pollUntil(wait, "the committed commands applied", func() (bool, string) {
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

	// The group commits the offset after the last record it processed:
	// the last transaction's marker stays behind it.
	err = kafkatest.WaitFor(ctx, "the live group's commit", func() (bool, string) {
		committed, err := f.adm.FetchOffsets(ctx, string(names.Group))
		if err != nil {
			return false, err.Error()
		}
		o, _ := committed.Lookup(string(names.Commands), last.Partition)
		return o.At > last.Offset, fmt.Sprintf("at %d, the last record at %d", o.At, last.Offset)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := kafkatest.WaitCommitted(ctx, f.adm, string(names.OrdersGroup), string(names.OrderEvents)); err != nil {
		t.Fatal(err)
	}
	before := liveSnapshot(ctx, t, f.adm, f.ns)
	var copyDone replay.Progress
	res, err := instance.Replay(ctx, instance.ReplayConfig{Brokers: f.brokers, Namespace: f.ns, Shadow: "txn",
		Topology: instance.ReplayableInventory, StateDir: t.TempDir(), Timeout: time.Minute,
		Progress: func(p replay.Progress) {
			if p.Phase == "copy" {
				copyDone = p
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	// Three committed commands; eight offsets with the aborted ones and
	// the three markers.
	if res.Copied != 3 || copyDone.Done != 8 || copyDone.Total != 8 {
		t.Errorf("copied %d records, the copy at %d of %d; want 3 copied and 8 of 8 offsets passed", res.Copied, copyDone.Done, copyDone.Total)
	}
	diffs, err := instance.DiffTables(ctx, instance.DiffConfig{Brokers: f.brokers, Namespace: f.ns, Shadow: "txn", Topology: instance.ReplayableInventory})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		var report strings.Builder
		_ = replay.Report(&report, d.Summary, d.Live, d.Shadow, 5)
		if !d.Summary.Identical() || d.Summary.Equal == 0 {
			t.Errorf("%s against live:\n%s", d.ShadowTable, report.String())
		}
		if _, ok := d.Shadow["o-aborted"]; ok {
			t.Errorf("%s holds the aborted transaction's order", d.ShadowTable)
		}
	}
	if after := liveSnapshot(ctx, t, f.adm, f.ns); !reflect.DeepEqual(after, before) {
		t.Fatalf("the live deployment changed during the replay:\nbefore %v\nafter  %v", before, after)
	}
}
