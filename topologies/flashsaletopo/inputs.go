package flashsaletopo

import (
	"errors"
	"fmt"

	"github.com/lovoo/goka"

	"github.com/titan-commerce/titan/internal/millis"
	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/schemas"
)

// The reasons a message on the internal topic is set aside for. Only Titan
// writes that topic, so any of them is a bug to look into.
const (
	reasonInvalidKind = "invalid_kind"
	reasonInvalidSale = "invalid_sale"
	reasonKeyMismatch = "key_mismatch"
)

var errInvalid = errors.New("flashsale: invalid message")

// onPurchase takes the public commands topic, which clients write. A client
// may only buy: a sale is created, abandoned and closed by Titan alone, on
// the internal topic, so no client can define a sale whose units the
// inventory never set aside, or end one. A purchase's ids follow the id rule
// and stay out of Titan's namespace, and its own time (which the bucket
// decides the window with) must be close to the time Kafka received it.
func (g *group) onPurchase(ctx goka.Context, msg any) error {
	m, err := decodeMessage(ctx, msg)
	if err != nil {
		return err
	}
	if m.Kind != flashsale.KindPurchase {
		return observe.Reject(string(schemas.ReasonInternalKind),
			fmt.Errorf("%w: clients send purchases only; a %s comes from Titan, on its internal topic", errInvalid, m.Kind))
	}
	if err := checkPurchase(m); err != nil {
		return observe.Reject(string(schemas.ReasonOf(err)), err)
	}
	if m.Key != g.router.User(m.SaleID, m.UserID) {
		return observe.Reject(reasonKeyMismatch, fmt.Errorf("%w: purchase of user %q on key %q", errInvalid, m.UserID, m.Key))
	}
	if err := g.window.Check("timestamp_ms", millis.Of(m.Time), ctx.Timestamp()); err != nil {
		return observe.Reject(string(schemas.ReasonOf(err)), err)
	}
	// A client message never claims an origin: its copies are told apart
	// by the idempotency key, in the buyer's state.
	m.Internal, m.Origin = false, flashsale.Origin{}
	return g.decide(ctx, m, streamCommands)
}

// checkPurchase applies the rules a client's purchase must meet
// (schemas.CheckPurchase).
func checkPurchase(m flashsale.Message) error {
	return schemas.CheckPurchase(m.SaleID, m.UserID, m.IdempotencyKey, m.Qty, m.Bucket)
}

// onInternal takes Titan's own messages: the API's Create, the settler's
// Abandon and Close. Each is idempotent by the state it meets (a repeated
// Create or Abandon changes nothing, a bucket closes once), so none needs
// an origin.
func (g *group) onInternal(ctx goka.Context, msg any) error {
	m, err := decodeMessage(ctx, msg)
	if err != nil {
		return err
	}
	switch m.Kind {
	case flashsale.KindCreate:
		if !m.Sale.Valid() || m.Sale.ID != m.SaleID {
			return observe.Reject(reasonInvalidSale, fmt.Errorf("%w: sale %+v", errInvalid, m.Sale))
		}
		if m.Key != g.router.Sale(m.SaleID) {
			return observe.Reject(reasonKeyMismatch, fmt.Errorf("%w: create of %q on key %q", errInvalid, m.SaleID, m.Key))
		}
	case flashsale.KindAbandon:
		if m.Key != g.router.Sale(m.SaleID) {
			return observe.Reject(reasonKeyMismatch, fmt.Errorf("%w: abandon of %q on key %q", errInvalid, m.SaleID, m.Key))
		}
	case flashsale.KindClose:
		if m.Bucket < 0 || m.Bucket >= flashsale.MaxBuckets || m.Key != g.router.Bucket(m.SaleID, m.Bucket) {
			return observe.Reject(reasonKeyMismatch, fmt.Errorf("%w: close of bucket %d on key %q", errInvalid, m.Bucket, m.Key))
		}
	default:
		return observe.Reject(reasonInvalidKind, fmt.Errorf("%w: %s on the internal topic", errInvalid, m.Kind))
	}
	m.Internal, m.Origin = false, flashsale.Origin{}
	return g.decide(ctx, m, streamInternal)
}
