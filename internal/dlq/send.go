package dlq

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/deadletter"
	"github.com/titan-commerce/titan/internal/partition"
)

// Sent is where one dead letter's record went back to, or why it did not.
type Sent struct {
	ID        deadletter.ID
	Partition int32
	Offset    int64
	Err       error
}

// Send writes each entry's original key and value to its source topic and
// waits for Kafka's answers. The producer is idempotent with acks=all, so
// a retried send is written once and an acknowledged one survives the loss
// of the partition's leader, and places records by Titan's partitioner
// (internal/partition), so each goes to the partition its key belongs to,
// even when it was set aside for arriving in another. Records of one
// source partition go out in the order given.
func Send(ctx context.Context, brokers []string, entries []Entry) ([]Sent, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ClientID(ClientID),
		kgo.RecordPartitioner(partition.Kgo()), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		return nil, fmt.Errorf("dlq: kafka client: %w", err)
	}
	defer cl.Close()
	records := make([]*kgo.Record, len(entries))
	index := make(map[*kgo.Record]int, len(entries))
	for i, e := range entries {
		records[i] = &kgo.Record{Topic: e.Letter.Topic, Key: []byte(e.Letter.Key), Value: e.Letter.Value}
		index[records[i]] = i
	}
	// ProduceSync gives its results in the order they came, not the
	// order of records.
	out := make([]Sent, len(entries))
	for _, r := range cl.ProduceSync(ctx, records...) {
		i := index[r.Record]
		out[i] = Sent{ID: entries[i].Letter.ID(), Partition: r.Record.Partition, Offset: r.Record.Offset, Err: r.Err}
	}
	return out, nil
}
