package api

import (
	"context"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/schemas/codec"
)

// FlashSaleResults hands each purchase result to the request waiting for
// it: a tailer of the flash-sale events topic (Names.Events).
//
// Results are keyed by sale and idempotency key (flashsale.PurchaseKey),
// not by buyer, so two buyers may pick the same key, and a buyer may send
// another qty under a key used before, which is answered as a conflict; a
// waiter names its buyer and qty and gets only the result of that attempt.
type FlashSaleResults struct{ *tailer[flashsale.Result] }

// NewFlashSaleResults positions a consumer at the current end of every
// partition of topic, so no result of an attempt sent after it returns can
// be missed.
func NewFlashSaleResults(ctx context.Context, brokers []string, topic string, log *slog.Logger, opts ...kgo.Opt) (*FlashSaleResults, error) {
	t, err := startTailer(ctx, brokers, topic, "flash-sale results", log, resultCodec.DecodeValue, purchaseResultKey, opts...)
	if err != nil {
		return nil, err
	}
	return &FlashSaleResults{t}, nil
}

func newFlashSaleResults(client *kgo.Client, log *slog.Logger) *FlashSaleResults {
	return &FlashSaleResults{newTailer("flash-sale results", client, log, resultCodec.DecodeValue, purchaseResultKey)}
}

var resultCodec = codec.Wire(flashsale.ResultToWire, flashsale.ResultFromWire)

func purchaseResultKey(r flashsale.Result) (string, bool) {
	return flashsale.PurchaseKey(r.SaleID, r.IdempotencyKey), true
}

// wait registers interest in the result of one buyer's attempt, by its
// purchase key and qty (tailer.wait).
func (r *FlashSaleResults) wait(purchaseKey, user string, qty int64) (<-chan flashsale.Result, func(), bool) {
	return r.tailer.wait(purchaseKey, func(res flashsale.Result) bool { return res.UserID == user && res.Qty == qty })
}
