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

	fraudmodel "github.com/titan-commerce/titan/deploy/fraud"
	"github.com/titan-commerce/titan/internal/proctest"
)

// TestModelReloadOnHangup runs titan on its embedded broker with a model
// file, edits the file, sends SIGHUP, and checks that the next order is
// scored with the edited model while the one before was not.
func TestModelReloadOnHangup(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	model := filepath.Join(dir, "model.json")
	if err := os.WriteFile(model, fraudmodel.Model, 0o644); err != nil {
		t.Fatal(err)
	}
	p := proctest.Spawn(t, proctest.Build(ctx, t), "titan", dir, "--fraud-model", model, "--partitions", "2")
	if err := p.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	base := "http://" + p.Addr
	post := func(path, body string) []byte {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 && resp.StatusCode != http.StatusConflict {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
		return b
	}
	// version places an order and returns the model version its fraud
	// decision names, once the order's state shows it.
	version := func(order string) string {
		t.Helper()
		body := fmt.Sprintf(`{"order_id":%q,"user_id":"u-%[1]s","device_id":"d-%[1]s","payment_id":"c-%[1]s","lines":[{"sku":"sku-1","qty":1,"unit_price":1000}]}`, order)
		post("/v1/orders", body)
		for {
			var o struct {
				Fraud struct {
					ModelVersion string `json:"model_version"`
				} `json:"fraud"`
			}
			if resp, err := http.Get(base + "/v1/orders/" + order); err == nil {
				_ = json.NewDecoder(resp.Body).Decode(&o)
				resp.Body.Close()
			}
			if o.Fraud.ModelVersion != "" {
				return o.Fraud.ModelVersion
			}
			if !sleep(ctx, 50*time.Millisecond) {
				t.Fatalf("order %s never showed its fraud decision", order)
			}
		}
	}
	post("/v1/prices/sku-1", `{"base_price":1000,"currency":"EUR"}`)
	post("/v1/inventory/sku-1/restock", `{"qty":10}`)

	first := version("o-1")
	if first == "" || first == "reloaded" {
		t.Fatalf("first order scored with model %q", first)
	}
	edited := bytes.Replace(fraudmodel.Model, []byte(`"`+first+`"`), []byte(`"reloaded"`), 1)
	if err := os.WriteFile(model, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The reload happens on the process's own time; orders placed until it
	// has still name the old model.
	for i := 2; ; i++ {
		if v := version(fmt.Sprintf("o-%d", i)); v == "reloaded" {
			break
		}
		if !sleep(ctx, 100*time.Millisecond) {
			t.Fatal("no order was scored with the reloaded model")
		}
	}
}

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
