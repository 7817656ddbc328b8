package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
)

// stockJSON is a SKU's stock as the API shows it.
type stockJSON struct {
	SKU       string `json:"sku"`
	OnHand    int64  `json:"on_hand"`
	Reserved  int64  `json:"reserved"`
	Available int64  `json:"available"`
	Sold      int64  `json:"sold"`
	// Offset is the last command applied to the SKU; pass a command's
	// offset as min_offset to read a state that includes it.
	Offset int64 `json:"offset"`
}

func stockOf(sku string, s inventory.Stock, offset int64) stockJSON {
	return stockJSON{SKU: sku, OnHand: s.OnHand, Reserved: s.Reserved, Available: s.Available(), Sold: s.Sold, Offset: offset}
}

// reservationJSON is one order's reservation of one SKU.
type reservationJSON struct {
	OrderID   string `json:"order_id"`
	SKU       string `json:"sku"`
	Qty       int64  `json:"qty"`
	Status    string `json:"status"`
	Reason    string `json:"reason"`
	ExpiresAt string `json:"expires_at"`
	Offset    int64  `json:"offset"`
	CommandID string `json:"command_id,omitempty"`
}

func reservationOf(e inventory.Event) reservationJSON {
	r := reservationJSON{OrderID: e.OrderID, SKU: e.SKU, Qty: e.Qty, Status: e.Type.String(), Reason: e.Reason, Offset: e.Offset, CommandID: e.CommandID}
	if !e.ExpiresAt.IsZero() {
		r.ExpiresAt = e.ExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	return r
}

type orderJSON struct {
	OrderID      string            `json:"order_id"`
	Reservations []reservationJSON `json:"reservations"`
}

// pendingJSON answers a command whose result did not come within the wait:
// it was accepted by Kafka and will be applied; poll says where to look.
type pendingJSON struct {
	Status    string `json:"status"`
	CommandID string `json:"command_id"`
	Offset    int64  `json:"offset"`
	Poll      string `json:"poll"`
}

func (s *Server) readState(sku string) (inventory.Head, error) {
	h, found, err := read[inventory.Head](s.deps.Stock, "stock", sku)
	if !found {
		return inventory.NewHead(), err
	}
	return h, err
}

func (s *Server) getStock(ctx *fasthttp.RequestCtx, p []string) {
	sku := p[0]
	if e, ok := checkSKU(sku); !ok {
		s.fail(ctx, e)
		return
	}
	minOffset := int64(-1)
	if raw := ctx.QueryArgs().Peek("min_offset"); raw != nil {
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil || n < 0 {
			s.fail(ctx, errInvalidMinOffset)
			return
		}
		minOffset = n
	}
	if !s.deps.Stock.Recovered() {
		s.fail(ctx, errNotReady)
		return
	}
	setFreshness(ctx, s.deps.Stock, sku)
	st, reached, err := s.readStockAt(ctx, sku, minOffset)
	if err != nil {
		s.opts.Logger.Error("read stock", "sku", sku, "err", err)
		s.fail(ctx, errInternal)
		return
	}
	if !reached {
		s.fail(ctx, errOffsetNotReached)
		return
	}
	var buf [256]byte
	writeJSONBody(ctx, fasthttp.StatusOK, stockOf(sku, st.Stock, st.Offset).appendJSON(buf[:0]))
}

// readStockAt reads a SKU's head once it holds the command at minOffset,
// waiting up to ReadWait for it; a negative minOffset takes what the view
// holds now, which needs no timer and no waiter.
func (s *Server) readStockAt(ctx context.Context, sku string, minOffset int64) (inventory.Head, bool, error) {
	if minOffset < 0 {
		st, err := s.readState(sku)
		return st, err == nil, err
	}
	wait, cancel := context.WithTimeout(ctx, s.opts.ReadWait)
	defer cancel()
	return until(wait, s.deps.StockNotifier, sku,
		func() (inventory.Head, error) { return s.readState(sku) },
		func(st inventory.Head) bool { return st.Offset >= minOffset })
}

type reserveRequest struct {
	OrderID   string  `json:"order_id"`
	Qty       int64   `json:"qty"`
	TTLMs     int64   `json:"ttl_ms"`
	CommandID *string `json:"command_id"`
}

func (s *Server) reserve(ctx *fasthttp.RequestCtx, p []string) {
	var req reserveRequest
	if e, ok := s.decodeBody(ctx, &req); !ok {
		s.fail(ctx, e)
		return
	}
	cmd := inventory.Command{Kind: inventory.KindReserve, SKU: p[0], OrderID: req.OrderID, Qty: req.Qty, TTL: reserveTTL(req.TTLMs)}
	res, ack, ok := s.run(ctx, cmd, req.CommandID)
	if !ok {
		return
	}
	if res == nil {
		writeJSON(ctx, fasthttp.StatusAccepted, pendingJSON{Status: "pending", CommandID: ack.commandID, Offset: ack.offset,
			Poll: "/v1/inventory/reservations/" + pathEscape(req.OrderID)})
		return
	}
	if e, refused := refusal(*res); refused {
		s.fail(ctx, e)
		return
	}
	status := fasthttp.StatusCreated
	if res.Type == inventory.EventRejected {
		status = fasthttp.StatusConflict
	}
	writeJSON(ctx, status, reservationOf(*res))
}

type restockRequest struct {
	Qty       int64   `json:"qty"`
	CommandID *string `json:"command_id"`
}

func (s *Server) restock(ctx *fasthttp.RequestCtx, p []string) {
	var req restockRequest
	if e, ok := s.decodeBody(ctx, &req); !ok {
		s.fail(ctx, e)
		return
	}
	cmd := inventory.Command{Kind: inventory.KindRestock, SKU: p[0], Qty: req.Qty}
	res, ack, ok := s.run(ctx, cmd, req.CommandID)
	if !ok {
		return
	}
	if res == nil {
		writeJSON(ctx, fasthttp.StatusAccepted, pendingJSON{Status: "pending", CommandID: ack.commandID, Offset: ack.offset,
			Poll: "/v1/inventory/" + pathEscape(cmd.SKU) + "?min_offset=" + strconv.FormatInt(ack.offset, 10)})
		return
	}
	if e, refused := refusal(*res); refused {
		s.fail(ctx, e)
		return
	}
	status := fasthttp.StatusOK
	if res.Type == inventory.EventRejected {
		status = fasthttp.StatusConflict
	}
	writeJSON(ctx, status, stockOf(res.SKU, res.Stock, res.Offset))
}

func (s *Server) readIndex(orderID string) (inventory.OrderIndex, bool, error) {
	return read[inventory.OrderIndex](s.deps.Orders, "order index", orderID)
}

func (s *Server) getReservations(ctx *fasthttp.RequestCtx, p []string) {
	orderID := p[0]
	if e, ok := checkOrderID(orderID); !ok {
		s.fail(ctx, e)
		return
	}
	if !s.deps.Orders.Recovered() {
		s.fail(ctx, errNotReady)
		return
	}
	setFreshness(ctx, s.deps.Orders, orderID)
	x, found, err := s.readIndex(orderID)
	if err != nil {
		s.opts.Logger.Error("read order index", "order_id", orderID, "err", err)
		s.fail(ctx, errInternal)
		return
	}
	if !found {
		s.fail(ctx, errReservationNotFound)
		return
	}
	out := orderJSON{OrderID: orderID, Reservations: []reservationJSON{}}
	for _, l := range x.Lines {
		r := reservationOf(l)
		r.CommandID = ""
		out.Reservations = append(out.Reservations, r)
	}
	writeJSON(ctx, fasthttp.StatusOK, out)
}

type closeRequest struct {
	CommandID *string `json:"command_id"`
}

func (s *Server) commit(ctx *fasthttp.RequestCtx, p []string) {
	s.closeOrder(ctx, p[0], inventory.KindCommit)
}

func (s *Server) release(ctx *fasthttp.RequestCtx, p []string) {
	s.closeOrder(ctx, p[0], inventory.KindRelease)
}

// closeOrder commits or releases every reservation the order made. The
// order index says which SKUs those are; a reservation that was just made
// may not be in it yet, so the lookup waits for it like a result.
func (s *Server) closeOrder(ctx *fasthttp.RequestCtx, orderID string, kind inventory.Kind) {
	var req closeRequest
	if len(ctx.PostBody()) > 0 {
		if e, ok := s.decodeBody(ctx, &req); !ok {
			s.fail(ctx, e)
			return
		}
	}
	if e, ok := checkOrderID(orderID); !ok {
		s.fail(ctx, e)
		return
	}
	if schemas.Reserved(orderID) {
		// Whatever Titan holds under its own ids is not a client's to end.
		s.fail(ctx, errReservedID)
		return
	}
	id, e, ok := commandID(req.CommandID)
	if !ok {
		s.fail(ctx, e)
		return
	}
	// A replica still recovering may not hold the order yet: that is
	// not_ready, not a 404 after the wait.
	if !s.ready() {
		s.fail(ctx, errNotReady)
		return
	}
	wait, cancel := context.WithTimeout(ctx, s.opts.CommandWait)
	defer cancel()
	x, found, err := until(wait, s.deps.OrdersNotifier, orderID,
		func() (inventory.OrderIndex, error) {
			x, _, err := s.readIndex(orderID)
			return x, err
		},
		func(x inventory.OrderIndex) bool { return reservedSKUs(x) != nil })
	if err != nil {
		s.opts.Logger.Error("read order index", "order_id", orderID, "err", err)
		s.fail(ctx, errInternal)
		return
	}
	skus := reservedSKUs(x)
	if !found || skus == nil {
		s.fail(ctx, errReservationNotFound)
		return
	}
	// One command per SKU, each with its own id derived from the
	// request's, so a retried request repeats exactly the same commands.
	out := orderJSON{OrderID: orderID}
	status := fasthttp.StatusOK
	for _, sku := range skus {
		lineID := lineCommandID(id, sku)
		cmd := inventory.Command{Kind: kind, SKU: sku, OrderID: orderID}
		res, ack, ok := s.run(ctx, cmd, &lineID)
		if !ok {
			return
		}
		if res == nil {
			writeJSON(ctx, fasthttp.StatusAccepted, pendingJSON{Status: "pending", CommandID: ack.commandID, Offset: ack.offset,
				Poll: "/v1/inventory/reservations/" + pathEscape(orderID)})
			return
		}
		if e, refused := refusal(*res); refused {
			s.fail(ctx, e)
			return
		}
		if res.Type == inventory.EventRejected {
			status = fasthttp.StatusConflict
		}
		out.Reservations = append(out.Reservations, reservationOf(*res))
	}
	writeJSON(ctx, status, out)
}

// reservedSKUs lists the SKUs the order holds or held a reservation on;
// nil when it holds none.
func reservedSKUs(x inventory.OrderIndex) []string {
	var skus []string
	for _, l := range x.Lines {
		if l.Type != inventory.EventRejected {
			skus = append(skus, l.SKU)
		}
	}
	return skus
}

// refusal maps a rejection for the command itself, rather than for the
// stock or the reservation, to its API error: the command id names another
// command, or the reservation is Titan's own.
func refusal(res inventory.Event) (apiError, bool) {
	if res.Type != inventory.EventRejected {
		return apiError{}, false
	}
	switch res.Reason {
	case inventory.ReasonCommandIDConflict:
		return errCommandIDConflict, true
	case inventory.ReasonReservedID:
		return errReservedID, true
	}
	return apiError{}, false
}

type ack struct {
	commandID string
	offset    int64
}

// run validates a command, sends it and waits for its result. It writes
// the error response itself and returns ok=false when it did; a nil result
// with ok=true means the wait ran out after Kafka took the command.
func (s *Server) run(ctx *fasthttp.RequestCtx, cmd inventory.Command, clientID *string) (*inventory.Event, ack, bool) {
	id, e, ok := commandID(clientID)
	if !ok {
		s.fail(ctx, e)
		return nil, ack{}, false
	}
	cmd.ID = id
	cmd.Time = time.Now()
	w := inventory.CommandToWire(cmd)
	if err := schemas.ValidateCommand(w); err != nil {
		s.fail(ctx, commandErrors.of(err))
		return nil, ack{}, false
	}
	if err := schemas.CheckClientCommand(w); err != nil {
		s.fail(ctx, commandErrors.of(err))
		return nil, ack{}, false
	}
	if !s.ready() {
		s.fail(ctx, errNotReady)
		return nil, ack{}, false
	}
	results, cancel, ok := s.deps.Results.wait(id)
	defer cancel()
	if !ok {
		s.overloaded(ctx)
		return nil, ack{}, false
	}
	wait, stop := context.WithTimeout(ctx, s.opts.CommandWait)
	defer stop()
	_, offset, err := s.deps.Send(wait, w)
	if err != nil {
		s.opts.Logger.Warn("send command", "command_id", id, "sku", cmd.SKU, "err", err)
		s.sendFailed(ctx, err)
		return nil, ack{}, false
	}
	select {
	case res := <-results:
		return &res, ack{commandID: id, offset: res.Offset}, true
	case <-wait.Done():
		// A result that came with the deadline still answers the request.
		select {
		case res := <-results:
			return &res, ack{commandID: id, offset: res.Offset}, true
		default:
			return nil, ack{commandID: id, offset: offset}, true
		}
	}
}

// reserveTTL is ttl_ms as a Duration. A value the schema refuses becomes
// -1 ms, which it refuses too: converted as it is, a ttl_ms past 2^63 ns
// would wrap into the accepted range (2^64 ns and a minute reads as a
// minute).
func reserveTTL(ms int64) time.Duration {
	if ms <= 0 || ms > schemas.MaxReserveTTLMs {
		return -time.Millisecond
	}
	return time.Duration(ms) * time.Millisecond
}

// commandID is the client's command id, checked, or a new one when the
// client sent none.
func commandID(client *string) (string, apiError, bool) {
	if client == nil {
		return newCommandID(), apiError{}, true
	}
	// An id of the SDKs' derived form names another client's idempotency
	// key: the processor would take this command for a retry of that one.
	err := schemas.CheckClientID("command_id", *client, schemas.ReasonMissingCommandID)
	if err == nil {
		err = schemas.RefuseDerived("command_id", *client)
	}
	if err != nil {
		return "", commandErrors.of(err), false
	}
	return *client, apiError{}, true
}

func checkSKU(sku string) (apiError, bool) {
	if err := schemas.CheckSKU("sku", sku); err != nil {
		return errInvalidSKU, false
	}
	return apiError{}, true
}

// checkOrderID checks an order id the request reads by; commands check it
// again as the client's (out of Titan's namespace).
func checkOrderID(orderID string) (apiError, bool) {
	if err := schemas.CheckID("order_id", orderID, schemas.ReasonMissingOrderID); err != nil {
		return errInvalidOrderID, false
	}
	return apiError{}, true
}

func pathEscape(s string) string { return url.PathEscape(s) }

// lineCommandID derives the id of one SKU's command from a request's id.
// Ids are bounded on the wire, so a long one is replaced by its digest.
func lineCommandID(id, sku string) string {
	line := id + "/" + sku
	if len(line) <= schemas.MaxIDBytes {
		return line
	}
	sum := sha256.Sum256([]byte(line))
	return hex.EncodeToString(sum[:])
}
