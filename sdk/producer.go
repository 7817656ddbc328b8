package sdk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/schemas"
	"github.com/titan-commerce/titan/schemas/codec"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

// Ack is where Kafka stored a record.
type Ack struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Producer writes inventory commands and order events to Titan's topics. It
// is safe for concurrent use.
type Producer struct {
	client           *kgo.Client
	commandsTopic    string
	orderEventsTopic string
	// room holds a slot for each record buffered under WithMaxBuffered
	// (nil without it): a send takes one before it reaches the client or
	// fails with ErrBufferFull, and its promise gives it back. The
	// client's own bound sits one above (franz-go counts a record out just
	// after its promise), so it never blocks a send that holds a slot, and
	// a synchronous send keeps ProduceSync's immediate flush of its
	// partition, which TryProduce lacks: under franz-go's 10 ms default
	// linger every SendCommand would otherwise wait out the linger.
	room        chan struct{}
	commands    *codec.Proto[*inventoryv1.Command]
	orderEvents *codec.Proto[*ordersv1.OrderEvent]
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
		client:           client,
		commandsTopic:    cfg.commandsTopic,
		orderEventsTopic: cfg.orderEventsTopic,
		room:             room,
		commands:         codec.Command(),
		orderEvents:      codec.OrderEvent(),
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

// SendCommand validates cmd with schemas.ValidateCommand and
// schemas.CheckClientCommand (no id in Titan's namespace, no kind only Titan
// sends) and, if it is valid, writes it keyed by SKU and waits for Kafka's
// acknowledgement. An invalid command is never produced; the error wraps
// its *schemas.InvalidError.
func (p *Producer) SendCommand(ctx context.Context, cmd *inventoryv1.Command) (Ack, error) {
	rec, err := p.commandRecord(cmd)
	if err != nil {
		return Ack{}, err
	}
	return p.produceSync(ctx, rec)
}

// SendCommandAsync is SendCommand without the wait: fn is called exactly
// once with the outcome. A command refused before it reaches the client
// (invalid, unencodable) gets fn on the calling goroutine before
// SendCommandAsync returns; otherwise fn runs on the client's callback
// goroutine, which all sends share, so it must not block or produce.
func (p *Producer) SendCommandAsync(ctx context.Context, cmd *inventoryv1.Command, fn func(Ack, error)) {
	rec, err := p.commandRecord(cmd)
	if err != nil {
		if fn != nil {
			fn(Ack{}, err)
		}
		return
	}
	p.produceAsync(ctx, rec, fn)
}

// PublishOrderEvent validates ev with schemas.ValidateOrderEvent and, if it
// is valid, writes it keyed by order id and waits for Kafka's
// acknowledgement. An invalid event is never produced.
func (p *Producer) PublishOrderEvent(ctx context.Context, ev *ordersv1.OrderEvent) (Ack, error) {
	rec, err := p.orderEventRecord(ev)
	if err != nil {
		return Ack{}, err
	}
	return p.produceSync(ctx, rec)
}

// PublishOrderEventAsync is PublishOrderEvent without the wait; fn is
// called as for SendCommandAsync.
func (p *Producer) PublishOrderEventAsync(ctx context.Context, ev *ordersv1.OrderEvent, fn func(Ack, error)) {
	rec, err := p.orderEventRecord(ev)
	if err != nil {
		if fn != nil {
			fn(Ack{}, err)
		}
		return
	}
	p.produceAsync(ctx, rec, fn)
}

// Flush waits until every record sent so far is acknowledged or failed, or
// ctx is done.
func (p *Producer) Flush(ctx context.Context) error {
	if err := p.client.Flush(ctx); err != nil {
		return fmt.Errorf("sdk: flush: %w", err)
	}
	return nil
}

// Close stops the producer: later sends fail with kgo.ErrClientClosed,
// records still buffered are failed (their callbacks run with that error),
// and the connections are closed. It does not wait for buffered records to
// be delivered; call Flush first for that.
func (p *Producer) Close() {
	p.client.Close()
}

func (p *Producer) commandRecord(cmd *inventoryv1.Command) (*kgo.Record, error) {
	if err := schemas.ValidateCommand(cmd); err != nil {
		return nil, fmt.Errorf("sdk: command refused: %w", err)
	}
	if err := schemas.CheckClientCommand(cmd); err != nil {
		return nil, fmt.Errorf("sdk: command refused: %w", err)
	}
	value, err := p.commands.Encode(cmd)
	if err != nil {
		return nil, fmt.Errorf("sdk: command refused: %w", err)
	}
	return &kgo.Record{Topic: p.commandsTopic, Key: []byte(cmd.GetSku()), Value: value}, nil
}

func (p *Producer) orderEventRecord(ev *ordersv1.OrderEvent) (*kgo.Record, error) {
	if err := schemas.ValidateOrderEvent(ev); err != nil {
		return nil, fmt.Errorf("sdk: order event refused: %w", err)
	}
	if err := schemas.CheckClientOrderEvent(ev); err != nil {
		return nil, fmt.Errorf("sdk: order event refused: %w", err)
	}
	value, err := p.orderEvents.Encode(ev)
	if err != nil {
		return nil, fmt.Errorf("sdk: order event refused: %w", err)
	}
	return &kgo.Record{Topic: p.orderEventsTopic, Key: []byte(ev.GetOrderId()), Value: value}, nil
}

func (p *Producer) produceSync(ctx context.Context, rec *kgo.Record) (Ack, error) {
	if !p.take() {
		return ackOf(rec, kgo.ErrMaxBuffered)
	}
	defer p.give()
	r, err := p.client.ProduceSync(ctx, rec).First()
	return ackOf(r, err)
}

func (p *Producer) produceAsync(ctx context.Context, rec *kgo.Record, fn func(Ack, error)) {
	if !p.take() {
		if fn != nil {
			fn(ackOf(rec, kgo.ErrMaxBuffered))
		}
		return
	}
	p.client.Produce(ctx, rec, func(r *kgo.Record, err error) {
		p.give()
		if fn != nil {
			fn(ackOf(r, err))
		}
	})
}

// take reserves room for one record, reporting false if the buffer is
// full; without WithMaxBuffered there is always room.
func (p *Producer) take() bool {
	if p.room == nil {
		return true
	}
	select {
	case p.room <- struct{}{}:
		return true
	default:
		return false
	}
}

// give returns the room take reserved.
func (p *Producer) give() {
	if p.room != nil {
		<-p.room
	}
}

func ackOf(r *kgo.Record, err error) (Ack, error) {
	if err != nil {
		if errors.Is(err, kgo.ErrClientClosed) {
			return Ack{}, fmt.Errorf("sdk: producer closed: %w", err)
		}
		if errors.Is(err, kgo.ErrMaxBuffered) {
			return Ack{}, fmt.Errorf("sdk: produce to %s: %w", r.Topic, ErrBufferFull)
		}
		return Ack{}, fmt.Errorf("sdk: produce to %s: %w", r.Topic, err)
	}
	return Ack{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}, nil
}
