package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/partition"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	"github.com/titan-commerce/titan/sdk"
)

const (
	// busyOpen is the open reservations a busy SKU holds.
	busyOpen = 100
	// busyRemembered is the commands a busy SKU has applied, all within
	// the dedupe window and under its 4,096 cap, so it remembers each.
	busyRemembered = 4000
	// busyTimed is one timed phase's commands, over all SKUs: a few
	// seconds, so that a phase is not one moment of a shared machine; each
	// iteration runs two phases on busy SKUs and two on fresh ones.
	busyTimed = 16_000
	// freshPerPartition is how many fresh SKUs share a partition: enough
	// that each sees about 20 commands of the two fresh phases, and stays
	// fresh, while the busy SKU beside it sees thousands.
	freshPerPartition = 200
	// busyStock is each SKU's one restock: more than it ever holds open.
	busyStock = 100_000
	// busyTTL outlasts the benchmark, so no reservation expires.
	busyTTL = time.Hour
	// busySetupTimeout bounds the untimed setup: partitions x
	// busyRemembered commands, each slower than the last.
	busySetupTimeout = 20 * time.Minute
)

// BenchmarkCommandsBusySKU is commands/s through one processor instance on
// busy SKUs beside the same commands on fresh SKUs, in the same run: its
// ceiling is the fresh figure, and busy/fresh says what a SKU's past costs
// each command.
//
// Setup, untimed: one SKU on each partition is restocked and then driven
// through busyRemembered commands that reserve a unit for a new order and
// release the oldest open reservation in turn, until it holds busyOpen
// open reservations (one more after each reserve) and remembers all
// busyRemembered results and the reservations they released. The
// commands carry the benchmark's start as their time, so nothing expires and no
// result leaves the dedupe window however long the setup takes.
//
// Timed: the same reserve/release mix, spread over the SKUs in turn, so a
// busy SKU keeps about busyOpen open; then the same mix on fresh SKUs
// (freshPerPartition in each partition, restocked once, untimed), which
// hold one reservation at most and see a few commands each. Each runs twice, busy and fresh alternating, so that a slow
// moment of a shared machine does not fall on one side alone.
//
// busy/fresh is the wall time per command on busy SKUs over that on fresh
// ones; cpu-us/cmd is this process's CPU per command on each (see
// BenchmarkCommands). max-rss-MB and max-heap-MB are this process's peaks
// over the whole benchmark, setup included (see watchMemory).
func BenchmarkCommandsBusySKU(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	inst := startTitan(b, brokers, false)
	p := commandProducer(b, brokers, inst)
	events := newTail(b, brokers, string(inst.Names().Events))
	run := runID()
	now := time.Now()

	memory := watchMemory(b)

	busy := newCycles(run, onePerPartition("busy"), busyOpen)
	setup := make([]*inventoryv1.Command, 0, len(busy)*busyRemembered)
	setup = append(setup, busy.restocks(now)...)
	setup = append(setup, busy.mix(len(busy)*(busyRemembered-1), now)...)
	start := time.Now()
	if _, _, rejected := sendCommands(b, p, events, setup, busySetupTimeout); rejected > 0 {
		b.Fatalf("setup: %d of %d commands rejected", rejected, len(setup))
	}
	b.Logf("setup: %d SKUs to %d open reservations and %d remembered results: %d commands in %v",
		len(busy), busyOpen, busyRemembered, len(setup), time.Since(start).Round(time.Millisecond))

	var busyT, freshT phaseTotals
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		fresh := newCycles(run, perPartition(fmt.Sprintf("fresh-%d", i), freshPerPartition), 0)
		if _, _, rejected := sendCommands(b, p, events, fresh.restocks(now), roundTimeout); rejected > 0 {
			b.Fatalf("restocking fresh SKUs: %d rejected", rejected)
		}
		b.StartTimer()
		for range 2 {
			busyT.add(b, p, events, busy.mix(busyTimed, now))
			freshT.add(b, p, events, fresh.mix(busyTimed, now))
		}
	}
	if busyT.rejected+freshT.rejected > 0 {
		b.Errorf("timed: %d busy and %d fresh commands rejected", busyT.rejected, freshT.rejected)
	}
	b.ReportMetric(busyT.rate(), "busy-cmds/s")
	b.ReportMetric(freshT.rate(), "fresh-cmds/s")
	b.ReportMetric(freshT.rate()/busyT.rate(), "busy/fresh")
	busyT.cpu.report(b, float64(busyT.cmds), "busy-cmd")
	freshT.cpu.report(b, float64(freshT.cmds), "fresh-cmd")
	heap, rss := memory()
	b.ReportMetric(mb(rss), "max-rss-MB")
	b.ReportMetric(mb(heap), "max-heap-MB")
}

// phaseTotals adds up the timed phases of one kind.
type phaseTotals struct {
	cmds, rejected int
	done           time.Duration
	cpu            cpuClock
}

func (t *phaseTotals) add(b *testing.B, p *sdk.Producer, events *tail, cmds []*inventoryv1.Command) {
	b.Helper()
	t.cpu.start()
	done, _, rejected := sendCommands(b, p, events, cmds, roundTimeout)
	t.cpu.stop()
	t.done += done
	t.cmds += len(cmds)
	t.rejected += rejected
}

func (t *phaseTotals) rate() float64 { return float64(t.cmds) / t.done.Seconds() }

// onePerPartition names one SKU for each partition, so that a workload
// over them keeps every partition, and no more than one SKU in each, busy.
func onePerPartition(prefix string) []string { return perPartition(prefix, 1) }

// perPartition names n SKUs for each partition, ordered so that a workload
// that takes them in turn moves to another partition with each command.
func perPartition(prefix string, n int) []string {
	byPart := make([][]string, partitions)
	left := partitions * n
	for i := 0; left > 0; i++ {
		sku := fmt.Sprintf("%s-%04d", prefix, i)
		if p := partition.Partition([]byte(sku), partitions); len(byPart[p]) < n {
			byPart[p] = append(byPart[p], sku)
			left--
		}
	}
	skus := make([]string, 0, partitions*n)
	for i := range n {
		for p := range byPart {
			skus = append(skus, byPart[p][i])
		}
	}
	return skus
}

// cycles are SKUs that each hold target open reservations, target+1 after
// each reserve: a SKU's next command reserves a unit for a new order while
// it holds target or fewer, and otherwise releases its oldest.
type cycles []*cycle

type cycle struct {
	run, sku string
	target   int
	// next is the next order to reserve for; oldest is the oldest open.
	next, oldest int
}

func newCycles(run string, skus []string, target int) cycles {
	out := make(cycles, len(skus))
	for i, sku := range skus {
		out[i] = &cycle{run: run, sku: sku, target: target}
	}
	return out
}

// restocks is one restock of busyStock per SKU.
func (cs cycles) restocks(now time.Time) []*inventoryv1.Command {
	out := make([]*inventoryv1.Command, len(cs))
	for i, c := range cs {
		out[i] = &inventoryv1.Command{
			CommandId:   commandID(),
			Sku:         c.sku,
			Qty:         busyStock,
			TimestampMs: now.UnixMilli(),
			Kind:        &inventoryv1.Command_Restock{Restock: &inventoryv1.Restock{}},
		}
	}
	return out
}

// mix is n commands, one per SKU in turn.
func (cs cycles) mix(n int, now time.Time) []*inventoryv1.Command {
	out := make([]*inventoryv1.Command, n)
	for i := range out {
		out[i] = cs[i%len(cs)].step(now)
	}
	return out
}

func (c *cycle) step(now time.Time) *inventoryv1.Command {
	cmd := &inventoryv1.Command{CommandId: commandID(), Sku: c.sku, TimestampMs: now.UnixMilli()}
	if c.next-c.oldest <= c.target {
		cmd.OrderId = c.order(c.next)
		cmd.Qty = 1
		cmd.Kind = &inventoryv1.Command_Reserve{Reserve: &inventoryv1.Reserve{TtlMs: busyTTL.Milliseconds()}}
		c.next++
		return cmd
	}
	cmd.OrderId = c.order(c.oldest)
	cmd.Kind = &inventoryv1.Command_Release{Release: &inventoryv1.Release{}}
	c.oldest++
	return cmd
}

func (c *cycle) order(n int) string { return fmt.Sprintf("%s-%s-o%d", c.run, c.sku, n) }
