package api

import (
	"context"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/titan-commerce/titan/schemas"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
)

// The price endpoints. A base price is a catalog command on the SKU's key:
// the pricing processor applies it once per command id and publishes a
// PriceChanged; the API answers as soon as Kafka has the command. Reads
// come from the local replica of the pricing table, at the API's clock:
// campaigns start and end with time, not only with commands.

const (
	defaultHistoryLimit = 20
	maxHistoryLimit     = 100
)

type setPriceRequest struct {
	BasePrice *int64  `json:"base_price" units:"minor"`
	Currency  string  `json:"currency"`
	CommandID *string `json:"command_id"`
}

// priceAcceptedJSON answers a price command Kafka has taken.
type priceAcceptedJSON struct {
	CommandID string `json:"command_id"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

type contributionJSON struct {
	Rule   string `json:"rule"`
	Amount int64  `json:"amount"`
	Detail string `json:"detail"`
}

func contributionsOf(cs []*pricingv1.Contribution) []contributionJSON {
	out := make([]contributionJSON, 0, len(cs))
	for _, c := range cs {
		out = append(out, contributionJSON{Rule: c.GetRule(), Amount: c.GetAmountMinor(), Detail: c.GetDetail()})
	}
	return out
}

// priceJSON is the price of a SKU in force now.
type priceJSON struct {
	SKU           string             `json:"sku"`
	Currency      string             `json:"currency"`
	BasePrice     int64              `json:"base_price"`
	Price         int64              `json:"price"`
	Contributions []contributionJSON `json:"contributions"`
	// Version and UpdatedAt are those of the SKU's latest PriceChanged.
	Version   int64  `json:"version"`
	UpdatedAt string `json:"updated_at"`
}

// priceChangeJSON is one PriceChanged.
type priceChangeJSON struct {
	SKU           string             `json:"sku"`
	Currency      string             `json:"currency"`
	BasePrice     int64              `json:"base_price"`
	Price         int64              `json:"price"`
	Contributions []contributionJSON `json:"contributions"`
	Cause         string             `json:"cause"`
	Version       int64              `json:"version"`
	CommandID     string             `json:"command_id"`
	At            string             `json:"at"`
}

func priceChangeOf(c *pricingv1.PriceChanged) priceChangeJSON {
	return priceChangeJSON{SKU: c.GetSku(), Currency: c.GetCurrency(), BasePrice: c.GetBaseMinor(), Price: c.GetPriceMinor(),
		Contributions: contributionsOf(c.GetContributions()), Cause: c.GetCause(), Version: c.GetVersion(),
		CommandID: c.GetCommandId(), At: formatMs(c.GetTimestampMs())}
}

type priceHistoryJSON struct {
	SKU     string            `json:"sku"`
	Changes []priceChangeJSON `json:"changes"`
}

func (s *Server) setPrice(ctx *fasthttp.RequestCtx, p []string) {
	od, ok := s.orderSaga(ctx)
	if !ok {
		return
	}
	var req setPriceRequest
	if e, ok := s.decodeBody(ctx, &req); !ok {
		s.fail(ctx, e)
		return
	}
	sku := p[0]
	if e, ok := checkSKU(sku); !ok {
		s.fail(ctx, e)
		return
	}
	if req.BasePrice == nil || *req.BasePrice < 0 || *req.BasePrice > schemas.MaxPriceMinor {
		s.fail(ctx, errInvalidPrice)
		return
	}
	id, e, ok := commandID(req.CommandID)
	if !ok {
		s.fail(ctx, e)
		return
	}
	cmd := &pricingv1.Command{CommandId: id, Sku: sku, TimestampMs: time.Now().UnixMilli(),
		Kind: &pricingv1.Command_SetBase{SetBase: &pricingv1.SetBasePrice{PriceMinor: *req.BasePrice, Currency: req.Currency}}}
	if err := schemas.ValidatePricingCommand(cmd); err != nil {
		s.fail(ctx, pricingErrors.of(err))
		return
	}
	send, stop := context.WithTimeout(ctx, s.opts.CommandWait)
	defer stop()
	partition, offset, err := od.SendPricing(send, cmd)
	if err != nil {
		s.opts.Logger.Warn("send pricing command", "command_id", id, "sku", sku, "err", err)
		s.sendFailed(ctx, err)
		return
	}
	writeJSON(ctx, fasthttp.StatusAccepted, priceAcceptedJSON{CommandID: id, Partition: partition, Offset: offset})
}

// readPrice reads a SKU of the pricing table; nil when it has none.
func readPrice(od *OrderDeps, sku string) (*pricingv1.SkuPrice, error) {
	v, _, err := read[*pricingv1.SkuPrice](od.Prices, "pricing", sku)
	return v, err
}

// priceRead checks the SKU and readiness and reads it; it answers the
// request itself when it returns ok=false.
func (s *Server) priceRead(ctx *fasthttp.RequestCtx, sku string) (*OrderDeps, *pricingv1.SkuPrice, bool) {
	od, ok := s.orderSaga(ctx)
	if !ok {
		return nil, nil, false
	}
	if e, ok := checkSKU(sku); !ok {
		s.fail(ctx, e)
		return nil, nil, false
	}
	if !od.Prices.Recovered() {
		s.fail(ctx, errNotReady)
		return nil, nil, false
	}
	setFreshness(ctx, od.Prices, sku)
	sp, err := readPrice(od, sku)
	if err != nil {
		s.opts.Logger.Error("read price", "sku", sku, "err", err)
		s.fail(ctx, errInternal)
		return nil, nil, false
	}
	return od, sp, true
}

func (s *Server) getPrice(ctx *fasthttp.RequestCtx, p []string) {
	sku := p[0]
	od, sp, ok := s.priceRead(ctx, sku)
	if !ok {
		return
	}
	if sp == nil {
		s.fail(ctx, errPriceNotFound)
		return
	}
	q, found := od.PriceAt(sp, od.now())
	if !found || q == nil {
		s.fail(ctx, errPriceNotFound)
		return
	}
	out := priceJSON{SKU: sku, Currency: q.GetCurrency(), BasePrice: sp.GetBaseMinor(), Price: q.GetPriceMinor(),
		Contributions: contributionsOf(q.GetContributions())}
	if c := sp.GetCurrent(); c != nil {
		out.Version, out.UpdatedAt = c.GetVersion(), formatMs(c.GetTimestampMs())
	}
	writeJSON(ctx, fasthttp.StatusOK, out)
}

func (s *Server) getPriceHistory(ctx *fasthttp.RequestCtx, p []string) {
	if _, ok := s.orderSaga(ctx); !ok {
		return
	}
	limit := defaultHistoryLimit
	if raw := ctx.QueryArgs().Peek("limit"); raw != nil {
		n, err := strconv.Atoi(string(raw))
		if err != nil || n < 1 || n > maxHistoryLimit {
			s.fail(ctx, errInvalidLimit)
			return
		}
		limit = n
	}
	sku := p[0]
	_, sp, ok := s.priceRead(ctx, sku)
	if !ok {
		return
	}
	if sp == nil {
		s.fail(ctx, errPriceNotFound)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, priceHistoryJSON{SKU: sku, Changes: priceChanges(sp, limit)})
}

// priceChanges lists up to limit of the SKU's changes, newest first. The
// latest is kept in current and may not be in the bounded history yet.
func priceChanges(sp *pricingv1.SkuPrice, limit int) []priceChangeJSON {
	hist := sp.GetHistory()
	if c := sp.GetCurrent(); c != nil && (len(hist) == 0 || hist[len(hist)-1].GetVersion() < c.GetVersion()) {
		hist = append(hist[:len(hist):len(hist)], c)
	}
	out := make([]priceChangeJSON, 0, min(limit, len(hist)))
	for i := len(hist) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, priceChangeOf(hist[i]))
	}
	return out
}
