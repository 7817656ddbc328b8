package api

import (
	"slices"
	"strings"
	"testing"
)

// TestMethodNotAllowedSaysWhatIs: a 405 carries an Allow header with the
// methods the path takes, and OPTIONS answers 204 with the same header on
// any path that exists, without a token, a Host check or a Content-Type.
func TestMethodNotAllowedSaysWhatIs(t *testing.T) {
	e := newFullEnv(t, Options{Access: Access{
		Tokens: writeTokens(t, testTokensFile), ReadAuth: true, AllowedHosts: []string{"titan.internal"},
	}})
	for _, c := range []struct {
		method, uri, allow string
	}{
		{"DELETE", "/v1/inventory/sku-1", "GET, OPTIONS"},
		{"PUT", "/v1/inventory/sku-1/restock", "POST, OPTIONS"},
		{"GET", "/v1/inventory/reservations/o-1/commit", "POST, OPTIONS"},
		{"POST", "/healthz", "GET, OPTIONS"},
		{"HEAD", "/openapi.yaml", "GET, OPTIONS"},
		{"PATCH", "/v1/prices/sku-1", "GET, POST, OPTIONS"},
		{"DELETE", "/v1/flash-sales", "POST, OPTIONS"},
		// Both a SKU named "reservations" (POST reserve) and an order
		// named "reservations" (GET its reservations).
		{"PUT", "/v1/inventory/reservations/reservations", "GET, POST, OPTIONS"},
	} {
		r := e.doWith(c.method, c.uri, "", "Host", "evil.example")
		checkError(t, r, errMethodNotAllowed.Code)
		if r.allow != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.uri, r.allow, c.allow)
		}
		r = e.doWith("OPTIONS", c.uri, "", "Host", "evil.example")
		if r.status != 204 || r.allow != c.allow || len(r.body) != 0 {
			t.Errorf("OPTIONS %s: %d, Allow %q, body %q; want 204, %q, none", c.uri, r.status, r.allow, r.body, c.allow)
		}
	}
	for _, uri := range []string{"/", "/v1", "/v1/nope", "*"} {
		r := e.doWith("OPTIONS", uri, "")
		checkError(t, r, errNotFound.Code)
		if r.allow != "" {
			t.Errorf("OPTIONS %s: Allow %q on a path that does not exist", uri, r.allow)
		}
	}
	if n := e.sent(); n != 0 {
		t.Errorf("%d messages sent", n)
	}
}

func TestSplitPath(t *testing.T) {
	for _, p := range []string{"", "a", "a/b", "/", "a//b", "v1/inventory/sku-1", "a/b/c/d/e/f/g/h/i/j"} {
		if got, want := splitPath(p, nil), strings.Split(p, "/"); !slices.Equal(got, want) {
			t.Errorf("splitPath(%q) = %q, want %q", p, got, want)
		}
	}
}
