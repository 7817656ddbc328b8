package sdk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/schemas"
	"github.com/titan-commerce/titan/schemas/codec"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

// ClockSkew is how much earlier than its since a wait starts reading.
// Results are stamped by the clock of the instance that processed the
// command, which may run behind the producer's.
const ClockSkew = 5 * time.Second

// WaitCommandResult waits for the result of the inventory command
// commandID on sku (restocked, reserved, rejected with its reason,
// committed, released), reading the inventory's events topic: only the
// partition sku maps to, from the first record stamped at since less
// ClockSkew. since is Ack.SentAt of the command's first send; an earlier
// time reads more, the zero time the whole partition. It gives up with
// ctx's error when ctx ends first.
//
// A command applied before is answered again with its first result when
// it is sent again within the inventory's dedupe window, so a retry's
// since finds it too.
func (p *Producer) WaitCommandResult(ctx context.Context, sku, commandID string, since time.Time) (*inventoryv1.Event, error) {
	if err := schemas.CheckSKU("sku", sku); err != nil {
		return nil, fmt.Errorf("sdk: wait for a command result: %w", err)
	}
	if err := schemas.CheckID("command_id", commandID, schemas.ReasonMissingCommandID); err != nil {
		return nil, fmt.Errorf("sdk: wait for a command result: %w", err)
	}
	ev, err := waitFor(ctx, p, p.topics.inventoryEvents, sku, since, func(ev *inventoryv1.Event) bool {
		// An expiry carries the id of the command whose time made it
		// due, before that command's own result.
		return ev.GetCommandId() == commandID && ev.GetType() != inventoryv1.EventType_EVENT_TYPE_EXPIRED && !ev.GetInternal()
	})
	if err != nil {
		return nil, fmt.Errorf("sdk: wait for the result of command %q on %q: %w", commandID, sku, err)
	}
	return ev, nil
}

// WaitOrderOutcome waits for the order's outcome, the order saga's one
// terminal event: Confirmed or Rejected (with its reason). It reads the
// outcomes topic (schemas.OrderOutcomes) as WaitCommandResult reads the
// events: the order's partition, from since less ClockSkew, where since is
// Ack.SentAt of the order's first placement. An order is placed once, so a
// placement sent again after the order ended gets no new outcome: its
// since must be the first one's.
func (p *Producer) WaitOrderOutcome(ctx context.Context, orderID string, since time.Time) (*ordersv1.OrderEvent, error) {
	if err := schemas.CheckID("order_id", orderID, schemas.ReasonMissingOrderID); err != nil {
		return nil, fmt.Errorf("sdk: wait for an order outcome: %w", err)
	}
	ev, err := waitFor(ctx, p, p.topics.orderOutcomes, orderID, since, func(ev *ordersv1.OrderEvent) bool {
		return ev.GetOrderId() == orderID && (ev.GetConfirmed() != nil || ev.GetRejected() != nil)
	})
	if err != nil {
		return nil, fmt.Errorf("sdk: wait for the outcome of order %q: %w", orderID, err)
	}
	return ev, nil
}

// WaitPurchaseResult waits for the one result of the flash-sale purchase
// named by saleID and idempotencyKey: purchased (with its bucket and
// price) or rejected with its reason (not_started, ended, sold_out,
// limit_exceeded, ...). It reads the flash sales' events topic
// (schemas.FlashSaleEvents) as WaitCommandResult reads the inventory's: the
// partition of the result's key (flashsale.PurchaseKey), from since less
// ClockSkew, where since is Ack.SentAt of the purchase's first send. A
// purchase sent again with its key is the same attempt, answered once, so
// a retry's wait must keep the first since.
func (p *Producer) WaitPurchaseResult(ctx context.Context, saleID, idempotencyKey string, since time.Time) (*flashsalev1.Result, error) {
	if err := schemas.CheckID("sale_id", saleID, schemas.ReasonMissingSaleID); err != nil {
		return nil, fmt.Errorf("sdk: wait for a purchase result: %w", err)
	}
	if err := schemas.CheckID("idempotency_key", idempotencyKey, schemas.ReasonMissingIdempotencyKey); err != nil {
		return nil, fmt.Errorf("sdk: wait for a purchase result: %w", err)
	}
	res, err := waitFor(ctx, p, p.topics.flashSaleEvents, flashsale.PurchaseKey(saleID, idempotencyKey), since,
		func(r *flashsalev1.Result) bool {
			return r.GetSaleId() == saleID && r.GetIdempotencyKey() == idempotencyKey
		})
	if err != nil {
		return nil, fmt.Errorf("sdk: wait for the result of purchase %q in sale %q: %w", idempotencyKey, saleID, err)
	}
	return res, nil
}

// waitFor reads the partition of topic that key maps to, from the first
// record stamped at since less ClockSkew, until a record under key decodes
// into an M that match accepts, or ctx ends. Records it cannot decode are
// not its answer and are passed over.
func waitFor[M proto.Message](ctx context.Context, p *Producer, topic, key string, since time.Time, match func(M) bool) (M, error) {
	var zero M
	part, start, err := p.startOffset(ctx, topic, []byte(key), since)
	if err != nil {
		return zero, err
	}
	// A client of its own: its assignment is this wait's alone, and it
	// goes when the wait ends.
	opts := append(append([]kgo.Opt(nil), p.kgoOpts...),
		kgo.SeedBrokers(p.brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {part: kgo.NewOffset().At(start)}}),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return zero, fmt.Errorf("reader of %s: %w", topic, err)
	}
	defer cl.Close()
	dec := codec.NewProto[M]()
	for {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return zero, context.Cause(ctx)
		}
		for _, fe := range fetches.Errors() {
			return zero, fmt.Errorf("read %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		var found M
		ok := false
		fetches.EachRecord(func(r *kgo.Record) {
			if ok || !bytes.Equal(r.Key, []byte(key)) {
				return
			}
			if m, err := dec.DecodeMessage(r.Value); err == nil && match(m) {
				found, ok = m, true
			}
		})
		if ok {
			return found, nil
		}
	}
}

// errNoTopic is returned by a wait on a topic the cluster does not have.
var errNoTopic = errors.New("no such topic")

// startOffset returns the partition of topic that key maps to and the
// offset of its first record stamped at since less ClockSkew, or its end
// when there is none.
func (p *Producer) startOffset(ctx context.Context, topic string, key []byte, since time.Time) (int32, int64, error) {
	ms := max(since.Add(-ClockSkew).UnixMilli(), 0)
	if since.IsZero() {
		ms = 0
	}
	listed, err := kadm.NewClient(p.client).ListOffsetsAfterMilli(ctx, ms, topic)
	if err != nil {
		return 0, 0, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	parts := listed[topic]
	if _, unknown := parts[-1]; unknown || len(parts) == 0 {
		return 0, 0, fmt.Errorf("%s: %w", topic, errNoTopic)
	}
	part := partition.Partition(key, int32(len(parts)))
	o, ok := parts[part]
	if !ok {
		return 0, 0, fmt.Errorf("list offsets of %s: partition %d not listed", topic, part)
	}
	if o.Err != nil {
		return 0, 0, fmt.Errorf("list offsets of %s/%d: %w", topic, part, o.Err)
	}
	return part, o.Offset, nil
}
