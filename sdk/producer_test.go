package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/schemas"
	"github.com/titan-commerce/titan/schemas/codec"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	"github.com/titan-commerce/titan/sdk"
)

const partitions = 8

func newCluster(t *testing.T, topics ...string) *kfake.Cluster {
	t.Helper()
	if len(topics) == 0 {
		topics = []string{schemas.InventoryCommands, schemas.OrderEvents}
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func newProducer(t *testing.T, c *kfake.Cluster, opts ...sdk.Option) *sdk.Producer {
	t.Helper()
	p, err := sdk.NewProducer(c.ListenAddrs(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func command(i int) *inventoryv1.Command {
	return &inventoryv1.Command{
		CommandId:   fmt.Sprintf("cmd-%d", i),
		OrderId:     fmt.Sprintf("order-%d", i%17),
		Sku:         fmt.Sprintf("SKU-%d", i),
		Qty:         int64(1 + i%5),
		TimestampMs: 1_700_000_000_000 + int64(i),
		Kind:        &inventoryv1.Command_Reserve{Reserve: &inventoryv1.Reserve{TtlMs: 60_000}},
	}
}

func orderEvent(i int) *ordersv1.OrderEvent {
	return &ordersv1.OrderEvent{
		EventId:     fmt.Sprintf("evt-%d", i),
		OrderId:     fmt.Sprintf("order-%d", i),
		TimestampMs: 1_700_000_000_000 + int64(i),
		Kind:        &ordersv1.OrderEvent_Cancelled{Cancelled: &ordersv1.OrderCancelled{Reason: "customer"}},
	}
}

// consumeAll reads every record in topic, which holds want records.
func consumeAll(t *testing.T, c *kfake.Cluster, topic string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := testContext(t)
	var recs []*kgo.Record
	for len(recs) < want {
		fetches := cl.PollFetches(ctx)
		if err := fetches.Err0(); err != nil {
			t.Fatalf("consuming %s after %d of %d records: %v", topic, len(recs), want, err)
		}
		recs = append(recs, fetches.Records()...)
	}
	if len(recs) != want {
		t.Fatalf("%s holds %d records, want %d", topic, len(recs), want)
	}
	return recs
}

func TestSendCommandPlacesBySKU(t *testing.T) {
	c := newCluster(t)
	p := newProducer(t, c, sdk.WithLinger(5*time.Millisecond))
	ctx := testContext(t)

	const n = 200
	sent := make(map[string]*inventoryv1.Command, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		cmd := command(i)
		sent[cmd.GetSku()] = cmd
		check := func(ack sdk.Ack, err error) {
			if err != nil {
				t.Errorf("send %s: %v", cmd.GetCommandId(), err)
				return
			}
			if want := partition.Partition([]byte(cmd.GetSku()), partitions); ack.Partition != want {
				t.Errorf("%s acked on partition %d, want %d", cmd.GetSku(), ack.Partition, want)
			}
			if ack.Topic != schemas.InventoryCommands || ack.Offset < 0 {
				t.Errorf("%s: ack %+v", cmd.GetSku(), ack)
			}
		}
		if i%2 == 0 {
			check(p.SendCommand(ctx, cmd))
			continue
		}
		wg.Add(1)
		p.SendCommandAsync(ctx, cmd, func(ack sdk.Ack, err error) {
			defer wg.Done()
			check(ack, err)
		})
	}
	wg.Wait()
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	// The ack reports what the client asked for; the broker's log is what
	// the processors read.
	for _, r := range consumeAll(t, c, schemas.InventoryCommands, n) {
		if want := partition.Partition(r.Key, partitions); r.Partition != want {
			t.Errorf("key %s stored in partition %d, want %d", r.Key, r.Partition, want)
		}
		got, err := codec.Command().DecodeMessage(r.Value)
		if err != nil {
			t.Fatalf("stored value: %v", err)
		}
		if want := sent[string(r.Key)]; !proto.Equal(got, want) {
			t.Errorf("key %s holds %v, want %v", r.Key, got, want)
		}
	}
}

func TestPublishOrderEventPlacesByOrderID(t *testing.T) {
	c := newCluster(t)
	p := newProducer(t, c)
	ctx := testContext(t)

	const n = 100
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		ev := orderEvent(i)
		want := partition.Partition([]byte(ev.GetOrderId()), partitions)
		if i%2 == 0 {
			ack, err := p.PublishOrderEvent(ctx, ev)
			if err != nil || ack.Partition != want || ack.Topic != schemas.OrderEvents {
				t.Errorf("%s: ack %+v, %v; want partition %d", ev.GetOrderId(), ack, err, want)
			}
			continue
		}
		wg.Add(1)
		p.PublishOrderEventAsync(ctx, ev, func(ack sdk.Ack, err error) {
			defer wg.Done()
			if err != nil || ack.Partition != want {
				t.Errorf("%s: ack %+v, %v; want partition %d", ev.GetOrderId(), ack, err, want)
			}
		})
	}
	wg.Wait()
	for _, r := range consumeAll(t, c, schemas.OrderEvents, n) {
		if want := partition.Partition(r.Key, partitions); r.Partition != want {
			t.Errorf("key %s stored in partition %d, want %d", r.Key, r.Partition, want)
		}
	}
}

func TestTopicOverride(t *testing.T) {
	c := newCluster(t, "staging.commands", "staging.orders")
	p := newProducer(t, c, sdk.WithCommandsTopic("staging.commands"), sdk.WithOrderEventsTopic("staging.orders"))
	ctx := testContext(t)

	if ack, err := p.SendCommand(ctx, command(1)); err != nil || ack.Topic != "staging.commands" {
		t.Fatalf("SendCommand: %+v, %v", ack, err)
	}
	if ack, err := p.PublishOrderEvent(ctx, orderEvent(1)); err != nil || ack.Topic != "staging.orders" {
		t.Fatalf("PublishOrderEvent: %+v, %v", ack, err)
	}
}

func TestInvalidMessagesAreNotProduced(t *testing.T) {
	c := newCluster(t)
	var produces atomic.Int64
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		produces.Add(1)
		return nil, nil, false
	})
	p := newProducer(t, c)
	ctx := testContext(t)

	badCmd := command(1)
	badCmd.GetReserve().TtlMs = 0
	badEvent := orderEvent(1)
	badEvent.OrderId = ""

	wantReason := func(err error, reason schemas.Reason) {
		t.Helper()
		var ie *schemas.InvalidError
		if !errors.As(err, &ie) || ie.Reason != reason {
			t.Fatalf("got %v, want a %s *schemas.InvalidError", err, reason)
		}
	}
	_, err := p.SendCommand(ctx, badCmd)
	wantReason(err, schemas.ReasonInvalidTTL)
	_, err = p.SendCommand(ctx, nil)
	wantReason(err, schemas.ReasonNilMessage)
	_, err = p.PublishOrderEvent(ctx, badEvent)
	wantReason(err, schemas.ReasonMissingOrderID)
	// Titan's ids and kinds are not a client's to send.
	titanID := command(3)
	titanID.CommandId = schemas.ReservedPrefix + "expire:x"
	_, err = p.SendCommand(ctx, titanID)
	wantReason(err, schemas.ReasonReservedID)
	expire := command(4)
	expire.Kind = &inventoryv1.Command_Expire{Expire: &inventoryv1.Expire{}}
	_, err = p.SendCommand(ctx, expire)
	wantReason(err, schemas.ReasonInternalKind)
	titanOrder := orderEvent(2)
	titanOrder.OrderId = schemas.ReservedPrefix + "order:o"
	_, err = p.PublishOrderEvent(ctx, titanOrder)
	wantReason(err, schemas.ReasonReservedID)

	called := false
	p.SendCommandAsync(ctx, badCmd, func(_ sdk.Ack, err error) {
		called = true
		wantReason(err, schemas.ReasonInvalidTTL)
	})
	if !called {
		t.Fatal("SendCommandAsync returned without reporting the refusal")
	}
	p.PublishOrderEventAsync(ctx, badEvent, nil) // a nil callback is allowed

	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := produces.Load(); n != 0 {
		t.Fatalf("%d produce requests for invalid messages", n)
	}

	// The counter does see produce requests: a valid command after the
	// refusals goes through.
	if _, err := p.SendCommand(ctx, command(2)); err != nil {
		t.Fatal(err)
	}
	if produces.Load() == 0 {
		t.Fatal("control function saw no produce request for a valid command")
	}
}

func TestSendAfterClose(t *testing.T) {
	c := newCluster(t)
	p, err := sdk.NewProducer(c.ListenAddrs())
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, err := p.SendCommand(testContext(t), command(1)); !errors.Is(err, kgo.ErrClientClosed) {
		t.Fatalf("SendCommand after Close: %v, want kgo.ErrClientClosed", err)
	}
}

func TestNewProducerOptions(t *testing.T) {
	brokers := []string{"127.0.0.1:1"} // never dialled: building does not connect
	for _, tc := range []struct {
		name    string
		brokers []string
		opts    []sdk.Option
		invalid bool
	}{
		{name: "defaults", brokers: brokers},
		{name: "all options", brokers: brokers, opts: []sdk.Option{
			sdk.WithClientID("checkout"),
			sdk.WithLinger(0),
			sdk.WithKgoOptions(kgo.RecordRetries(5)),
			sdk.WithCommandsTopic("a.commands"),
			sdk.WithOrderEventsTopic("a.orders"),
			sdk.WithNamespace("shop-eu"),
			sdk.WithBuffer(100, sdk.Block),
			sdk.WithClock(time.Now),
		}},
		{name: "no brokers", invalid: true},
		{name: "negative max buffered", brokers: brokers, opts: []sdk.Option{sdk.WithMaxBuffered(-1)}, invalid: true},
		{name: "empty broker", brokers: []string{""}, invalid: true},
		{name: "nil option", brokers: brokers, opts: []sdk.Option{nil}, invalid: true},
		{name: "empty client id", brokers: brokers, opts: []sdk.Option{sdk.WithClientID("")}, invalid: true},
		{name: "control char in client id", brokers: brokers, opts: []sdk.Option{sdk.WithClientID("a\nb")}, invalid: true},
		{name: "negative linger", brokers: brokers, opts: []sdk.Option{sdk.WithLinger(-time.Millisecond)}, invalid: true},
		{name: "huge linger", brokers: brokers, opts: []sdk.Option{sdk.WithLinger(time.Hour)}, invalid: true},
		{name: "nil kgo option", brokers: brokers, opts: []sdk.Option{sdk.WithKgoOptions(nil)}, invalid: true},
		{name: "empty topic", brokers: brokers, opts: []sdk.Option{sdk.WithCommandsTopic("")}, invalid: true},
		{name: "bad topic char", brokers: brokers, opts: []sdk.Option{sdk.WithOrderEventsTopic("orders/v1")}, invalid: true},
		{name: "dot topic", brokers: brokers, opts: []sdk.Option{sdk.WithCommandsTopic("..")}, invalid: true},
		{name: "same topic twice", brokers: brokers, opts: []sdk.Option{
			sdk.WithCommandsTopic("x"), sdk.WithOrderEventsTopic("x"),
		}, invalid: true},
		{name: "bad namespace", brokers: brokers, opts: []sdk.Option{sdk.WithNamespace("shop eu")}, invalid: true},
		{name: "namespace too long", brokers: brokers, opts: []sdk.Option{sdk.WithNamespace(strings.Repeat("n", 230))}, invalid: true},
		{name: "unknown when full", brokers: brokers, opts: []sdk.Option{sdk.WithBuffer(1, sdk.WhenFull(7))}, invalid: true},
		{name: "negative buffer", brokers: brokers, opts: []sdk.Option{sdk.WithBuffer(-1, sdk.Block)}, invalid: true},
		{name: "nil clock", brokers: brokers, opts: []sdk.Option{sdk.WithClock(nil)}, invalid: true},
		{name: "idempotence off", brokers: brokers, opts: []sdk.Option{
			sdk.WithKgoOptions(kgo.DisableIdempotentWrite()),
		}, invalid: true},
		{name: "transactional", brokers: brokers, opts: []sdk.Option{
			sdk.WithKgoOptions(kgo.TransactionalID("tx")),
		}, invalid: true},
		{name: "manual flushing", brokers: brokers, opts: []sdk.Option{
			sdk.WithKgoOptions(kgo.ManualFlushing()),
		}, invalid: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := sdk.NewProducer(tc.brokers, tc.opts...)
			if p != nil {
				p.Close()
			}
			switch {
			case tc.invalid && !errors.Is(err, sdk.ErrInvalidOption):
				t.Fatalf("got %v, want ErrInvalidOption", err)
			case !tc.invalid && err != nil:
				t.Fatal(err)
			}
		})
	}
}

// Extra kgo options come first, so they cannot move records off the shared
// partitioner or weaken acks.
func TestKgoOptionsCannotOverrideContract(t *testing.T) {
	c := newCluster(t)
	var badAcks atomic.Int64
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if req.(*kmsg.ProduceRequest).Acks != -1 {
			badAcks.Add(1)
		}
		return nil, nil, false
	})
	p := newProducer(t, c, sdk.WithKgoOptions(
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.LeaderAck()),
	))
	ctx := testContext(t)
	for i := 0; i < 20; i++ {
		cmd := command(i)
		ack, err := p.SendCommand(ctx, cmd)
		if err != nil {
			t.Fatal(err)
		}
		if want := partition.Partition([]byte(cmd.GetSku()), partitions); ack.Partition != want {
			t.Fatalf("%s on partition %d, want %d", cmd.GetSku(), ack.Partition, want)
		}
	}
	if n := badAcks.Load(); n != 0 {
		t.Fatalf("%d produce requests without acks=all", n)
	}
}

// TestMaxBufferedFailsFast: under WithMaxBuffered a send that finds the
// buffer full fails at once with ErrBufferFull instead of waiting for
// room; here the one record buffered cannot leave, as no broker answers.
func TestMaxBufferedFailsFast(t *testing.T) {
	p, err := sdk.NewProducer([]string{"127.0.0.1:1"}, sdk.WithMaxBuffered(1))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := testContext(t)
	first := make(chan error, 1)
	p.SendCommandAsync(ctx, command(1), func(_ sdk.Ack, err error) { first <- err })

	start := time.Now()
	_, err = p.SendCommand(ctx, command(2))
	if !errors.Is(err, sdk.ErrBufferFull) || !errors.Is(err, kgo.ErrMaxBuffered) {
		t.Fatalf("send into a full buffer: %v, want ErrBufferFull", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the refused send took %v: it waited for room", took)
	}
	asyncErr := make(chan error, 1)
	p.SendCommandAsync(ctx, command(3), func(_ sdk.Ack, err error) { asyncErr <- err })
	if err := <-asyncErr; !errors.Is(err, sdk.ErrBufferFull) {
		t.Errorf("async send into a full buffer: %v, want ErrBufferFull", err)
	}
	select {
	case err := <-first:
		t.Errorf("the buffered record finished without a broker: %v", err)
	default:
	}
}

// TestMaxBufferedSyncSendSkipsLinger: a synchronous send flushes its
// partition at once with or without WithMaxBuffered; a bounded producer
// once sent through TryProduce, which waited out the whole linger (franz-go's
// default is 10 ms, the API's command round trip paid it on every request).
func TestMaxBufferedSyncSendSkipsLinger(t *testing.T) {
	c := newCluster(t)
	ctx := testContext(t)
	for _, opts := range [][]sdk.Option{
		{sdk.WithLinger(time.Minute)},
		{sdk.WithLinger(time.Minute), sdk.WithMaxBuffered(4)},
	} {
		p := newProducer(t, c, opts...)
		// ProduceSync flushes only partitions it knows: the client's
		// first record, before any metadata, lingers; a flush sends it.
		p.SendCommandAsync(ctx, command(100), nil)
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			start := time.Now()
			if _, err := p.SendCommand(ctx, command(i)); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Fatalf("%d options: a synchronous send took %v: it waited out the linger", len(opts), took)
			}
		}
	}
}

// TestMaxBufferedCountsEverySend: the bound holds over synchronous and
// asynchronous sends together, and room comes back as records are
// acknowledged, so a producer that drained accepts as many again.
func TestMaxBufferedCountsEverySend(t *testing.T) {
	c := newCluster(t)
	ctx := testContext(t)
	const bound = 3
	p := newProducer(t, c, sdk.WithLinger(time.Minute), sdk.WithMaxBuffered(bound))
	for round := range 2 {
		var wg sync.WaitGroup
		errs := make(chan error, bound)
		for i := range bound {
			wg.Add(1)
			p.SendCommandAsync(ctx, command(round*10+i), func(_ sdk.Ack, err error) {
				defer wg.Done()
				errs <- err
			})
		}
		// The lingering records hold every slot: one more is refused,
		// synchronous or not.
		if _, err := p.SendCommand(ctx, command(round*10+bound)); !errors.Is(err, sdk.ErrBufferFull) {
			t.Fatalf("round %d: a send past the bound: %v, want ErrBufferFull", round, err)
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
	if _, err := p.SendCommand(ctx, command(99)); err != nil {
		t.Fatalf("a send after the buffer drained: %v", err)
	}
}
