package observe

import (
	"fmt"
	"sync"

	"github.com/lovoo/goka"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/partition"
)

// DeadLetterWriter writes dead letters and waits until Kafka has taken
// each. goka's own ctx.Emit would not do: it reports a failed send
// asynchronously, after the callback returned and while the partition
// goes on with the next records, whose commits move the group's offset
// past the record whose dead letter was lost. Waiting in the callback, and
// failing it when the write fails, stops the partition at that record: the
// processor is rebuilt and reads it again.
//
// Its producer is built on first use, the processors' own (franz-go, no
// linger, every in-sync replica), with their partitioner and fault hooks,
// so a topology that never rejects a record holds none; Close releases it
// when the topology stops. A producer that waits on a timer would not do:
// with goka's sarama settings (a 100 ms flush) a flood of malformed
// records was set aside at ten a second per partition, holding up every
// good record behind them (BenchmarkDeadLetterFlood).
type DeadLetterWriter struct {
	build goka.ProducerBuilder
	cfg   gokaopts.Config
	mu    struct {
		sync.Mutex
		producer goka.Producer
	}
}

// NewDeadLetterWriter returns a writer for processors configured by cfg.
func NewDeadLetterWriter(cfg gokaopts.Config) *DeadLetterWriter {
	build := cfg.ProducerBuilder()
	if cfg.Faults != nil {
		build = cfg.Faults.Producer(build)
	}
	return &DeadLetterWriter{build: build, cfg: cfg}
}

// write sends value to topic under key and waits for the outcome.
func (w *DeadLetterWriter) write(topic, key string, value []byte) error {
	p, err := w.producer()
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	p.Emit(topic, key, value).Then(func(err error) { done <- err })
	if err := <-done; err != nil {
		return fmt.Errorf("observe: write dead letter to %s: %w", topic, err)
	}
	return nil
}

func (w *DeadLetterWriter) producer() (goka.Producer, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.producer == nil {
		clientID := w.cfg.ClientID
		if clientID == "" {
			clientID = "titan"
		}
		p, err := w.build(w.cfg.Brokers, clientID+"-dead-letters", partition.Hasher())
		if err != nil {
			return nil, fmt.Errorf("observe: dead-letter producer: %w", err)
		}
		w.mu.producer = p
	}
	return w.mu.producer, nil
}

// Close closes the producer, if one was built; a later write builds
// another.
func (w *DeadLetterWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.producer == nil {
		return nil
	}
	err := w.mu.producer.Close()
	w.mu.producer = nil
	return err
}
