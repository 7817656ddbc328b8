package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas/codec"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	"github.com/titan-commerce/titan/sdk"
)

const (
	// commandSKUs is the catalogue the throughput workload spreads over.
	commandSKUs = 1000
	// commandCount is one iteration's workload: long enough that the
	// pipeline's start and drain are a small part of it, short enough to
	// keep `make bench` within minutes on 2 cores.
	commandCount = 20_000
	// roundTimeout bounds one iteration; a run that needs longer is broken,
	// not slow.
	roundTimeout = 3 * time.Minute
)

// BenchmarkCommands is commands/s through one processor instance (no API,
// 8 partitions): the sdk producer streams commandCount commands (one
// restock round in four, the rest reserves, over 1,000 SKUs) as fast as it
// can, and the clock runs from the first send to the last of their result
// events read back from the events topic. Its ceiling is
// BenchmarkCommandsCeiling.
//
// ack-cmds/s is the rate at which the same sends were acknowledged: when it
// is far above cmds/s, the producer is not what limits the figure.
// cpu-us/cmd is the CPU this process (the instance, the producer and the
// events reader) spent per command; the broker's is not in it.
func BenchmarkCommands(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	inst := startTitan(b, brokers, false)
	p := commandProducer(b, brokers, inst)
	events := newTail(b, brokers, string(inst.Names().Events))
	roundTrip := func(cmds []*inventoryv1.Command) (done, acked time.Duration) {
		done, acked, _ = sendCommands(b, p, events, cmds, roundTimeout)
		return done, acked
	}
	measureCommands(b, roundTrip)
}

// BenchmarkCommandsCeiling bounds BenchmarkCommands: the same number of
// records, with the same keys and the same encoded commands as values,
// produced with the sdk producer's settings to a fresh topic with the same
// partition count and consumed back by a plain franz-go consumer, timed
// from the first send to the last record read. Titan's commands cross
// Kafka at least twice (command in, result out) and write a changelog
// besides, so the ratio to this is the cost of everything Titan does on
// top of one hop.
func BenchmarkCommandsCeiling(b *testing.B) {
	raw := newRawCommands(b, kafkatest.Brokers(b))
	roundTrip := func(cmds []*inventoryv1.Command) (done, acked time.Duration) {
		send := func(ctx context.Context, i int, fn func(error)) { raw.send(ctx, cmds[i], fn) }
		return raw.roundTrip(b, roundTimeout, len(cmds), send)
	}
	measureCommands(b, roundTrip)
}

// rawCommands is the inventory ceilings' pipeline: commands encoded as
// Titan encodes them, keyed by SKU, produced with the sdk producer's
// settings by a plain franz-go client to a fresh topic of the same
// partition count, and read back by a plain consumer.
type rawCommands struct {
	cl      *kgo.Client
	topic   string
	records *tail
	enc     *codec.Proto[*inventoryv1.Command]
}

func newRawCommands(b *testing.B, brokers []string) *rawCommands {
	b.Helper()
	topic := kafkatest.Topics(b, brokers, partitions, "commands")["commands"]
	cl, err := kgo.NewClient(producerOpts(brokers)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	return &rawCommands{cl: cl, topic: topic, records: newTail(b, brokers, topic), enc: codec.Command()}
}

// send produces c; fn gets the outcome.
func (r *rawCommands) send(ctx context.Context, c *inventoryv1.Command, fn func(error)) {
	v, err := r.enc.Encode(c)
	if err != nil {
		fn(err)
		return
	}
	r.cl.Produce(ctx, &kgo.Record{Topic: r.topic, Key: []byte(c.GetSku()), Value: v}, func(_ *kgo.Record, err error) { fn(err) })
}

// roundTrip sends n commands with send while it reads them back (see
// sendAndRead). The idempotent producer writes each record once, and the
// topic holds nothing else, so every record read counts.
func (r *rawCommands) roundTrip(b *testing.B, timeout time.Duration, n int, send func(ctx context.Context, i int, fn func(error))) (done, acked time.Duration) {
	b.Helper()
	return sendAndReadWithin(b, timeout, n, send, n, r.records, func(*kgo.Record) bool { return true })
}

// commandProducer is an sdk producer with its defaults, writing to inst's
// commands topic.
func commandProducer(b *testing.B, brokers []string, inst *instance.Instance) *sdk.Producer {
	b.Helper()
	p, err := sdk.NewProducer(brokers, sdk.WithClientID("titan-bench"), sdk.WithCommandsTopic(string(inst.Names().Commands)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	return p
}

// sendCommands sends cmds with p while events reads their results, and
// returns the time from the first send to the last result, and to the last
// acknowledgement (see sendAndRead), and how many results were rejections.
// At-least-once delivery may repeat a result; each command counts once, and
// only results count (an expiry answers no command).
func sendCommands(b *testing.B, p *sdk.Producer, events *tail, cmds []*inventoryv1.Command, timeout time.Duration) (done, acked time.Duration, rejected int) {
	b.Helper()
	want := make(map[string]struct{}, len(cmds))
	for _, c := range cmds {
		want[c.GetCommandId()] = struct{}{}
	}
	dec := codec.Event()
	isResult := func(r *kgo.Record) bool {
		w, err := dec.DecodeMessage(r.Value)
		if err != nil {
			return false
		}
		ev := inventory.EventFromWire(w)
		if !ev.IsResult() {
			return false
		}
		if _, ok := want[w.GetCommandId()]; !ok {
			return false
		}
		delete(want, w.GetCommandId())
		if ev.Type == inventory.EventRejected {
			rejected++
		}
		return true
	}
	send := func(ctx context.Context, i int, fn func(error)) {
		p.SendCommandAsync(ctx, cmds[i], func(_ sdk.Ack, err error) { fn(err) })
	}
	done, acked = sendAndReadWithin(b, timeout, len(cmds), send, len(cmds), events, isResult)
	return done, acked, rejected
}

// measureCommands warms a pipeline up with one restock per SKU, then times
// b.N rounds of the command mix through it and reports the rates and the
// CPU this process spent per command.
func measureCommands(b *testing.B, roundTrip func([]*inventoryv1.Command) (done, acked time.Duration)) {
	b.Helper()
	run := runID()
	roundTrip(restocks(run+"-warm", commandSKUs, 10, time.Now()))
	var (
		done, acked time.Duration
		cpu         cpuClock
	)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		cmds := commandMix(fmt.Sprintf("%s-%d", run, i), commandCount, commandSKUs, time.Now())
		b.StartTimer()
		cpu.start()
		d, a := roundTrip(cmds)
		cpu.stop()
		done, acked = done+d, acked+a
	}
	total := float64(b.N * commandCount)
	b.ReportMetric(total/done.Seconds(), "cmds/s")
	b.ReportMetric(total/acked.Seconds(), "ack-cmds/s")
	cpu.report(b, total, "cmd")
}

// pipeline sends n records with send, as fast as the producer takes them,
// while tl reads until match has accepted n (see sendAndRead).
func pipeline(b *testing.B, n int, send func(ctx context.Context, i int, fn func(error)), tl *tail, match func(*kgo.Record) bool) (done, acked time.Duration) {
	b.Helper()
	return sendAndRead(b, n, send, n, tl, match)
}

// sendAndRead sends n records with send, as fast as the producer takes
// them, while tl reads until match has accepted want (a topology's output
// count may differ from its input's); it returns the time from the first
// send to the last accepted record, and to the last acknowledgement. A
// failed send ends the run: its record would never be read back.
func sendAndRead(b *testing.B, n int, send func(ctx context.Context, i int, fn func(error)), want int, tl *tail, match func(*kgo.Record) bool) (done, acked time.Duration) {
	b.Helper()
	return sendAndReadWithin(b, roundTimeout, n, send, want, tl, match)
}

// sendAndReadWithin is sendAndRead bounded by timeout rather than
// roundTimeout, for a setup too large for one round.
func sendAndReadWithin(b *testing.B, timeout time.Duration, n int, send func(ctx context.Context, i int, fn func(error)), want int, tl *tail, match func(*kgo.Record) bool) (done, acked time.Duration) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	type seen struct {
		at  time.Time
		err error
	}
	read := make(chan seen, 1)
	go func() {
		at, err := tl.until(ctx, want, match)
		read <- seen{at, err}
	}()
	var (
		wg      sync.WaitGroup
		sendErr atomic.Pointer[error]
	)
	wg.Add(n)
	start := time.Now()
	for i := range n {
		send(ctx, i, func(err error) {
			if err != nil && sendErr.CompareAndSwap(nil, &err) {
				cancel()
			}
			wg.Done()
		})
	}
	wg.Wait()
	acked = time.Since(start)
	r := <-read
	if err := sendErr.Load(); err != nil {
		b.Fatalf("send: %v", *err)
	}
	if r.err != nil {
		b.Fatalf("reading back %d records: %v", want, r.err)
	}
	return r.at.Sub(start), acked
}
