package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/proctest"
	"github.com/titan-commerce/titan/processors/fraud"
)

const (
	opsToken    = "ops-token-0123456789abcdef"    // command, revoked by the edit
	viewerToken = "viewer-token-0123456789abcdef" // read, given command by the edit
	newToken    = "new-token-0123456789abcdef"    // added by the edit
)

// TestReloadOnHangup runs titan on its embedded broker with a fraud model
// file and an API tokens file, checks what the tokens let through, edits
// both files, sends one SIGHUP, and checks that the next order is scored
// with the edited model and that the edited tokens are in force. A tokens
// file broken by a later edit leaves them in force.
func TestReloadOnHangup(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	model := filepath.Join(dir, "model.json")
	if err := os.WriteFile(model, fraud.DefaultModelJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("# ops\n"+opsToken+" command\n"+viewerToken+" read\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// An empty --brokers wins over TITAN_KAFKA_BROKERS: the test needs a
	// fresh state, not the shared broker's un-namespaced topics.
	p := proctest.Spawn(t, proctest.Build(ctx, t), "titan", dir, "--brokers", "", "--fraud-model", model, "--partitions", "2",
		"--api-tokens-file", tokens, "--api-allowed-hosts", "127.0.0.1,localhost")
	if err := p.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, ctx: ctx, base: "http://" + p.Addr}

	// Before the edit: what the tokens let through, and what the other
	// gates refuse. None of the refused commands may change the stock.
	c.expect("POST", "/v1/inventory/sku-1/restock", `{"qty":10}`, "", 401, "unauthorized")
	c.expect("POST", "/v1/inventory/sku-1/restock", `{"qty":10}`, "nope-0123456789abcdef", 401, "unauthorized")
	c.expect("POST", "/v1/inventory/sku-1/restock", `{"qty":10}`, viewerToken, 403, "forbidden")
	c.expectWith("POST", "/v1/inventory/sku-1/restock", `qty=10`, opsToken, "application/x-www-form-urlencoded", "", 415, "unsupported_media_type")
	c.expectWith("POST", "/v1/inventory/sku-1/restock", `{"qty":10}`, opsToken, "application/json", "evil.example", 421, "host_not_allowed")
	c.expectWith("GET", "/healthz", "", "", "", "evil.example", 200, "")
	if got := c.stock("sku-1"); got != 0 {
		t.Fatalf("refused commands changed the stock: on hand %d", got)
	}
	c.expect("POST", "/v1/inventory/sku-1/restock", `{"qty":10}`, opsToken, 200, "")
	c.expect("POST", "/v1/prices/sku-1", `{"base_price":1000,"currency":"EUR"}`, opsToken, 202, "")
	first := c.modelVersion("o-1", opsToken)
	if first == "" || first == "reloaded" {
		t.Fatalf("first order scored with model %q", first)
	}

	// One SIGHUP, two files.
	edited := bytes.Replace(fraud.DefaultModelJSON, []byte(`"`+first+`"`), []byte(`"reloaded"`), 1)
	if err := os.WriteFile(model, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokens, []byte(viewerToken+" read command\n"+newToken+" admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The reload happens on the process's own time.
	for c.status("POST", "/v1/inventory/sku-1/restock", `{"qty":1}`, newToken) != 200 {
		if !sleep(ctx, 50*time.Millisecond) {
			t.Fatal("the new token was never accepted")
		}
	}
	c.expect("POST", "/v1/inventory/sku-1/restock", `{"qty":1}`, opsToken, 401, "unauthorized")
	c.expect("POST", "/v1/inventory/sku-1/restock", `{"qty":1}`, viewerToken, 200, "")
	// Both files were read on that one signal: the order placed now is
	// scored with the edited model.
	if v := c.modelVersion("o-2", newToken); v != "reloaded" {
		t.Errorf("an order placed after the reload scored with model %q", v)
	}

	// A broken file keeps the tokens in force.
	if err := os.WriteFile(tokens, []byte(newToken+" admin\nshort read\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for !logHas(t, p.LogPath, "API tokens not reloaded") {
		if !sleep(ctx, 50*time.Millisecond) {
			t.Fatal("the broken tokens file was never reported")
		}
	}
	c.expect("POST", "/v1/inventory/sku-1/restock", `{"qty":1}`, viewerToken, 200, "")
	c.expect("POST", "/v1/inventory/sku-1/restock", `{"qty":1}`, opsToken, 401, "unauthorized")

	log := readLog(t, p.LogPath)
	if strings.Contains(log, "API OPEN") || !strings.Contains(log, "API tokens in force") {
		t.Error("the log does not say the API runs with tokens")
	}
	for _, tok := range []string{opsToken, viewerToken, newToken} {
		if strings.Contains(log, tok) {
			t.Errorf("the log shows token %s", tok)
		}
	}
}

// client sends the test's requests; a token goes in a Bearer header, and
// a POST says its body is JSON unless told otherwise.
type client struct {
	t    *testing.T
	ctx  context.Context
	base string
}

type answer struct {
	status int
	code   string
	header http.Header
	body   []byte
}

func (c *client) send(method, path, body, token, ctype, host string) answer {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.ctx, method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(b, &e)
	return answer{status: resp.StatusCode, code: e.Code, header: resp.Header, body: b}
}

func (c *client) status(method, path, body, token string) int {
	c.t.Helper()
	return c.send(method, path, body, token, jsonFor(method), "").status
}

func jsonFor(method string) string {
	if method == http.MethodPost {
		return "application/json"
	}
	return ""
}

// expect sends a request as a well-behaved client would and checks the
// status and, for an error, its code.
func (c *client) expect(method, path, body, token string, status int, code string) {
	c.t.Helper()
	c.expectWith(method, path, body, token, jsonFor(method), "", status, code)
}

func (c *client) expectWith(method, path, body, token, ctype, host string, status int, code string) {
	c.t.Helper()
	a := c.send(method, path, body, token, ctype, host)
	if a.status != status || a.code != code {
		c.t.Fatalf("%s %s (token %.6q, host %q): %d %s; want %d %s", method, path, token, host, a.status, a.body, status, code)
	}
	if status == 401 && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
		c.t.Errorf("%s %s: 401 with WWW-Authenticate %q", method, path, a.header.Get("WWW-Authenticate"))
	}
}

// stock reads a SKU's units on hand.
func (c *client) stock(sku string) int64 {
	c.t.Helper()
	a := c.send("GET", "/v1/inventory/"+sku, "", "", "", "")
	var st struct {
		OnHand int64 `json:"on_hand"`
	}
	if a.status != 200 || json.Unmarshal(a.body, &st) != nil {
		c.t.Fatalf("stock of %s: %d %s", sku, a.status, a.body)
	}
	return st.OnHand
}

// modelVersion places an order and returns the model version its fraud
// decision names, once the order's state shows it.
func (c *client) modelVersion(order, token string) string {
	c.t.Helper()
	body := fmt.Sprintf(`{"order_id":%q,"user_id":"u-%[1]s","device_id":"d-%[1]s","payment_id":"c-%[1]s","lines":[{"sku":"sku-1","qty":1,"unit_price":1000}]}`, order)
	if a := c.send("POST", "/v1/orders", body, token, "application/json", ""); a.status >= 300 && a.status != http.StatusConflict {
		c.t.Fatalf("POST /v1/orders: %d %s", a.status, a.body)
	}
	for {
		var o struct {
			Fraud struct {
				ModelVersion string `json:"model_version"`
			} `json:"fraud"`
		}
		if a := c.send("GET", "/v1/orders/"+order, "", "", "", ""); a.status == 200 {
			_ = json.Unmarshal(a.body, &o)
		}
		if o.Fraud.ModelVersion != "" {
			return o.Fraud.ModelVersion
		}
		if !sleep(c.ctx, 50*time.Millisecond) {
			c.t.Fatalf("order %s never showed its fraud decision", order)
		}
	}
}

func readLog(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func logHas(t *testing.T, path, s string) bool { return strings.Contains(readLog(t, path), s) }

// sleep waits d, or reports false if ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
