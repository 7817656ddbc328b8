package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/valyala/fasthttp"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas/codec"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	"github.com/titan-commerce/titan/sdk"
	"github.com/titan-commerce/titan/topologies/flashsaletopo"
	"github.com/titan-commerce/titan/topologies/inventorytopo"
)

const (
	// saleSetupTimeout bounds opening a benchmark's sales: the restocks,
	// the creations (each sale key's allocation) and every bucket's Open.
	saleSetupTimeout = 2 * time.Minute
	// salePrice is any price; it only travels with the results.
	salePrice = 1999
)

// flashRig opens sales on an instance the way a shop and the API do
// (restock the SKU, then create the sale, whose key allocates the units),
// but straight through the topics, so a benchmark can open a thousand sales
// before its clock starts.
type flashRig struct {
	brokers []string
	inv     inventorytopo.Names
	fs      flashsaletopo.Names
	router  *flashsale.Keys
	// cl produces to the flash-sale topics with the sdk producer's
	// settings and the partitioner every Titan writer uses.
	cl *kgo.Client
	// table tails the flash-sale table's changelog and invEvents the
	// inventory's events, both from when the rig was made.
	table, invEvents *tail
}

func newFlashRig(b *testing.B, brokers []string, ns string) *flashRig {
	b.Helper()
	cl, err := kgo.NewClient(producerOpts(brokers)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	r := &flashRig{brokers: brokers, inv: inventorytopo.NamesFor(ns), fs: flashsaletopo.NamesFor(ns),
		router: flashsale.NewKeys(partitions), cl: cl}
	r.table = newTail(b, brokers, string(r.fs.Table()))
	r.invEvents = newTail(b, brokers, string(r.inv.Events))
	return r
}

// sales are n sales named after tag, each on a SKU of its own, in their
// window from a minute ago for an hour: long enough that no bucket closes
// and the settler leaves them alone.
func sales(tag string, n, buckets int, units, limit int64, now time.Time) []flashsale.Sale {
	out := make([]flashsale.Sale, n)
	for i := range out {
		out[i] = flashsale.Sale{
			ID: fmt.Sprintf("%s-%04d", tag, i), SKU: fmt.Sprintf("%s-sku-%04d", tag, i), Units: units,
			Start: wireTime(now.Add(-time.Minute)), End: wireTime(now.Add(time.Hour)),
			PerUserLimit: limit, PriceMinor: salePrice, Buckets: buckets,
		}
	}
	return out
}

// wireTime drops what the wire cannot carry, so a definition compares
// equal to the one the table holds.
func wireTime(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

// open stocks and creates ss and returns once every bucket of every sale
// has opened.
func (r *flashRig) open(b *testing.B, ss []flashsale.Sale) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), saleSetupTimeout)
	defer cancel()
	r.restock(ctx, b, ss)
	var failed atomic.Pointer[error]
	for _, s := range ss {
		m := flashsale.Message{Kind: flashsale.KindCreate, SaleID: s.ID, Key: r.router.Sale(s.ID), Time: wireTime(time.Now()), Sale: s}
		v, err := proto.Marshal(flashsale.MessageToWire(m))
		if err != nil {
			b.Fatal(err)
		}
		// A creation is Titan's own message (the API's), on the internal
		// topic.
		rec := &kgo.Record{Topic: string(r.fs.Internal), Key: []byte(m.Key), Value: v}
		r.cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.CompareAndSwap(nil, &err)
			}
		})
	}
	if err := r.cl.Flush(ctx); err != nil {
		b.Fatalf("creating sales: %v", err)
	}
	if err := failed.Load(); err != nil {
		b.Fatalf("creating sales: %v", *err)
	}
	r.awaitOpen(b, ss)
}

// awaitOpen returns once every bucket of ss has opened, so no attempt sent
// after it can find its bucket not open yet (the sale key's Open and a
// buyer's Take reach a bucket from different partitions, in no set order).
// The table's changelog shows a bucket open once its partition has applied
// the Open; the rig's tail of it must predate the creations.
func (r *flashRig) awaitOpen(b *testing.B, ss []flashsale.Sale) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), saleSetupTimeout)
	defer cancel()
	want := map[string]struct{}{}
	for _, s := range ss {
		for k := range s.Buckets {
			want[r.router.Bucket(s.ID, k)] = struct{}{}
		}
	}
	n := len(want)
	_, err := r.table.until(ctx, n, func(rec *kgo.Record) bool {
		if _, ok := want[string(rec.Key)]; !ok {
			return false
		}
		v, err := flashsaletopo.StateCodec.Decode(rec.Value)
		if err != nil {
			return false
		}
		if st := v.(flashsale.State); st.Bucket == nil || !st.Bucket.Opened {
			return false
		}
		delete(want, string(rec.Key))
		return true
	})
	if err != nil {
		b.Fatalf("waiting for %d buckets to open: %v", n, err)
	}
}

// restock stocks each sale's SKU with its units and waits until every
// restock has been applied: the sale key's allocation travels on the
// inventory's internal topic, in no order with the public one, so a
// creation sent before its restock landed could find no stock.
func (r *flashRig) restock(ctx context.Context, b *testing.B, ss []flashsale.Sale) {
	b.Helper()
	p, err := sdk.NewProducer(r.brokers, sdk.WithClientID("titan-bench"), sdk.WithCommandsTopic(string(r.inv.Commands)))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	now := time.Now()
	want := make(map[string]int64, len(ss))
	var failed atomic.Pointer[error]
	ack := func(_ sdk.Ack, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, &err)
		}
	}
	for _, s := range ss {
		id := s.ID + ":restock"
		want[id] = s.Units
		c := inventory.Command{ID: id, Kind: inventory.KindRestock, SKU: s.SKU, Qty: s.Units, Time: now}
		p.SendCommandAsync(ctx, inventory.CommandToWire(c), ack)
	}
	if err := p.Flush(ctx); err != nil {
		b.Fatalf("restocking: %v", err)
	}
	if err := failed.Load(); err != nil {
		b.Fatalf("restocking: %v", *err)
	}
	dec := codec.Event()
	var bad error
	_, err = r.invEvents.until(ctx, len(ss), func(rec *kgo.Record) bool {
		w, err := dec.DecodeMessage(rec.Value)
		if err != nil {
			return false
		}
		units, ok := want[w.GetCommandId()]
		if !ok {
			return false
		}
		delete(want, w.GetCommandId())
		if ev := inventory.EventFromWire(w); ev.Type != inventory.EventRestocked || ev.Qty != units {
			bad = errors.Join(bad, fmt.Errorf("%s: %v %s qty %d", ev.CommandID, ev.Type, ev.Reason, ev.Qty))
		}
		return true
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		b.Fatalf("restocks: %v", err)
	}
}

// purchases are n attempts of one unit, as a client would send them to
// topic: attempt i goes to sale i mod len(ss) by user i mod users, so
// with users a multiple of len(ss) every buyer's key gets n/users of them.
// It returns the records and the purchase keys their results carry.
func purchases(b *testing.B, router flashsale.Router, topic string, ss []flashsale.Sale, phase string,
	n, users int, now time.Time) ([]*kgo.Record, []string) {
	b.Helper()
	recs := make([]*kgo.Record, n)
	keys := make([]string, n)
	at := wireTime(now)
	for i := range n {
		s := ss[i%len(ss)]
		user := fmt.Sprintf("%s-user-%05d", phase, i%users)
		m := flashsale.Message{
			Kind: flashsale.KindPurchase, SaleID: s.ID, Key: router.User(s.ID, user), Time: at,
			IdempotencyKey: fmt.Sprintf("%s-%d", phase, i), UserID: user, Qty: 1, Bucket: flashsale.BucketOf(user, s.Buckets),
		}
		v, err := proto.Marshal(flashsale.MessageToWire(m))
		if err != nil {
			b.Fatal(err)
		}
		recs[i] = &kgo.Record{Topic: topic, Key: []byte(m.Key), Value: v}
		keys[i] = flashsale.PurchaseKey(s.ID, m.IdempotencyKey)
	}
	return recs, keys
}

// resultMatcher accepts the first result of each of keys from the events
// topic and counts those that were not purchases. At-least-once delivery
// may repeat a result; it counts once.
func resultMatcher(keys []string, rejected *int) func(*kgo.Record) bool {
	want := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		want[k] = struct{}{}
	}
	return func(r *kgo.Record) bool {
		if _, ok := want[string(r.Key)]; !ok {
			return false
		}
		delete(want, string(r.Key))
		var w flashsalev1.Result
		if err := proto.Unmarshal(r.Value, &w); err != nil || flashsale.Status(w.GetStatus()) != flashsale.StatusPurchased {
			*rejected++
		}
		return true
	}
}

// createSaleHTTP creates a sale through POST /v1/flash-sales, repeating
// the request after a 202 as a client must, and returns once the sale
// exists. Its SKU must be stocked already.
func createSaleHTTP(b *testing.B, hc *fasthttp.HostClient, addr string, s flashsale.Sale) {
	b.Helper()
	body, err := json.Marshal(map[string]any{
		"id": s.ID, "sku": s.SKU, "units": s.Units, "per_user_limit": s.PerUserLimit, "price": s.PriceMinor,
		"buckets": s.Buckets, "starts_at": s.Start.Format(time.RFC3339Nano), "ends_at": s.End.Format(time.RFC3339Nano),
	})
	if err != nil {
		b.Fatal(err)
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	ctx, cancel := context.WithTimeout(context.Background(), saleSetupTimeout)
	defer cancel()
	for {
		req.SetRequestURI("http://" + addr + "/v1/flash-sales")
		req.Header.SetMethod(fasthttp.MethodPost)
		req.Header.SetContentType("application/json")
		req.SetBody(body)
		err := hc.DoTimeout(req, resp, requestTimeout)
		switch {
		case err == nil && (resp.StatusCode() == fasthttp.StatusCreated || resp.StatusCode() == fasthttp.StatusOK):
			return
		case err == nil && resp.StatusCode() != fasthttp.StatusAccepted && resp.StatusCode() != fasthttp.StatusServiceUnavailable:
			b.Fatalf("creating sale %s: status %d: %s", s.ID, resp.StatusCode(), resp.Body())
		}
		// A 202 has already waited the API's read wait; a 503 or a
		// failed request gets a pause before the next try.
		if err := pause(ctx, 100*time.Millisecond); err != nil {
			b.Fatalf("creating sale %s: %v (last status %d)", s.ID, err, resp.StatusCode())
		}
	}
}

// pause waits d, or less if ctx ends first, and returns ctx's error then.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// purchaseHTTP posts one attempt and returns the answer's status and body.
func purchaseHTTP(hc *fasthttp.HostClient, addr, saleID, user, key string) (int, []byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + addr + "/v1/flash-sales/" + saleID + "/purchases")
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.SetBodyString(fmt.Sprintf(`{"user_id":%q,"qty":1,"idempotency_key":%q}`, user, key))
	if err := hc.DoTimeout(req, resp, requestTimeout); err != nil {
		return 0, nil, err
	}
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), nil
}

// endOffsets sums the end offsets of topic's partitions: the records it has
// ever taken.
func endOffsets(b *testing.B, adm *kadm.Client, topic string) int64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		b.Fatalf("end offsets of %s: %v", topic, err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}
