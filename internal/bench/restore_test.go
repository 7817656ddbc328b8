package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/internal/kafkatest"
)

const (
	// restoreSKUsEnv sets BenchmarkRestore's table size, so that `make
	// bench` can take a smaller one than `make bench-long`.
	restoreSKUsEnv     = "TITAN_BENCH_RESTORE_SKUS"
	restoreSKUsDefault = 1_000_000
	// restoreAPIEnv, set to 1, has the restored instance serve the API
	// too: its views replicate the same table, and Ready waits for them.
	restoreAPIEnv = "TITAN_BENCH_RESTORE_API"
	// restoreChunk is how many restocks the setup sends before it waits
	// for their results: the sdk producer's buffer and the results being
	// waited for stay bounded whatever the table's size.
	restoreChunk = 100_000
	// restoreWithin bounds one restore: a slower one is broken.
	restoreWithin = 15 * time.Minute
	// restoreIdle is how long the restored instance is watched idle.
	restoreIdle = 5 * time.Second
)

// BenchmarkRestore is how long a fresh instance takes to become ready on an
// inventory table of TITAN_BENCH_RESTORE_SKUS SKUs (default 1,000,000),
// beside a plain franz-go read of the same changelog in the same run.
//
// Setup, untimed: an instance restocks every SKU once through the sdk
// producer, so that the table's changelog holds what a processor writes
// for it (a SKU's head and the memory of its command), then stops cleanly
// and leaves its groups.
//
// Timed: a second instance with an empty state directory, from its start
// to Ready: it joins the groups, is given every partition, and recovers
// every table from its changelog into Pebble. records/s is the
// changelog's records over that time.
//
// The ceiling, raw-records/s: a franz-go consumer with no group reads
// every partition of the same changelog from its start to the end offsets
// listed before it, after the restore, in the same run.
//
// With TITAN_BENCH_RESTORE_API=1 the restored instance serves the API,
// whose views replicate the same table and hold Ready back until they
// have.
//
// idle-cpu-% is the share of a core the restored instance then spends over
// restoreIdle with nothing to process: housekeeping such as the expiry
// sweep, whose cost must not follow the table's size.
func BenchmarkRestore(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	skus := restoreSKUs(b)
	ns := kafkatest.Prefix(b)
	cfg := titanConfig(b, brokers, ns, false)
	topics, groups := namespaceTopics(ns), namespaceGroups(ns)
	createTopics(b, brokers, topics)
	b.Cleanup(func() { deleteNamespace(b, brokers, topics, groups) })
	first, stopFirst := launch(b, cfg, startTimeout)
	if os.Getenv(restoreAPIEnv) == "1" {
		cfg.HTTPAddr = "127.0.0.1:0"
	}
	names := first.Names()
	p := commandProducer(b, brokers, first)
	events := newTail(b, brokers, string(names.Events))
	run, now := runID(), time.Now()
	setup := time.Now()
	for lo := 0; lo < skus; lo += restoreChunk {
		cmds := restocks(run, min(skus, lo+restoreChunk), 10, now)[lo:]
		if _, _, rejected := sendCommands(b, p, events, cmds, restoreWithin); rejected > 0 {
			b.Fatalf("%d restocks rejected", rejected)
		}
	}
	// Stopping cleanly leaves the groups, so the next instance is given
	// every partition at once instead of after the session timeout.
	stopFirst()
	b.Logf("setup: %d SKUs restocked in %v", skus, time.Since(setup).Round(time.Millisecond))

	table := string(names.Table())
	ends := listEnds(b, brokers, table)
	var records int64
	for _, end := range ends {
		records += end
	}

	var (
		took  time.Duration
		idle  float64
		state int64
	)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		c := cfg
		c.StateDir = b.TempDir()
		c.InstanceID = fmt.Sprintf("%s-restore-%d", cfg.InstanceID, i)
		b.StartTimer()
		start := time.Now()
		_, stop := launch(b, c, restoreWithin)
		took += time.Since(start)
		b.StopTimer()
		idle = idleCPU(restoreIdle)
		stop()
		size, err := dirSize(c.StateDir)
		if err != nil {
			b.Errorf("state dir: %v", err)
		}
		state = size
		b.StartTimer()
	}
	b.StopTimer()
	raw := readAll(b, brokers, table, ends)

	per := took.Seconds() / float64(b.N)
	b.ReportMetric(per, "restore-s")
	b.ReportMetric(float64(records)/per, "records/s")
	b.ReportMetric(float64(skus)/per, "skus/s")
	b.ReportMetric(float64(records)/raw.Seconds(), "raw-records/s")
	b.ReportMetric(raw.Seconds()/per, "restore/raw-rate")
	b.ReportMetric(float64(records)/float64(skus), "records/sku")
	b.ReportMetric(mb(state), "state-MB")
	b.ReportMetric(idle, "idle-cpu-%")
}

// idleCPU is the share of one core this process spends over d with no
// input: an instance's housekeeping (the expiry sweep, commits,
// heartbeats), which a table's size must not drive up.
func idleCPU(d time.Duration) float64 {
	cpu0 := processCPU()
	time.Sleep(d)
	return 100 * float64(processCPU()-cpu0) / float64(d)
}

// restoreSKUs is the table size TITAN_BENCH_RESTORE_SKUS asks for.
func restoreSKUs(b *testing.B) int {
	b.Helper()
	s := os.Getenv(restoreSKUsEnv)
	if s == "" {
		return restoreSKUsDefault
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a count of at least 1", restoreSKUsEnv, s)
	}
	return n
}

// listEnds is the end offset of each partition of topic.
func listEnds(b *testing.B, brokers []string, topic string) map[int32]int64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	listed, err := kafkatest.Admin(b, brokers).ListEndOffsets(ctx, topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		b.Fatalf("end offsets of %s: %v", topic, err)
	}
	ends := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	return ends
}

// readAll reads every partition of topic from its start up to ends with a
// plain consumer and returns how long that took.
func readAll(b *testing.B, brokers []string, topic string, ends map[int32]int64) time.Duration {
	b.Helper()
	start := map[string]map[int32]kgo.Offset{topic: {}}
	left := map[int32]int64{}
	for p, end := range ends {
		if end > 0 {
			start[topic][p] = kgo.NewOffset().AtStart()
			left[p] = end
		}
	}
	began := time.Now()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(start))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), restoreWithin)
	defer cancel()
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			b.Fatalf("reading %s: %v (partitions left: %v)", topic, err, left)
		}
		fs.EachError(func(t string, p int32, err error) { b.Fatalf("reading %s/%d: %v", t, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			// Compaction may have removed the records before an end; the
			// last record read is then what passes it.
			if end, ok := left[r.Partition]; ok && r.Offset+1 >= end {
				delete(left, r.Partition)
			}
		})
	}
	return time.Since(began)
}
