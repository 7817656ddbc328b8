package api

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

//go:embed openapi.yaml
var openapiYAML []byte

const maxWaitFetch = 500 * time.Millisecond

// Table is the read side of a goka table: a goka.View satisfies it.
type Table interface {
	Get(key string) (any, error)
	Recovered() bool
}

// Freshness is what a Table may say of how stale a read of it is. A read of
// a Table that implements it carries the headers HeaderViewLag and
// HeaderViewAge.
type Freshness interface {
	// Freshness returns, for the partition of the table that holds key,
	// how many changelog records it had not applied at the last look-up,
	// and how long ago it last held every record (the answer holds every
	// change made before then); ok is false while that is not known.
	Freshness(key string) (lag int64, age time.Duration, ok bool)
}

// The headers of a read from a view; absent while the view's progress is
// not known yet.
const (
	// HeaderViewLag is the number of records the view's partition holding
	// the key had not applied at the last look-up.
	HeaderViewLag = "Titan-View-Lag"
	// HeaderViewAge is, in milliseconds, how long ago that partition last
	// held every record of its changelog: the answer includes every change
	// made before then, and may miss later ones.
	HeaderViewAge = "Titan-View-Age-Ms"
)

// setFreshness adds the freshness headers of a read of key from t.
func setFreshness(ctx *fasthttp.RequestCtx, t Table, key string) {
	f, ok := t.(Freshness)
	if !ok {
		return
	}
	lag, age, ok := f.Freshness(key)
	if !ok {
		return
	}
	// The names are canonical already; SetCanonical skips normalising
	// them on every read.
	var buf [20]byte
	ctx.Response.Header.SetCanonical(headerViewLag, strconv.AppendInt(buf[:0], lag, 10))
	ctx.Response.Header.SetCanonical(headerViewAge, strconv.AppendInt(buf[:0], age.Milliseconds(), 10))
}

var headerViewLag, headerViewAge = []byte(HeaderViewLag), []byte(HeaderViewAge)

// Sender hands a command to the commands topic and returns its partition
// and offset once Kafka has acknowledged it.
type Sender func(ctx context.Context, cmd *inventoryv1.Command) (partition int32, offset int64, err error)

// ErrOverloaded is what a Sender's error wraps when it cannot take a
// request without queueing it (kgo.ErrMaxBuffered, a full producer buffer,
// counts too): the API answers 429 overloaded with Retry-After.
var ErrOverloaded = errors.New("api: overloaded")

// Deps are the parts of the system the API stands on.
type Deps struct {
	// Stock is the inventory table (inventory.Head per SKU), updates
	// reported to StockNotifier.
	Stock         Table
	StockNotifier *Notifier
	// Orders is the order index (inventory.OrderIndex per order id),
	// updates reported to OrdersNotifier.
	Orders         Table
	OrdersNotifier *Notifier
	Send           Sender
	Results        *Results
	// Ready reports whether everything this instance runs has recovered;
	// nil means the views alone decide.
	Ready func() bool
	// Health lists the parts of the instance with how far each has come,
	// which /readyz shows; nil shows none.
	Health func() []ComponentStatus
	// FlashSales enables the flash-sale endpoints; without it they exist
	// (the API is the same on every instance) and answer 503 not_enabled,
	// so a load balancer tries an instance that runs them.
	FlashSales *FlashSaleDeps
	// OrderSaga enables the order, price and fraud endpoints; without it
	// they answer 503 not_enabled, as flash sales do. It is not called
	// Orders because that name is the inventory's order index above.
	OrderSaga *OrderDeps
	// Recommendations enables the recommendation endpoints; without it
	// they answer 503 not_enabled, as flash sales do.
	Recommendations *RecommendationDeps
	// Analytics answers the /v1/analytics views (and so the dashboard)
	// from ClickHouse; without it they answer 503 analytics_unavailable.
	Analytics Analytics
}

// Options tune the server; zero values take the defaults.
type Options struct {
	// CommandWait bounds how long a command endpoint waits for the result
	// before answering 202 with a URL to poll. Default 2s.
	CommandWait time.Duration
	// ReadWait bounds how long a read with min_offset waits for the state
	// to catch up. Default 2s.
	ReadWait time.Duration
	// MaxBodyBytes caps request bodies. Default 64 KiB.
	MaxBodyBytes int
	// DefaultCurrency is the currency of an order placed without one.
	// Default EUR.
	DefaultCurrency string
	Registerer      prometheus.Registerer
	Gatherer        prometheus.Gatherer
	Logger          *slog.Logger

	// Access is who may use the API; the zero value leaves it open.
	Access Access
	// MaxPending bounds, per results consumer (inventory results, flash-sale
	// results, order outcomes), the requests waiting for their result; past
	// it a command is answered 429 overloaded. Default DefaultMaxPending.
	MaxPending int
	// RetryAfter is what a 429 overloaded tells the client to wait before
	// it retries. Default 1s.
	RetryAfter time.Duration
	// ReadTimeout bounds how long a client may take to send one request,
	// headers and body; a slower one is answered 408 and its connection
	// closed. Default 10s.
	ReadTimeout time.Duration
	// AnalyticsTimeout bounds one analytics view, all its queries; past it
	// the request is answered 504 analytics_timeout. Default 5s.
	AnalyticsTimeout time.Duration
	// Now is the clock of the analytics windows; nil means time.Now.
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.CommandWait <= 0 {
		o.CommandWait = 2 * time.Second
	}
	if o.ReadWait <= 0 {
		o.ReadWait = 2 * time.Second
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 64 << 10
	}
	if o.DefaultCurrency == "" {
		o.DefaultCurrency = "EUR"
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 10 * time.Second
	}
	if o.AnalyticsTimeout <= 0 {
		o.AnalyticsTimeout = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = time.Second
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Gatherer == nil {
		if g, ok := o.Registerer.(prometheus.Gatherer); ok {
			o.Gatherer = g
		} else {
			o.Gatherer = prometheus.NewRegistry()
		}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Server is the HTTP API of one instance.
type Server struct {
	deps   Deps
	opts   Options
	routes []*route
	hosts  map[string]bool // Access.AllowedHosts; nil allows any
	http   *httpMetrics
	flash  *flashSaleMetrics // nil without flash sales
	sold   *soldCounts       // nil without flash sales
	promh  fasthttp.RequestHandler
	srv    *fasthttp.Server
}

// New validates deps and builds the server.
func New(deps Deps, opts Options) (*Server, error) {
	if deps.Stock == nil || deps.Orders == nil || deps.Send == nil || deps.Results == nil ||
		deps.StockNotifier == nil || deps.OrdersNotifier == nil {
		return nil, errors.New("api: Stock, Orders, their notifiers, Send and Results are required")
	}
	if deps.FlashSales != nil && !deps.FlashSales.complete() {
		return nil, errors.New("api: FlashSales needs Sales, Purchases, their notifiers, Router, Send and Results")
	}
	if deps.OrderSaga != nil && !deps.OrderSaga.complete() {
		return nil, errors.New("api: OrderSaga needs Orders, OrdersNotifier, Prices, Fraud, SendOrder, SendPricing, Outcomes, PriceAt and FraudFeatures")
	}
	if deps.Recommendations != nil && !deps.Recommendations.complete() {
		return nil, errors.New("api: Recommendations needs Items, Users, TopItems, ForUser and SendViews")
	}
	opts.defaults()
	if !validCurrency(opts.DefaultCurrency) {
		return nil, errorf("DefaultCurrency %q is not an ISO 4217 code", opts.DefaultCurrency)
	}
	if err := opts.Access.Validate(); err != nil {
		return nil, err
	}
	m, err := newHTTPMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{deps: deps, opts: opts, http: m, hosts: hostSet(opts.Access.AllowedHosts)}
	deps.Results.waiters.setMax(opts.MaxPending)
	if deps.FlashSales != nil {
		deps.FlashSales.Results.waiters.setMax(opts.MaxPending)
	}
	if deps.OrderSaga != nil {
		deps.OrderSaga.Outcomes.waiters.setMax(opts.MaxPending)
	}
	if deps.FlashSales != nil {
		if s.flash, err = newFlashSaleMetrics(opts.Registerer); err != nil {
			return nil, err
		}
		s.sold = newSoldCounts()
	}
	s.routes = newRoutes()
	s.promh = fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	s.srv = &fasthttp.Server{
		Handler: s.Handler,
		Name:    "titan",
		// Bodies up to a few times the limit are read whole and refused
		// by the handler with a JSON 413; fasthttp refuses larger ones
		// itself (ErrorHandler writes the JSON) and closes the connection
		// without reading them; lineConn lingers over the close so that a
		// client still sending gets the answer, not a reset.
		MaxRequestBodySize: 4 * opts.MaxBodyBytes,
		Logger:             fasthttpLogger{opts.Logger},
		ErrorHandler:       s.transportError,
		ReadTimeout:        opts.ReadTimeout,
		WriteTimeout:       10 * time.Second,
		IdleTimeout:        60 * time.Second,

		// The request line and headers must fit this buffer; see
		// transport.go for how its overflows are told apart.
		ReadBufferSize: readBufferBytes,
		// fasthttp would parse a multipart body (writing large parts to
		// disk) before the handler refuses its content type.
		DisablePreParseMultipartForm: true,
	}
	return s, nil
}

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(lineListener{ln}) }

// Shutdown stops accepting connections and waits for requests in flight,
// including those waiting for a result, to finish.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.ShutdownWithContext(ctx) }

// Handler routes one request.
func (s *Server) Handler(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	rs := s.route(ctx)
	s.http.observe(rs, ctx.Response.StatusCode(), time.Since(start))
}

// route answers one request and returns the series it is counted under.
func (s *Server) route(ctx *fasthttp.RequestCtx) *routeSeries {
	if len(ctx.Request.Header.RequestURI()) > maxURIBytes {
		// Closed like a request line over the read buffer, which fasthttp
		// closes: one 414, one behaviour.
		ctx.SetConnectionClose()
		s.fail(ctx, errURITooLong)
		return s.http.unmatched
	}
	raw := string(ctx.URI().PathOriginal())
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		raw = raw[:i]
	}
	r, params, allowed := match(s.routes, string(ctx.Method()), raw)
	switch {
	case len(allowed) == 0:
		s.fail(ctx, errNotFound)
		return s.http.unmatched
	case ctx.IsOptions():
		// What the path takes, as RFC 9110 has it. No CORS headers: a
		// browser's preflight learns nothing it may send cross-origin.
		ctx.Response.Header.Set(fasthttp.HeaderAllow, allowHeader(allowed))
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return s.http.options
	case r == nil:
		ctx.Response.Header.Set(fasthttp.HeaderAllow, allowHeader(allowed))
		s.fail(ctx, errMethodNotAllowed)
		return s.http.unmatched
	}
	if !s.admit(ctx, r) {
		return r.series
	}
	decoded, err := unescape(params)
	if err != nil {
		s.fail(ctx, errNotFound)
		return r.series
	}
	r.handle(s, ctx, decoded)
	return r.series
}

func unescape(params []string) ([]string, error) {
	out := make([]string, len(params))
	for i, p := range params {
		v, err := url.PathUnescape(p)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (s *Server) healthz(ctx *fasthttp.RequestCtx, _ []string) {
	writeJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) ready() bool {
	if !s.deps.Stock.Recovered() || !s.deps.Orders.Recovered() {
		return false
	}
	return s.deps.Ready == nil || s.deps.Ready()
}

func (s *Server) readyz(ctx *fasthttp.RequestCtx, _ []string) {
	var components []ComponentStatus
	if s.deps.Health != nil {
		components = s.deps.Health()
	}
	if !s.ready() {
		writeJSON(ctx, errNotReady.status, notReady{apiError: errNotReady, Components: components})
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, readyBody{Status: "ready", Components: components})
}

func (s *Server) now() time.Time { return s.opts.Now() }

func (s *Server) serveMetrics(ctx *fasthttp.RequestCtx, _ []string) { s.promh(ctx) }

func (s *Server) openapi(ctx *fasthttp.RequestCtx, _ []string) {
	ctx.SetContentType("application/yaml")
	ctx.SetBody(openapiYAML)
}

// fasthttpLogger sends fasthttp's own messages (mostly connections that
// broke off) to slog at debug level.
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug(fmt.Sprintf(format, args...), "component", "fasthttp")
}

// overloaded sheds a request: 429 overloaded, with when to retry.
func (s *Server) overloaded(ctx *fasthttp.RequestCtx) {
	secs := int64((s.opts.RetryAfter + time.Second - 1) / time.Second)
	ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, strconv.FormatInt(secs, 10))
	s.fail(ctx, errOverloaded)
}

// sendFailed answers a request Kafka did not take: 429 overloaded when
// the producer's buffer is full, 503 unavailable otherwise.
func (s *Server) sendFailed(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, ErrOverloaded) || errors.Is(err, kgo.ErrMaxBuffered) {
		s.overloaded(ctx)
		return
	}
	s.fail(ctx, errUnavailable)
}

// fail writes e as the JSON error body.
func (s *Server) fail(ctx *fasthttp.RequestCtx, e apiError) {
	writeJSON(ctx, e.status, e)
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	if a, ok := v.(jsonAppender); ok {
		writeJSONBody(ctx, status, a.appendJSON(make([]byte, 0, 256)))
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		status, b = fasthttp.StatusInternalServerError, []byte(`{"code":"internal","message":"encoding the response failed"}`)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// newCommandID gives a command without a client key its own; such a
// command is still applied once, but a client retry is a new command.
func newCommandID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func errorf(format string, args ...any) error { return fmt.Errorf("api: "+format, args...) }

// read reads key from t as a T, and whether t holds anything under it:
// the zero T when it does not, and an error naming the table (what) when it
// holds a value of another type, which is a wiring mistake rather than a
// client's.
func read[T any](t Table, what, key string) (T, bool, error) {
	var zero T
	v, err := t.Get(key)
	if err != nil || v == nil {
		return zero, false, err
	}
	x, ok := v.(T)
	if !ok {
		return zero, false, errorf("%s table holds %T, want %T", what, v, zero)
	}
	return x, true, nil
}
