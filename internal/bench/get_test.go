package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/valyala/fasthttp"

	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/sdk"
	"github.com/titan-commerce/titan/topologies/inventorytopo"
)

const (
	// getClients is a few callers, each with its own keep-alive
	// connection, each sending its next request when the last is answered.
	getClients = 4
	getFor     = 5 * time.Second
	getSKUs    = 1000
	// getReadyTimeout bounds waiting for the view to hold every SKU.
	getReadyTimeout = time.Minute
)

// BenchmarkGetStock is the rate and latency of GET /v1/inventory/{sku} on
// one instance with the API: getClients clients in a closed loop for
// getFor, each asking for a random one of getSKUs stocked SKUs. The answer
// comes from the instance's view of the table (Pebble, decoded and turned
// into JSON); no Kafka round trip is in the path. Its ceiling is
// BenchmarkGetStockCeiling.
func BenchmarkGetStock(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	inst := startTitan(b, brokers, true)
	addr := inst.HTTPAddr()
	hc := httpClient(addr, getClients)
	stockAndWait(b, brokers, inst.Names(), hc, addr)
	getLoad(b, hc, addr)
}

// BenchmarkGetStockCeiling bounds BenchmarkGetStock: a fasthttp server
// whose one handler reads the key named in the path from a Pebble database
// and writes the stored bytes back as the body. The database holds, for
// each SKU, the bytes Titan's table holds for a SKU stocked once, and the
// load is the same clients over the same kind of connections. It needs no
// broker, but runs only where its figure does, so the two are always read
// side by side.
func BenchmarkGetStockCeiling(b *testing.B) {
	kafkatest.Brokers(b)
	// Titan's storages share a larger block cache; with everything in the
	// memtable it plays no part either way.
	cache := pebble.NewCache(64 << 20)
	defer cache.Unref()
	db, err := pebble.Open(b.TempDir(), &pebble.Options{Cache: cache, Logger: quietPebble{}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := db.Close(); err != nil {
			b.Errorf("close pebble: %v", err)
		}
	})
	value, err := stockedState()
	if err != nil {
		b.Fatal(err)
	}
	for i := range getSKUs {
		if err := db.Set([]byte(skuName(i)), value, pebble.NoSync); err != nil {
			b.Fatal(err)
		}
	}

	const prefix = "/v1/inventory/"
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			key, ok := strings.CutPrefix(string(ctx.Path()), prefix)
			if !ok {
				ctx.SetStatusCode(fasthttp.StatusNotFound)
				return
			}
			v, closer, err := db.Get([]byte(key))
			if err != nil {
				ctx.SetStatusCode(fasthttp.StatusNotFound)
				return
			}
			ctx.SetBody(v) // copies, so the closer may go
			_ = closer.Close()
		},
		ReadTimeout:  10 * time.Second,
		WriteTimeout: 10 * time.Second,
		IdleTimeout:  60 * time.Second,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.ShutdownWithContext(ctx); err != nil {
			b.Errorf("shutdown: %v", err)
		}
		<-served
	})
	addr := ln.Addr().String()
	getLoad(b, httpClient(addr, getClients), addr)
}

// quietPebble drops Pebble's informational messages, which would land
// between the benchmark lines; errors still go to Pebble's default logger.
type quietPebble struct{}

func (quietPebble) Infof(string, ...any)           {}
func (quietPebble) Errorf(format string, a ...any) { pebble.DefaultLogger.Errorf(format, a...) }
func (quietPebble) Fatalf(format string, a ...any) { pebble.DefaultLogger.Fatalf(format, a...) }

// stockedState is a SKU's own table value after one restock, as the
// processor writes it (views read it with HeadCodec).
func stockedState() ([]byte, error) {
	now := time.Now()
	s, _ := inventory.Decide(inventory.NewState(), inventory.Command{
		ID: commandID(), Kind: inventory.KindRestock, SKU: skuName(0), Qty: 10, Time: now, Partition: 3, Offset: 125,
	}, inventory.DefaultPolicy())
	return inventorytopo.HeadCodec.Encode(s.Head())
}

// stockAndWait restocks every SKU once through the sdk producer, then
// reads each back through the API with min_offset at its command, so the
// view holds them all before anything is timed.
func stockAndWait(b *testing.B, brokers []string, names inventorytopo.Names, hc *fasthttp.HostClient, addr string) {
	b.Helper()
	p, err := sdk.NewProducer(brokers, sdk.WithClientID("titan-bench"), sdk.WithCommandsTopic(string(names.Commands)))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), getReadyTimeout)
	defer cancel()
	cmds := restocks(runID(), getSKUs, 10, time.Now())
	acks := make([]sdk.Ack, len(cmds))
	errs := make([]error, len(cmds))
	for i, c := range cmds {
		p.SendCommandAsync(ctx, c, func(a sdk.Ack, err error) { acks[i], errs[i] = a, err })
	}
	if err := p.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	for i, a := range acks {
		req.SetRequestURI("http://" + addr + "/v1/inventory/" + skuName(i) + "?min_offset=" + strconv.FormatInt(a.Offset, 10))
		for {
			err := hc.DoTimeout(req, resp, requestTimeout)
			if err == nil && resp.StatusCode() == fasthttp.StatusOK {
				break
			}
			// 412: the view has not caught up within the API's read wait.
			if err == nil && resp.StatusCode() != fasthttp.StatusPreconditionFailed {
				err = fmt.Errorf("status %d: %s", resp.StatusCode(), resp.Body())
			}
			if err != nil || ctx.Err() != nil {
				b.Fatalf("reading %s back: %v (%v)", skuName(i), err, ctx.Err())
			}
		}
	}
}

// getLoad runs the closed-loop GET load against addr's stock endpoint
// (see closedGetLoad).
func getLoad(b *testing.B, hc *fasthttp.HostClient, addr string) {
	b.Helper()
	uris := make([]string, getSKUs)
	for i := range uris {
		uris[i] = "http://" + addr + "/v1/inventory/" + skuName(i)
	}
	closedGetLoad(b, hc, uris)
}

// closedGetLoad runs the closed-loop GET load over uris (getClients
// clients, each picking a URI at random) and reports req/s, CPU and latency
// quantiles.
func closedGetLoad(b *testing.B, hc *fasthttp.HostClient, uris []string) {
	b.Helper()
	rngs := make([]*rand.Rand, getClients)
	for c := range rngs {
		rngs[c] = rand.New(rand.NewPCG(1, uint64(c)))
	}
	errs := new(errorsOnce)
	get := func(c int) error {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(uris[rngs[c].IntN(len(uris))])
		err := hc.DoTimeout(req, resp, requestTimeout)
		if err == nil && resp.StatusCode() != fasthttp.StatusOK {
			err = fmt.Errorf("status %d: %s", resp.StatusCode(), resp.Body())
		}
		if err != nil {
			errs.add(err)
		}
		return err
	}
	// A second of the same load first, unrecorded, warms connections and
	// caches.
	ClosedLoop(context.Background(), getClients, time.Second, new(Recorder), get)
	rec := new(Recorder)
	var elapsed, cpu time.Duration
	b.ResetTimer()
	for range b.N {
		cpu0 := processCPU()
		elapsed += ClosedLoop(context.Background(), getClients, getFor, rec, get)
		cpu += processCPU() - cpu0
	}
	b.StopTimer()
	errs.log(b)
	s := rec.Summary()
	b.ReportMetric(float64(s.Count)/elapsed.Seconds(), "req/s")
	// Client and server share the process, so this is both sides' CPU.
	b.ReportMetric(float64(cpu.Microseconds())/float64(s.Count+s.Failed), "cpu-us/req")
	reportLatency(b, s)
}
