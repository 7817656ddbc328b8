package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/titan-commerce/titan/schemas"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
)

// POST /v1/recommendations/views writes view events to the views topic,
// as a storefront's producer would, so the recommendations can be fed
// with curl. It takes one view, or a batch {"views": [...]}; every view is
// checked, against the same schema rules as the processor's and its time
// window, before any is sent, so a batch with one bad view sends nothing
// and the error names the view by its index. The answer is 202 once Kafka
// holds every view: the user history processor applies them
// asynchronously, and the recommendations read them from there.
//
// A view's event id is what the processor deduplicates by. With an
// idempotency_key it is derived from the user and the key (viewEventID),
// so a client that repeats a request after a 503 or a 429 repeats the
// same events; without one every view gets a new id, and a repeat counts
// twice.

// maxViewsPerBatch bounds a batch: what one request holds pending in the
// producer, and what one 400 has to name.
const maxViewsPerBatch = 500

type viewRequest struct {
	UserID    string `json:"user_id"`
	SKU       string `json:"sku"`
	SessionID string `json:"session_id"`
	// TimestampMs defaults to the API's clock.
	TimestampMs    *int64  `json:"timestamp_ms"`
	IdempotencyKey *string `json:"idempotency_key"`
}

type viewBatchRequest struct {
	Views []viewRequest `json:"views"`
}

// viewJSON is one view as it was sent.
type viewJSON struct {
	EventID     string `json:"event_id"`
	UserID      string `json:"user_id"`
	SKU         string `json:"sku"`
	SessionID   string `json:"session_id"`
	TimestampMs int64  `json:"timestamp_ms"`
}

// viewsAcceptedJSON answers views Kafka has taken, in the request's order.
type viewsAcceptedJSON struct {
	Accepted int        `json:"accepted"`
	Views    []viewJSON `json:"views"`
}

// viewErrors are the fields of a view, as the schema names them.
var viewErrors = fieldErrors{
	"user_id":         errInvalidUserID,
	"sku":             errInvalidSKU,
	"session_id":      errInvalidSessionID,
	"timestamp_ms":    errInvalidTimestamp,
	"idempotency_key": errInvalidIdempotencyKey,
}

func (s *Server) recordViews(ctx *fasthttp.RequestCtx, _ []string) {
	rd, ok := s.recommendations(ctx)
	if !ok {
		return
	}
	reqs, prefix, e, ok := s.decodeViews(ctx)
	if !ok {
		s.fail(ctx, e)
		return
	}
	events, e, ok := rd.viewEvents(reqs, prefix, s.opts.CommandWait)
	if !ok {
		s.fail(ctx, e)
		return
	}
	send, stop := context.WithTimeout(ctx, s.opts.CommandWait)
	defer stop()
	if err := rd.SendViews(send, events); err != nil {
		s.opts.Logger.Warn("send views", "views", len(events), "first_user_id", events[0].GetUserId(), "err", err)
		s.sendFailed(ctx, err)
		return
	}
	out := viewsAcceptedJSON{Accepted: len(events), Views: make([]viewJSON, len(events))}
	for i, v := range events {
		out.Views[i] = viewJSON{EventID: v.GetEventId(), UserID: v.GetUserId(), SKU: v.GetSku(),
			SessionID: v.GetSessionId(), TimestampMs: v.GetTimestampMs()}
	}
	writeJSON(ctx, fasthttp.StatusAccepted, out)
}

// decodeViews reads one view or a batch. It returns the views and how
// their fields are named in an error: "views[i]." for a batch's, nothing
// for a single view's. A batch may be as large as the transport reads
// (four times MaxBodyBytes), room for maxViewsPerBatch views of long ids.
func (s *Server) decodeViews(ctx *fasthttp.RequestCtx) ([]viewRequest, func(int) string, apiError, bool) {
	limit := 4 * s.opts.MaxBodyBytes
	if !hasKey(ctx.PostBody(), "views") {
		var req viewRequest
		if e, ok := s.decodeBody(ctx, &req); !ok {
			return nil, nil, e, false
		}
		return []viewRequest{req}, func(int) string { return "" }, apiError{}, true
	}
	var req viewBatchRequest
	if e, ok := s.decodeBodyUpTo(ctx, &req, limit); !ok {
		return nil, nil, e, false
	}
	if len(req.Views) == 0 || len(req.Views) > maxViewsPerBatch {
		return nil, nil, errInvalidViews.at("views", "holds "+strconv.Itoa(len(req.Views))+" views; a batch holds 1 to "+
			strconv.Itoa(maxViewsPerBatch)), false
	}
	return req.Views, func(i int) string { return "views[" + strconv.Itoa(i) + "]." }, apiError{}, true
}

// viewEvents checks every view and builds its event, or returns the
// error of the first that breaks a rule, its field named below prefix(i).
//
// The processor holds a view's time to the window around the time Kafka
// received it, which is up to sendWait after now: a view is held here to
// a window that much narrower behind, so that none the API answers 202
// for is then dead-lettered for its time.
func (d *RecommendationDeps) viewEvents(reqs []viewRequest, prefix func(int) string, sendWait time.Duration) ([]*recommendationsv1.ViewEvent, apiError, bool) {
	now := d.now()
	window := d.window()
	window.Behind = max(window.Behind-sendWait, 0)
	keys := map[[2]string]int{}
	events := make([]*recommendationsv1.ViewEvent, len(reqs))
	for i, r := range reqs {
		v := &recommendationsv1.ViewEvent{UserId: r.UserID, Sku: r.SKU, SessionId: r.SessionID, TimestampMs: now.UnixMilli()}
		if r.TimestampMs != nil {
			v.TimestampMs = *r.TimestampMs
		}
		v.EventId = newCommandID()
		if r.IdempotencyKey != nil {
			key := *r.IdempotencyKey
			if err := schemas.CheckClientID("idempotency_key", key, schemas.ReasonMissingIdempotencyKey); err != nil {
				return nil, viewErrors.at(prefix(i), err), false
			}
			// Two views of one user under one key would be one event:
			// the second dropped as a repeat, or dead-lettered as a
			// conflict, after the 202 said both were taken.
			if j, dup := keys[[2]string{r.UserID, key}]; dup {
				return nil, errInvalidViews.at(prefix(i)+"idempotency_key", "repeats the key of "+
					prefix(j)+"idempotency_key for the same user"), false
			}
			keys[[2]string{r.UserID, key}] = i
			v.EventId = viewEventID(r.UserID, key)
		}
		if err := schemas.ValidateViewEvent(v); err != nil {
			return nil, viewErrors.at(prefix(i), err), false
		}
		if err := window.Check("timestamp_ms", v.GetTimestampMs(), now); err != nil {
			return nil, viewErrors.at(prefix(i), err), false
		}
		events[i] = v
	}
	return events, apiError{}, true
}

// viewEventIDPrefix starts the event ids the API derives. The API writes
// the public views topic on a client's behalf, where ids in Titan's
// namespace are refused, so a derived id is a client's id, as an order's
// OrderPlaced is (placedEventID).
const viewEventIDPrefix = "api:view:"

// viewEventID derives the event id of a user's view sent under an
// idempotency key. It is a digest: a client names it only through its key,
// never directly, and two users' keys never give one id, though the
// processor deduplicates per user. Neither id may hold a NUL (schemas.ValidID),
// so the pair is read back unambiguously.
func viewEventID(userID, key string) string {
	sum := sha256.Sum256([]byte(userID + "\x00" + key))
	return viewEventIDPrefix + hex.EncodeToString(sum[:])
}
