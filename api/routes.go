package api

import (
	"slices"
	"strings"

	"github.com/valyala/fasthttp"
)

// route binds a method and a path pattern to a handler. Patterns are
// slash-separated; a segment in braces matches any one non-empty segment
// and is handed to the handler in order. An open route passes none of
// Access's gates (see Access for which and why).
type route struct {
	method  string
	pattern string
	name    string
	handle  func(s *Server, ctx *fasthttp.RequestCtx, params []string)
	open    bool
	parts   []string
	series  *routeSeries
}

func newRoutes() []*route {
	rs := []*route{
		{method: "GET", pattern: "/healthz", name: "healthz", handle: (*Server).healthz, open: true},
		{method: "GET", pattern: "/readyz", name: "readyz", handle: (*Server).readyz, open: true},
		{method: "GET", pattern: "/metrics", name: "metrics", handle: (*Server).serveMetrics, open: true},
		{method: "GET", pattern: "/openapi.yaml", name: "openapi", handle: (*Server).openapi, open: true},
		{method: "GET", pattern: "/v1/inventory/{sku}", name: "get_stock", handle: (*Server).getStock},
		{method: "POST", pattern: "/v1/inventory/{sku}/reservations", name: "reserve", handle: (*Server).reserve},
		{method: "POST", pattern: "/v1/inventory/{sku}/restock", name: "restock", handle: (*Server).restock},
		{method: "GET", pattern: "/v1/inventory/reservations/{order_id}", name: "get_reservations", handle: (*Server).getReservations},
		{method: "POST", pattern: "/v1/inventory/reservations/{order_id}/commit", name: "commit", handle: (*Server).commit},
		{method: "POST", pattern: "/v1/inventory/reservations/{order_id}/release", name: "release", handle: (*Server).release},
		{method: "POST", pattern: "/v1/flash-sales", name: "create_flash_sale", handle: (*Server).createFlashSale},
		{method: "GET", pattern: "/v1/flash-sales/{id}", name: "get_flash_sale", handle: (*Server).getFlashSale},
		{method: "POST", pattern: "/v1/flash-sales/{id}/purchases", name: "purchase", handle: (*Server).purchase},
		{method: "GET", pattern: "/v1/flash-sales/{id}/purchases/{idempotency_key}", name: "get_purchase", handle: (*Server).getPurchase},
		{method: "POST", pattern: "/v1/orders", name: "place_order", handle: (*Server).placeOrder},
		{method: "GET", pattern: "/v1/orders/{order_id}", name: "get_order", handle: (*Server).getOrder},
		{method: "POST", pattern: "/v1/prices/{sku}", name: "set_price", handle: (*Server).setPrice},
		{method: "GET", pattern: "/v1/prices/{sku}", name: "get_price", handle: (*Server).getPrice},
		{method: "GET", pattern: "/v1/prices/{sku}/history", name: "get_price_history", handle: (*Server).getPriceHistory},
		{method: "GET", pattern: "/v1/fraud/users/{user_id}", name: "get_fraud_user", handle: (*Server).getFraudUser},
		{method: "GET", pattern: "/v1/recommendations/items/{sku}", name: "get_item_recommendations", handle: (*Server).getItemRecommendations},
		{method: "GET", pattern: "/v1/recommendations/users/{user_id}", name: "get_user_recommendations", handle: (*Server).getUserRecommendations},
		{method: "POST", pattern: "/v1/recommendations/views", name: "record_views", handle: (*Server).recordViews},
		{method: "GET", pattern: "/v1/analytics/orders", name: "analytics_orders", handle: (*Server).analyticsOrders},
		{method: "GET", pattern: "/v1/analytics/flashsales", name: "analytics_flashsales", handle: (*Server).analyticsFlashSales},
		{method: "GET", pattern: "/v1/analytics/reservations", name: "analytics_reservations", handle: (*Server).analyticsReservations},
		{method: "GET", pattern: "/v1/analytics/fraud", name: "analytics_fraud", handle: (*Server).analyticsFraud},
		{method: "GET", pattern: "/v1/analytics/prices", name: "analytics_prices", handle: (*Server).analyticsPrices},
		{method: "GET", pattern: "/v1/analytics/top-skus", name: "analytics_top_skus", handle: (*Server).analyticsTopSKUs},
		{method: "GET", pattern: "/v1/analytics/stockouts", name: "analytics_stockouts", handle: (*Server).analyticsStockouts},
		{method: "GET", pattern: "/dashboard", name: "dashboard", handle: (*Server).dashboard, open: true},
		{method: "GET", pattern: "/dashboard/{asset}", name: "dashboard_asset", handle: (*Server).dashboardAsset, open: true},
	}
	for _, r := range rs {
		r.parts = strings.Split(strings.Trim(r.pattern, "/"), "/")
		r.series = &routeSeries{name: r.name}
	}
	return rs
}

// match finds the route for a path. Literal segments win over parameters,
// so /v1/inventory/reservations/x is an order, not a SKU named
// "reservations". It also returns every method the path takes, in the
// order of the routes, for an Allow header; none means no such path.
func match(routes []*route, method, path string) (r *route, params []string, allowed []string) {
	var buf [8]string // longer paths than any route's grow past it
	segs := splitPath(strings.Trim(path, "/"), buf[:0])
	best, bestLiterals := -1, -1
	var bestParams []string
	for i, rt := range routes {
		ps, literals, ok := matchParts(rt.parts, segs)
		if !ok {
			continue
		}
		if !slices.Contains(allowed, rt.method) {
			allowed = append(allowed, rt.method)
		}
		if rt.method == method && literals > bestLiterals {
			best, bestLiterals, bestParams = i, literals, ps
		}
	}
	if best < 0 {
		return nil, nil, allowed
	}
	return routes[best], bestParams, allowed
}

// splitPath appends the slash-separated segments of path to segs, as
// strings.Split would return them, without a slice of its own per request.
func splitPath(path string, segs []string) []string {
	for {
		i := strings.IndexByte(path, '/')
		if i < 0 {
			return append(segs, path)
		}
		segs = append(segs, path[:i])
		path = path[i+1:]
	}
}

// allowHeader is the Allow header for a path taking methods; OPTIONS is
// answered on every path.
func allowHeader(methods []string) string {
	ms := slices.Clone(methods)
	slices.Sort(ms)
	return strings.Join(append(ms, fasthttp.MethodOptions), ", ")
}

func matchParts(parts, segs []string) (params []string, literals int, ok bool) {
	if len(parts) != len(segs) {
		return nil, 0, false
	}
	for i, p := range parts {
		if strings.HasPrefix(p, "{") {
			if segs[i] == "" {
				return nil, 0, false
			}
			params = append(params, segs[i])
			continue
		}
		if p != segs[i] {
			return nil, 0, false
		}
		literals++
	}
	return params, literals, true
}
