package gokaopts

import (
	"context"
	"fmt"
	"hash"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/internal/partition"
)

// goka sends a processor's outputs and state writes through sarama's async
// producer unless given another. Titan gives it franz-go's, for the one
// thing a processor cannot do without: a partition's records land in the
// order they were handed over, also when its leader dies.
//
// sarama breaks that order in both its modes, as the failover tests showed
// on the three-node cluster. Not idempotent, it sent the records that came
// after a batch stuck on a dead leader to the new leader first, and the
// stuck batch landed behind them. Idempotent, it failed the stuck batch with
// OutOfOrderSequenceNumber, bumped its epoch and let the later records land
// anyway. Either way a key of the flash sale, which ignores loop messages at
// or before the last origin it applied, dropped the late ones for good.
// franz-go's idempotent producer waits out a leader move and keeps the
// sequence: it retries the stuck batch on the new leader ahead of anything
// after it.

const (
	// metadataMinAge is the least time between two metadata requests of a
	// producer; franz-go asks again on every failed send once it has passed.
	metadataMinAge = 250 * time.Millisecond

	// deliveryTimeout bounds how long a record is retried before its send
	// fails, which fails the processor for the supervisor to rebuild: long
	// enough for a cluster to move a dead broker's leaderships many times
	// over, short enough that a cluster gone for good shows in /readyz.
	deliveryTimeout = time.Minute
	// closeFlush bounds how long Close waits for records still buffered.
	closeFlush = 30 * time.Second
)

// ProducerBuilder builds the producers processors write through (see
// kgoProducerBuilder), for what writes beside them: dead letters.
func (c Config) ProducerBuilder() goka.ProducerBuilder { return kgoProducerBuilder(c.logger()) }

// kgoProducerBuilder builds goka producers on franz-go. goka's hasher is
// not used: partition.Kgo places keys as partition.Hasher does, which
// goka's consumers and views use.
func kgoProducerBuilder(log *slog.Logger) goka.ProducerBuilder {
	return func(brokers []string, clientID string, _ func() hash.Hash32) (goka.Producer, error) {
		opts := []kgo.Opt{
			kgo.SeedBrokers(brokers...),
			kgo.RecordPartitioner(partition.Kgo()),
			kgo.RequiredAcks(kgo.AllISRAcks()),
			// No linger: records still batch while a request is in
			// flight, and no record waits on a timer. With a linger, the
			// failover tests saw a partition's last records stay buffered
			// for minutes after its leadership moved back to a restarted
			// broker, until another record for it came.
			kgo.ProducerLinger(0),
			kgo.ProducerBatchCompression(kgo.NoCompression()),
			kgo.RecordDeliveryTimeout(deliveryTimeout),
			kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
			// A dead leader is looked up again after this, not after
			// franz-go's 5 s: most of a broker kill's silence otherwise.
			kgo.MetadataMinAge(metadataMinAge),
		}
		if clientID != "" {
			opts = append(opts, kgo.ClientID(clientID))
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return nil, fmt.Errorf("gokaopts: producer: %w", err)
		}
		p := &kgoProducer{cl: cl, log: log, stop: make(chan struct{}), stopped: make(chan struct{})}
		p.lastAck.Store(time.Now().UnixNano())
		go p.watch()
		return p, nil
	}
}

type kgoProducer struct {
	cl  *kgo.Client
	log *slog.Logger
	// lastAck is when a record's callback last ran, in Unix nanoseconds.
	lastAck atomic.Int64
	stop    chan struct{}
	stopped chan struct{}
}

// stallAfter is how long buffered records may go without any callback
// before watch flushes them.
const stallAfter = 2 * time.Second

// watch flushes the client when records are buffered and none has been
// acknowledged for stallAfter: a flush makes every partition drain at once,
// which frees records franz-go left waiting after a leader moved. It is
// logged at Info: while a dead broker's leaderships move it is expected.
func (p *kgoProducer) watch() {
	defer close(p.stopped)
	t := time.NewTicker(stallAfter)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		n := p.cl.BufferedProduceRecords()
		if n == 0 || time.Since(time.Unix(0, p.lastAck.Load())) < stallAfter {
			continue
		}
		p.log.Info("producer: buffered records not acknowledged for a while; flushing", "buffered", n, "for", stallAfter)
		ctx, cancel := context.WithTimeout(context.Background(), stallAfter)
		_ = p.cl.Flush(ctx)
		cancel()
	}
}

func (p *kgoProducer) Emit(topic, key string, value []byte) *goka.Promise {
	return p.EmitWithHeaders(topic, key, value, nil)
}

// EmitWithHeaders produces the record and finishes the promise with a
// sarama message carrying where it landed: goka records a state write's
// offset from it.
func (p *kgoProducer) EmitWithHeaders(topic, key string, value []byte, headers goka.Headers) *goka.Promise {
	promise, finish := goka.NewPromiseWithFinisher()
	r := &kgo.Record{Topic: topic, Key: []byte(key), Value: value}
	for k, v := range headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: v})
	}
	// Not the callback's context: a record once handed over is delivered
	// or fails on its own terms.
	p.cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
		p.lastAck.Store(time.Now().UnixNano())
		msg := &sarama.ProducerMessage{Topic: r.Topic, Key: sarama.ByteEncoder(r.Key), Value: sarama.ByteEncoder(r.Value),
			Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp}
		if err != nil {
			finish(nil, err)
			return
		}
		finish(msg, nil)
	})
	return promise
}

// Close waits for the records still buffered (failing them after
// closeFlush) and closes the client.
func (p *kgoProducer) Close() error {
	close(p.stop)
	<-p.stopped
	ctx, cancel := context.WithTimeout(context.Background(), closeFlush)
	defer cancel()
	err := p.cl.Flush(ctx)
	p.cl.Close()
	if err != nil {
		return fmt.Errorf("gokaopts: producer: flushing on close: %w", err)
	}
	return nil
}
