package gokaopts

import (
	"log/slog"
	"sync"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
)

// goka builds a processor's lookup tables (goka.Lookup) as views of its
// own, with none of the options Config.View gives the instance's views: a
// lookup partition whose leader dies reports sarama's error, and goka
// fails the whole processor for it. sarama's partition consumer carries on
// by itself with the partition's next leader, as it does for every
// consumer; the error only says that it had to. ridingConsumer keeps such
// errors from the lookups' partition consumers (it logs them), so the
// processor rides through a broker's death as its input and its own table
// do. Should sarama give a partition up (it closes the consumer after an
// error it does not recover from), goka sees that last error, as before.
type ridingConsumer struct {
	sarama.Consumer
	topics map[string]bool
	log    *slog.Logger
}

func ridingConsumerBuilder(b goka.SaramaConsumerBuilder, tables []goka.Table, log *slog.Logger) goka.SaramaConsumerBuilder {
	topics := map[string]bool{}
	for _, t := range tables {
		topics[string(t)] = true
	}
	return func(brokers []string, clientID string) (sarama.Consumer, error) {
		c, err := b(brokers, clientID)
		if err != nil {
			return nil, err
		}
		return &ridingConsumer{Consumer: c, topics: topics, log: log}, nil
	}
}

func (c *ridingConsumer) ConsumePartition(topic string, partition int32, offset int64) (sarama.PartitionConsumer, error) {
	pc, err := c.Consumer.ConsumePartition(topic, partition, offset)
	if err != nil || !c.topics[topic] {
		return pc, err
	}
	r := &ridingPartition{
		PartitionConsumer: pc,
		messages:          make(chan *sarama.ConsumerMessage),
		errors:            make(chan *sarama.ConsumerError, 1),
		closing:           make(chan struct{}),
		log:               c.log.With("lookup", topic, "partition", partition),
	}
	go r.run()
	return r, nil
}

// ridingPartition forwards a partition consumer's messages, and of its
// errors only the last one before it ended by itself.
type ridingPartition struct {
	sarama.PartitionConsumer
	messages  chan *sarama.ConsumerMessage
	errors    chan *sarama.ConsumerError
	closing   chan struct{}
	closeOnce sync.Once
	log       *slog.Logger
}

func (r *ridingPartition) Messages() <-chan *sarama.ConsumerMessage { return r.messages }
func (r *ridingPartition) Errors() <-chan *sarama.ConsumerError     { return r.errors }

func (r *ridingPartition) AsyncClose() {
	r.closeOnce.Do(func() { close(r.closing) })
	r.PartitionConsumer.AsyncClose()
}

func (r *ridingPartition) Close() error {
	r.AsyncClose()
	var errs sarama.ConsumerErrors
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range r.messages {
		}
	}()
	for e := range r.errors {
		errs = append(errs, e)
	}
	<-done
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func (r *ridingPartition) closed() bool {
	select {
	case <-r.closing:
		return true
	default:
		return false
	}
}

func (r *ridingPartition) run() {
	defer close(r.messages)
	var last *sarama.ConsumerError
	in, errs := r.PartitionConsumer.Messages(), r.PartitionConsumer.Errors()
	for in != nil || errs != nil {
		select {
		case m, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			select {
			case r.messages <- m:
			case <-r.closing:
				// Closed: what is left is drained, not delivered.
			}
		case e, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			last = e
			r.log.Warn("reading a lookup table failed; the consumer goes on with the partition's leader", "err", e.Err)
		}
	}
	if last != nil && !r.closed() {
		// sarama gave the partition up after last: goka must see it, and
		// it closes the consumer when it does.
		r.errors <- last
		close(r.errors)
		<-r.closing
		return
	}
	close(r.errors)
}
