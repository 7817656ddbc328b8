package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"math/bits"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/schemas"
	fraudv1 "github.com/titan-commerce/titan/schemas/fraud/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
)

// The order endpoints. Placing an order publishes the checkout's
// OrderPlaced event, as a shop's checkout would, and waits for the saga's
// outcome. The event id is derived from the order id, so a client that
// repeats a POST after a 202 or a 503 repeats the same event; the saga
// keeps the first body of an order id and ignores a repeat of it.
//
// The answer comes from whichever of two independent paths has it first:
// the outcomes consumer, or the saga table's local replica showing the
// order terminal. A lagging consumer then does not turn a decided order
// into a 202, and a retry after the outcome went by is answered from the
// table.

// OrderDeps are the parts of the order saga, pricing and fraud topologies
// the API stands on. Every field but Now is required.
type OrderDeps struct {
	// Orders is the saga table (*ordersv1.Order per order id), updates
	// reported to OrdersNotifier.
	Orders         Table
	OrdersNotifier *Notifier
	// Prices is the pricing table (*pricingv1.SkuPrice per SKU).
	Prices Table
	// Fraud is the fraud table (*fraudv1.Entity per "u:<user_id>",
	// "d:<device_id>" and "c:<payment_id>" key).
	Fraud Table
	// SendOrder hands an event to the order events topic, keyed by order
	// id, and returns its partition and offset once Kafka has it.
	SendOrder func(ctx context.Context, ev *ordersv1.OrderEvent) (partition int32, offset int64, err error)
	// SendPricing hands a command to the pricing commands topic, keyed by
	// SKU.
	SendPricing func(ctx context.Context, cmd *pricingv1.Command) (partition int32, offset int64, err error)
	Outcomes    *OrderOutcomes
	// PriceAt is the price in force at now, with its contributions; false
	// when the SKU has none.
	PriceAt func(sp *pricingv1.SkuPrice, now time.Time) (*pricingv1.Quote, bool)
	// FraudFeatures reads the entity's windows at now.
	FraudFeatures func(e *fraudv1.Entity, now time.Time) []*fraudv1.Feature
	// Now is the clock of prices and features; nil means time.Now.
	Now func() time.Time
}

func (d *OrderDeps) complete() bool {
	return d.Orders != nil && d.OrdersNotifier != nil && d.Prices != nil && d.Fraud != nil && d.SendOrder != nil &&
		d.SendPricing != nil && d.Outcomes != nil && d.PriceAt != nil && d.FraudFeatures != nil
}

func (d *OrderDeps) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

// orderSaga returns the order deps, or answers not_enabled.
func (s *Server) orderSaga(ctx *fasthttp.RequestCtx) (*OrderDeps, bool) {
	if s.deps.OrderSaga == nil {
		s.fail(ctx, errNotEnabled)
		return nil, false
	}
	return s.deps.OrderSaga, true
}

type orderLineRequest struct {
	SKU       string `json:"sku"`
	Qty       int64  `json:"qty"`
	UnitPrice *int64 `json:"unit_price" units:"minor"`
}

type placeOrderRequest struct {
	OrderID   string             `json:"order_id"`
	UserID    string             `json:"user_id"`
	DeviceID  string             `json:"device_id"`
	PaymentID string             `json:"payment_id"`
	Currency  *string            `json:"currency"`
	Lines     []orderLineRequest `json:"lines"`
}

// placed checks the request and builds the OrderPlaced it stands for. The
// schema's rules are the saga's; the API adds that the three ids are
// required and printable (they become fraud keys that operators read) and
// bounds prices like every other price it takes.
func (req placeOrderRequest) placed(defaultCurrency string) (*ordersv1.OrderPlaced, apiError, bool) {
	switch {
	case schemas.CheckID("order_id", req.OrderID, schemas.ReasonMissingOrderID) != nil:
		return nil, errInvalidOrderID, false
	case !schemas.ValidID(req.UserID):
		return nil, errInvalidUserID, false
	case !schemas.ValidID(req.DeviceID):
		return nil, errInvalidDeviceID, false
	case !schemas.ValidID(req.PaymentID):
		return nil, errInvalidPaymentID, false
	}
	p := &ordersv1.OrderPlaced{UserId: req.UserID, DeviceId: req.DeviceID, PaymentId: req.PaymentID, Currency: defaultCurrency}
	if req.Currency != nil {
		p.Currency = *req.Currency
	}
	if len(req.Lines) > schemas.MaxOrderLines {
		return nil, errInvalidLines, false
	}
	for _, l := range req.Lines {
		if l.UnitPrice == nil || *l.UnitPrice < 0 || *l.UnitPrice > schemas.MaxPriceMinor {
			return nil, errInvalidPrice, false
		}
		p.Lines = append(p.Lines, &ordersv1.OrderLine{Sku: l.SKU, Qty: l.Qty, UnitPriceMinor: *l.UnitPrice})
	}
	return p, apiError{}, true
}

// placedEventID names the API's OrderPlaced of an order. Ids are bounded
// on the wire, so a long order id is replaced by its digest. The API writes
// the checkout's public topic on a client's behalf, so the id is a client's,
// not in Titan's namespace; the saga recognises a repeated order by its
// content, not by this id.
func placedEventID(orderID string) string {
	const prefix = "api:"
	id := prefix + orderID
	if len(id) <= schemas.MaxIDBytes {
		return id
	}
	sum := sha256.Sum256([]byte(orderID))
	return prefix + hex.EncodeToString(sum[:])
}

// validCurrency applies the schema's currency rule.
func validCurrency(cur string) bool { return schemas.CheckCurrency("currency", cur) == nil }

// orderConfirmedJSON answers an order the saga confirmed.
type orderConfirmedJSON struct {
	OrderID       string   `json:"order_id"`
	Status        string   `json:"status"`
	Total         int64    `json:"total"`
	Review        bool     `json:"review"`
	ReviewReasons []string `json:"review_reasons"`
}

// orderRejectedJSON answers an order the saga rejected.
type orderRejectedJSON struct {
	OrderID string `json:"order_id"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Detail  string `json:"detail"`
}

// orderPendingJSON answers an order whose outcome did not come within the
// wait.
type orderPendingJSON struct {
	OrderID string `json:"order_id"`
	Status  string `json:"status"`
	Poll    string `json:"poll"`
}

func orderPath(id string) string { return "/v1/orders/" + pathEscape(id) }

func (s *Server) placeOrder(ctx *fasthttp.RequestCtx, _ []string) {
	od, ok := s.orderSaga(ctx)
	if !ok {
		return
	}
	var req placeOrderRequest
	if e, ok := s.decodeBody(ctx, &req); !ok {
		s.fail(ctx, e)
		return
	}
	placed, e, ok := req.placed(s.opts.DefaultCurrency)
	if !ok {
		s.fail(ctx, e)
		return
	}
	ev := &ordersv1.OrderEvent{EventId: placedEventID(req.OrderID), OrderId: req.OrderID, TimestampMs: time.Now().UnixMilli(),
		Kind: &ordersv1.OrderEvent_Placed{Placed: placed}}
	if err := schemas.ValidateOrderEvent(ev); err != nil {
		s.fail(ctx, orderErrors.of(err))
		return
	}
	if err := schemas.CheckClientOrderEvent(ev); err != nil {
		s.fail(ctx, errReservedID)
		return
	}
	if !od.Orders.Recovered() || (s.deps.Ready != nil && !s.deps.Ready()) {
		s.fail(ctx, errNotReady)
		return
	}
	// The waiter goes in before the table is read, so an outcome that
	// lands between the read and the send is not missed.
	outcomes, cancel, ok := od.Outcomes.wait(req.OrderID)
	defer cancel()
	if !ok {
		s.overloaded(ctx)
		return
	}
	cur, err := readOrder(od, req.OrderID)
	switch {
	case err != nil:
		s.opts.Logger.Error("read order", "order_id", req.OrderID, "err", err)
		s.fail(ctx, errInternal)
		return
	case cur != nil && !samePlaced(cur, placed):
		s.fail(ctx, errOrderExists)
		return
	case cur != nil && terminal(cur):
		s.answerOrder(ctx, outcomeOf(cur))
		return
	}
	wait, stop := context.WithTimeout(ctx, s.opts.CommandWait)
	defer stop()
	// An order the table holds is in the saga already; sending it again
	// would only be ignored.
	if cur == nil {
		if _, _, err := od.SendOrder(wait, ev); err != nil {
			s.opts.Logger.Warn("send order", "order_id", req.OrderID, "err", err)
			s.sendFailed(ctx, err)
			return
		}
	}
	out, conflict, err := awaitOrder(wait, od, req.OrderID, placed, outcomes, s.opts.ReadWait)
	switch {
	case err != nil:
		s.opts.Logger.Error("read order", "order_id", req.OrderID, "err", err)
		s.fail(ctx, errInternal)
	case conflict:
		s.fail(ctx, errOrderExists)
	case out == nil:
		writeJSON(ctx, fasthttp.StatusAccepted, orderPendingJSON{OrderID: req.OrderID, Status: "pending", Poll: orderPath(req.OrderID)})
	default:
		s.answerOrder(ctx, out)
	}
}

// awaitOrder waits for the order's outcome from the consumer or the table.
// Outcomes are keyed by order id alone, so one that comes from the
// consumer is checked against the body the table holds: an order placed
// under the same id with other content a moment earlier is a conflict, not
// this request's result. The table may lag the consumer; the check waits
// up to readWait for it, and without it answers from the outcome, so a
// lagging replica costs latency, not the answer.
func awaitOrder(ctx context.Context, od *OrderDeps, id string, placed *ordersv1.OrderPlaced, outcomes <-chan *ordersv1.OrderEvent, readWait time.Duration) (out *ordersv1.OrderEvent, conflict bool, err error) {
	for {
		changed, release := od.OrdersNotifier.changed(id)
		cur, err := readOrder(od, id)
		switch {
		case err != nil:
			release()
			return nil, false, err
		case cur != nil && !samePlaced(cur, placed):
			release()
			return nil, true, nil
		case cur != nil && terminal(cur):
			release()
			return outcomeOf(cur), false, nil
		}
		select {
		case out = <-outcomes:
			release()
			check, cancel := context.WithTimeout(ctx, readWait)
			defer cancel()
			cur, _, err := until(check, od.OrdersNotifier, id,
				func() (*ordersv1.Order, error) { return readOrder(od, id) },
				func(o *ordersv1.Order) bool { return o != nil })
			if err != nil {
				return nil, false, err
			}
			if cur != nil && !samePlaced(cur, placed) {
				return nil, true, nil
			}
			return out, false, nil
		case <-changed:
			release()
		case <-ctx.Done():
			release()
			return nil, false, nil
		}
	}
}

// answerOrder writes an outcome: 201 confirmed, 409 rejected.
func (s *Server) answerOrder(ctx *fasthttp.RequestCtx, ev *ordersv1.OrderEvent) {
	if c := ev.GetConfirmed(); c != nil {
		reasons := c.GetReviewReasons()
		if reasons == nil {
			reasons = []string{}
		}
		writeJSON(ctx, fasthttp.StatusCreated, orderConfirmedJSON{OrderID: ev.GetOrderId(), Status: "confirmed",
			Total: c.GetTotalMinor(), Review: c.GetReview(), ReviewReasons: reasons})
		return
	}
	r := ev.GetRejected()
	writeJSON(ctx, fasthttp.StatusConflict, orderRejectedJSON{OrderID: ev.GetOrderId(), Status: "rejected",
		Reason: r.GetReason(), Detail: r.GetDetail()})
}

func readOrder(od *OrderDeps, id string) (*ordersv1.Order, error) {
	v, _, err := read[*ordersv1.Order](od.Orders, "saga", id)
	return v, err
}

func terminal(o *ordersv1.Order) bool {
	st := o.GetStatus()
	return st == ordersv1.OrderStatus_ORDER_STATUS_CONFIRMED || st == ordersv1.OrderStatus_ORDER_STATUS_REJECTED
}

// outcomeOf rebuilds the outcome of a terminal order from the saga's
// state, for an answer that comes from the table: the total as the saga
// sums it, and the review reasons as the fraud decision's codes.
func outcomeOf(o *ordersv1.Order) *ordersv1.OrderEvent {
	ev := &ordersv1.OrderEvent{OrderId: o.GetOrderId(), TimestampMs: o.GetTerminalAtMs()}
	if o.GetStatus() == ordersv1.OrderStatus_ORDER_STATUS_REJECTED {
		ev.Kind = &ordersv1.OrderEvent_Rejected{Rejected: &ordersv1.OrderRejected{Reason: o.GetReason(), Detail: o.GetDetail()}}
		return ev
	}
	// The saga confirms no order whose total does not fit an int64.
	total, _ := orderTotal(o)
	c := &ordersv1.OrderConfirmed{TotalMinor: total, Review: o.GetReview(), Currency: o.GetPlaced().GetCurrency()}
	if o.GetReview() {
		for _, r := range o.GetFraud().GetReasons() {
			c.ReviewReasons = append(c.ReviewReasons, r.GetCode())
		}
	}
	ev.Kind = &ordersv1.OrderEvent_Confirmed{Confirmed: c}
	return ev
}

// orderTotal sums the lines as the saga does, and reports false when the
// sum, or a line's qty * unit_price, does not fit an int64. Each factor
// fits the schema's bounds but their product need not (10^9 units at
// 10^12 minor units each), and the saga keeps the lines of an order it
// rejected for that, or for bad numbers, as they were sent.
func orderTotal(o *ordersv1.Order) (int64, bool) {
	var total int64
	for _, l := range o.GetLines() {
		amount, ok := mulInt64(l.GetQty(), l.GetUnitPriceMinor())
		if !ok {
			return 0, false
		}
		if total, ok = addInt64(total, amount); !ok {
			return 0, false
		}
	}
	return total, true
}

// mulInt64 is a*b, and whether it fits an int64.
func mulInt64(a, b int64) (int64, bool) {
	hi, lo := bits.Mul64(absInt64(a), absInt64(b))
	if (a < 0) != (b < 0) {
		if hi != 0 || lo > 1<<63 {
			return 0, false
		}
		return int64(-lo), true // -2^63 too: -lo wraps to 1<<63, read back as MinInt64
	}
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	return int64(lo), true
}

// addInt64 is a+b, and whether it fits an int64.
func addInt64(a, b int64) (int64, bool) {
	sum := a + b
	if (a >= 0) == (b >= 0) && (sum >= 0) != (a >= 0) {
		return 0, false
	}
	return sum, true
}

// absInt64 is |v| as a uint64, where |-2^63| fits.
func absInt64(v int64) uint64 {
	if v < 0 {
		return uint64(-v) // -(-2^63) wraps to -2^63, which converts to 2^63
	}
	return uint64(v)
}

// samePlaced reports whether the saga's order was placed with p: then p is
// a retry, else a conflict. A state without the placed body is compared on
// its lines, which the saga always keeps.
func samePlaced(o *ordersv1.Order, p *ordersv1.OrderPlaced) bool {
	if o.GetPlaced() != nil {
		return proto.Equal(o.GetPlaced(), p)
	}
	if len(o.GetLines()) != len(p.GetLines()) {
		return false
	}
	for i, l := range o.GetLines() {
		pl := p.GetLines()[i]
		if l.GetSku() != pl.GetSku() || l.GetQty() != pl.GetQty() || l.GetUnitPriceMinor() != pl.GetUnitPriceMinor() {
			return false
		}
	}
	return true
}

// The saga's state of an order as the API shows it.
type (
	orderStateJSON struct {
		OrderID  string `json:"order_id"`
		Status   string `json:"status"`
		Reason   string `json:"reason"`
		Detail   string `json:"detail"`
		Review   bool   `json:"review"`
		UserID   string `json:"user_id"`
		Currency string `json:"currency"`
		// Total is null when the sum of the lines does not fit an int64,
		// which the saga rejects (invalid_order, "total overflows").
		Total    *int64          `json:"total"`
		PlacedAt string          `json:"placed_at"`
		Lines    []orderLineJSON `json:"lines"`
		Fraud    *decisionJSON   `json:"fraud"`
		History  []stepJSON      `json:"history"`
		// HistoryDropped counts the oldest steps the saga no longer keeps.
		HistoryDropped int64 `json:"history_dropped"`
	}
	orderLineJSON struct {
		SKU       string `json:"sku"`
		Qty       int64  `json:"qty"`
		UnitPrice int64  `json:"unit_price"`
		// QuotedPrice is null until the line is priced, and when pricing
		// found no price for the SKU.
		QuotedPrice *int64 `json:"quoted_price"`
		Status      string `json:"status"`
		Reason      string `json:"reason"`
	}
	stepJSON struct {
		At     string `json:"at"`
		Name   string `json:"name"`
		Detail string `json:"detail"`
	}
)

// enumName is an enum value's name without its type prefix, in lower case:
// ORDER_STATUS_CONFIRMED reads confirmed.
func enumName(name, prefix string) string { return strings.ToLower(strings.TrimPrefix(name, prefix)) }

func formatMs(ms int64) string { return formatTime(time.UnixMilli(ms)) }

func orderStateOf(o *ordersv1.Order) orderStateJSON {
	p := o.GetPlaced()
	out := orderStateJSON{
		OrderID: o.GetOrderId(), Status: enumName(o.GetStatus().String(), "ORDER_STATUS_"), Reason: o.GetReason(),
		Detail: o.GetDetail(), Review: o.GetReview(), UserID: p.GetUserId(), Currency: p.GetCurrency(),
		PlacedAt: formatMs(o.GetPlacedAtMs()), Lines: []orderLineJSON{}, History: []stepJSON{},
		HistoryDropped: o.GetHistoryDropped(),
	}
	if total, ok := orderTotal(o); ok {
		out.Total = &total
	}
	for _, l := range o.GetLines() {
		line := orderLineJSON{SKU: l.GetSku(), Qty: l.GetQty(), UnitPrice: l.GetUnitPriceMinor(),
			Status: enumName(l.GetStatus().String(), "LINE_STATUS_"), Reason: l.GetReason()}
		if l.GetQuoted() && l.GetQuoteFound() {
			q := l.GetQuotedPriceMinor()
			line.QuotedPrice = &q
		}
		out.Lines = append(out.Lines, line)
	}
	if d := o.GetFraud(); d != nil {
		dj := decisionOf(d)
		out.Fraud = &dj
	}
	for _, st := range o.GetHistory() {
		out.History = append(out.History, stepJSON{At: formatMs(st.GetAtMs()), Name: st.GetName(), Detail: st.GetDetail()})
	}
	return out
}

func (s *Server) getOrder(ctx *fasthttp.RequestCtx, p []string) {
	od, ok := s.orderSaga(ctx)
	if !ok {
		return
	}
	id := p[0]
	if e, ok := checkOrderID(id); !ok {
		s.fail(ctx, e)
		return
	}
	if !od.Orders.Recovered() {
		s.fail(ctx, errNotReady)
		return
	}
	setFreshness(ctx, od.Orders, id)
	o, err := readOrder(od, id)
	if err != nil {
		s.opts.Logger.Error("read order", "order_id", id, "err", err)
		s.fail(ctx, errInternal)
		return
	}
	if o == nil {
		s.fail(ctx, errOrderNotFound)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, orderStateOf(o))
}
