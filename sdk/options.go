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
	clientID         string
	linger           time.Duration
	lingerSet        bool
	kgoOpts          []kgo.Opt
	commandsTopic    string
	orderEventsTopic string
	// maxBuffered, when positive, bounds the buffer and makes a send
	// that finds it full fail with ErrBufferFull instead of waiting.
	maxBuffered int
}

func defaultConfig() config {
	return config{
		clientID:         DefaultClientID,
		commandsTopic:    schemas.InventoryCommands,
		orderEventsTopic: schemas.OrderEvents,
	}
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
func WithMaxBuffered(n int) Option {
	return optionFunc(func(c *config) { c.maxBuffered = n })
}

// WithCommandsTopic overrides the topic SendCommand writes to, for test
// clusters and staged migrations; the default is schemas.InventoryCommands.
func WithCommandsTopic(topic string) Option {
	return optionFunc(func(c *config) { c.commandsTopic = topic })
}

// WithOrderEventsTopic overrides the topic PublishOrderEvent writes to; the
// default is schemas.OrderEvents.
func WithOrderEventsTopic(topic string) Option {
	return optionFunc(func(c *config) { c.orderEventsTopic = topic })
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
	if err := validateTopic(c.commandsTopic); err != nil {
		return fmt.Errorf("%w: commands topic: %w", ErrInvalidOption, err)
	}
	if err := validateTopic(c.orderEventsTopic); err != nil {
		return fmt.Errorf("%w: order events topic: %w", ErrInvalidOption, err)
	}
	if c.commandsTopic == c.orderEventsTopic {
		// The two carry different messages under different keys; one topic
		// for both would feed order events to the inventory processor.
		return fmt.Errorf("%w: commands and order events share topic %q", ErrInvalidOption, c.commandsTopic)
	}
	return nil
}

// validateTopic applies Kafka's topic name rules, so a typo fails here
// rather than as a produce error on every send.
func validateTopic(name string) error { return schemas.CheckTopic(name) }
