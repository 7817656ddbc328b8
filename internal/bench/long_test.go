package bench

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas/codec"
	"github.com/titan-commerce/titan/sdk"
)

const (
	// longCommandsEnv sets BenchmarkCommandsLong's command count, so that
	// a smoke run can be short.
	longCommandsEnv     = "TITAN_BENCH_LONG_COMMANDS"
	longCommandsDefault = 1_000_000
	// longWindows is how many windows the run is cut into for its rates:
	// 100,000 results each at the default count.
	longWindows = 10
	// longInFlight bounds the commands sent whose results have not been
	// read: enough that every partition always has work queued, few
	// enough that the broker's backlog and this process's memory stay
	// flat however long the run.
	longInFlight = commandCount
	// longTTL outlasts any run: see BenchmarkCommandsLong.
	longTTL = 24 * time.Hour
	// longStall ends a run that reads no record for this long: it is
	// broken, not slow.
	longStall = 3 * time.Minute
	// longCeilingTimeout bounds the ceiling's one round of every record.
	longCeilingTimeout = 15 * time.Minute
)

// BenchmarkCommandsLong is commands/s through one processor instance over
// a run long enough for the state to grow: TITAN_BENCH_LONG_COMMANDS
// commands (default 1,000,000) of BenchmarkCommands's mix over its 1,000
// SKUs (one restock of 10 in four rounds, the rest reserves of one, so no
// reserve lacks stock). The sdk producer sends them with at most
// longInFlight unanswered, and the rate of every tenth of the results
// (100,000 at the default) is printed as it is reached. last/first is the
// last window's rate over the first's: a state that costs the same
// however much a SKU has seen keeps it near 1.
//
// The commands carry the run's start as their time, as BenchmarkCommands's
// do, and their reservations hold for longTTL: no SKU's clock moves, so
// nothing expires, no result leaves the dedupe window, and the state at the
// n-th command is the same in every run whatever its speed. Each SKU ends
// with 1,000 remembered results and 750 open reservations at the default
// count. That is more than a shop's SKU would hold for long, where most
// reservations end within minutes, but an expiry driven by the clock would
// end more of them in a slow run than in a fast one, and the two could not
// be compared. (The instance admits command times up to historyWindow
// behind, so a slow run is not cut short by the default hour.)
//
// Besides the rates it reports this process's peak RSS and heap in use
// (the instance, the producer and the reader together) and the size of
// the instance's state directory at the end. Its ceiling is
// BenchmarkCommandsLongCeiling.
func BenchmarkCommandsLong(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	n := longCommands(b)
	ns := kafkatest.Prefix(b)
	cfg := titanConfig(b, brokers, ns, false)
	cfg.TimeWindow = historyWindow
	inst := runTitan(b, cfg, namespaceTopics(ns), namespaceGroups(ns))
	p := commandProducer(b, brokers, inst)
	events := newTail(b, brokers, string(inst.Names().Events))
	run := runID()
	now := time.Now()
	sendCommands(b, p, events, restocks(run+"-warm", commandSKUs, 10, now), roundTimeout)

	memory := watchMemory(b)
	var (
		windows     []time.Duration
		done, acked time.Duration
		cpu         cpuClock
		rejected    int
	)
	b.ResetTimer()
	for i := range b.N {
		cpu.start()
		r := runLong(b, p, events, fmt.Sprintf("%s-%d", run, i), n, now)
		cpu.stop()
		windows = append(windows, r.windows...)
		done, acked = done+r.done, acked+r.acked
		rejected += r.rejected
	}
	b.StopTimer()
	if rejected > 0 {
		b.Errorf("%d of %d commands rejected: the mix is not the workload it claims to be", rejected, b.N*n)
	}
	state, err := dirSize(cfg.StateDir)
	if err != nil {
		b.Errorf("state dir: %v", err)
	}
	peakHeap, peakRSS := memory()

	per := float64(n) / longWindows
	first, last := per/windows[0].Seconds(), per/windows[len(windows)-1].Seconds()
	total := float64(b.N * n)
	b.Logf("%d commands in %v: first window %.0f cmds/s, last %.0f (last/first %.2f); peak RSS %.0f MB, peak heap in use %.0f MB; state dir %.1f MB",
		b.N*n, done.Round(time.Millisecond), first, last, last/first, mb(peakRSS), mb(peakHeap), mb(state))
	b.ReportMetric(total/done.Seconds(), "cmds/s")
	b.ReportMetric(total/acked.Seconds(), "ack-cmds/s")
	b.ReportMetric(first, "first-cmds/s")
	b.ReportMetric(last, "last-cmds/s")
	b.ReportMetric(last/first, "last/first")
	cpu.report(b, total, "cmd")
	b.ReportMetric(mb(peakRSS), "max-rss-MB")
	b.ReportMetric(mb(peakHeap), "max-heap-MB")
	b.ReportMetric(mb(state), "state-MB")
}

// BenchmarkCommandsLongCeiling bounds BenchmarkCommandsLong: the same
// number of records, with the same keys and encoded commands as values,
// produced with the sdk producer's settings to a fresh topic and read back,
// as BenchmarkCommandsCeiling does with its 20,000. The producer's own
// buffer (10,000 records) is what bounds the records in flight.
func BenchmarkCommandsLongCeiling(b *testing.B) {
	raw := newRawCommands(b, kafkatest.Brokers(b))
	n := longCommands(b)
	run := runID()
	now := time.Now()

	var (
		done, acked time.Duration
		cpu         cpuClock
	)
	b.ResetTimer()
	for i := range b.N {
		iter := fmt.Sprintf("%s-%d", run, i)
		send := func(ctx context.Context, j int, fn func(error)) {
			raw.send(ctx, mixCommand(iter, j, commandSKUs, now, longTTL), fn)
		}
		cpu.start()
		d, a := raw.roundTrip(b, longCeilingTimeout, n, send)
		cpu.stop()
		done, acked = done+d, acked+a
	}
	total := float64(b.N * n)
	b.ReportMetric(total/done.Seconds(), "cmds/s")
	b.ReportMetric(total/acked.Seconds(), "ack-cmds/s")
	cpu.report(b, total, "cmd")
}

// longCommands is the command count TITAN_BENCH_LONG_COMMANDS asks for.
func longCommands(b *testing.B) int {
	b.Helper()
	s := os.Getenv(longCommandsEnv)
	if s == "" {
		return longCommandsDefault
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < longWindows {
		b.Fatalf("%s=%q: want a count of at least %d", longCommandsEnv, s, longWindows)
	}
	return n
}

// longResult is one long run: the time each window of results took, from
// the first send or the previous window's last result, and the whole run's
// times to its last result and to its last acknowledgement.
type longResult struct {
	windows     []time.Duration
	done, acked time.Duration
	// rejected counts the results that were rejections: none, when the
	// restocks keep up with the reserves as they should.
	rejected int
}

// runLong sends n commands of the mix, at most longInFlight of them
// unanswered, while it reads their results; each window's rate is printed
// to stdout when it ends, so that a run stopped early still shows how far
// it got and how fast.
func runLong(b *testing.B, p *sdk.Producer, events *tail, run string, n int, now time.Time) longResult {
	b.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	// A slot is taken by each send and given back by its first result.
	slots := make(chan struct{}, longInFlight)
	start := time.Now()
	read := make(chan longResult, 1)
	go func() {
		r, err := readLong(ctx, events, run, n, start, slots)
		if err != nil {
			cancel(err)
		}
		read <- r
	}()

	var (
		wg      sync.WaitGroup
		lastAck atomic.Int64
	)
send:
	for i := range n {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			break send
		}
		wg.Add(1)
		p.SendCommandAsync(ctx, mixCommand(run, i, commandSKUs, now, longTTL), func(_ sdk.Ack, err error) {
			if err != nil {
				cancel(fmt.Errorf("send: %w", err))
			}
			lastAck.Store(int64(time.Since(start)))
			wg.Done()
		})
	}
	wg.Wait()
	r := <-read
	if err := context.Cause(ctx); err != nil {
		b.Fatalf("long run: %v", err)
	}
	r.acked = time.Duration(lastAck.Load())
	return r
}

// readLong reads results until every one of run's n commands has one,
// giving back a slot for each.
func readLong(ctx context.Context, events *tail, run string, n int, start time.Time, slots <-chan struct{}) (longResult, error) {
	var r longResult
	dec := codec.Event()
	prefix := run + "-c"
	seen := make([]bool, n)
	count := 0
	windowStart := start
	for count < n {
		poll, cancel := context.WithTimeout(ctx, longStall)
		fetches := events.cl.PollFetches(poll)
		stalled := poll.Err() != nil && ctx.Err() == nil
		cancel()
		if err := ctx.Err(); err != nil {
			return r, fmt.Errorf("saw %d of %d results: %w", count, n, err)
		}
		if stalled {
			return r, fmt.Errorf("saw %d of %d results, then none for %v", count, n, longStall)
		}
		var ferr error
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				ferr = errors.Join(ferr, fmt.Errorf("%s/%d: %w", topic, p, err))
			}
		})
		if ferr != nil {
			return r, ferr
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			w, err := dec.DecodeMessage(rec.Value)
			if err != nil {
				return
			}
			ev := inventory.EventFromWire(w)
			if !ev.IsResult() {
				return
			}
			i, err := strconv.Atoi(strings.TrimPrefix(w.GetCommandId(), prefix))
			if !strings.HasPrefix(w.GetCommandId(), prefix) || err != nil || i < 0 || i >= n || seen[i] {
				return
			}
			seen[i] = true
			count++
			if ev.Type == inventory.EventRejected {
				r.rejected++
			}
			<-slots
			if (count%(n/longWindows) == 0 && len(r.windows) < longWindows) || count == n {
				at := time.Now()
				took := at.Sub(windowStart)
				ended := count - len(r.windows)*(n/longWindows)
				if len(r.windows) == longWindows {
					// The remainder of a count that tenths do not divide
					// joins the last window.
					r.windows[longWindows-1] += took
				} else {
					r.windows = append(r.windows, took)
				}
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				fmt.Printf("long: window %2d: %8d results, %7.0f cmds/s over %v; %v since start; heap in use %.0f MB, RSS %.0f MB\n",
					len(r.windows), count, float64(ended)/took.Seconds(), took.Round(time.Millisecond),
					at.Sub(start).Round(time.Second), mb(int64(ms.HeapInuse)), mb(resident()))
				windowStart = at
			}
		})
	}
	r.done = time.Since(start)
	return r, nil
}

// watchMemory samples this process's heap in use and resident memory every
// second; the function it returns stops it and tells the peaks. Unlike
// getrusage's peak RSS, they cover this benchmark alone, not those that ran
// before it in the same process. A benchmark that fails first stops it in
// its cleanup.
func watchMemory(b *testing.B) func() (heap, rss int64) {
	var heapPeak, rssPeak atomic.Int64
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if v := int64(ms.HeapInuse); v > heapPeak.Load() {
			heapPeak.Store(v)
		}
		if v := resident(); v > rssPeak.Load() {
			rssPeak.Store(v)
		}
	}
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	var once sync.Once
	end := func() {
		once.Do(func() {
			close(stop)
			<-stopped
		})
	}
	b.Cleanup(end)
	return func() (int64, int64) {
		end()
		sample()
		rss := rssPeak.Load()
		if rss == 0 {
			// No /proc: the process's peak is the best there is.
			rss = maxRSS()
		}
		return heapPeak.Load(), rss
	}
}

// resident is this process's resident memory now, from /proc/self/statm;
// 0 where there is none.
func resident() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(data))
	if len(fields) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}

// dirSize is the bytes of the regular files under dir.
func dirSize(dir string) (int64, error) {
	var size int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			size += info.Size()
		}
		return nil
	})
	return size, err
}

func mb(bytes int64) float64 { return float64(bytes) / (1 << 20) }
