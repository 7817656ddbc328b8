package sdk

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/schemas"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

// Input is one record a shop's service sends to Titan, as a plain value:
// Restock, Reserve, Commit, Release (inventory); PlaceOrder, MarkPaid,
// PaymentFailed, CancelOrder (orders); SetPrice, StartCampaign, EndCampaign (pricing);
// DefineFlashSale, Purchase (flash sales); View (recommendations). Send
// and SendAsync take any of them.
//
// The caller names the operation with an idempotency key and the SDK fills
// the rest: the record's id is derived from the key (schemas.DeriveID), so
// a send retried with the same key, after a timeout or a crash, is the same
// record to the processor, which applies it once; its time is the
// producer's clock. Then the input is checked with the rules its processor
// holds it to, and keyed as its processor reads it.
type Input interface {
	// name says what the input is, for errors.
	name() string
	// build fills, checks and encodes the input, stamped now.
	build(t *topics, now time.Time) (built, error)
}

// built is an input ready for the client: its record and its id.
type built struct {
	rec *kgo.Record
	id  string
}

// derived checks a caller's idempotency key and builds the record with
// the id derived from it.
func derived(key string, build func(id string) (built, error)) (built, error) {
	if err := schemas.CheckClientID("idempotency_key", key, schemas.ReasonMissingIdempotencyKey); err != nil {
		return built{}, err
	}
	return build(schemas.DeriveID(key))
}

func record(topic, key string, m proto.Message, id string) (built, error) {
	v, err := proto.Marshal(m)
	if err != nil {
		return built{}, err
	}
	return built{rec: &kgo.Record{Topic: topic, Key: []byte(key), Value: v}, id: id}, nil
}

// checked encodes m for topic under key once every check passes; a
// failing check's error names the field.
func checked[M proto.Message](topic, key, id string, m M, checks ...func(M) error) (built, error) {
	for _, check := range checks {
		if err := check(m); err != nil {
			return built{}, err
		}
	}
	return record(topic, key, m, id)
}

// inventoryRecord checks a client's inventory command as the inventory
// topology does and keys it by SKU.
func inventoryRecord(t *topics, cmd *inventoryv1.Command) (built, error) {
	return checked(t.commands, cmd.GetSku(), cmd.GetCommandId(), cmd, schemas.ValidateCommand, schemas.CheckClientCommand)
}

// orderRecord checks a checkout's order event as the order saga does and
// keys it by order id.
func orderRecord(t *topics, ev *ordersv1.OrderEvent) (built, error) {
	return checked(t.orderEvents, ev.GetOrderId(), ev.GetEventId(), ev, schemas.ValidateOrderEvent, schemas.CheckClientOrderEvent)
}

// Restock adds Qty units to SKU's stock on hand.
type Restock struct {
	IdempotencyKey string
	SKU            string
	Qty            int64
}

func (Restock) name() string { return "restock" }

func (in Restock) build(t *topics, now time.Time) (built, error) {
	return derived(in.IdempotencyKey, func(id string) (built, error) {
		return inventoryRecord(t, &inventoryv1.Command{CommandId: id, Sku: in.SKU, Qty: in.Qty, TimestampMs: now.UnixMilli(),
			Kind: &inventoryv1.Command_Restock{Restock: &inventoryv1.Restock{}}})
	})
}

// Reserve holds Qty units of SKU for OrderID until TTL after the send.
// TTL counts whole milliseconds, up to schemas.MaxReserveTTLMs.
type Reserve struct {
	IdempotencyKey string
	SKU            string
	OrderID        string
	Qty            int64
	TTL            time.Duration
}

func (Reserve) name() string { return "reserve" }

func (in Reserve) build(t *topics, now time.Time) (built, error) {
	return derived(in.IdempotencyKey, func(id string) (built, error) {
		return inventoryRecord(t, &inventoryv1.Command{CommandId: id, OrderId: in.OrderID, Sku: in.SKU, Qty: in.Qty,
			TimestampMs: now.UnixMilli(), Kind: &inventoryv1.Command_Reserve{Reserve: &inventoryv1.Reserve{TtlMs: in.TTL.Milliseconds()}}})
	})
}

// Commit sells OrderID's reservation of SKU: Qty units of it, the rest
// going back to available stock, or all of it when Qty is 0.
type Commit struct {
	IdempotencyKey string
	SKU            string
	OrderID        string
	Qty            int64
}

func (Commit) name() string { return "commit" }

func (in Commit) build(t *topics, now time.Time) (built, error) {
	return derived(in.IdempotencyKey, func(id string) (built, error) {
		return inventoryRecord(t, &inventoryv1.Command{CommandId: id, OrderId: in.OrderID, Sku: in.SKU, Qty: in.Qty,
			TimestampMs: now.UnixMilli(), Kind: &inventoryv1.Command_Commit{Commit: &inventoryv1.Commit{}}})
	})
}

// Release gives OrderID's reservation of SKU back to available stock.
type Release struct {
	IdempotencyKey string
	SKU            string
	OrderID        string
}

func (Release) name() string { return "release" }

func (in Release) build(t *topics, now time.Time) (built, error) {
	return derived(in.IdempotencyKey, func(id string) (built, error) {
		return inventoryRecord(t, &inventoryv1.Command{CommandId: id, OrderId: in.OrderID, Sku: in.SKU,
			TimestampMs: now.UnixMilli(), Kind: &inventoryv1.Command_Release{Release: &inventoryv1.Release{}}})
	})
}

// OrderLine is Qty units of one SKU at UnitPriceMinor, in minor units of
// the order's currency.
type OrderLine struct {
	SKU            string
	Qty            int64
	UnitPriceMinor int64
}

// PlaceOrder starts an order's saga: fraud scoring, a price check per line
// and a reservation per line, then one outcome (WaitOrderOutcome). The
// user, device and payment ids are required: fraud scoring counts by them.
// An order is placed once; placing it again with the same lines changes
// nothing, with other lines is refused as a conflict.
type PlaceOrder struct {
	IdempotencyKey string
	OrderID        string
	UserID         string
	DeviceID       string
	PaymentID      string
	// Currency is an ISO 4217 code.
	Currency string
	Lines    []OrderLine
}

func (PlaceOrder) name() string { return "order placement" }

func (in PlaceOrder) build(t *topics, now time.Time) (built, error) {
	return derived(in.IdempotencyKey, func(id string) (built, error) {
		lines := make([]*ordersv1.OrderLine, len(in.Lines))
		for i, l := range in.Lines {
			lines[i] = &ordersv1.OrderLine{Sku: l.SKU, Qty: l.Qty, UnitPriceMinor: l.UnitPriceMinor}
		}
		placed := &ordersv1.OrderPlaced{UserId: in.UserID, DeviceId: in.DeviceID, PaymentId: in.PaymentID,
			Currency: in.Currency, Lines: lines}
		ev := &ordersv1.OrderEvent{EventId: id, OrderId: in.OrderID, TimestampMs: now.UnixMilli(),
			Kind: &ordersv1.OrderEvent_Placed{Placed: placed}}
		return checked(t.orderEvents, in.OrderID, id, ev, schemas.ValidateOrderEvent, requireIdentity, schemas.CheckClientOrderEvent)
	})
}

// requireIdentity is schemas.CheckPlacedIdentity of a placement: the saga
// sets aside one without the ids (topologies/orderstopo).
func requireIdentity(ev *ordersv1.OrderEvent) error {
	return schemas.CheckPlacedIdentity(ev.GetPlaced())
}

// PaymentFailed reports a failed payment attempt for an order: it counts
// against the user, the device and the payment instrument in fraud
// scoring, and does not change the order by itself.
type PaymentFailed struct {
	IdempotencyKey string
	OrderID        string
	UserID         string
	DeviceID       string
	PaymentID      string
	AmountMinor    int64
	Reason         string
}

func (PaymentFailed) name() string { return "payment failure" }

func (in PaymentFailed) build(t *topics, now time.Time) (built, error) {
	return derived(in.IdempotencyKey, func(id string) (built, error) {
		return orderRecord(t, &ordersv1.OrderEvent{EventId: id, OrderId: in.OrderID, TimestampMs: now.UnixMilli(),
			Kind: &ordersv1.OrderEvent_PaymentFailed{PaymentFailed: &ordersv1.PaymentFailed{UserId: in.UserID,
				DeviceId: in.DeviceID, PaymentId: in.PaymentID, AmountMinor: in.AmountMinor, Reason: in.Reason}}})
	})
}

// MarkPaid reports that the payment provider captured an order's
// payment. The saga does not wait for it (an order is confirmed and
// committed once its stock is reserved); it notes the payment in the
// order's history, where a payment for an order rejected or cancelled
// meanwhile shows as one to refund.
type MarkPaid struct {
	IdempotencyKey string
	OrderID        string
	UserID         string
	PaymentID      string
	AmountMinor    int64
	Currency       string
}

func (MarkPaid) name() string { return "payment" }

func (in MarkPaid) build(t *topics, now time.Time) (built, error) {
	return derived(in.IdempotencyKey, func(id string) (built, error) {
		return orderRecord(t, &ordersv1.OrderEvent{EventId: id, OrderId: in.OrderID, TimestampMs: now.UnixMilli(),
			Kind: &ordersv1.OrderEvent_Paid{Paid: &ordersv1.OrderPaid{UserId: in.UserID, PaymentId: in.PaymentID,
				AmountMinor: in.AmountMinor, Currency: in.Currency}}})
	})
}

// CancelOrder cancels an order that has no outcome yet: it is rejected
// with reason cancelled and its reservations are released.
type CancelOrder struct {
	IdempotencyKey string
	OrderID        string
	Reason         string
}

func (CancelOrder) name() string { return "order cancellation" }

func (in CancelOrder) build(t *topics, now time.Time) (built, error) {
	return derived(in.IdempotencyKey, func(id string) (built, error) {
		return orderRecord(t, &ordersv1.OrderEvent{EventId: id, OrderId: in.OrderID, TimestampMs: now.UnixMilli(),
			Kind: &ordersv1.OrderEvent_Cancelled{Cancelled: &ordersv1.OrderCancelled{Reason: in.Reason}}})
	})
}
