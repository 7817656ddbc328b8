package api

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/processors/flashsale"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	flashtopo "github.com/titan-commerce/titan/topologies/flashsale"
)

// FlashSaleResults hands each purchase result to the request waiting for
// it, as Results does for inventory commands: every API instance reads the
// whole flash-sale events topic from where it stood when the instance
// started and picks out the attempts it waits for.
//
// Results are keyed by sale and idempotency key (flashtopo.PurchaseKey),
// not by buyer, so two buyers may pick the same key, and a buyer may send
// another qty under a key used before, which is answered as a conflict; a
// waiter names its buyer and qty and gets only the result of that attempt.
type FlashSaleResults struct {
	client  *kgo.Client
	log     *slog.Logger
	waiters *pending[purchaseWaiter]
}

type purchaseWaiter struct {
	user string
	qty  int64
	ch   chan flashsale.Result
}

// NewFlashSaleResults positions a consumer at the current end of every
// partition of topic (the flash-sale events topic, Names.Events), so no
// result of an attempt sent after it returns can be missed.
func NewFlashSaleResults(ctx context.Context, brokers []string, topic string, log *slog.Logger, opts ...kgo.Opt) (*FlashSaleResults, error) {
	client, err := tail(ctx, brokers, topic, opts...)
	if err != nil {
		return nil, fmt.Errorf("api: flash-sale results: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	return newFlashSaleResults(client, log), nil
}

func newFlashSaleResults(client *kgo.Client, log *slog.Logger) *FlashSaleResults {
	return &FlashSaleResults{client: client, log: log, waiters: newPending[purchaseWaiter]()}
}

// tail returns a consumer of every partition of topic from its current
// end.
func tail(ctx context.Context, brokers []string, topic string, opts ...kgo.Opt) (*kgo.Client, error) {
	admin, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	ends, err := kadm.NewClient(admin).ListEndOffsets(ctx, topic)
	admin.Close()
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("end offsets: %w", err)
	}
	start := map[string]map[int32]kgo.Offset{topic: {}}
	ends.Each(func(o kadm.ListedOffset) {
		start[o.Topic][o.Partition] = kgo.NewOffset().At(o.Offset)
	})
	return kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(start),
		kgo.FetchMaxWait(maxWaitFetch),
	}, opts...)...)
}

// Run dispatches results until ctx ends, then closes the consumer.
func (r *FlashSaleResults) Run(ctx context.Context) error {
	defer r.client.Close()
	for {
		fetches := r.client.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			r.log.Warn("flash-sale results: fetch", "topic", topic, "partition", p, "err", err)
		})
		fetches.EachRecord(func(rec *kgo.Record) {
			var w flashsalev1.Result
			if err := proto.Unmarshal(rec.Value, &w); err != nil {
				r.log.Warn("flash-sale results: undecodable result", "partition", rec.Partition, "offset", rec.Offset, "err", err)
				return
			}
			r.deliver(flashsale.ResultFromWire(&w))
		})
	}
}

// wait registers interest in the result of one buyer's attempt, by its
// purchase key and qty. Call it before sending the attempt; call cancel
// when done waiting. ok is false, and nothing registered, when the bound on
// waiting requests is reached.
func (r *FlashSaleResults) wait(purchaseKey, user string, qty int64) (<-chan flashsale.Result, func(), bool) {
	w := purchaseWaiter{user: user, qty: qty, ch: make(chan flashsale.Result, 1)}
	cancel, ok := r.waiters.add(purchaseKey, w)
	return w.ch, cancel, ok
}

func (r *FlashSaleResults) deliver(res flashsale.Result) {
	key := flashtopo.PurchaseKey(res.SaleID, res.IdempotencyKey)
	for _, w := range r.waiters.take(key, func(w purchaseWaiter) bool { return w.user == res.UserID && w.qty == res.Qty }) {
		w.ch <- res // buffered, one result per waiter
	}
}
