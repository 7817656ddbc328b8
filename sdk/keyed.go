package sdk

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/schemas/codec"
)

// Keyed writes one kind of protobuf message to one topic, each under the
// key the topic's processors read it by, through a franz-go client its
// owner configures and shares. Producer is the client a shop's services
// write with; Keyed is for writers of Titan's own topics (an instance's
// expiries, ticks, settlements and timeouts, the API's commands), which
// validate what they send themselves. The client must place keys with
// Titan's partitioner (internal/partition), as every Titan client does.
type Keyed[M proto.Message] struct {
	client *kgo.Client
	topic  string
	key    func(M) string
	enc    *codec.Proto[M]
}

// NewKeyed returns the writer of messages M to topic through client,
// keyed by key.
func NewKeyed[M proto.Message](client *kgo.Client, topic string, key func(M) string) Keyed[M] {
	return Keyed[M]{client: client, topic: topic, key: key, enc: codec.NewProto[M]()}
}

// Topic is the topic k writes to.
func (k Keyed[M]) Topic() string { return k.topic }

func (k Keyed[M]) record(m M) (*kgo.Record, error) {
	v, err := k.enc.Encode(m)
	if err != nil {
		return nil, fmt.Errorf("sdk: %s: %w", k.topic, err)
	}
	return &kgo.Record{Topic: k.topic, Key: []byte(k.key(m)), Value: v}, nil
}

// SendAll produces msgs, waits until Kafka has answered for every one, and
// returns the offset each was written at, -1 where its send failed, with
// the failures joined. A message that cannot be encoded fails the call
// before anything is sent. It waits for room in a full buffer.
func (k Keyed[M]) SendAll(ctx context.Context, msgs []M) ([]int64, error) {
	recs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		r, err := k.record(m)
		if err != nil {
			return nil, err
		}
		recs[i] = r
	}
	at := make(map[*kgo.Record]int, len(recs))
	for i, r := range recs {
		at[r] = i
	}
	offsets := make([]int64, len(msgs))
	var errs []error
	// ProduceSync lists its results as Kafka answered them, not in the
	// order of the records: each is matched to its record.
	for _, r := range k.client.ProduceSync(ctx, recs...) {
		i := at[r.Record]
		offsets[i] = r.Record.Offset
		if r.Err != nil {
			offsets[i] = -1
			errs = append(errs, r.Err)
		}
	}
	return offsets, errors.Join(errs...)
}

// TrySend produces m and waits for its acknowledgement, returning where
// Kafka put it, but does not queue behind a full buffer: a client that
// already buffers its kgo.MaxBufferedRecords fails the send at once with
// an error that wraps ErrBufferFull, for a request to be shed rather than
// held. TryProduce does not flush as ProduceSync does, so a client it
// serves must not linger: a request would wait the linger out.
func (k Keyed[M]) TrySend(ctx context.Context, m M) (partition int32, offset int64, err error) {
	r, err := k.record(m)
	if err != nil {
		return 0, 0, err
	}
	done := make(chan error, 1)
	k.client.TryProduce(ctx, r, func(_ *kgo.Record, err error) { done <- err })
	if err := <-done; err != nil {
		if errors.Is(err, kgo.ErrMaxBuffered) {
			return 0, 0, fmt.Errorf("sdk: produce to %s: %w", k.topic, ErrBufferFull)
		}
		return 0, 0, fmt.Errorf("sdk: produce to %s: %w", k.topic, err)
	}
	return r.Partition, r.Offset, nil
}

// KeyedOn returns the writer of messages M to topic through p's client:
// for a Titan instance, whose own writes share one producer built, like a
// client's, idempotent with acks=all and Titan's partitioner. Its sends
// are bounded by the client's own buffer (kgo.MaxBufferedRecords through
// WithKgoOptions), not by WithBuffer, and p should not linger (WithLinger(0)):
// TrySend would wait the linger out. A nil p gives a writer that only
// names its topic, for describing a topology without building it.
func KeyedOn[M proto.Message](p *Producer, topic string, key func(M) string) Keyed[M] {
	var client *kgo.Client
	if p != nil {
		client = p.client
	}
	return NewKeyed(client, topic, key)
}
