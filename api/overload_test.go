package api

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// TestPendingBound: the waiter map refuses past its bound and takes again
// once a waiter leaves, whether cancelled or handed its result.
func TestPendingBound(t *testing.T) {
	p := newPending[int]()
	p.setMax(2)
	cancelA, okA := p.add("k", 1)
	_, okB := p.add("k", 2)
	if !okA || !okB {
		t.Fatal("the first two waiters were refused")
	}
	if _, ok := p.add("other", 3); ok {
		t.Fatal("a third waiter was taken past the bound of 2")
	}
	cancelA()
	if _, ok := p.add("other", 3); !ok {
		t.Fatal("no room after a waiter was cancelled")
	}
	if got := p.take("k", func(w int) bool { return w == 2 }); len(got) != 1 || got[0] != 2 {
		t.Fatalf("take = %v, want [2]", got)
	}
	if n := p.len(); n != 1 {
		t.Fatalf("%d waiters left, want 1", n)
	}
	cancelA() // a second cancel changes nothing
	if n := p.len(); n != 1 {
		t.Fatalf("%d waiters after a repeated cancel, want 1", n)
	}
}

// TestOverloadedWhenWaitersFull: with as many commands waiting for their
// results as MaxPending allows, the next command is shed with 429
// overloaded and Retry-After, and nothing is sent to Kafka; once one
// leaves, commands are taken again.
func TestOverloadedWhenWaitersFull(t *testing.T) {
	e := newEnv(t, Options{MaxPending: 2, RetryAfter: 1500 * time.Millisecond})
	_, cancelA, _ := e.k.results.wait("held-1")
	_, cancelB, _ := e.k.results.wait("held-2")
	defer cancelB()

	r := e.do("POST", "/v1/inventory/sku-1/restock", `{"qty":5}`)
	if r.status != 429 || r.retryAfter != "2" {
		t.Fatalf("restock with the waiters full: %d Retry-After %q %s, want 429 with Retry-After 2", r.status, r.retryAfter, r)
	}
	if got := decode[apiError](t, r); got.Code != errOverloaded.Code {
		t.Errorf("code %q, want %q", got.Code, errOverloaded.Code)
	}
	checkFields(t, r, []string{"code", "message"})
	if n := len(e.k.sent()); n != 0 {
		t.Errorf("%d commands sent while overloaded, want 0", n)
	}

	cancelA()
	e.mustDo(t, "POST", "/v1/inventory/sku-1/restock", `{"qty":5}`, 200)
}

// TestOverloadedWhenProducerFull: a send that finds the producer's buffer
// full is answered 429 overloaded with Retry-After; any other failed send
// stays 503 unavailable.
func TestOverloadedWhenProducerFull(t *testing.T) {
	e := newEnv(t, Options{})
	for _, c := range []struct {
		err    error
		status int
		code   Code
		retry  string
	}{
		{fmt.Errorf("sdk: produce: %w", kgo.ErrMaxBuffered), 429, errOverloaded.Code, "1"},
		{fmt.Errorf("instance: %w", ErrOverloaded), 429, errOverloaded.Code, "1"},
		{errors.New("broker gone"), 503, errUnavailable.Code, ""},
	} {
		e.k.setAnswer(func(*inventoryv1.Command) (int32, int64, error) { return 0, 0, c.err })
		r := e.do("POST", "/v1/inventory/sku-1/restock", `{"qty":5}`)
		if r.status != c.status || r.retryAfter != c.retry || decode[apiError](t, r).Code != c.code {
			t.Errorf("send failing with %v: %d Retry-After %q %s, want %d %s Retry-After %q", c.err, r.status, r.retryAfter, r, c.status, c.code, c.retry)
		}
	}
	if n := e.k.results.waiters.len(); n != 0 {
		t.Errorf("%d waiters left behind by failed sends", n)
	}
}

// freshTable is a fakeTable that reports how fresh it is.
type freshTable struct {
	*fakeTable
	lag int64
	age time.Duration
	ok  bool
}

func (f freshTable) Freshness(string) (int64, time.Duration, bool) { return f.lag, f.age, f.ok }

// TestReadsSayHowStale: a read from a table that knows its freshness
// carries Titan-View-Lag and Titan-View-Age-Ms, also when the key is not
// found; a table that does not know yet adds neither.
func TestReadsSayHowStale(t *testing.T) {
	e := newEnv(t, Options{})
	e.mustDo(t, "POST", "/v1/inventory/sku-1/restock", `{"qty":5}`, 200)
	deps := e.s.deps
	deps.Stock = freshTable{fakeTable: e.k.stock, lag: 3, age: 1234 * time.Millisecond, ok: true}
	deps.Orders = freshTable{fakeTable: e.k.orders, lag: 0, age: 5 * time.Millisecond, ok: true}
	rebuild := func() {
		t.Helper()
		o := e.s.opts
		o.Registerer, o.Gatherer = nil, nil
		s, err := New(deps, o)
		if err != nil {
			t.Fatal(err)
		}
		e.s = s
	}
	rebuild()
	r := e.mustDo(t, "GET", "/v1/inventory/sku-1", ``, 200)
	if string(r.viewLag) != "3" || r.viewAge != "1234" {
		t.Errorf("stock read: lag %q age %q, want 3 and 1234", r.viewLag, r.viewAge)
	}
	r = e.mustDo(t, "GET", "/v1/inventory/reservations/o-none", ``, 404)
	if string(r.viewLag) != "0" || r.viewAge != "5" {
		t.Errorf("reservations not found: lag %q age %q, want 0 and 5", r.viewLag, r.viewAge)
	}

	deps.Stock = freshTable{fakeTable: e.k.stock}
	rebuild()
	r = e.mustDo(t, "GET", "/v1/inventory/sku-1", ``, 200)
	if r.viewLag != nil || r.viewAge != "" {
		t.Errorf("read before freshness is known: lag %q age %q, want neither", r.viewLag, r.viewAge)
	}
}
