package sdk

import (
	"errors"
	"fmt"
	"time"
	"unicode"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/schemas"
)

// ErrInvalidOption is wrapped by every error NewProducer returns for a bad
// argument or option, as opposed to a failure to build the client.
var ErrInvalidOption = errors.New("sdk: invalid option")

// ErrBufferFull is wrapped by the error a send returns, under
// WithMaxBuffered, when the producer already buffers as many records as it
// may: the caller should shed the request or retry later. It wraps
// kgo.ErrMaxBuffered.
var ErrBufferFull = fmt.Errorf("sdk: the producer's buffer is full: %w", kgo.ErrMaxBuffered)

// DefaultClientID names the producer to the brokers unless WithClientID is
// given, so broker logs and quotas can tell SDK traffic apart.
const DefaultClientID = "titan-sdk"

// maxLinger is franz-go's own upper bound, checked here so the error names
// the SDK option rather than a kgo internal.
const maxLinger = time.Minute

// Option configures NewProducer. Options are checked together, once, when
// the producer is built.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	clientID  string
	linger    time.Duration
	lingerSet bool
	kgoOpts   []kgo.Opt
	namespace string
	// The overrides of WithCommandsTopic and WithOrderEventsTopic; nil
	// means the namespace's topic.
	commandsTopic    *string
	orderEventsTopic *string
	// maxBuffered, when positive, bounds the buffer; whenFull says what a
	// send that finds it full does.
	maxBuffered int
	whenFull    WhenFull
	now         func() time.Time
}

func defaultConfig() config {
	return config{clientID: DefaultClientID, now: time.Now}
}

// topics names every topic the producer writes or waits on, in the
// configured namespace, with the overrides applied.
func (c *config) topics() topics {
	ns := func(name string) string { return schemas.Namespaced(c.namespace, name) }
	t := topics{
		commands:          ns(schemas.InventoryCommands),
		orderEvents:       ns(schemas.OrderEvents),
		pricing:           ns(schemas.PricingCommands),
		flashSale:         ns(schemas.FlashSaleCommands),
		flashSaleInternal: ns(schemas.FlashSaleInternal),
		flashSaleEvents:   ns(schemas.FlashSaleEvents),
		views:             ns(schemas.RecommendationViews),
		inventoryEvents:   ns(schemas.InventoryEvents),
		orderOutcomes:     ns(schemas.OrderOutcomes),
	}
	if c.commandsTopic != nil {
		t.commands = *c.commandsTopic
	}
	if c.orderEventsTopic != nil {
		t.orderEvents = *c.orderEventsTopic
	}
	return t
}

// topics are the topics of one producer.
type topics struct {
	commands, orderEvents, pricing, flashSale, flashSaleInternal, views string
	// Read by the waits.
	inventoryEvents, orderOutcomes, flashSaleEvents string
}

// WhenFull is what a send does when the producer's bounded buffer is full.
type WhenFull uint8

const (
	// FailFast fails the send at once with an error wrapping
	// ErrBufferFull: a server shedding load wants to know now.
	FailFast WhenFull = iota
	// Block waits for room until the send's context ends, and then fails
	// with the context's error.
	Block
)

// WithBuffer bounds the records the producer buffers for Kafka to n, and
// says what a send that finds the buffer full does: FailFast or Block.
// Without it franz-go's default holds (10,000 records, a full buffer
// blocks the send until its context ends).
func WithBuffer(n int, whenFull WhenFull) Option {
	return optionFunc(func(c *config) { c.maxBuffered, c.whenFull = n, whenFull })
}

// WithNamespace writes to and waits on the topics of the deployment with
// this namespace (schemas.Namespaced), as its instances' --namespace
// names them; the default is the empty namespace, the topics' plain names.
func WithNamespace(ns string) Option {
	return optionFunc(func(c *config) { c.namespace = ns })
}

// WithClock sets the clock the typed inputs are stamped with (their
// timestamp_ms) and Ack.SentAt is read from; the default is time.Now. Processors hold a stamp to the
// time Kafka received the record (schemas.TimeWindow), so a clock of a
// test or a replay tool must stay near the real one.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(c *config) { c.now = now })
}

// WithClientID sets the Kafka client id.
func WithClientID(id string) Option {
	return optionFunc(func(c *config) { c.clientID = id })
}

// WithLinger sets how long a partition's batch waits for more records
// before it is sent (0 sends at once). Without it franz-go's default holds.
// SendCommand and PublishOrderEvent do not pay it: a synchronous send flushes
// its partition immediately.
func WithLinger(d time.Duration) Option {
	return optionFunc(func(c *config) { c.linger, c.lingerSet = d, true })
}

// WithKgoOptions passes extra franz-go options (TLS, SASL, logging, retries,
// buffering). They cannot change what the wire contract depends on: the seed
// brokers, the partitioner and acks=all are applied after them, and an
// option that turns off idempotent writes, makes the client transactional or
// switches to manual flushing makes NewProducer fail.
func WithKgoOptions(opts ...kgo.Opt) Option {
	return optionFunc(func(c *config) { c.kgoOpts = append(c.kgoOpts, opts...) })
}

// WithMaxBuffered bounds the records the producer buffers for Kafka to n,
// and makes a send that finds the buffer full fail at once with an error
// wrapping ErrBufferFull rather than wait for room: a server shedding load
// wants to know now, not when its request times out. Without it franz-go's
// default holds (10,000 records, a full buffer blocks the send).
// It is WithBuffer(n, FailFast).
func WithMaxBuffered(n int) Option { return WithBuffer(n, FailFast) }

// WithCommandsTopic overrides the topic inventory commands are written to,
// for staged migrations; the default is the namespace's
// schemas.InventoryCommands.
func WithCommandsTopic(topic string) Option {
	return optionFunc(func(c *config) { c.commandsTopic = &topic })
}

// WithOrderEventsTopic overrides the topic order events are written to;
// the default is the namespace's schemas.OrderEvents.
func WithOrderEventsTopic(topic string) Option {
	return optionFunc(func(c *config) { c.orderEventsTopic = &topic })
}

func (c *config) validate(brokers []string) error {
	if len(brokers) == 0 {
		return fmt.Errorf("%w: no seed brokers", ErrInvalidOption)
	}
	for i, b := range brokers {
		if b == "" {
			return fmt.Errorf("%w: seed broker %d is empty", ErrInvalidOption, i)
		}
	}
	if c.maxBuffered < 0 {
		return fmt.Errorf("%w: max buffered %d is negative", ErrInvalidOption, c.maxBuffered)
	}
	if c.clientID == "" {
		return fmt.Errorf("%w: empty client id", ErrInvalidOption)
	}
	for _, r := range c.clientID {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: client id %q has a control character", ErrInvalidOption, c.clientID)
		}
	}
	if c.lingerSet && (c.linger < 0 || c.linger > maxLinger) {
		return fmt.Errorf("%w: linger %v outside [0, %v]", ErrInvalidOption, c.linger, maxLinger)
	}
	for _, opt := range c.kgoOpts {
		if opt == nil {
			return fmt.Errorf("%w: nil kgo option", ErrInvalidOption)
		}
	}
	if c.whenFull != FailFast && c.whenFull != Block {
		return fmt.Errorf("%w: unknown WhenFull %d", ErrInvalidOption, c.whenFull)
	}
	if c.now == nil {
		return fmt.Errorf("%w: nil clock", ErrInvalidOption)
	}
	t := c.topics()
	if err := validateTopic(t.commands); err != nil {
		return fmt.Errorf("%w: commands topic: %w", ErrInvalidOption, err)
	}
	if err := validateTopic(t.orderEvents); err != nil {
		return fmt.Errorf("%w: order events topic: %w", ErrInvalidOption, err)
	}
	for _, name := range []string{t.pricing, t.flashSale, t.flashSaleInternal, t.views, t.inventoryEvents, t.orderOutcomes, t.flashSaleEvents} {
		if err := validateTopic(name); err != nil {
			return fmt.Errorf("%w: namespace %q: %w", ErrInvalidOption, c.namespace, err)
		}
	}
	if t.commands == t.orderEvents {
		// The two carry different messages under different keys; one topic
		// for both would feed order events to the inventory processor.
		return fmt.Errorf("%w: commands and order events share topic %q", ErrInvalidOption, t.commands)
	}
	return nil
}

// validateTopic applies Kafka's topic name rules, so a typo fails here
// rather than as a produce error on every send.
func validateTopic(name string) error { return schemas.CheckTopic(name) }
