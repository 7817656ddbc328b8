package api

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/titan-commerce/titan/processors/inventory"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// Pools the sequence fuzzer draws from: few values, so that ids collide,
// with Titan's own ids, ids a client cannot read back, quantities and TTLs
// at and past every limit.
var (
	seqSKUs     = []string{"sku-a", "sku-b", "..", "sku-\u200bb"}
	seqOrders   = []string{"o1", "o2", "o3", "titan:flash-sale:s1", "titan:order:o1:sku-a:reserve", "o\u202e1", "."}
	seqCommands = []string{"", "c1", "c2", "c3", "c1/sku-a", "c1/sku-b", "titan:expire:x", "c\x001"}
	seqQtys     = []int64{1, 2, 3, 5, 0, -1, 1_000_000_000, 1_000_000_001, 1 << 62}
	seqTTLs     = []int64{60_000, 1, 604_800_000, 604_800_001, 0, -1, 18446744133710, 1 << 62}
)

// FuzzCommandSequence plays sequences of inventory calls with colliding and
// hostile ids through the API over the fakes, which run the processor's
// Decide, and checks the ledgers after every call: no SKU breaks
// inventory.CheckState; on hand plus sold is exactly what the restocks the
// API answered 200 for added, each command id counted once; a command id
// answered with success names one command, body and kind; every error is a
// catalogue entry; and nothing is ever sent for an id in Titan's namespace.
// Command ids are scoped to the SKU a command is keyed by, where the
// inventory remembers them: one id may name one command on each SKU.
func FuzzCommandSequence(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 2, 0, 1, 0, 1, 1, 1, 1, 2, 1, 1, 3, 0, 2, 1, 4})
	f.Add([]byte{0, 4, 0, 0, 3, 1, 4, 1, 0, 0, 2, 4, 0, 0, 0, 2, 3, 0, 1, 1})
	f.Add([]byte{1, 1, 3, 2, 2, 0, 0, 1, 1, 3, 3, 5, 1, 4, 5, 6})
	f.Fuzz(func(t *testing.T, data []byte) {
		e := newEnv(t, Options{CommandWait: time.Millisecond, ReadWait: time.Millisecond})
		restocked := map[string]map[string]int64{} // sku -> command id -> qty answered 200
		bodies := map[string]string{}              // sku, command id -> the one command it names
		for len(data) >= 5 {
			op, a, b, c, d := data[0]%6, int(data[1]), int(data[2]), int(data[3]), int(data[4])
			data = data[5:]
			sku := seqSKUs[a%len(seqSKUs)]
			order := seqOrders[b%len(seqOrders)]
			cmd := seqCommands[c%len(seqCommands)]
			qty := seqQtys[d%len(seqQtys)]
			ttl := seqTTLs[(d/len(seqQtys))%len(seqTTLs)]
			idField := ""
			if cmd != "" {
				idField = fmt.Sprintf(`,"command_id":%q`, cmd)
			}
			var method, uri, body, what string
			switch op {
			case 0:
				method, uri = "POST", "/v1/inventory/"+url.PathEscape(sku)+"/restock"
				body = fmt.Sprintf(`{"qty":%d%s}`, qty, idField)
				what = fmt.Sprintf("restock %d", qty)
			case 1:
				method, uri = "POST", "/v1/inventory/"+url.PathEscape(sku)+"/reservations"
				body = fmt.Sprintf(`{"order_id":%q,"qty":%d,"ttl_ms":%d%s}`, order, qty, ttl, idField)
				what = fmt.Sprintf("reserve %s %d %d", order, qty, ttl)
			case 2, 3:
				action := []string{"commit", "release"}[op-2]
				method, uri = "POST", "/v1/inventory/reservations/"+url.PathEscape(order)+"/"+action
				body = "{" + idField[min(1, len(idField)):] + "}"
				what = action + " " + order
			case 4:
				method, uri = "GET", "/v1/inventory/"+url.PathEscape(sku)
			default:
				method, uri = "GET", "/v1/inventory/reservations/"+url.PathEscape(order)
			}
			before := len(e.k.sentCommands())
			r := e.do(method, uri, body)
			sent := e.k.sentCommands()[before:]
			checkAnswer(t, method, uri, body, r)
			for _, c := range sent {
				if isReserved(c.GetCommandId()) || isReserved(c.GetOrderId()) {
					t.Fatalf("%s %s %s sent a command in Titan's namespace: %v", method, uri, body, c)
				}
			}
			if method != "POST" || r.status >= 300 || r.status == 202 {
				continue
			}
			// A success: every command the call sent (one per SKU for a
			// commit or release) names what this call asked for.
			for _, c := range sent {
				key := c.GetSku() + "\x00" + c.GetCommandId()
				if prev, ok := bodies[key]; ok && prev != what {
					t.Fatalf("command id %q on %s answered success for %q after %q", c.GetCommandId(), c.GetSku(), what, prev)
				}
				bodies[key] = what
			}
			if op == 0 {
				var s stockJSON
				if err := json.Unmarshal(r.body, &s); err != nil {
					t.Fatal(err)
				}
				if restocked[sku] == nil {
					restocked[sku] = map[string]int64{}
				}
				restocked[sku][sent[0].GetCommandId()] = qty
			}
			checkLedgers(t, e, restocked)
		}
		checkLedgers(t, e, restocked)
	})
}

func isReserved(id string) bool { return len(id) >= 6 && id[:6] == "titan:" }

// checkAnswer holds an answer to the catalogue: a success is JSON, an
// error is the catalogue's entry with its status.
func checkAnswer(t *testing.T, method, uri, body string, r response) {
	t.Helper()
	if r.status >= 500 {
		t.Fatalf("%s %s %s: %d %s", method, uri, body, r.status, r.body)
	}
	if !json.Valid(r.body) {
		t.Fatalf("%s %s %s: %d with invalid JSON %q", method, uri, body, r.status, r.body)
	}
	if r.status < 400 || r.status == 409 {
		var rejection struct{ Code Code }
		if r.status == 409 && json.Unmarshal(r.body, &rejection) == nil && rejection.Code != "" {
			if _, ok := byCode(rejection.Code); !ok {
				t.Fatalf("%s %s: 409 with unknown code %s", method, uri, r.body)
			}
		}
		return
	}
	var got struct {
		Code    Code   `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if want, ok := byCode(got.Code); !ok || want.status != r.status {
		t.Fatalf("%s %s %s: %d %s is not the catalogue's", method, uri, body, r.status, r.body)
	}
}

// checkLedgers holds every SKU the fakes' inventory knows to its rules.
func checkLedgers(t *testing.T, e *testEnv, restocked map[string]map[string]int64) {
	t.Helper()
	for _, sku := range seqSKUs {
		st, ok := e.k.state(sku)
		if !ok {
			if len(restocked[sku]) > 0 {
				t.Fatalf("%s: restocks answered 200 but the SKU is unknown", sku)
			}
			continue
		}
		if err := inventory.CheckState(st); err != nil {
			t.Fatalf("%s: %v", sku, err)
		}
		var sum int64
		for _, q := range restocked[sku] {
			sum += q
		}
		if st.Stock.OnHand+st.Stock.Sold != sum {
			t.Fatalf("%s: on hand %d + sold %d != %d restocked (answered 200): %v", sku, st.Stock.OnHand, st.Stock.Sold, sum,
				slices.Sorted(func(yield func(string) bool) {
					for id := range restocked[sku] {
						if !yield(id) {
							return
						}
					}
				}))
		}
	}
}

// sentCommands is what the fake took so far, in order.
func (k *fakeKafka) sentCommands() []*inventoryv1.Command {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.mu.sent)
}
