package failover_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/processors/inventory"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	"github.com/titan-commerce/titan/sdk"
)

// openSale restocks the sale's SKU by restocked units through the SDK, creates the sale through
// instance id's API, as a shop would, and waits until it is active.
func (d *deployment) openSale(ctx context.Context, id string, s flashsale.Sale, restocked int64) {
	t := d.t
	t.Helper()
	p, err := sdk.NewProducer(d.brokers, sdk.WithClientID("titan-test-restock"), sdk.WithCommandsTopic(string(d.inv.Commands)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	restock := inventory.Command{ID: "restock-" + s.SKU, Kind: inventory.KindRestock, SKU: s.SKU, Qty: restocked, Time: time.Now()}
	if _, err := p.SendCommand(ctx, inventory.CommandToWire(restock)); err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(map[string]any{"id": s.ID, "sku": s.SKU, "units": s.Units,
		"starts_at": s.Start.Format(time.RFC3339Nano), "ends_at": s.End.Format(time.RFC3339Nano),
		"per_user_limit": s.PerUserLimit, "price": s.PriceMinor, "buckets": s.Buckets})
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + d.proc(id).Addr
	cl := &http.Client{Timeout: 10 * time.Second}
	// The restock may not be applied yet (insufficient_stock); the same request again is the same
	// creation, so it is simply repeated until the sale is active.
	err = kafkatest.WaitFor(ctx, "sale "+s.ID+" active", func() (bool, string) {
		resp, err := cl.Post(base+"/v1/flash-sales", "application/json", bytes.NewReader(body))
		if err != nil {
			return false, err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var sale saleJSON
		_ = json.Unmarshal(b, &sale)
		return (resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK) && sale.Status == "active",
			fmt.Sprintf("%d %s", resp.StatusCode, b)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// saleJSON is the API's answer to a sale read.
type saleJSON struct {
	Status     string `json:"status"`
	Allocated  int64  `json:"allocated"`
	Sold       int64  `json:"sold"`
	Remaining  int64  `json:"remaining"`
	Settled    bool   `json:"settled"`
	Settlement string `json:"settlement"`
	Buckets    []struct {
		Bucket    int   `json:"bucket"`
		Available int64 `json:"available"`
		Sold      int64 `json:"sold"`
	} `json:"buckets"`
}

// resultLog reads the flash-sale events topic from the start and keeps every copy of every
// result, by purchase key.
type resultLog struct {
	cl      *kgo.Client
	byKey   map[string][]flashsale.Result
	records int
	bad     []string
}

func (d *deployment) resultLog() *resultLog {
	d.t.Helper()
	return &resultLog{cl: d.reader(string(d.fs.Events)), byKey: map[string][]flashsale.Result{}}
}

func (l *resultLog) poll(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	l.cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
		l.records++
		var w flashsalev1.Result
		if err := proto.Unmarshal(r.Value, &w); err != nil {
			l.bad = append(l.bad, fmt.Sprintf("%d/%d: %v", r.Partition, r.Offset, err))
			return
		}
		res := flashsale.ResultFromWire(&w)
		key := flashsale.PurchaseKey(res.SaleID, res.IdempotencyKey)
		if string(r.Key) != key {
			l.bad = append(l.bad, fmt.Sprintf("%d/%d: key %q for %q", r.Partition, r.Offset, r.Key, key))
		}
		l.byKey[key] = append(l.byKey[key], res)
	})
}

func (l *resultLog) pollUntil(ctx context.Context, what string, cond func() (bool, string)) error {
	for {
		ok, detail := cond()
		if ok {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w; still missing: %s", what, ctx.Err(), detail)
		}
		l.poll(ctx)
	}
}

func (l *resultLog) answered(p *purchases) (bool, string) {
	missing := 0
	var example string
	for _, m := range p.attempts {
		if len(l.byKey[flashsale.PurchaseKey(m.SaleID, m.IdempotencyKey)]) == 0 {
			missing++
			example = m.IdempotencyKey
		}
	}
	return missing == 0, fmt.Sprintf("%d of %d attempts without a result (e.g. %s); %d results read",
		missing, len(p.attempts), example, l.records)
}

// waitSoldOut waits until instance id's API shows sale s sold out, or its window closed.
func (d *deployment) waitSoldOut(ctx context.Context, id string, s flashsale.Sale) error {
	cl := &http.Client{Timeout: 10 * time.Second}
	wctx, cancel := context.WithDeadline(ctx, s.End)
	defer cancel()
	err := kafkatest.WaitFor(wctx, id+" shows "+s.ID+" sold out", func() (bool, string) {
		resp, err := cl.Get("http://" + d.proc(id).Addr + "/v1/flash-sales/" + s.ID)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		var sale saleJSON
		if err := json.NewDecoder(resp.Body).Decode(&sale); err != nil {
			return false, err.Error()
		}
		return sale.Sold == s.Units, fmt.Sprintf("sold %d of %d", sale.Sold, s.Units)
	})
	if err != nil {
		return fmt.Errorf("the sale never sold out under the load before its end: %w", err)
	}
	return nil
}

// outcome is what the results say a sale did.
type outcome struct {
	sold      int64
	purchased int
	copies    int // results published beyond the first of each attempt
	rejected  map[string]int
	byBucket  map[int]int64
}

func (o outcome) String() string {
	return fmt.Sprintf("sold=%d purchases=%d rejected=%v republished=%d", o.sold, o.purchased, o.rejected, o.copies)
}

// checkPurchases checks that every attempt has results, all copies of one, each answering its
// attempt, no buyer above the limit, and no result for an attempt never made.
func (d *deployment) checkPurchases(p *purchases, l *resultLog) outcome {
	t := d.t
	t.Helper()
	e := &errs{t: t, what: "purchase results"}
	defer e.done()
	for _, b := range l.bad {
		e.errorf("bad record %s", b)
	}
	o := outcome{rejected: map[string]int{}, byBucket: map[int]int64{}}
	byUser := map[string]int64{}
	sent := map[string]bool{}
	for _, m := range p.attempts {
		key := flashsale.PurchaseKey(m.SaleID, m.IdempotencyKey)
		sent[key] = true
		res := l.byKey[key]
		if len(res) == 0 {
			e.errorf("no result for %s", key)
			continue
		}
		o.copies += len(res) - 1
		for _, r := range res[1:] {
			if r != res[0] {
				e.errorf("%s has two results:\n %+v\n %+v", key, res[0], r)
			}
		}
		r := res[0]
		if r.UserID != m.UserID || r.Qty != m.Qty || r.Bucket != m.Bucket || !r.Time.Equal(m.Time) {
			e.errorf("%s: result %+v does not answer attempt %+v", key, r, m)
		}
		switch r.Status {
		case flashsale.StatusPurchased:
			o.sold += r.Qty
			o.purchased++
			o.byBucket[r.Bucket] += r.Qty
			byUser[r.UserID] += r.Qty
		case flashsale.StatusRejected:
			o.rejected[r.Reason]++
		default:
			e.errorf("%s: status %v", key, r.Status)
		}
	}
	for key, res := range l.byKey {
		if strings.HasPrefix(key, p.sale.ID+"/") && !sent[key] {
			e.errorf("result for an attempt never made: %+v", res[0])
		}
	}
	for user, n := range byUser {
		if n > p.sale.PerUserLimit {
			e.errorf("%s bought %d, limit %d", user, n, p.sale.PerUserLimit)
		}
	}
	if o.sold != p.sale.Units {
		e.errorf("sold %d of %d units", o.sold, p.sale.Units)
	}
	return o
}

// checkSale waits for the sale's end and its settlement, then checks what the inventory and the
// API of instance id say of it: the settlement committed exactly what the results sold, the SKU's
// ledger lost exactly that, and every bucket sold what the results say and holds nothing more.
func (d *deployment) checkSale(ctx context.Context, id string, s flashsale.Sale, o outcome, l *eventLog, restocked int64) string {
	t := d.t
	t.Helper()
	deadline := s.End
	if time.Now().After(deadline) {
		deadline = time.Now()
	}
	sctx, cancel := context.WithDeadline(ctx, deadline.Add(2*time.Minute))
	defer cancel()
	settle := flashsale.SettleCommandID(s.ID)
	if err := l.pollUntil(sctx, "settlement of "+s.ID, func() (bool, string) {
		return len(l.results[settle]) > 0, "no settlement yet"
	}); err != nil {
		t.Fatal(err)
	}
	ev := l.results[settle][0].ev
	want := inventory.Stock{OnHand: restocked - o.sold, Sold: o.sold}
	if ev.Type != inventory.EventCommitted || ev.Qty != o.sold || ev.Stock != want {
		t.Errorf("settlement: %v %s qty %d stock %+v, want committed %d leaving %+v", ev.Type, ev.Reason, ev.Qty, ev.Stock, o.sold, want)
	}
	alloc := l.results[flashsale.AllocateCommandID(s.ID)]
	if len(alloc) == 0 || alloc[0].ev.Type != inventory.EventReserved || alloc[0].ev.Qty != s.Units {
		t.Errorf("allocation of %s: %+v, want %d units reserved", s.ID, alloc, s.Units)
	}

	cl := &http.Client{Timeout: 10 * time.Second}
	var sale saleJSON
	err := kafkatest.WaitFor(sctx, id+" shows "+s.ID+" settled", func() (bool, string) {
		resp, err := cl.Get("http://" + d.proc(id).Addr + "/v1/flash-sales/" + s.ID)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&sale); err != nil {
			return false, err.Error()
		}
		return sale.Settled && sale.Settlement == "settled", fmt.Sprintf("%+v", sale)
	})
	if err != nil {
		t.Error(err)
	}
	var sold, held int64
	for _, b := range sale.Buckets {
		if b.Sold != o.byBucket[b.Bucket] || b.Available < 0 {
			t.Errorf("bucket %d: sold %d available %d, the results sold %d", b.Bucket, b.Sold, b.Available, o.byBucket[b.Bucket])
		}
		sold += b.Sold
		held += b.Sold + b.Available
	}
	if len(sale.Buckets) != s.Buckets || sold != o.sold || held != s.Units || sale.Sold != o.sold {
		t.Errorf("sale %s: %d buckets selling %d and holding %d (sale says sold %d), want %d buckets, %d sold of %d units",
			s.ID, len(sale.Buckets), sold, held, sale.Sold, s.Buckets, o.sold, s.Units)
	}
	return fmt.Sprintf("settled %d of %d units, stock %+v", ev.Qty, s.Units, ev.Stock)
}
