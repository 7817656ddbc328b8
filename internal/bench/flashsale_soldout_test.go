package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/processors/flashsale"
)

// soldOutUnits is the size of the sales that sell out: one unit per bucket
// of the larger, so selling it out takes every bucket's unit and some
// borrowing.
const soldOutUnits = 8

// BenchmarkFlashSaleSoldOut is the cost of an attempt on a sale that has
// sold out, which the API's admission answers 409 from its views without
// sending anything: req/s, latency and CPU per request of POST
// /v1/flash-sales/{id}/purchases by new buyers, on a sale of one bucket
// and on one of eight (admission reads every bucket), each after the
// view shows the sale sold out. Beside them, on the same instance and
// measured the same way, is GET /v1/inventory/{sku} of the sales' SKU: a
// local read through the same server, the natural ceiling of an answer
// that needs no Kafka. The load is getLoad's: getClients clients in a
// closed loop for getFor, after a second unrecorded.
//
// "cmds-sent" is the records the flash-sale commands topic took during a
// purchase run; admission that sends nothing keeps it at 0, and anything
// else fails the benchmark.
func BenchmarkFlashSaleSoldOut(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	ns := kafkatest.Prefix(b)
	inst := startTitanIn(b, brokers, ns, true)
	rig := newFlashRig(b, brokers, ns)
	addr := inst.HTTPAddr()
	hc := httpClient(addr, getClients)
	restockHTTP(b, hc, addr, 1, 1000)
	run := runID()
	now := time.Now()
	one := sales(run+"-1b", 1, 1, soldOutUnits, 1, now)[0]
	eight := sales(run+"-8b", 1, 8, soldOutUnits, 1, now)[0]
	for _, s := range []*flashsale.Sale{&one, &eight} {
		s.SKU = skuName(0)
		createSaleHTTP(b, hc, addr, *s)
		rig.awaitOpen(b, []flashsale.Sale{*s})
		sellOut(b, hc, addr, *s)
	}
	adm := kafkatest.Admin(b, brokers)
	commands := string(rig.fs.Commands)

	b.Run("get-stock", func(b *testing.B) {
		uri := "http://" + addr + "/v1/inventory/" + skuName(0)
		closedLoad(b, func(int) error {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI(uri)
			if err := hc.DoTimeout(req, resp, requestTimeout); err != nil {
				return err
			}
			if resp.StatusCode() != fasthttp.StatusOK {
				return fmt.Errorf("status %d: %s", resp.StatusCode(), resp.Body())
			}
			return nil
		})
	})
	for _, c := range []struct {
		name string
		sale flashsale.Sale
	}{{"purchase-1-bucket", one}, {"purchase-8-buckets", eight}} {
		b.Run(c.name, func(b *testing.B) {
			var seq atomic.Int64
			before := endOffsets(b, adm, commands)
			closedLoad(b, func(int) error {
				i := seq.Add(1)
				key := fmt.Sprintf("%s-late-%d", run, i)
				status, body, err := purchaseHTTP(hc, addr, c.sale.ID, "late-"+key, key)
				switch {
				case err != nil:
					return err
				case status != fasthttp.StatusConflict || !bytes.Contains(body, []byte(`"reason":"sold_out"`)):
					return fmt.Errorf("status %d: %s", status, body)
				}
				return nil
			})
			sent := endOffsets(b, adm, commands) - before
			b.ReportMetric(float64(sent), "cmds-sent")
			if sent != 0 {
				b.Errorf("the commands topic took %d records while every attempt was answered from the views", sent)
			}
		})
	}
}

// sellOut buys every unit of s through the API, one new buyer at a time,
// then waits until the API's view shows the sale sold out, which is what
// admission reads.
func sellOut(b *testing.B, hc *fasthttp.HostClient, addr string, s flashsale.Sale) {
	b.Helper()
	bought := int64(0)
	for i := 0; bought < s.Units; i++ {
		if i >= 10*int(s.Units) {
			b.Fatalf("%s: %d of %d units bought after %d attempts", s.ID, bought, s.Units, i)
		}
		status, body, err := purchaseHTTP(hc, addr, s.ID, fmt.Sprintf("early-%d", i), fmt.Sprintf("%s-early-%d", s.ID, i))
		switch {
		case err != nil:
			b.Fatalf("%s: buying: %v", s.ID, err)
		case status == fasthttp.StatusCreated:
			bought++
		case status != fasthttp.StatusConflict:
			b.Fatalf("%s: buying: status %d: %s", s.ID, status, body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), saleSetupTimeout)
	defer cancel()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + addr + "/v1/flash-sales/" + s.ID)
	for {
		var got struct {
			Status string `json:"status"`
		}
		err := hc.DoTimeout(req, resp, requestTimeout)
		if err == nil && resp.StatusCode() != fasthttp.StatusOK {
			err = fmt.Errorf("status %d: %s", resp.StatusCode(), resp.Body())
		}
		if err == nil {
			err = json.Unmarshal(resp.Body(), &got)
		}
		if err != nil {
			b.Fatalf("%s: reading the sale: %v", s.ID, err)
		}
		if got.Status == "sold_out" {
			return
		}
		if err := pause(ctx, 50*time.Millisecond); err != nil {
			b.Fatalf("%s: not shown sold out (last %q): %v", s.ID, got.Status, err)
		}
	}
}

// closedLoad runs do as getLoad runs its GETs (getClients clients, closed
// loop, a second unrecorded, then getFor recorded) and reports the same
// figures: req/s, CPU per request and latency quantiles.
func closedLoad(b *testing.B, do func(client int) error) {
	b.Helper()
	errs := new(errorsOnce)
	call := func(c int) error {
		err := do(c)
		if err != nil {
			errs.add(err)
		}
		return err
	}
	ClosedLoop(context.Background(), getClients, time.Second, new(Recorder), call)
	rec := new(Recorder)
	var elapsed, cpu time.Duration
	b.ResetTimer()
	for range b.N {
		cpu0 := processCPU()
		elapsed += ClosedLoop(context.Background(), getClients, getFor, rec, call)
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
