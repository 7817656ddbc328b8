package schemas_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/titan-commerce/titan/schemas"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

func reserve(mut func(*inventoryv1.Command)) *inventoryv1.Command {
	cmd := &inventoryv1.Command{
		CommandId:   "cmd-1",
		OrderId:     "order-1",
		Sku:         "SKU-1",
		Qty:         2,
		TimestampMs: 1_700_000_000_000,
		Kind:        &inventoryv1.Command_Reserve{Reserve: &inventoryv1.Reserve{TtlMs: 60_000}},
	}
	if mut != nil {
		mut(cmd)
	}
	return cmd
}

func withKind(kind string) func(*inventoryv1.Command) {
	return func(c *inventoryv1.Command) {
		switch kind {
		case "restock":
			c.Kind = &inventoryv1.Command_Restock{Restock: &inventoryv1.Restock{}}
		case "commit":
			c.Kind = &inventoryv1.Command_Commit{Commit: &inventoryv1.Commit{}}
		case "release":
			c.Kind = &inventoryv1.Command_Release{Release: &inventoryv1.Release{}}
		case "expire":
			c.Kind = &inventoryv1.Command_Expire{Expire: &inventoryv1.Expire{}}
		case "none":
			c.Kind = nil
		}
	}
}

func chain(muts ...func(*inventoryv1.Command)) func(*inventoryv1.Command) {
	return func(c *inventoryv1.Command) {
		for _, m := range muts {
			m(c)
		}
	}
}

func TestValidateCommand(t *testing.T) {
	long := strings.Repeat("x", schemas.MaxIDBytes+1)
	for _, tc := range []struct {
		name   string
		cmd    *inventoryv1.Command
		field  string
		reason schemas.Reason // empty: valid
	}{
		{name: "reserve", cmd: reserve(nil)},
		{name: "restock", cmd: reserve(chain(withKind("restock"), func(c *inventoryv1.Command) { c.OrderId = "" }))},
		{name: "restock with order id", cmd: reserve(withKind("restock"))},
		{name: "commit", cmd: reserve(chain(withKind("commit"), func(c *inventoryv1.Command) { c.Qty = 0 }))},
		{name: "release", cmd: reserve(chain(withKind("release"), func(c *inventoryv1.Command) { c.Qty = -1 }))},
		{name: "expire", cmd: reserve(withKind("expire"))},
		{name: "limits inclusive", cmd: reserve(func(c *inventoryv1.Command) {
			c.CommandId = strings.Repeat("c", schemas.MaxIDBytes)
			c.OrderId = strings.Repeat("o", schemas.MaxIDBytes)
			c.Sku = strings.Repeat("s", schemas.MaxSKUBytes)
			c.Qty = schemas.MaxQty
			c.GetReserve().TtlMs = schemas.MaxReserveTTLMs
		})},
		{name: "unicode sku", cmd: reserve(func(c *inventoryv1.Command) { c.Sku = "Größe-42-€" })},

		{name: "nil", cmd: nil, field: "", reason: schemas.ReasonNilMessage},
		{name: "no command id", cmd: reserve(func(c *inventoryv1.Command) { c.CommandId = "" }),
			field: "command_id", reason: schemas.ReasonMissingCommandID},
		{name: "long command id", cmd: reserve(func(c *inventoryv1.Command) { c.CommandId = long }),
			field: "command_id", reason: schemas.ReasonTooLong},
		{name: "no sku", cmd: reserve(func(c *inventoryv1.Command) { c.Sku = "" }),
			field: "sku", reason: schemas.ReasonMissingSKU},
		{name: "long sku", cmd: reserve(func(c *inventoryv1.Command) { c.Sku = strings.Repeat("s", schemas.MaxSKUBytes+1) }),
			field: "sku", reason: schemas.ReasonTooLong},
		{name: "sku not utf8", cmd: reserve(func(c *inventoryv1.Command) { c.Sku = "SKU-\xff" }),
			field: "sku", reason: schemas.ReasonInvalidSKU},
		{name: "sku newline", cmd: reserve(func(c *inventoryv1.Command) { c.Sku = "SKU\n1" }),
			field: "sku", reason: schemas.ReasonInvalidSKU},
		{name: "sku nul", cmd: reserve(func(c *inventoryv1.Command) { c.Sku = "SKU\x00" }),
			field: "sku", reason: schemas.ReasonInvalidSKU},
		{name: "sku DEL", cmd: reserve(func(c *inventoryv1.Command) { c.Sku = "SKU\x7f" }),
			field: "sku", reason: schemas.ReasonInvalidSKU},
		{name: "sku C1 control", cmd: reserve(func(c *inventoryv1.Command) { c.Sku = "SKU\u0085" }),
			field: "sku", reason: schemas.ReasonInvalidSKU},
		{name: "zero timestamp", cmd: reserve(func(c *inventoryv1.Command) { c.TimestampMs = 0 }),
			field: "timestamp_ms", reason: schemas.ReasonInvalidTimestamp},
		{name: "negative timestamp", cmd: reserve(func(c *inventoryv1.Command) { c.TimestampMs = -5 }),
			field: "timestamp_ms", reason: schemas.ReasonInvalidTimestamp},
		{name: "no kind", cmd: reserve(withKind("none")),
			field: "kind", reason: schemas.ReasonMissingKind},

		{name: "restock zero qty", cmd: reserve(chain(withKind("restock"), func(c *inventoryv1.Command) { c.Qty = 0 })),
			field: "qty", reason: schemas.ReasonInvalidQty},
		{name: "restock negative qty", cmd: reserve(chain(withKind("restock"), func(c *inventoryv1.Command) { c.Qty = -3 })),
			field: "qty", reason: schemas.ReasonInvalidQty},
		{name: "restock huge qty", cmd: reserve(chain(withKind("restock"), func(c *inventoryv1.Command) { c.Qty = schemas.MaxQty + 1 })),
			field: "qty", reason: schemas.ReasonInvalidQty},
		{name: "restock long order id", cmd: reserve(chain(withKind("restock"), func(c *inventoryv1.Command) { c.OrderId = long })),
			field: "order_id", reason: schemas.ReasonTooLong},

		{name: "reserve no order", cmd: reserve(func(c *inventoryv1.Command) { c.OrderId = "" }),
			field: "order_id", reason: schemas.ReasonMissingOrderID},
		{name: "reserve long order", cmd: reserve(func(c *inventoryv1.Command) { c.OrderId = long }),
			field: "order_id", reason: schemas.ReasonTooLong},
		{name: "reserve zero qty", cmd: reserve(func(c *inventoryv1.Command) { c.Qty = 0 }),
			field: "qty", reason: schemas.ReasonInvalidQty},
		{name: "reserve huge qty", cmd: reserve(func(c *inventoryv1.Command) { c.Qty = schemas.MaxQty + 1 }),
			field: "qty", reason: schemas.ReasonInvalidQty},
		{name: "reserve zero ttl", cmd: reserve(func(c *inventoryv1.Command) { c.GetReserve().TtlMs = 0 }),
			field: "reserve.ttl_ms", reason: schemas.ReasonInvalidTTL},
		{name: "reserve negative ttl", cmd: reserve(func(c *inventoryv1.Command) { c.GetReserve().TtlMs = -1 }),
			field: "reserve.ttl_ms", reason: schemas.ReasonInvalidTTL},
		{name: "reserve ttl over 7 days", cmd: reserve(func(c *inventoryv1.Command) { c.GetReserve().TtlMs = schemas.MaxReserveTTLMs + 1 }),
			field: "reserve.ttl_ms", reason: schemas.ReasonInvalidTTL},
		{name: "reserve nil payload", cmd: reserve(func(c *inventoryv1.Command) { c.Kind = &inventoryv1.Command_Reserve{} }),
			field: "reserve.ttl_ms", reason: schemas.ReasonInvalidTTL},

		{name: "commit no order", cmd: reserve(chain(withKind("commit"), func(c *inventoryv1.Command) { c.OrderId = "" })),
			field: "order_id", reason: schemas.ReasonMissingOrderID},
		{name: "release no order", cmd: reserve(chain(withKind("release"), func(c *inventoryv1.Command) { c.OrderId = "" })),
			field: "order_id", reason: schemas.ReasonMissingOrderID},
		{name: "expire no order", cmd: reserve(chain(withKind("expire"), func(c *inventoryv1.Command) { c.OrderId = "" })),
			field: "order_id", reason: schemas.ReasonMissingOrderID},
		{name: "expire long order", cmd: reserve(chain(withKind("expire"), func(c *inventoryv1.Command) { c.OrderId = long })),
			field: "order_id", reason: schemas.ReasonTooLong},

		// The first broken rule in field order wins, so a reason is stable
		// however many rules a record breaks.
		{name: "first rule wins", cmd: &inventoryv1.Command{Sku: "\n"},
			field: "command_id", reason: schemas.ReasonMissingCommandID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkInvalid(t, schemas.ValidateCommand(tc.cmd), tc.field, tc.reason)
		})
	}
}

func placed(mut func(*ordersv1.OrderEvent, *ordersv1.OrderPlaced)) *ordersv1.OrderEvent {
	p := &ordersv1.OrderPlaced{
		UserId:    "user-1",
		DeviceId:  "device-1",
		PaymentId: "pay-1",
		Currency:  "EUR",
		Lines: []*ordersv1.OrderLine{
			{Sku: "SKU-1", Qty: 1, UnitPriceMinor: 1999},
			{Sku: "SKU-2", Qty: 3, UnitPriceMinor: 0},
		},
	}
	ev := &ordersv1.OrderEvent{
		EventId:     "evt-1",
		OrderId:     "order-1",
		TimestampMs: 1_700_000_000_000,
		Kind:        &ordersv1.OrderEvent_Placed{Placed: p},
	}
	if mut != nil {
		mut(ev, p)
	}
	return ev
}

func TestValidateOrderEvent(t *testing.T) {
	long := strings.Repeat("x", schemas.MaxIDBytes+1)
	longReason := strings.Repeat("r", schemas.MaxReasonBytes+1)
	manyLines := func(n int) []*ordersv1.OrderLine {
		lines := make([]*ordersv1.OrderLine, n)
		for i := range lines {
			lines[i] = &ordersv1.OrderLine{Sku: fmt.Sprintf("SKU-%d", i), Qty: 1}
		}
		return lines
	}
	for _, tc := range []struct {
		name   string
		ev     *ordersv1.OrderEvent
		field  string
		reason schemas.Reason
	}{
		{name: "placed", ev: placed(nil)},
		{name: "placed optional ids empty", ev: placed(func(_ *ordersv1.OrderEvent, p *ordersv1.OrderPlaced) {
			p.UserId, p.DeviceId, p.PaymentId = "", "", ""
		})},
		{name: "placed max lines", ev: placed(func(_ *ordersv1.OrderEvent, p *ordersv1.OrderPlaced) { p.Lines = manyLines(schemas.MaxOrderLines) })},
		{name: "confirmed", ev: placed(func(e *ordersv1.OrderEvent, _ *ordersv1.OrderPlaced) {
			e.Kind = &ordersv1.OrderEvent_Confirmed{Confirmed: &ordersv1.OrderConfirmed{}}
		})},
		{name: "rejected", ev: placed(func(e *ordersv1.OrderEvent, _ *ordersv1.OrderPlaced) {
			e.Kind = &ordersv1.OrderEvent_Rejected{Rejected: &ordersv1.OrderRejected{Reason: "out_of_stock"}}
		})},
		{name: "cancelled without reason", ev: placed(func(e *ordersv1.OrderEvent, _ *ordersv1.OrderPlaced) {
			e.Kind = &ordersv1.OrderEvent_Cancelled{Cancelled: &ordersv1.OrderCancelled{}}
		})},
		{name: "payment failed", ev: paymentFailed(nil)},
		{name: "payment failed no user", ev: paymentFailed(func(p *ordersv1.PaymentFailed) { p.UserId = "" }),
			field: "payment_failed.user_id", reason: schemas.ReasonMissingUserID},
		{name: "payment failed no device", ev: paymentFailed(func(p *ordersv1.PaymentFailed) { p.DeviceId = "" }),
			field: "payment_failed.device_id", reason: schemas.ReasonMissingDeviceID},
		{name: "payment failed no payment id", ev: paymentFailed(func(p *ordersv1.PaymentFailed) { p.PaymentId = "" }),
			field: "payment_failed.payment_id", reason: schemas.ReasonMissingPaymentID},
		{name: "payment failed long payment id", ev: paymentFailed(func(p *ordersv1.PaymentFailed) { p.PaymentId = long }),
			field: "payment_failed.payment_id", reason: schemas.ReasonTooLong},
		{name: "payment failed negative amount", ev: paymentFailed(func(p *ordersv1.PaymentFailed) { p.AmountMinor = -1 }),
			field: "payment_failed.amount_minor", reason: schemas.ReasonInvalidPrice},
		{name: "payment failed long reason", ev: paymentFailed(func(p *ordersv1.PaymentFailed) { p.Reason = longReason }),
			field: "payment_failed.reason", reason: schemas.ReasonTooLong},
		{name: "paid", ev: paid(nil)},
		{name: "paid no user", ev: paid(func(p *ordersv1.OrderPaid) { p.UserId = "" }),
			field: "paid.user_id", reason: schemas.ReasonMissingUserID},
		{name: "paid no payment id", ev: paid(func(p *ordersv1.OrderPaid) { p.PaymentId = "" }),
			field: "paid.payment_id", reason: schemas.ReasonMissingPaymentID},
		{name: "paid long payment id", ev: paid(func(p *ordersv1.OrderPaid) { p.PaymentId = long }),
			field: "paid.payment_id", reason: schemas.ReasonTooLong},
		{name: "paid negative amount", ev: paid(func(p *ordersv1.OrderPaid) { p.AmountMinor = -1 }),
			field: "paid.amount_minor", reason: schemas.ReasonInvalidPrice},
		{name: "paid no currency", ev: paid(func(p *ordersv1.OrderPaid) { p.Currency = "" }),
			field: "paid.currency", reason: schemas.ReasonMissingCurrency},
		{name: "paid lower-case currency", ev: paid(func(p *ordersv1.OrderPaid) { p.Currency = "eur" }),
			field: "paid.currency", reason: schemas.ReasonInvalidCurrency},

		{name: "nil", ev: nil, reason: schemas.ReasonNilMessage},
		{name: "no event id", ev: placed(func(e *ordersv1.OrderEvent, _ *ordersv1.OrderPlaced) { e.EventId = "" }),
			field: "event_id", reason: schemas.ReasonMissingEventID},
		{name: "long event id", ev: placed(func(e *ordersv1.OrderEvent, _ *ordersv1.OrderPlaced) { e.EventId = long }),
			field: "event_id", reason: schemas.ReasonTooLong},
		{name: "no order id", ev: placed(func(e *ordersv1.OrderEvent, _ *ordersv1.OrderPlaced) { e.OrderId = "" }),
			field: "order_id", reason: schemas.ReasonMissingOrderID},
		{name: "long order id", ev: placed(func(e *ordersv1.OrderEvent, _ *ordersv1.OrderPlaced) { e.OrderId = long }),
			field: "order_id", reason: schemas.ReasonTooLong},
		{name: "no timestamp", ev: placed(func(e *ordersv1.OrderEvent, _ *ordersv1.OrderPlaced) { e.TimestampMs = 0 }),
			field: "timestamp_ms", reason: schemas.ReasonInvalidTimestamp},
		{name: "no kind", ev: placed(func(e *ordersv1.OrderEvent, _ *ordersv1.OrderPlaced) { e.Kind = nil }),
			field: "kind", reason: schemas.ReasonMissingKind},

		{name: "long user id", ev: placed(func(_ *ordersv1.OrderEvent, p *ordersv1.OrderPlaced) { p.UserId = long }),
			field: "placed.user_id", reason: schemas.ReasonTooLong},
		{name: "long device id", ev: placed(func(_ *ordersv1.OrderEvent, p *ordersv1.OrderPlaced) { p.DeviceId = long }),
			field: "placed.device_id", reason: schemas.ReasonTooLong},
		{name: "long payment id", ev: placed(func(_ *ordersv1.OrderEvent, p *ordersv1.OrderPlaced) { p.PaymentId = long }),
			field: "placed.payment_id", reason: schemas.ReasonTooLong},
		{name: "no currency", ev: placed(func(_ *ordersv1.OrderEvent, p *ordersv1.OrderPlaced) { p.Currency = "" }),
			field: "placed.currency", reason: schemas.ReasonMissingCurrency},
		{name: "lower-case currency", ev: placed(func(_ *ordersv1.OrderEvent, p *ordersv1.OrderPlaced) { p.Currency = "eur" }),
			field: "placed.currency", reason: schemas.ReasonInvalidCurrency},
		{name: "currency symbol", ev: placed(func(_ *ordersv1.OrderEvent, p *ordersv1.OrderPlaced) { p.Currency = "€" }),
			field: "placed.currency", reason: schemas.ReasonInvalidCurrency},
		{name: "no lines", ev: placed(func(_ *ordersv1.OrderEvent, p *ordersv1.OrderPlaced) { p.Lines = nil }),
			field: "placed.lines", reason: schemas.ReasonMissingLines},
		{name: "too many lines", ev: placed(func(_ *ordersv1.OrderEvent, p *ordersv1.OrderPlaced) { p.Lines = manyLines(schemas.MaxOrderLines + 1) }),
			field: "placed.lines", reason: schemas.ReasonTooLong},
		{name: "line without sku", ev: placed(func(_ *ordersv1.OrderEvent, p *ordersv1.OrderPlaced) { p.Lines[1].Sku = "" }),
			field: "placed.lines[1].sku", reason: schemas.ReasonMissingSKU},
		{name: "line sku control", ev: placed(func(_ *ordersv1.OrderEvent, p *ordersv1.OrderPlaced) { p.Lines[1].Sku = "a\tb" }),
			field: "placed.lines[1].sku", reason: schemas.ReasonInvalidSKU},
		{name: "duplicate sku", ev: placed(func(_ *ordersv1.OrderEvent, p *ordersv1.OrderPlaced) { p.Lines[1].Sku = p.Lines[0].Sku }),
			field: "placed.lines[1].sku", reason: schemas.ReasonDuplicateSKU},
		{name: "line zero qty", ev: placed(func(_ *ordersv1.OrderEvent, p *ordersv1.OrderPlaced) { p.Lines[0].Qty = 0 }),
			field: "placed.lines[0].qty", reason: schemas.ReasonInvalidQty},
		{name: "line huge qty", ev: placed(func(_ *ordersv1.OrderEvent, p *ordersv1.OrderPlaced) { p.Lines[0].Qty = schemas.MaxQty + 1 }),
			field: "placed.lines[0].qty", reason: schemas.ReasonInvalidQty},
		{name: "line negative price", ev: placed(func(_ *ordersv1.OrderEvent, p *ordersv1.OrderPlaced) { p.Lines[1].UnitPriceMinor = -1 }),
			field: "placed.lines[1].unit_price_minor", reason: schemas.ReasonInvalidPrice},
		{name: "line huge price", ev: placed(func(_ *ordersv1.OrderEvent, p *ordersv1.OrderPlaced) {
			p.Lines[1].UnitPriceMinor = schemas.MaxPriceMinor + 1
		}),
			field: "placed.lines[1].unit_price_minor", reason: schemas.ReasonInvalidPrice},
		{name: "nil placed payload", ev: placed(func(e *ordersv1.OrderEvent, _ *ordersv1.OrderPlaced) { e.Kind = &ordersv1.OrderEvent_Placed{} }),
			field: "placed.currency", reason: schemas.ReasonMissingCurrency},

		{name: "long rejection reason", ev: placed(func(e *ordersv1.OrderEvent, _ *ordersv1.OrderPlaced) {
			e.Kind = &ordersv1.OrderEvent_Rejected{Rejected: &ordersv1.OrderRejected{Reason: longReason}}
		}), field: "rejected.reason", reason: schemas.ReasonTooLong},
		{name: "long cancel reason", ev: placed(func(e *ordersv1.OrderEvent, _ *ordersv1.OrderPlaced) {
			e.Kind = &ordersv1.OrderEvent_Cancelled{Cancelled: &ordersv1.OrderCancelled{Reason: longReason}}
		}), field: "cancelled.reason", reason: schemas.ReasonTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkInvalid(t, schemas.ValidateOrderEvent(tc.ev), tc.field, tc.reason)
		})
	}
}

func checkInvalid(t *testing.T, err error, field string, reason schemas.Reason) {
	t.Helper()
	if reason == "" {
		if err != nil {
			t.Fatalf("want valid, got %v", err)
		}
		return
	}
	var ie *schemas.InvalidError
	if !errors.As(err, &ie) {
		t.Fatalf("want *InvalidError{%q, %q}, got %v", field, reason, err)
	}
	if ie.Field != field || ie.Reason != reason {
		t.Fatalf("got {%q, %q}, want {%q, %q}", ie.Field, ie.Reason, field, reason)
	}
	if !errors.Is(err, schemas.ErrInvalid) {
		t.Fatalf("%v does not wrap ErrInvalid", err)
	}
}

func TestInvalidErrorMessage(t *testing.T) {
	for _, tc := range []struct {
		err  *schemas.InvalidError
		want string
	}{
		{&schemas.InvalidError{Field: "reserve.ttl_ms", Reason: schemas.ReasonInvalidTTL}, "schemas: invalid field reserve.ttl_ms: invalid_ttl"},
		{&schemas.InvalidError{Reason: schemas.ReasonNilMessage}, "schemas: invalid message: nil_message"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func paymentFailed(edit func(*ordersv1.PaymentFailed)) *ordersv1.OrderEvent {
	p := &ordersv1.PaymentFailed{UserId: "u-1", DeviceId: "d-1", PaymentId: "card-1", AmountMinor: 1999, Reason: "declined"}
	if edit != nil {
		edit(p)
	}
	return &ordersv1.OrderEvent{EventId: "ev-pf", OrderId: "o-1", TimestampMs: 1_700_000_000_000,
		Kind: &ordersv1.OrderEvent_PaymentFailed{PaymentFailed: p}}
}

func paid(edit func(*ordersv1.OrderPaid)) *ordersv1.OrderEvent {
	p := &ordersv1.OrderPaid{UserId: "u-1", PaymentId: "card-1", AmountMinor: 1999, Currency: "EUR"}
	if edit != nil {
		edit(p)
	}
	return &ordersv1.OrderEvent{EventId: "ev-paid", OrderId: "o-1", TimestampMs: 1_700_000_000_000,
		Kind: &ordersv1.OrderEvent_Paid{Paid: p}}
}

func TestReasonOf(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", schemas.ValidateCommand(&inventoryv1.Command{}))
	if got := schemas.ReasonOf(err); got != schemas.ReasonMissingCommandID {
		t.Errorf("reason %q, want %q", got, schemas.ReasonMissingCommandID)
	}
	if got := schemas.ReasonOf(errors.New("other")); got != "invalid" {
		t.Errorf("reason of a plain error %q", got)
	}
}

func TestNamespaced(t *testing.T) {
	if got := schemas.Namespaced("", schemas.OrderEvents); got != schemas.OrderEvents {
		t.Errorf("empty namespace: %q", got)
	}
	if got := schemas.Namespaced("staging", "titan-orders"); got != "staging.titan-orders" {
		t.Errorf("namespace: %q", got)
	}
}

func TestCheckPlacedIdentity(t *testing.T) {
	full := &ordersv1.OrderPlaced{UserId: "u", DeviceId: "d", PaymentId: "p"}
	if err := schemas.CheckPlacedIdentity(full); err != nil {
		t.Errorf("a placement with every id: %v", err)
	}
	for _, tc := range []struct {
		placed *ordersv1.OrderPlaced
		field  string
		reason schemas.Reason
	}{
		{&ordersv1.OrderPlaced{DeviceId: "d", PaymentId: "p"}, "placed.user_id", schemas.ReasonMissingUserID},
		{&ordersv1.OrderPlaced{UserId: "u", PaymentId: "p"}, "placed.device_id", schemas.ReasonMissingDeviceID},
		{&ordersv1.OrderPlaced{UserId: "u", DeviceId: "d"}, "placed.payment_id", schemas.ReasonMissingPaymentID},
		{nil, "placed.user_id", schemas.ReasonMissingUserID},
	} {
		var inv *schemas.InvalidError
		if err := schemas.CheckPlacedIdentity(tc.placed); !errors.As(err, &inv) || inv.Field != tc.field || inv.Reason != tc.reason {
			t.Errorf("%v: got %v, want %s: %s", tc.placed, err, tc.field, tc.reason)
		}
	}
}

// A payment's ids are the client's: Titan's own are refused, naming the field.
func TestCheckClientOrderEventPaid(t *testing.T) {
	for field, ev := range map[string]*ordersv1.OrderEvent{
		"paid.user_id":    paid(func(p *ordersv1.OrderPaid) { p.UserId = "titan:u" }),
		"paid.payment_id": paid(func(p *ordersv1.OrderPaid) { p.PaymentId = "titan:p" }),
	} {
		var inv *schemas.InvalidError
		if err := schemas.CheckClientOrderEvent(ev); !errors.As(err, &inv) || inv.Field != field || inv.Reason != schemas.ReasonReservedID {
			t.Errorf("%s: %v, want reserved_id for the field", field, err)
		}
	}
	if err := schemas.CheckClientOrderEvent(paid(nil)); err != nil {
		t.Errorf("a client's payment: %v", err)
	}
}
