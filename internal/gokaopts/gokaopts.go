// Package gokaopts builds the goka options every Titan processor, view and
// emitter shares: one sarama configuration fit for a Kafka 4 broker and for
// stock and money (acks from all in-sync replicas, idempotent producer), the
// murmur2 partitioner, the topic replication, the Pebble storage and the
// logger. Processors also get a producer that sends a state write only
// after the outputs before it (barrier.go) and a consumer group that
// commits offsets in order and rejoins a rebalance at once (group.go),
// which is what keeps them exactly once on a cluster whose brokers die. Keeping them in one place is what keeps goka's partitioning equal
// to every other producer's, and no component on goka's global config.
package gokaopts

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"

	"github.com/titan-commerce/titan/internal/partition"
)

// Config is what the options are built from.
type Config struct {
	Brokers []string
	// Replication of the topics goka creates (group tables); 1 for a
	// single broker.
	Replication int
	// Storage opens the local state of one topic-partition.
	Storage storage.Builder
	// ClientID names the process to the brokers.
	ClientID string
	Logger   *slog.Logger
	// Faults, when set, wraps the storage and the producer of processors
	// to inject failures (internal/faults); tests of how Titan survives
	// them set it, production never does. Views are left alone: they
	// only copy what a changelog already holds.
	Faults Faults
}

// Faults wraps what a processor writes through.
type Faults interface {
	Storage(storage.Builder) storage.Builder
	Producer(goka.ProducerBuilder) goka.ProducerBuilder
}

// Sarama returns a fresh sarama configuration. goka's builders write the
// client id and partitioner into the config they are given, so every
// builder gets its own copy.
func Sarama() *sarama.Config {
	c := goka.DefaultConfig()
	// Kafka 4 refuses protocol versions older than 2.1 (KIP-896); goka
	// defaults to 2.0.
	c.Version = sarama.V3_6_0_0
	// Table changelogs and events carry stock: wait for every in-sync
	// replica.
	c.Producer.RequiredAcks = sarama.WaitForAll
	// One request in flight per broker, and sarama retries a partition's
	// records in their order: a partition never holds a record ahead of
	// one sent before it, which the flash sale's loop relies on (a key
	// ignores messages at or before the last origin it applied).
	//
	// Not idempotent: when a leader moves, sarama's idempotent producer
	// fails a batch with OutOfOrderSequenceNumber, bumps its epoch and
	// lets the partition's later records land ahead of the failed one,
	// which breaks that order and loses the failed record for good once
	// its input is decided again. A retry whose first try did arrive
	// writes a copy right after it instead; every reader of Titan's topics
	// recognises copies (origins on the loop, command ids and identical
	// results elsewhere, the same value again in a changelog).
	c.Producer.Idempotent = false
	c.Net.MaxOpenRequests = 1
	// A leader that dies is replaced once the controller fences it
	// (broker.session.timeout.ms, 9 s by default) and elects another:
	// retries span that, so a send waits the move out rather than fail
	// the processor.
	c.Producer.Retry.Max = 40
	c.Producer.Retry.Backoff = 250 * time.Millisecond
	// goka flushes every 100 ms by default, which is the floor of every
	// request's latency; small batches cost little on a shop's volumes.
	c.Producer.Flush.Frequency = 2 * time.Millisecond
	c.Producer.Compression = sarama.CompressionNone
	// A new group starts at the oldest command, as Kafka Streams does:
	// commands sent before the first deploy are not silently skipped.
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Metadata.RefreshFrequency = 30 * time.Second
	c.Metadata.Retry.Backoff = 100 * time.Millisecond
	c.Metadata.Retry.Max = 10
	// How soon a partition's silence ends after its owner dies: the
	// group notices the death after the session timeout, and every member
	// must then join again. 6 s is the least a broker accepts unless its
	// group.min.session.timeout.ms says otherwise.
	c.Consumer.Group.Session.Timeout = 6 * time.Second
	c.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	// The coordinator waits this long for every member to join a
	// rebalance; sarama's 60 s default is what a member that died just as
	// one began costs the whole group.
	c.Consumer.Group.Rebalance.Timeout = 10 * time.Second
	c.Consumer.Group.Rebalance.Retry.Backoff = 250 * time.Millisecond
	c.Consumer.Group.Rebalance.Retry.Max = 20
	// A partition consumer whose leader died looks for the new one after
	// this (2 s by default).
	c.Consumer.Retry.Backoff = 250 * time.Millisecond
	return c
}

func (c Config) topicManager() goka.TopicManagerBuilder {
	tm := goka.NewTopicManagerConfig()
	tm.Table.Replication = c.Replication
	tm.Stream.Replication = c.Replication
	return goka.TopicManagerBuilderWithConfig(Sarama(), tm)
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return fmt.Errorf("gokaopts: no brokers")
	}
	if c.Replication < 1 {
		return fmt.Errorf("gokaopts: replication %d < 1", c.Replication)
	}
	if c.Storage == nil {
		return fmt.Errorf("gokaopts: no storage builder")
	}
	return nil
}

// Processor returns the options for a processor.
func (c Config) Processor() []goka.ProcessorOption {
	store, produce := c.Storage, goka.ProducerBuilderWithConfig(Sarama())
	if c.Faults != nil {
		store, produce = c.Faults.Storage(store), c.Faults.Producer(produce)
	}
	// The barrier goes outside the fault injector, so it sees the
	// failures a test injects as it would Kafka's.
	produce = barrierProducerBuilder(produce)
	opts := []goka.ProcessorOption{
		goka.WithTopicManagerBuilder(c.topicManager()),
		goka.WithConsumerGroupBuilder(groupBuilder(goka.ConsumerGroupBuilderWithConfig(Sarama()), c.logger())),
		goka.WithConsumerSaramaBuilder(goka.SaramaConsumerBuilderWithConfig(Sarama())),
		goka.WithProducerBuilder(produce),
		goka.WithHasher(partition.Hasher()),
		goka.WithStorageBuilder(store),
		goka.WithLogger(logger{c.logger()}),
	}
	if c.ClientID != "" {
		opts = append(opts, goka.WithClientID(c.ClientID))
	}
	return opts
}

// View returns the options for a view.
func (c Config) View() []goka.ViewOption {
	opts := []goka.ViewOption{
		goka.WithViewTopicManagerBuilder(c.topicManager()),
		goka.WithViewConsumerSaramaBuilder(goka.SaramaConsumerBuilderWithConfig(Sarama())),
		goka.WithViewHasher(partition.Hasher()),
		goka.WithViewStorageBuilder(c.Storage),
		goka.WithViewLogger(logger{c.logger()}),
		goka.WithViewAutoReconnect(),
	}
	if c.ClientID != "" {
		opts = append(opts, goka.WithViewClientID(c.ClientID))
	}
	return opts
}

func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.Default()
	}
	return c.Logger
}

// logger hands goka's printf-style logging to slog at debug level: goka
// logs every rebalance step, which is noise at info.
type logger struct{ l *slog.Logger }

func (l logger) Print(v ...any)   { l.l.Debug(fmt.Sprint(v...), "component", "goka") }
func (l logger) Println(v ...any) { l.l.Debug(fmt.Sprint(v...), "component", "goka") }
func (l logger) Printf(format string, v ...any) {
	l.l.Debug(fmt.Sprintf(format, v...), "component", "goka")
}
