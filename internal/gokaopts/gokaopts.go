// Package gokaopts builds the goka options every Titan processor, view and
// emitter shares: one sarama configuration fit for a Kafka 4 broker, the
// murmur2 partitioner, the topic replication, the Pebble storage and the
// logger. Processors produce through franz-go's idempotent producer with
// acks from all in-sync replicas, which keeps a partition's order when its
// leader dies (producer.go), wrapped so that a callback's state write and
// its outputs reach Kafka in the order the processor declares
// (barrier.go); their consumer group commits offsets in order and rejoins
// a rebalance at once (group.go). Together these keep processors exactly
// once on a cluster whose brokers die. Keeping them in one place is what
// keeps goka's partitioning equal to every other producer's, and no
// component on goka's global config.
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
	// SessionTimeout is how long the consumer group waits to hear from a
	// member before it gives the member's partitions to the others: the
	// floor of the silence after an instance dies. Zero means
	// DefaultSessionTimeout. A broker refuses a timeout below its
	// group.min.session.timeout.ms (6 s unless configured).
	SessionTimeout time.Duration
	// MemberData is the user data of every consumer-group member the
	// processors join: what other instances read to watch this one
	// (internal/liveness). Nil announces nothing.
	MemberData []byte
	// Lookups are the tables the processor looks up (goka.Lookup); their
	// partition consumers ride through a broker's death (lookups.go).
	Lookups []goka.Table
	// CommitInterval is how often a processor's consumer group commits
	// the offsets of what it has processed; zero means sarama's default
	// (a second). A replay's shadow groups commit far more often: the
	// replay learns from their commits when they have caught up.
	CommitInterval time.Duration
	// Marked, if set, is told each offset a processor's group will commit,
	// as soon as the group marks it: a replay learns from it that its
	// shadow groups are done without waiting for their commits.
	Marked MarkedFunc
	// FetchMaxWait is how long a fetch of the processor's inputs and
	// tables waits for records when there are none; zero means Sarama's
	// (100 ms). An ordered replay, which writes its shadow groups a run of
	// records and waits until they have processed it, measured each run
	// to cost about this long whatever its size (BenchmarkReplayOrders),
	// so it sets it low.
	FetchMaxWait time.Duration
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

// A view's partition that failed connects again after viewBackoffStep,
// and after one more step each time it fails again, up to viewBackoffMax.
const (
	viewBackoffStep = 250 * time.Millisecond
	viewBackoffMax  = 5 * time.Second
)

// DefaultSessionTimeout is the least session timeout a broker accepts
// unless its group.min.session.timeout.ms is lowered.
const DefaultSessionTimeout = 6 * time.Second

// Sarama returns a fresh sarama configuration. goka's builders write the
// client id and partitioner into the config they are given, so every
// builder gets its own copy.
func Sarama() *sarama.Config {
	c := goka.DefaultConfig()
	// Kafka 4 refuses protocol versions older than 2.1 (KIP-896); goka
	// defaults to 2.0.
	c.Version = sarama.V3_6_0_0
	// Processors produce through franz-go (producer.go); this
	// configuration serves goka's consumers, consumer groups and topic
	// manager.
	//
	// A new group starts at the oldest command, as Kafka Streams does:
	// commands sent before the first deploy are not silently skipped.
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	// A client may write Titan's inputs with a transactional producer, as
	// Kafka Streams' exactly-once does: an aborted transaction's records
	// are never processed, and an open one's only once it commits.
	c.Consumer.IsolationLevel = sarama.ReadCommitted
	c.Metadata.RefreshFrequency = 30 * time.Second
	c.Metadata.Retry.Backoff = 100 * time.Millisecond
	c.Metadata.Retry.Max = 10
	// How soon a partition's silence ends after its owner dies: the
	// group notices the death after the session timeout (or at once, when
	// internal/liveness removes the dead member), and every member must
	// then join again, which it learns from its next heartbeat. A
	// heartbeat is a few bytes to the coordinator; four a second per group
	// costs the brokers little and a hand-over at most a quarter second.
	c.Consumer.Group.Session.Timeout = DefaultSessionTimeout
	c.Consumer.Group.Heartbeat.Interval = 250 * time.Millisecond
	// The coordinator waits this long for every member to join a
	// rebalance; sarama's 60 s default is what a member that died just as
	// one began costs the whole group.
	c.Consumer.Group.Rebalance.Timeout = 10 * time.Second
	c.Consumer.Group.Rebalance.Retry.Backoff = 250 * time.Millisecond
	c.Consumer.Group.Rebalance.Retry.Max = 20
	// A partition consumer whose leader died looks for the new one after
	// this (2 s by default).
	c.Consumer.Retry.Backoff = 250 * time.Millisecond
	// sarama's consumer adds and drops partitions only between two fetches
	// to a broker, and a fetch of partitions with nothing new waits this
	// long (500 ms by default) before it returns. Every hand-over waits for
	// it three times: a survivor's old partitions closing, a recovered
	// table's consumer closing before its processor may start, and the
	// inherited inputs joining the fetch. A fetch with data returns at
	// once, so this only makes idle fetches more frequent.
	c.Consumer.MaxWaitTime = 100 * time.Millisecond
	return c
}

// sarama is Sarama with the configured fetch wait.
func (c Config) sarama() *sarama.Config {
	s := Sarama()
	if c.FetchMaxWait > 0 {
		s.Consumer.MaxWaitTime = c.FetchMaxWait
	}
	return s
}

// groupSarama is Sarama with the configured session timeout, a heartbeat
// at most a quarter of it, the member data, the commit interval and the
// fetch wait.
func (c Config) groupSarama() *sarama.Config {
	s := c.sarama()
	if c.SessionTimeout > 0 {
		s.Consumer.Group.Session.Timeout = c.SessionTimeout
		s.Consumer.Group.Heartbeat.Interval = min(s.Consumer.Group.Heartbeat.Interval, c.SessionTimeout/4)
	}
	s.Consumer.Group.Member.UserData = c.MemberData
	if c.CommitInterval > 0 {
		s.Consumer.Offsets.AutoCommit.Interval = c.CommitInterval
	}
	return s
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
	if c.SessionTimeout < 0 || (c.SessionTimeout > 0 && c.SessionTimeout < time.Second) {
		return fmt.Errorf("gokaopts: session timeout %v: want 0 (the default) or at least 1s", c.SessionTimeout)
	}
	return nil
}

// Processor returns the options for a processor whose state writes and
// outputs reach Kafka in the given order.
func (c Config) Processor(order Order) []goka.ProcessorOption {
	return c.processor(c.builders(order))
}

// builders returns the storage and producer builders of a processor.
func (c Config) builders(order Order) (storage.Builder, goka.ProducerBuilder) {
	store, produce := c.Storage, kgoProducerBuilder(c.logger())
	if c.Faults != nil {
		store, produce = c.Faults.Storage(store), c.Faults.Producer(produce)
	}
	// The barrier goes outside the fault injector, so it sees the
	// failures a test injects as it would Kafka's.
	return store, barrierProducerBuilder(produce, order, c.logger())
}

func (c Config) processor(store storage.Builder, produce goka.ProducerBuilder) []goka.ProcessorOption {
	opts := []goka.ProcessorOption{
		goka.WithTopicManagerBuilder(c.topicManager()),
		goka.WithConsumerGroupBuilder(groupBuilder(goka.ConsumerGroupBuilderWithConfig(c.groupSarama()), c.logger(), c.Marked)),
		goka.WithConsumerSaramaBuilder(ridingConsumerBuilder(goka.SaramaConsumerBuilderWithConfig(c.sarama()), c.Lookups, c.logger())),
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
		// goka waits 10 s more after each failure of a view's partition
		// (up to 2 min) before it connects again; a broker's death fails
		// every partition it led, and the API would serve their copies
		// that much longer behind.
		goka.WithViewBackoffBuilder(func() (goka.Backoff, error) {
			return goka.NewSimpleBackoff(viewBackoffStep, viewBackoffMax), nil
		}),
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
