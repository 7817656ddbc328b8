package api

import (
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/lovoo/goka/storage"
)

// TestReadyzNamesComponents: while a part of the instance is failed or
// recovering, /readyz answers 503 not_ready naming each with its last
// error, and /healthz stays 200; once all are ready it answers 200.
func TestReadyzNamesComponents(t *testing.T) {
	k := &fakeKafka{
		stock: newFakeTable(), orders: newFakeTable(),
		stockN: NewNotifier(), ordersN: NewNotifier(),
		results: newTestResults(), mem: storage.NewMemory(),
	}
	var mu sync.Mutex
	var parts []ComponentStatus
	s, err := New(Deps{
		Stock: k.stock, StockNotifier: k.stockN,
		Orders: k.orders, OrdersNotifier: k.ordersN,
		Send: k.send, Results: k.results,
		Ready: func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(parts) == 0
		},
		Health: func() []ComponentStatus {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(parts)
		},
	}, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{s: s, k: k}
	e.mustDo(t, "GET", "/readyz", ``, 200)

	mu.Lock()
	parts = []ComponentStatus{
		{Name: "inventory", State: "failed", Error: "faults: injected failure", Failures: 2},
		{Name: "view titan-inventory-table", State: "recovering", Tables: []TableStatus{
			{Table: "titan-inventory-table", PartitionsRestored: 3, PartitionsTotal: 8, RecordsBehind: 1200}}},
	}
	mu.Unlock()
	r := e.do("GET", "/readyz", ``)
	if r.status != errNotReady.status || r.ctype != "application/json" {
		t.Errorf("readyz while failed: %d %s, want %d JSON", r.status, r.ctype, errNotReady.status)
	}
	got := decode[struct {
		Code       Code              `json:"code"`
		Message    string            `json:"message"`
		Components []ComponentStatus `json:"components"`
	}](t, r)
	if got.Code != errNotReady.Code || got.Message != errNotReady.Message || !reflect.DeepEqual(got.Components, parts) {
		t.Errorf("readyz body %s, want not_ready naming %+v", r, parts)
	}
	checkFields(t, r, []string{"code", "message", "components"})
	e.mustDo(t, "GET", "/healthz", ``, 200)

	mu.Lock()
	parts = nil
	mu.Unlock()
	e.mustDo(t, "GET", "/readyz", ``, 200)
}

// TestReadyzShowsProgressWhenReady: a ready instance still lists its
// components and their tables, so a probe sees what it waited for.
func TestReadyzShowsProgressWhenReady(t *testing.T) {
	k := &fakeKafka{
		stock: newFakeTable(), orders: newFakeTable(),
		stockN: NewNotifier(), ordersN: NewNotifier(),
		results: newTestResults(), mem: storage.NewMemory(),
	}
	parts := []ComponentStatus{{Name: "inventory", State: "running", Tables: []TableStatus{
		{Group: "titan-inventory", Table: "titan-inventory-table", PartitionsRestored: 8, PartitionsTotal: 8}}}}
	s, err := New(Deps{
		Stock: k.stock, StockNotifier: k.stockN,
		Orders: k.orders, OrdersNotifier: k.ordersN,
		Send: k.send, Results: k.results,
		Ready:  func() bool { return true },
		Health: func() []ComponentStatus { return parts },
	}, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{s: s, k: k}
	r := e.mustDo(t, "GET", "/readyz", ``, 200)
	got := decode[readyBody](t, r)
	if got.Status != "ready" || !reflect.DeepEqual(got.Components, parts) {
		t.Errorf("readyz body %s, want ready with %+v", r, parts)
	}
	checkFields(t, r, []string{"status", "components"})
}
