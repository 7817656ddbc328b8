package instance_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/partition"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// BenchmarkDeadLetterFlood measures what a flood of malformed commands
// costs the partition it lands on: TITAN_BENCH_DEAD_LETTERS records (5,000
// by default) that are not commands, all on one SKU's partition, each set
// aside with its reason before the next is read. Its ceiling, in the same
// run, is as many valid commands (restocks) on another SKU's partition: a
// bad record should cost its partition no more than a good one.
//
//	TITAN_KAFKA_BROKERS=127.0.0.1:19092 go test -run '^$' -bench DeadLetterFlood -benchtime 1x ./internal/instance/
func BenchmarkDeadLetterFlood(b *testing.B) {
	n := 5000
	if v := os.Getenv("TITAN_BENCH_DEAD_LETTERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("TITAN_BENCH_DEAD_LETTERS=%q: want a positive number", v)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	f := start(ctx, b, instance.TopologyInventory)
	f.waitReady(ctx)
	names := f.inst.Names()
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.brokers...), kgo.RecordPartitioner(partition.Kgo()),
		kgo.DefaultProduceTopic(string(names.Commands)))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	written := func(topic string) int64 {
		ends, err := kafkatest.EndOffsets(ctx, f.adm, topic)
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		for _, e := range ends {
			n += e
		}
		return n
	}
	// The time from the first record sent until out holds one record for
	// each: its dead letter, or a restock's event.
	timed := func(records []*kgo.Record, out string) time.Duration {
		before := written(out)
		start := time.Now()
		if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
			b.Fatal(err)
		}
		for written(out) < before+int64(len(records)) {
			if ctx.Err() != nil {
				b.Fatalf("%s: %v", out, ctx.Err())
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Since(start)
	}
	var bad, good time.Duration
	b.ResetTimer()
	for i := range b.N {
		var garbage, restocks []*kgo.Record
		for j := range n {
			garbage = append(garbage, &kgo.Record{Key: []byte("flooded"), Value: []byte(fmt.Sprintf("\xff not a command %d-%d", i, j))})
			v, err := proto.Marshal(&inventoryv1.Command{CommandId: fmt.Sprintf("restock-%d-%d", i, j), Sku: "calm", Qty: 1,
				TimestampMs: time.Now().UnixMilli(), Kind: &inventoryv1.Command_Restock{Restock: &inventoryv1.Restock{}}})
			if err != nil {
				b.Fatal(err)
			}
			restocks = append(restocks, &kgo.Record{Key: []byte("calm"), Value: v})
		}
		bad += timed(garbage, string(names.DeadLetters))
		good += timed(restocks, string(names.Events))
	}
	b.StopTimer()
	records, err := kafkatest.ReadAll(ctx, f.brokers, f.adm, string(names.DeadLetters))
	if err != nil {
		b.Fatal(err)
	}
	if len(records) != n*b.N {
		b.Fatalf("%d dead letters, want %d", len(records), n*b.N)
	}
	total := float64(n * b.N)
	b.ReportMetric(total/bad.Seconds(), "dead-letters/s")
	b.ReportMetric(total/good.Seconds(), "ceiling-commands/s")
	b.ReportMetric(100*good.Seconds()/bad.Seconds(), "%-of-ceiling")
}
