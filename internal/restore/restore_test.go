package restore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/restore"
	"github.com/titan-commerce/titan/state"
)

// produce writes records to partition 1 of topic and returns them as
// the broker stamped them.
func produce(t *testing.T, brokers []string, topic string, records []*kgo.Record) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, r := range records {
		r.Topic, r.Partition = topic, 1
	}
	if err := cl.ProduceSync(t.Context(), records...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return records
}

// loader is restore.Loader for partitions of any size, on brokers.
func loader(t *testing.T, brokers []string, min int64) state.Loader {
	t.Helper()
	admin, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	return restore.Loader(admin, min, kgo.SeedBrokers(brokers...))
}

// keyed is n records under keys of their own.
func keyed(n int) []*kgo.Record {
	records := make([]*kgo.Record, n)
	for i := range records {
		records[i] = &kgo.Record{Key: fmt.Appendf(nil, "k%d", i), Value: []byte("v")}
	}
	return records
}

func collect(t *testing.T, ctx context.Context, load state.Loader, topic string, partition int32) ([]state.Record, error) {
	t.Helper()
	var got []state.Record
	err := load(ctx, topic, partition, func(r state.Record) error {
		// The record's slices are the loader's again after add.
		got = append(got, state.Record{Key: bytes.Clone(r.Key), Value: bytes.Clone(r.Value), Offset: r.Offset})
		return nil
	})
	return got, err
}

func TestLoaderReadsThePartitionToItsEnd(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topics(t, brokers, 2, "changelog")["changelog"]
	var records []*kgo.Record
	for i := range 2000 {
		r := &kgo.Record{Key: fmt.Appendf(nil, "k%d", i%300), Value: fmt.Appendf(nil, "v%d", i)}
		switch i % 7 {
		case 3:
			r.Value = nil // a delete
		case 5:
			r.Value = []byte{}
		}
		records = append(records, r)
	}
	sent := produce(t, brokers, topic, records)
	load := loader(t, brokers, 1)

	got, err := collect(t, t.Context(), load, topic, 1)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if len(got) != len(sent) {
		t.Fatalf("%d records, want %d", len(got), len(sent))
	}
	for i, r := range got {
		s := sent[i]
		if r.Offset != s.Offset || string(r.Key) != string(s.Key) || string(r.Value) != string(s.Value) ||
			(r.Value == nil) != (s.Value == nil) {
			t.Fatalf("record %d: %q=%q@%d (nil %v), want %q=%q@%d (nil %v)", i, r.Key, r.Value, r.Offset,
				r.Value == nil, s.Key, s.Value, s.Offset, s.Value == nil)
		}
	}

	// The other partition is empty: nothing to read, nothing to wait for.
	start := time.Now()
	if got, err := collect(t, t.Context(), load, topic, 0); err != nil || len(got) != 0 {
		t.Errorf("empty partition: %d records, %v", len(got), err)
	}
	if d := time.Since(start); d > restore.Idle {
		t.Errorf("empty partition took %v", d)
	}
}

func TestLoaderStopsWhereItsCallerDoes(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topics(t, brokers, 2, "changelog")["changelog"]
	produce(t, brokers, topic, keyed(100))
	load := loader(t, brokers, 1)

	stop := errors.New("full")
	n := 0
	err := load(t.Context(), topic, 1, func(state.Record) error {
		if n++; n == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 10 {
		t.Errorf("after add failed: %d records, %v", n, err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := collect(t, ctx, load, topic, 1); err == nil {
		t.Errorf("a cancelled load returned no error")
	}
}

func TestLoaderOfAnUnknownTopicFails(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	load := loader(t, brokers, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 2*restore.Idle)
	defer cancel()
	if _, err := collect(t, ctx, load, kafkatest.Prefix(t)+".missing", 0); err == nil {
		t.Errorf("no error for a topic that does not exist")
	}
}

func TestLoaderLeavesASmallPartitionToGoka(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topics(t, brokers, 2, "changelog")["changelog"]
	produce(t, brokers, topic, keyed(100))
	if got, err := collect(t, t.Context(), loader(t, brokers, 101), topic, 1); err != nil || len(got) != 0 {
		t.Errorf("100 records under a minimum of 101: %d loaded, %v", len(got), err)
	}
	if got, err := collect(t, t.Context(), loader(t, brokers, 100), topic, 1); err != nil || len(got) != 100 {
		t.Errorf("100 records at a minimum of 100: %d loaded, %v", len(got), err)
	}
}

// A partition whose last offset holds no record a consumer is given (here
// a transaction's commit marker) ends its load after the stall bound, with
// every record it held, rather than waiting for an offset that never
// comes.
func TestLoaderEndsWhenTheEndOffsetNeverArrives(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Topics(t, brokers, 2, "changelog")["changelog"]
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionalID(kafkatest.Prefix(t)+".txn"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	records := keyed(10)
	for _, r := range records {
		r.Topic, r.Partition = topic, 1
	}
	if err := cl.ProduceSync(t.Context(), records...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(t.Context(), kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	// The coordinator writes the commit marker after EndTransaction
	// returns.
	adm := kadm.NewClient(cl)
	for end := int64(0); end <= records[len(records)-1].Offset+1; {
		if t.Context().Err() != nil {
			t.Fatal("no commit marker")
		}
		ends, err := adm.ListEndOffsets(t.Context(), topic)
		if err != nil {
			t.Fatal(err)
		}
		e, _ := ends.Lookup(topic, 1)
		end = e.Offset
	}

	start := time.Now()
	got, err := collect(t, t.Context(), loader(t, brokers, 1), topic, 1)
	if err == nil {
		t.Errorf("a load short of the end offset returned no error")
	}
	if len(got) != len(records) {
		t.Errorf("%d records, want %d", len(got), len(records))
	}
	if d := time.Since(start); d > restore.Idle {
		t.Errorf("the load took %v: longer than its first wait", d)
	}
}
