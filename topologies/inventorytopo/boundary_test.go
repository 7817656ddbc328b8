package inventorytopo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// deadLetters reads the inventory's dead-letter topic once the group has
// committed every command, by the key of the record set aside.
func deadLetters(ctx context.Context, t *testing.T, d *deployment) map[string][]observe.DeadLetter {
	t.Helper()
	ends, err := d.endOffsets(ctx, d.names.Commands)
	if err == nil {
		err = d.waitCommitted(ctx, d.names.Commands, ends)
	}
	if err != nil {
		t.Fatal(err)
	}
	recs, err := kafkatest.ReadAll(ctx, d.brokers, d.adm, string(d.names.DeadLetters))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]observe.DeadLetter{}
	for _, r := range recs {
		var dl observe.DeadLetter
		if err := json.Unmarshal(r.Value, &dl); err != nil {
			t.Fatalf("dead letter %d/%d: %v", r.Partition, r.Offset, err)
		}
		out[dl.Key] = append(out[dl.Key], dl)
	}
	return out
}

// TestClientsCannotMoveTheClock sends, on the public commands topic,
// commands stamped a year ahead, near the end of int64, hours behind, and
// commands in Titan's namespace. Each is set aside with its reason before
// it touches the SKU: a reservation made just before is still open with its
// own deadline, and the SKU's clock has not moved.
func TestClientsCannotMoveTheClock(t *testing.T) {
	d := newDeployment(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	d.waitBalanced(ctx, d.start(ctx, "a", t.TempDir()))
	l := d.eventLog()
	s := d.sender()
	now := time.Now()
	send := func(c inventory.Command) {
		s.send(ctx, inventory.CommandToWire(c))
	}
	send(inventory.Command{ID: "stock", Kind: inventory.KindRestock, SKU: "sku-t", Qty: 10, Time: now})
	send(inventory.Command{ID: "hold", Kind: inventory.KindReserve, SKU: "sku-t", OrderID: "o1", Qty: 2, TTL: 10 * time.Minute, Time: now})
	if err := s.flush(ctx); err != nil {
		t.Fatal(err)
	}

	// The same producer a client would use, without the SDK's checks.
	raw, err := kgo.NewClient(kgo.SeedBrokers(d.brokers...), kgo.RecordPartitioner(partition.Kgo()),
		kgo.DefaultProduceTopic(string(d.names.Commands)))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	bad := map[string]struct {
		cmd    inventory.Command
		reason schemas.Reason
	}{
		"year-ahead": {inventory.Command{Kind: inventory.KindRestock, Qty: 1, Time: now.AddDate(1, 0, 0)}, schemas.ReasonInvalidTimestamp},
		"int64-max": {inventory.Command{Kind: inventory.KindReserve, OrderID: "o2", Qty: 1, TTL: time.Minute,
			Time: time.UnixMilli(math.MaxInt64)}, schemas.ReasonInvalidTimestamp},
		"hours-behind":                 {inventory.Command{Kind: inventory.KindRestock, Qty: 1, Time: now.Add(-3 * time.Hour)}, schemas.ReasonInvalidTimestamp},
		"titan:order:o1:sku-t:release": {inventory.Command{Kind: inventory.KindRelease, OrderID: "o1", Time: now}, schemas.ReasonReservedID},
		"expire-now":                   {inventory.Command{Kind: inventory.KindExpire, OrderID: "o1", Time: now.Add(4 * time.Minute)}, schemas.ReasonInternalKind},
	}
	for id, b := range bad {
		c := b.cmd
		c.ID, c.SKU = id, "sku-t"
		v, err := proto.Marshal(inventory.CommandToWire(c))
		if err != nil {
			t.Fatal(err)
		}
		if err := raw.ProduceSync(ctx, &kgo.Record{Key: []byte("sku-t"), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	send(inventory.Command{ID: "after", Kind: inventory.KindRestock, SKU: "sku-t", Qty: 1, Time: time.Now()})
	if err := s.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.pollUntil(ctx, "the last command's result", func() (bool, string) { return len(l.results["after"]) > 0, "" }); err != nil {
		t.Fatal(err)
	}

	letters := deadLetters(ctx, t, d)
	for id, b := range bad {
		got := letters["sku-t"]
		found := false
		for _, dl := range got {
			var w inventoryv1.Command
			if proto.Unmarshal(dl.Value, &w) == nil && w.GetCommandId() == id {
				found = true
				if dl.Reason != string(b.reason) {
					t.Errorf("%s: dead letter reason %q, want %q", id, dl.Reason, b.reason)
				}
			}
		}
		if !found {
			t.Errorf("%s: no dead letter", id)
		}
		if len(l.results[id]) != 0 {
			t.Errorf("%s: a refused command has a result: %+v", id, l.results[id][0].ev)
		}
	}
	after := l.results["after"][0].ev
	if after.Stock != (inventory.Stock{OnHand: 11, Reserved: 2}) {
		t.Errorf("stock after the refused commands %+v, want 11 on hand, 2 reserved", after.Stock)
	}
	if after.Time.After(time.Now().Add(time.Minute)) {
		t.Errorf("the SKU's clock moved to %v", after.Time)
	}
	held := l.results["hold"][0].ev
	if d := held.ExpiresAt.Sub(now); d < 9*time.Minute || d > 11*time.Minute {
		t.Errorf("the reservation expires at %v, %v after it was made", held.ExpiresAt, d)
	}
	for _, e := range l.bySKU["sku-t"] {
		if e.ev.Type == inventory.EventExpired {
			t.Errorf("a reservation expired: %+v", e.ev)
		}
	}
}

// TestWrongPartitionIsRefused writes restocks the way a client with
// librdkafka's default partitioner (consistent_random: crc32 of the key)
// does: most land in another partition than Titan's (murmur2), whose owner
// has no state for them. Every such restock is set aside as wrong_partition
// with the partition it belongs to, before it touches any state; the ones
// that land right are applied. A reservation sent after them, placed
// right, sees exactly the stock of the restocks that were applied: none is
// shown and then lost.
func TestWrongPartitionIsRefused(t *testing.T) {
	d := newDeployment(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	d.waitBalanced(ctx, d.start(ctx, "a", t.TempDir()))
	l := d.eventLog()

	crc, err := kgo.NewClient(kgo.SeedBrokers(d.brokers...), kgo.DefaultProduceTopic(string(d.names.Commands)),
		kgo.RecordPartitioner(kgo.BasicConsistentPartitioner(func(topic string) func(*kgo.Record, int) int {
			return func(r *kgo.Record, n int) int { return int(crc32.ChecksumIEEE(r.Key) % uint32(n)) }
		})))
	if err != nil {
		t.Fatal(err)
	}
	defer crc.Close()
	const skus = 200
	right := map[string]bool{}
	for i := range skus {
		sku := fmt.Sprintf("crc-%03d", i)
		v, err := proto.Marshal(inventory.CommandToWire(inventory.Command{
			ID: "restock-" + sku, Kind: inventory.KindRestock, SKU: sku, Qty: 5, Time: time.Now()}))
		if err != nil {
			t.Fatal(err)
		}
		rec := &kgo.Record{Key: []byte(sku), Value: v}
		if err := crc.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
		right[sku] = rec.Partition == partition.Partition([]byte(sku), partitions)
	}
	s := d.sender()
	for i := range skus {
		sku := fmt.Sprintf("crc-%03d", i)
		s.send(ctx, inventory.CommandToWire(inventory.Command{ID: "reserve-" + sku, Kind: inventory.KindReserve,
			SKU: sku, OrderID: "o-" + sku, Qty: 5, TTL: time.Hour, Time: time.Now()}))
	}
	if err := s.flush(ctx); err != nil {
		t.Fatal(err)
	}
	err = l.pollUntil(ctx, "every reservation answered", func() (bool, string) {
		n := 0
		for i := range skus {
			if len(l.results[fmt.Sprintf("reserve-crc-%03d", i)]) > 0 {
				n++
			}
		}
		return n == skus, fmt.Sprintf("%d of %d", n, skus)
	})
	if err != nil {
		t.Fatal(err)
	}

	letters := deadLetters(ctx, t, d)
	wrong := 0
	for sku, ok := range right {
		res := l.results["reserve-"+sku][0].ev
		dls := letters[sku]
		if ok {
			if len(dls) != 0 || res.Type != inventory.EventReserved || res.Stock != (inventory.Stock{OnHand: 5, Reserved: 5}) {
				t.Errorf("%s, placed right: dead letters %+v, reservation %v %+v", sku, dls, res.Type, res.Stock)
			}
			continue
		}
		wrong++
		if len(dls) != 1 || dls[0].Reason != observe.ReasonWrongPartition || dls[0].BelongsTo == nil ||
			*dls[0].BelongsTo != partition.Partition([]byte(sku), partitions) {
			t.Errorf("%s, placed wrong: dead letters %+v", sku, dls)
		}
		if res.Type != inventory.EventRejected || res.Reason != inventory.ReasonInsufficientStock || res.Stock != (inventory.Stock{}) {
			t.Errorf("%s: the misplaced restock reached the SKU: reservation %v %s %+v", sku, res.Type, res.Reason, res.Stock)
		}
		if len(l.results["restock-"+sku]) != 0 {
			t.Errorf("%s: the misplaced restock has a result", sku)
		}
	}
	if wrong < skus/2 {
		t.Fatalf("only %d of %d restocks landed in the wrong partition: the test proves little", wrong, skus)
	}
	t.Logf("%d of %d restocks in the wrong partition, all set aside", wrong, skus)
}
