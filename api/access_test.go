package api

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	readToken    = "read-token-0123456789"
	commandToken = "command-token-0123456789"
	adminToken   = "admin.token_0123456789~+/=="
)

const testTokensFile = `
# reads only
read-token-0123456789 read
command-token-0123456789 command   # commands only
admin.token_0123456789~+/== admin
`

// writeTokens writes a tokens file into the test's directory and loads it.
func writeTokens(t *testing.T, content string) *Tokens {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// shortWait keeps a request that got through a gate by mistake from
// waiting a minute for a result that never comes: the test fails at once.
// The fakes answer inside Send, so a request meant to pass never waits.
const shortWait = 200 * time.Millisecond

// fullEnv is a server with every part of Titan on fakes, so that every
// route can be called.
type fullEnv struct {
	*flashEnv
	saga *fakeSaga
	recs *fakeRecs
}

func newFullEnv(t *testing.T, opts Options) *fullEnv {
	t.Helper()
	e := newFlashEnv(t, opts)
	saga := withOrders(t, e.testEnv)
	recs := withRecommendations(t, e.testEnv)
	recs.item("sku-1", neighbor{"sku-2", 1, 0})
	return &fullEnv{flashEnv: e, saga: saga, recs: recs}
}

// sent counts what reached every fake topic.
func (e *fullEnv) sent() int { return e.sentAll() + e.saga.sent() + len(e.recs.sentViews()) }

// commandSamples holds one well-formed request per command route, so that
// a refusal is for the gate under test and nothing else.
var commandSamples = map[string][2]string{
	"reserve":           {"/v1/inventory/sku-1/reservations", `{"order_id":"o-1","qty":1,"ttl_ms":60000}`},
	"restock":           {"/v1/inventory/sku-1/restock", `{"qty":5}`},
	"commit":            {"/v1/inventory/reservations/o-1/commit", `{}`},
	"release":           {"/v1/inventory/reservations/o-1/release", `{}`},
	"create_flash_sale": {"/v1/flash-sales", activeSale("fs-9", "sku-1", 1, 1, 1).body()},
	"purchase":          {"/v1/flash-sales/fs-9/purchases", purchaseBody("u-1", 1, "k-1")},
	"place_order":       {"/v1/orders", orderBody("o-2", "u-1", "sku-1")},
	"set_price":         {"/v1/prices/sku-1", `{"base_price":100,"currency":"EUR"}`},
	"record_views":      {"/v1/recommendations/views", `{"user_id":"u-1","sku":"sku-1"}`},
}

// readSamples holds one request per read route.
var readSamples = map[string]string{
	"get_stock":                "/v1/inventory/sku-1",
	"get_reservations":         "/v1/inventory/reservations/o-1",
	"get_flash_sale":           "/v1/flash-sales/fs-9",
	"get_purchase":             "/v1/flash-sales/fs-9/purchases/k-1",
	"get_order":                "/v1/orders/o-2",
	"get_price":                "/v1/prices/sku-1",
	"get_price_history":        "/v1/prices/sku-1/history",
	"get_fraud_user":           "/v1/fraud/users/u-1",
	"get_item_recommendations": "/v1/recommendations/items/sku-1",
	"get_user_recommendations": "/v1/recommendations/users/u-1",
	"healthz":                  "/healthz",
	"readyz":                   "/readyz",
	"metrics":                  "/metrics",
	"openapi":                  "/openapi.yaml",
	"analytics_orders":         "/v1/analytics/orders",
	"analytics_flashsales":     "/v1/analytics/flashsales?minutes=5",
	"analytics_reservations":   "/v1/analytics/reservations",
	"analytics_fraud":          "/v1/analytics/fraud",
	"analytics_prices":         "/v1/analytics/prices?limit=3",
	"analytics_top_skus":       "/v1/analytics/top-skus?by=revenue",
	"analytics_stockouts":      "/v1/analytics/stockouts",
	"dashboard":                "/dashboard",
	"dashboard_asset":          "/dashboard/app.js",
}

// eachRoute calls f with a sample request for every route, and fails the
// test for a route without one, so a new route cannot miss the gates.
func eachRoute(t *testing.T, f func(r *route, uri, body string)) {
	t.Helper()
	for _, r := range newRoutes() {
		var uri, body string
		if r.method == "POST" {
			s, ok := commandSamples[r.name]
			if !ok {
				t.Fatalf("route %s has no sample command", r.name)
			}
			uri, body = s[0], s[1]
		} else {
			var ok bool
			if uri, ok = readSamples[r.name]; !ok {
				t.Fatalf("route %s has no sample read", r.name)
			}
		}
		f(r, uri, body)
	}
}

func bearer(token string) []string {
	return []string{"Content-Type", "application/json", "Authorization", "Bearer " + token}
}

// TestCommandsNeedTheCommandScope: with tokens, every POST needs a token
// with the command scope; anything short of it is refused with 401 or
// 403 and reaches no topic.
func TestCommandsNeedTheCommandScope(t *testing.T) {
	e := newFullEnv(t, Options{Access: Access{Tokens: writeTokens(t, testTokensFile)}, CommandWait: shortWait, ReadWait: shortWait})
	eachRoute(t, func(r *route, uri, body string) {
		if r.method != "POST" {
			return
		}
		for _, c := range []struct {
			name        string
			headers     []string
			code        Code
			wwwAuthHead string
		}{
			{"no token", []string{"Content-Type", "application/json"}, errUnauthorized.Code, `Bearer realm="titan"`},
			{"unknown token", bearer("not-a-token-0123456789"), errUnauthorized.Code, `Bearer realm="titan", error="invalid_token"`},
			{"a known token's prefix", bearer(commandToken[:len(commandToken)-1]), errUnauthorized.Code, `Bearer realm="titan", error="invalid_token"`},
			{"empty bearer", []string{"Content-Type", "application/json", "Authorization", "Bearer "}, errUnauthorized.Code, `Bearer realm="titan"`},
			{"basic scheme", []string{"Content-Type", "application/json", "Authorization", "Basic " + commandToken}, errUnauthorized.Code, `Bearer realm="titan"`},
			{"token without scheme", []string{"Content-Type", "application/json", "Authorization", commandToken}, errUnauthorized.Code, `Bearer realm="titan"`},
			{"read token", bearer(readToken), errForbidden.Code, `Bearer realm="titan", error="insufficient_scope", scope="command"`},
		} {
			before := e.sent()
			got := e.doWith("POST", uri, body, c.headers...)
			checkError(t, got, c.code)
			if got.authenticate != c.wwwAuthHead {
				t.Errorf("%s %s: WWW-Authenticate %q, want %q", r.name, c.name, got.authenticate, c.wwwAuthHead)
			}
			if n := e.sent() - before; n != 0 {
				t.Errorf("%s %s: %d message(s) reached Kafka", r.name, c.name, n)
			}
		}
	})
	// The scheme is case-insensitive; the command and admin scopes pass.
	e.mustDoWith(t, "POST", "/v1/inventory/sku-1/restock", `{"qty":5}`, 200, bearer(commandToken)...)
	e.mustDoWith(t, "POST", "/v1/inventory/sku-1/restock", `{"qty":5}`, 200, bearer(adminToken)...)
	e.mustDoWith(t, "POST", "/v1/inventory/sku-1/restock", `{"qty":5}`, 200,
		"Content-Type", "application/json", "Authorization", "bEaReR  "+commandToken)
	if n := len(e.k.sent()); n != 3 {
		t.Errorf("%d commands sent, want 3", n)
	}
}

// TestReadsOpenUnlessReadAuth: reads need no token unless ReadAuth, then
// the read scope; the probes, metrics and the document never do.
func TestReadsOpenUnlessReadAuth(t *testing.T) {
	tokens := writeTokens(t, testTokensFile)
	open := newFullEnv(t, Options{Access: Access{Tokens: tokens}, CommandWait: shortWait, ReadWait: shortWait})
	closed := newFullEnv(t, Options{Access: Access{Tokens: tokens, ReadAuth: true}, CommandWait: shortWait, ReadWait: shortWait})
	eachRoute(t, func(r *route, uri, _ string) {
		if r.method != "GET" {
			return
		}
		if got := open.do("GET", uri, ""); got.status == 401 || got.status == 403 {
			t.Errorf("%s without ReadAuth: %d %s", r.name, got.status, got)
		}
		got := closed.do("GET", uri, "")
		if r.open {
			if got.status != 200 {
				t.Errorf("%s is open to probes and scrapers, yet: %d %s", r.name, got.status, got)
			}
			return
		}
		checkError(t, got, errUnauthorized.Code)
		checkError(t, closed.doWith("GET", uri, "", "Authorization", "Bearer "+commandToken), errForbidden.Code)
		for _, tok := range []string{readToken, adminToken} {
			if got := closed.doWith("GET", uri, "", "Authorization", "Bearer "+tok); got.status == 401 || got.status == 403 {
				t.Errorf("%s with a token with the read scope: %d %s", r.name, got.status, got)
			}
		}
	})
	// Sanity: a read that succeeds does so for its own reasons.
	closed.mustDoWith(t, "GET", "/v1/inventory/sku-1", "", 200, "Authorization", "Bearer "+readToken)
}

// TestCommandsTakeJSONOnly: what a browser form or a cross-site request
// without preflight can send is refused with 415 before it reaches a
// topic, on every command route; JSON with or without parameters passes.
func TestCommandsTakeJSONOnly(t *testing.T) {
	e := newFullEnv(t, Options{CommandWait: shortWait, ReadWait: shortWait})
	eachRoute(t, func(r *route, uri, body string) {
		if r.method != "POST" {
			return
		}
		for _, c := range []struct{ ctype, body string }{
			{"application/x-www-form-urlencoded", "qty=5"},
			{"multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"qty\"\r\n\r\n5\r\n--x--\r\n"},
			{"text/plain", body},
			{"text/plain;charset=UTF-8", body},
			{"", body}, // no Content-Type at all
			{"", ""},   // nor a body: fetch(url, {method: "POST", mode: "no-cors"})
			{"application/json; charset=latin1", body},
			{"application/jsonp", body},
			{"application/vnd.titan+json", body},
			{"application/json garbage", body},
		} {
			before := e.sent()
			var h []string
			if c.ctype != "" {
				h = []string{"Content-Type", c.ctype}
			}
			checkError(t, e.doWith("POST", uri, c.body, h...), errUnsupportedMedia.Code)
			if n := e.sent() - before; n != 0 {
				t.Errorf("%s with %q: %d message(s) reached Kafka", r.name, c.ctype, n)
			}
		}
	})
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON;Charset=\"UTF-8\""} {
		e.mustDoWith(t, "POST", "/v1/inventory/sku-1/restock", `{"qty":1}`, 200, "Content-Type", ct)
	}
	// An empty body passes where the endpoint takes one, with the header.
	e.restock(t, "sku-e", 1)
	e.mustDo(t, "POST", "/v1/inventory/sku-e/reservations", `{"order_id":"o-e","qty":1,"ttl_ms":60000}`, 201)
	e.mustDoWith(t, "POST", "/v1/inventory/reservations/o-e/release", "", 200, "Content-Type", "application/json")
}

// TestAllowedHosts: with allowed hosts, a request under /v1 naming another
// host is refused with 421 before the token is looked at; the port is not
// compared, nor is case; probes answer whatever the Host.
func TestAllowedHosts(t *testing.T) {
	e := newFullEnv(t, Options{Access: Access{
		Tokens:       writeTokens(t, testTokensFile),
		AllowedHosts: []string{"Titan.Internal", "127.0.0.1", "[::1]"},
	}})
	cmd := bearer(commandToken)
	for _, host := range []string{"titan.internal", "TITAN.internal:8080", "titan.internal.", "127.0.0.1:1", "[::1]:8080", "[::1]"} {
		e.mustDoWith(t, "POST", "/v1/inventory/sku-1/restock", `{"qty":1}`, 200, append([]string{"Host", host}, cmd...)...)
		e.mustDoWith(t, "GET", "/v1/inventory/sku-1", "", 200, "Host", host)
	}
	sent := e.sent()
	for _, host := range []string{"evil.example", "evil.example:8080", "titan.internal.evil.example", "127.0.0.2", "[::2]:8080", "titan", ""} {
		checkError(t, e.doWith("POST", "/v1/inventory/sku-1/restock", `{"qty":1}`, append([]string{"Host", host}, cmd...)...), errHostNotAllowed.Code)
		checkError(t, e.doWith("GET", "/v1/orders/o-1", "", "Host", host), errHostNotAllowed.Code)
		// The host gate comes before the token gate.
		checkError(t, e.doWith("POST", "/v1/orders", `{}`, "Host", host), errHostNotAllowed.Code)
		for _, probe := range []string{"/healthz", "/readyz", "/metrics", "/openapi.yaml"} {
			e.mustDoWith(t, "GET", probe, "", 200, "Host", host)
		}
	}
	// A request in absolute form names its host in the request line,
	// which HTTP has win over the header.
	checkError(t, e.doWith("GET", "http://evil.example/v1/inventory/sku-1", "", "Host", "titan.internal"), errHostNotAllowed.Code)
	e.mustDoWith(t, "GET", "http://titan.internal:80/v1/inventory/sku-1", "", 200, "Host", "titan.internal")
	if n := e.sent() - sent; n != 0 {
		t.Errorf("%d message(s) reached Kafka from refused hosts", n)
	}
}

func TestAccessValidate(t *testing.T) {
	tokens := writeTokens(t, testTokensFile)
	for _, c := range []struct {
		a    Access
		want string
	}{
		{Access{ReadAuth: true}, "read auth needs a tokens file"},
		{Access{AllowedHosts: []string{"titan.internal:8080"}}, "without a port"},
		{Access{AllowedHosts: []string{"http://titan"}}, "without a port"},
		{Access{AllowedHosts: []string{"ti tan"}}, "not a host name"},
		{Access{AllowedHosts: []string{"a..b"}}, "not a host name"},
		{Access{AllowedHosts: []string{strings.Repeat("a", 64) + ".com"}}, "not a host name"},
	} {
		err := c.a.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.a, err, c.want)
		}
		if _, err := New(newEnv(t, Options{}).s.deps, Options{Access: c.a}); err == nil {
			t.Errorf("New took %+v", c.a)
		}
	}
	for _, a := range []Access{
		{},
		{Tokens: tokens, ReadAuth: true},
		{AllowedHosts: []string{"titan.internal", "localhost", "10.0.0.1", "::1", "[fe80::1]", "titan-api_1.example."}},
	} {
		if err := a.Validate(); err != nil {
			t.Errorf("%+v: %v", a, err)
		}
	}
}

// TestTokensReload: a reload puts the file's new tokens in force at once;
// a reload of a broken file keeps the ones in force.
func TestTokensReload(t *testing.T) {
	tokens := writeTokens(t, testTokensFile)
	e := newEnv(t, Options{Access: Access{Tokens: tokens}})
	restock := func(token string) response {
		return e.doWith("POST", "/v1/inventory/sku-1/restock", `{"qty":1}`, bearer(token)...)
	}
	if r := restock(commandToken); r.status != 200 {
		t.Fatalf("before the reload: %d %s", r.status, r)
	}
	const newToken = "new-command-token-0123456789"
	if err := os.WriteFile(tokens.Path(), []byte(newToken+" command\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := tokens.Reload(); err != nil {
		t.Fatal(err)
	}
	checkError(t, restock(commandToken), errUnauthorized.Code)
	if r := restock(newToken); r.status != 200 {
		t.Fatalf("the new token: %d %s", r.status, r)
	}
	if err := os.WriteFile(tokens.Path(), []byte(newToken+" command\nshort read\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := tokens.Reload(); err == nil {
		t.Fatal("a broken file reloaded")
	}
	if r := restock(newToken); r.status != 200 || tokens.Len() != 1 {
		t.Fatalf("after a failed reload: %d %s, %d tokens", r.status, r, tokens.Len())
	}
	if err := os.Remove(tokens.Path()); err != nil {
		t.Fatal(err)
	}
	if err := tokens.Reload(); err == nil || restock(newToken).status != 200 {
		t.Fatalf("a missing file: %v", err)
	}
}
