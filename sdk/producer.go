package sdk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/schemas"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
)

// Ack is where Kafka stored a record, and what names it.
type Ack struct {
	Topic     string
	Partition int32
	Offset    int64
	// ID names the record to its processor: the command or event id the
	// SDK derived or the caller chose, a purchase's idempotency key, a
	// sale's id. It is what WaitCommandResult takes.
	ID string
	// SentAt is when the send began: a wait for the record's result need
	// not read anything written before it (WaitCommandResult,
	// WaitOrderOutcome).
	SentAt time.Time
}

// Producer writes a shop's inputs to Titan's topics: the typed inputs
// through Send and SendAsync, ready-made messages through SendCommand and
// PublishOrderEvent. It is safe for concurrent use.
type Producer struct {
	client  *kgo.Client
	topics  topics
	now     func() time.Time
	brokers []string
	// kgoOpts are the caller's, for the clients the waits read with.
	kgoOpts []kgo.Opt
	// room holds a slot for each record buffered under WithBuffer (nil
	// without it): a send takes one before it reaches the client, waiting
	// for one or failing with ErrBufferFull as whenFull says, and its
	// promise gives it back. The client's own bound sits one above
	// (franz-go counts a record out just after its promise), so it never
	// blocks a send that holds a slot, and a synchronous send keeps
	// ProduceSync's immediate flush of its partition, which TryProduce
	// lacks: under franz-go's 10 ms default linger every send would
	// otherwise wait out the linger.
	room     chan struct{}
	whenFull WhenFull
}

// NewProducer builds a producer for the given seed brokers. It does not
// connect; the first send does.
//
// The client is idempotent with acks=all (franz-go's defaults, enforced
// here): a retried send is written once, and an acknowledged one survives
// the loss of the partition leader. Records are placed by Kafka's default
// partitioner (see internal/partition), which is what Titan's processors
// expect.
func NewProducer(brokers []string, opts ...Option) (*Producer, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", ErrInvalidOption)
		}
		o.apply(&cfg)
	}
	if err := cfg.validate(brokers); err != nil {
		return nil, err
	}

	// A dead leader is looked up again after 250 ms rather than franz-go's
	// 5 s, which would be most of a broker kill's silence; WithKgoOptions
	// may set another.
	kopts := []kgo.Opt{kgo.MetadataMinAge(250 * time.Millisecond)}
	kopts = append(kopts, cfg.kgoOpts...)
	kopts = append(kopts,
		kgo.SeedBrokers(brokers...),
		kgo.ClientID(cfg.clientID),
		kgo.RecordPartitioner(partition.Kgo()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	)
	if cfg.lingerSet {
		kopts = append(kopts, kgo.ProducerLinger(cfg.linger))
	}
	var room chan struct{}
	if cfg.maxBuffered > 0 {
		room = make(chan struct{}, cfg.maxBuffered)
		kopts = append(kopts, kgo.MaxBufferedRecords(cfg.maxBuffered+1))
	}
	client, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("sdk: new kafka client: %w", err)
	}
	if err := checkClient(client); err != nil {
		client.Close()
		return nil, err
	}
	return &Producer{
		client:   client,
		topics:   cfg.topics(),
		now:      cfg.now,
		brokers:  append([]string(nil), brokers...),
		kgoOpts:  cfg.kgoOpts,
		room:     room,
		whenFull: cfg.whenFull,
	}, nil
}

// checkClient refuses extra kgo options that the later, mandatory ones
// cannot override and that would break the producer's guarantees.
func checkClient(cl *kgo.Client) error {
	if off, _ := cl.OptValue(kgo.DisableIdempotentWrite).(bool); off {
		return fmt.Errorf("%w: idempotent writes cannot be disabled: a retried send would be written twice", ErrInvalidOption)
	}
	if v := cl.OptValues(kgo.TransactionalID); len(v) == 2 {
		if set, _ := v[1].(bool); set {
			return fmt.Errorf("%w: transactional ids are not supported: sends happen outside a transaction", ErrInvalidOption)
		}
	}
	if manual, _ := cl.OptValue(kgo.ManualFlushing).(bool); manual {
		return fmt.Errorf("%w: manual flushing is not supported: SendCommand would wait for a Flush", ErrInvalidOption)
	}
	return nil
}

// Send fills, checks and writes one typed input (Restock, Reserve,
// PlaceOrder, SetPrice, Purchase, View, ...; see Input) and waits for
// Kafka's acknowledgement. An input that breaks a rule is never produced:
// the error wraps the *schemas.InvalidError that names the field. A full
// buffer under WithBuffer waits or fails as configured.
func (p *Producer) Send(ctx context.Context, in Input) (Ack, error) {
	b, err := p.build(in)
	return p.sendSync(ctx, b, err)
}

// SendAsync is Send without the wait: fn, if not nil, is called exactly
// once with the outcome. An input refused before it reaches the client
// (invalid, a full buffer under FailFast) gets fn on the calling goroutine
// before SendAsync returns; otherwise fn runs on the client's callback
// goroutine, which all sends share, so it must not block or produce.
// Under Block, SendAsync itself waits for room.
func (p *Producer) SendAsync(ctx context.Context, in Input, fn func(Ack, error)) {
	b, err := p.build(in)
	p.sendAsync(ctx, b, err, fn)
}

func (p *Producer) build(in Input) (built, error) {
	if in == nil {
		return built{}, fmt.Errorf("sdk: nil input")
	}
	b, err := in.build(&p.topics, p.now())
	if err != nil {
		return built{}, fmt.Errorf("sdk: %s refused: %w", in.name(), err)
	}
	return b, nil
}

// SendCommand validates cmd with schemas.ValidateCommand and
// schemas.CheckClientCommand (no id in Titan's namespace, no kind only Titan
// sends), refuses a command id in the namespace of the ids Send derives
// (schemas.DerivedPrefix), and, if it is valid, writes it keyed by SKU and
// waits for Kafka's acknowledgement. An invalid command is never produced;
// the error wraps its *schemas.InvalidError. The typed inputs (Restock,
// Reserve, Commit, Release) fill the id and time themselves.
func (p *Producer) SendCommand(ctx context.Context, cmd *inventoryv1.Command) (Ack, error) {
	b, err := p.commandRecord(cmd)
	return p.sendSync(ctx, b, err)
}

// SendCommandAsync is SendCommand without the wait; fn is called as for
// SendAsync.
func (p *Producer) SendCommandAsync(ctx context.Context, cmd *inventoryv1.Command, fn func(Ack, error)) {
	b, err := p.commandRecord(cmd)
	p.sendAsync(ctx, b, err, fn)
}

// PublishOrderEvent validates ev with schemas.ValidateOrderEvent and
// schemas.CheckClientOrderEvent, refuses an event id in the namespace of
// derived ids, and, if it is valid, writes it keyed by order id and waits
// for Kafka's acknowledgement. An invalid event is never produced.
func (p *Producer) PublishOrderEvent(ctx context.Context, ev *ordersv1.OrderEvent) (Ack, error) {
	b, err := p.orderEventRecord(ev)
	return p.sendSync(ctx, b, err)
}

// PublishOrderEventAsync is PublishOrderEvent without the wait; fn is
// called as for SendAsync.
func (p *Producer) PublishOrderEventAsync(ctx context.Context, ev *ordersv1.OrderEvent, fn func(Ack, error)) {
	b, err := p.orderEventRecord(ev)
	p.sendAsync(ctx, b, err, fn)
}

// SendPricingCommand validates cmd with schemas.ValidatePricingCommand and
// schemas.CheckClientPricingCommand, refuses a command id in the namespace
// of derived ids, and, if it is valid, writes it keyed by SKU and waits for
// Kafka's acknowledgement. The typed inputs (SetPrice, StartCampaign,
// EndCampaign) fill the id and time themselves.
func (p *Producer) SendPricingCommand(ctx context.Context, cmd *pricingv1.Command) (Ack, error) {
	b, err := refused("pricing command", "command_id", cmd.GetCommandId(), func() (built, error) { return pricingRecord(&p.topics, cmd) })
	return p.sendSync(ctx, b, err)
}

// Flush waits until every record sent so far is acknowledged or failed, or
// ctx is done.
func (p *Producer) Flush(ctx context.Context) error {
	if err := p.client.Flush(ctx); err != nil {
		return fmt.Errorf("sdk: flush: %w", err)
	}
	return nil
}

// BufferedRecords is how many records the producer holds that Kafka has
// not answered for yet: a caller about to send a batch can shed it whole
// when the batch would not fit.
func (p *Producer) BufferedRecords() int64 { return p.client.BufferedProduceRecords() }

// Close stops the producer: later sends fail with kgo.ErrClientClosed,
// records still buffered are failed (their callbacks run with that error),
// and the connections are closed. It does not wait for buffered records to
// be delivered; call Flush first for that.
func (p *Producer) Close() {
	p.client.Close()
}

func (p *Producer) commandRecord(cmd *inventoryv1.Command) (built, error) {
	return refused("command", "command_id", cmd.GetCommandId(), func() (built, error) { return inventoryRecord(&p.topics, cmd) })
}

func (p *Producer) orderEventRecord(ev *ordersv1.OrderEvent) (built, error) {
	return refused("order event", "event_id", ev.GetEventId(), func() (built, error) { return orderRecord(&p.topics, ev) })
}

// refused builds a caller's ready-made message, whose id (field) may not
// take the form of a derived one, and says what was refused when it fails.
func refused(what, field, id string, build func() (built, error)) (built, error) {
	b, err := build()
	if err == nil {
		err = schemas.RefuseDerived(field, id)
	}
	if err != nil {
		return built{}, fmt.Errorf("sdk: %s refused: %w", what, err)
	}
	return b, nil
}

// sendSync produces b and waits for it, or returns err from building it.
func (p *Producer) sendSync(ctx context.Context, b built, err error) (Ack, error) {
	if err != nil {
		return Ack{}, err
	}
	return p.produceSync(ctx, b)
}

// sendAsync produces b, or gives fn err from building it at once.
func (p *Producer) sendAsync(ctx context.Context, b built, err error, fn func(Ack, error)) {
	if err != nil {
		if fn != nil {
			fn(Ack{}, err)
		}
		return
	}
	p.produceAsync(ctx, b, fn)
}

func (p *Producer) produceSync(ctx context.Context, b built) (Ack, error) {
	sent := p.now()
	if err := p.take(ctx); err != nil {
		return ackOf(b, sent, err)
	}
	defer p.give()
	r, err := p.client.ProduceSync(ctx, b.rec).First()
	if r != nil {
		b.rec = r
	}
	return ackOf(b, sent, err)
}

func (p *Producer) produceAsync(ctx context.Context, b built, fn func(Ack, error)) {
	sent := p.now()
	if err := p.take(ctx); err != nil {
		if fn != nil {
			fn(ackOf(b, sent, err))
		}
		return
	}
	p.client.Produce(ctx, b.rec, func(r *kgo.Record, err error) {
		p.give()
		if fn != nil {
			b.rec = r
			fn(ackOf(b, sent, err))
		}
	})
}

// take reserves room for one record: at once, failing with
// kgo.ErrMaxBuffered when the buffer is full under FailFast, or once there
// is room under Block, failing when ctx ends first. Without WithBuffer
// there is always room here, and franz-go's own bound blocks.
func (p *Producer) take(ctx context.Context) error {
	if p.room == nil {
		return nil
	}
	if p.whenFull == Block {
		select {
		case p.room <- struct{}{}:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	select {
	case p.room <- struct{}{}:
		return nil
	default:
		return kgo.ErrMaxBuffered
	}
}

// give returns the room take reserved.
func (p *Producer) give() {
	if p.room != nil {
		<-p.room
	}
}

func ackOf(b built, sent time.Time, err error) (Ack, error) {
	r := b.rec
	if err != nil {
		if errors.Is(err, kgo.ErrClientClosed) {
			return Ack{}, fmt.Errorf("sdk: producer closed: %w", err)
		}
		if errors.Is(err, kgo.ErrMaxBuffered) {
			return Ack{}, fmt.Errorf("sdk: produce to %s: %w", r.Topic, ErrBufferFull)
		}
		return Ack{}, fmt.Errorf("sdk: produce to %s: %w", r.Topic, err)
	}
	return Ack{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, ID: b.id, SentAt: sent}, nil
}
