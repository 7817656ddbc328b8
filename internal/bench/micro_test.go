package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/topologies/inventorytopo"
)

// The micro-benchmarks time a batch per iteration and report the time per
// call as a metric, so that under `make bench`'s -benchtime 1x, which
// suits the broker benchmarks, they still time thousands of calls.
const microBatch = 2000

// busySKU is a SKU that has been restocked once and then reserved for n
// orders, none of them closed: it holds n open reservations and remembers
// n+1 command ids, everything Decide copies and scans per command.
func busySKU(n int, now time.Time) inventory.State {
	p := inventory.DefaultPolicy()
	s, _ := inventory.Decide(inventory.NewState(), inventory.Command{
		ID: commandID(), Kind: inventory.KindRestock, SKU: "sku-busy", Qty: int64(10 * n), Time: now,
	}, p)
	for i := range n {
		s, _ = inventory.Decide(s, inventory.Command{
			ID: commandID(), Kind: inventory.KindReserve, SKU: "sku-busy", OrderID: fmt.Sprintf("order-%06d", i),
			Qty: 1, TTL: 10 * time.Minute, Time: now.Add(time.Duration(i) * time.Millisecond), Offset: int64(i + 1),
		}, p)
	}
	if len(s.Reservations) != n {
		panic(fmt.Sprintf("busySKU: %d reservations, want %d", len(s.Reservations), n))
	}
	return s
}

// BenchmarkDecide times inventory.Decide for one reserve by a new order on
// a SKU with 100 open reservations and 101 remembered command ids: the
// pure decision, no decoding, encoding or I/O. Decide copies the state
// (it never writes to its input), so every call starts from the same one.
func BenchmarkDecide(b *testing.B) {
	now := time.Now()
	s := busySKU(100, now)
	p := inventory.DefaultPolicy()
	cmds := make([]inventory.Command, 256)
	for i := range cmds {
		cmds[i] = inventory.Command{
			ID: commandID(), Kind: inventory.KindReserve, SKU: "sku-busy", OrderID: fmt.Sprintf("new-order-%03d", i),
			Qty: 1, TTL: 10 * time.Minute, Time: now.Add(time.Second), Offset: 1000,
		}
	}
	calls := 0
	for b.Loop() {
		for i := range microBatch {
			next, events := inventory.Decide(s, cmds[i%len(cmds)], p)
			if len(events) != 1 || len(next.Reservations) != 101 {
				b.Fatalf("decide: %d events, %d reservations", len(events), len(next.Reservations))
			}
		}
		calls += microBatch
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(calls), "ns/cmd")
}

// BenchmarkStateCodecEncode times inventorytopo.HeadCodec encoding the head of
// a SKU with 100 open reservations (and the 101 command results it
// remembers): the value under the SKU's own key, which the processor
// writes for every command; the rest of what the SKU remembers has keys of
// its own (topologies/inventorytopo). "bytes" is the encoded size.
func BenchmarkStateCodecEncode(b *testing.B) {
	h := busySKU(100, time.Now()).Head()
	c := inventorytopo.HeadCodec
	size, calls := 0, 0
	for b.Loop() {
		for range microBatch {
			v, err := c.Encode(h)
			if err != nil {
				b.Fatal(err)
			}
			size = len(v)
		}
		calls += microBatch
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(calls), "ns/state")
	b.ReportMetric(float64(size), "bytes")
}

// BenchmarkStateCodecDecode is the other half: decoding the same head, which
// the processor does for every command on the SKU, and the API for every
// GET.
func BenchmarkStateCodecDecode(b *testing.B) {
	c := inventorytopo.HeadCodec
	h := busySKU(100, time.Now()).Head()
	v, err := c.Encode(h)
	if err != nil {
		b.Fatal(err)
	}
	calls := 0
	for b.Loop() {
		for range microBatch {
			got, err := c.Decode(v)
			if err != nil {
				b.Fatal(err)
			}
			if got.(inventory.Head) != h {
				b.Fatal("decoded head differs")
			}
		}
		calls += microBatch
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(calls), "ns/state")
	b.ReportMetric(float64(len(v)), "bytes")
}
