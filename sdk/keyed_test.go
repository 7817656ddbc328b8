package sdk_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/partition"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	"github.com/titan-commerce/titan/sdk"
)

func keyedClient(t *testing.T, seeds []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(partition.Kgo()),
		kgo.ProducerLinger(0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// SendAll writes every message under its key, in the partition Titan's
// partitioner gives that key, and returns the offset each was written at.
func TestKeyedSendAllPlacesByKey(t *testing.T) {
	const topic = "titan.inventory.internal"
	c := newCluster(t, topic)
	k := sdk.NewKeyed(keyedClient(t, c.ListenAddrs()), topic, (*inventoryv1.Command).GetSku)
	msgs := make([]*inventoryv1.Command, 40)
	for i := range msgs {
		msgs[i] = command(i)
	}
	offsets, err := k.SendAll(testContext(t), msgs)
	if err != nil || len(offsets) != len(msgs) {
		t.Fatalf("SendAll = %v, %v", offsets, err)
	}
	recs := consumeAll(t, c, topic, len(msgs))
	byID := map[string]*kgo.Record{}
	for _, r := range recs {
		var w inventoryv1.Command
		if err := proto.Unmarshal(r.Value, &w); err != nil {
			t.Fatal(err)
		}
		byID[w.GetCommandId()] = r
	}
	for i, m := range msgs {
		r := byID[m.GetCommandId()]
		switch {
		case r == nil:
			t.Fatalf("%s not written", m.GetCommandId())
		case string(r.Key) != m.GetSku():
			t.Errorf("%s keyed %q, want %q", m.GetCommandId(), r.Key, m.GetSku())
		case r.Partition != partition.Partition(r.Key, partitions):
			t.Errorf("%s in partition %d, its key hashes to %d", m.GetCommandId(), r.Partition, partition.Partition(r.Key, partitions))
		case r.Offset != offsets[i]:
			t.Errorf("%s at offset %d, SendAll said %d", m.GetCommandId(), r.Offset, offsets[i])
		}
	}
}

// A message that cannot be encoded fails the call before anything is
// sent; a send Kafka does not take is -1 with its error.
func TestKeyedSendAllFailures(t *testing.T) {
	k := sdk.NewKeyed(keyedClient(t, []string{"127.0.0.1:1"}), "t", (*inventoryv1.Command).GetSku)
	if offsets, err := k.SendAll(testContext(t), []*inventoryv1.Command{command(1), nil}); err == nil || offsets != nil {
		t.Errorf("SendAll with a nil message = %v, %v; want an error and nothing sent", offsets, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	offsets, err := k.SendAll(ctx, []*inventoryv1.Command{command(1), command(2)})
	if err == nil || len(offsets) != 2 || offsets[0] != -1 || offsets[1] != -1 {
		t.Errorf("SendAll without a broker = %v, %v; want -1 each and the error", offsets, err)
	}
}

// TrySend into a full buffer fails at once, with ErrBufferFull, for the
// API to shed the request.
func TestKeyedTrySendFailsFastWhenFull(t *testing.T) {
	cl := keyedClient(t, []string{"127.0.0.1:1"}, kgo.MaxBufferedRecords(1))
	k := sdk.NewKeyed(cl, "t", (*inventoryv1.Command).GetSku)
	ctx := testContext(t)
	cl.Produce(ctx, &kgo.Record{Topic: "t", Value: []byte("x")}, nil)
	start := time.Now()
	_, _, err := k.TrySend(ctx, command(1))
	if !errors.Is(err, sdk.ErrBufferFull) || !errors.Is(err, kgo.ErrMaxBuffered) {
		t.Fatalf("TrySend into a full buffer: %v, want ErrBufferFull", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the refused send took %v: it waited for room", took)
	}
}

// A Keyed writer on a Producer writes through the producer's client, with
// Titan's partitioner.
func TestKeyedOnProducer(t *testing.T) {
	const topic = "titan.inventory.internal"
	c := newCluster(t, topic)
	p := newProducer(t, c, sdk.WithLinger(0))
	k := sdk.KeyedOn(p, topic, (*inventoryv1.Command).GetSku)
	msgs := []*inventoryv1.Command{command(1), command(2), command(3)}
	offsets, err := k.SendAll(testContext(t), msgs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range consumeAll(t, c, topic, len(msgs)) {
		if want := partition.Partition(r.Key, partitions); r.Partition != want {
			t.Errorf("%s in partition %d, its key hashes to %d", r.Key, r.Partition, want)
		}
	}
	if len(offsets) != len(msgs) {
		t.Errorf("SendAll returned %d offsets for %d messages", len(offsets), len(msgs))
	}
	part, _, err := k.TrySend(testContext(t), command(4))
	if err != nil || part != partition.Partition([]byte(command(4).GetSku()), partitions) {
		t.Errorf("TrySend: partition %d, %v", part, err)
	}
}
