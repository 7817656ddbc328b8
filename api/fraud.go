package api

import (
	"slices"

	"github.com/valyala/fasthttp"

	"github.com/titan-commerce/titan/schemas"
	fraudv1 "github.com/titan-commerce/titan/schemas/fraud/v1"
)

// The fraud endpoint shows what the fraud processor keeps on a user: the
// windowed features as they read now, and the recent decisions with their
// reasons, so support can tell a customer why an order was held or refused.

// userKeyPrefix is the fraud table's prefix for user keys.
const userKeyPrefix = "u:"

type reasonJSON struct {
	Code         string  `json:"code"`
	Detail       string  `json:"detail"`
	Contribution float64 `json:"contribution"`
}

// decisionJSON is one fraud decision.
type decisionJSON struct {
	OrderID      string       `json:"order_id"`
	Outcome      string       `json:"outcome"`
	Score        float64      `json:"score"`
	Reasons      []reasonJSON `json:"reasons"`
	ModelVersion string       `json:"model_version"`
	At           string       `json:"at"`
}

func decisionOf(d *fraudv1.Decision) decisionJSON {
	out := decisionJSON{OrderID: d.GetOrderId(), Outcome: enumName(d.GetOutcome().String(), "OUTCOME_"), Score: d.GetScore(),
		Reasons: make([]reasonJSON, 0, len(d.GetReasons())), ModelVersion: d.GetModelVersion(), At: formatMs(d.GetTimestampMs())}
	for _, r := range d.GetReasons() {
		out.Reasons = append(out.Reasons, reasonJSON{Code: r.GetCode(), Detail: r.GetDetail(), Contribution: r.GetContribution()})
	}
	return out
}

type fraudUserJSON struct {
	UserID    string             `json:"user_id"`
	Features  map[string]float64 `json:"features"`
	FirstSeen string             `json:"first_seen"`
	Decisions []decisionJSON     `json:"decisions"`
}

func (s *Server) getFraudUser(ctx *fasthttp.RequestCtx, p []string) {
	od, ok := s.orderSaga(ctx)
	if !ok {
		return
	}
	user := p[0]
	if !schemas.ValidID(user) {
		s.fail(ctx, errInvalidUserID)
		return
	}
	if !od.Fraud.Recovered() {
		s.fail(ctx, errNotReady)
		return
	}
	setFreshness(ctx, od.Fraud, userKeyPrefix+user)
	e, err := readEntity(od, userKeyPrefix+user)
	if err != nil {
		s.opts.Logger.Error("read fraud user", "user_id", user, "err", err)
		s.fail(ctx, errInternal)
		return
	}
	if e == nil {
		s.fail(ctx, errUserNotFound)
		return
	}
	out := fraudUserJSON{UserID: user, Features: map[string]float64{}, FirstSeen: formatMs(e.GetFirstSeenMs()),
		Decisions: make([]decisionJSON, 0, len(e.GetDecisions()))}
	for _, f := range od.FraudFeatures(e, od.now()) {
		out.Features[f.GetName()] = f.GetValue()
	}
	for _, d := range slices.Backward(e.GetDecisions()) {
		out.Decisions = append(out.Decisions, decisionOf(d))
	}
	writeJSON(ctx, fasthttp.StatusOK, out)
}

// readEntity reads a key of the fraud table; nil when it holds none.
func readEntity(od *OrderDeps, key string) (*fraudv1.Entity, error) {
	v, _, err := read[*fraudv1.Entity](od.Fraud, "fraud", key)
	return v, err
}
