package instance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/internal/replay"
	"github.com/titan-commerce/titan/internal/topology"
)

// An ordered replay (replayTopology.ordered) keeps, across its inputs, the
// order in which one record caused another live. A goka group reads its
// input topics side by side, as they come; live, an answer only existed
// after its question had been processed, but in a shadow whose copies were
// all written first, the answer could be read first.
//
// So the copy runs while the shadow groups do, and releases the records of
// every input partition merged by time (replay.Merge: the live records'
// times, which for the public topics are the broker's). Records of one
// input go out in runs; before the first record of another input, the
// copy waits until the shadow has settled: every group has marked done
// everything its inputs hold (the offsets it will commit, heard in process
// as it marks them), which goka does only once the records a message made
// (its loop messages, its outputs, its table writes) are written, and
// every lookup has read its table to the end. What the shadow
// groups send each other (a loop, a group reading another's output) is so
// processed before any later record of another input, as it was live.
//
// The order kept is the records' times: two records of different inputs
// stamped in the same millisecond go by the inputs' rank, and an answer
// stamped before its question (clocks of different hosts apart by more
// than the answer took) would still be read first, and set aside as the
// live group would have.

// shadowRun is the shadow namespace's groups, running.
type shadowRun struct {
	adm     *kadm.Client
	set     *topology.Set
	done    chan error
	stop    context.CancelFunc
	cleanup func()
	// groups are what every shadow group reads, lookups the tables they
	// look up: what settled waits for.
	groups  []settleGroup
	lookups []settleLookup
	// topics are the inputs and tables settled lists the ends of.
	topics []string
	// marks are the shadow groups' progress, as they mark it.
	marks *groupMarks
}

// groupMarks holds, by group, topic and partition, the next offset each
// shadow group will commit (gokaopts.Config.Marked): a group marks a
// record only once everything its processing wrote is written, as it
// commits, and the replay reads the marks as they are made rather than the
// commits a commit interval later.
type groupMarks struct {
	mu   sync.Mutex
	next map[string]map[string]map[int32]int64
}

func newGroupMarks() *groupMarks {
	return &groupMarks{next: map[string]map[string]map[int32]int64{}}
}

func (m *groupMarks) mark(group, topic string, partition int32, next int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.next[group] == nil {
		m.next[group] = map[string]map[int32]int64{}
	}
	if m.next[group][topic] == nil {
		m.next[group][topic] = map[int32]int64{}
	}
	m.next[group][topic][partition] = max(m.next[group][topic][partition], next)
}

type settleGroup struct {
	group  string
	inputs []string
}

type settleLookup struct {
	proc  *goka.Processor
	table string
}

// watch makes run ready to wait for the shadow groups to settle: it notes
// what each processor reads and looks up.
func (run *shadowRun) watch() {
	seen := map[string]bool{}
	note := func(topic string) {
		if !seen[topic] {
			seen[topic] = true
			run.topics = append(run.topics, topic)
		}
	}
	for group, proc := range run.set.Processors() {
		g := proc.Graph()
		sg := settleGroup{group: group}
		for _, e := range g.InputStreams() {
			sg.inputs = append(sg.inputs, e.Topic())
			note(e.Topic())
		}
		if loop := g.LoopStream(); loop != nil {
			sg.inputs = append(sg.inputs, loop.Topic())
			note(loop.Topic())
		}
		run.groups = append(run.groups, sg)
		for _, e := range g.LookupTables() {
			run.lookups = append(run.lookups, settleLookup{proc: proc, table: e.Topic()})
			note(e.Topic())
		}
	}
}

// settled reports whether the shadow has nothing left to do, and if not,
// what it is behind on.
//
// The marks are read before the ends: a group marks a record only once
// everything its processing wrote is written, so what it wrote is within
// the ends listed after.
func (run *shadowRun) settled(ctx context.Context) (bool, string, error) {
	type mark struct {
		group, topic string
		partition    int32
	}
	marked := map[mark]int64{}
	run.marks.mu.Lock()
	for g, topics := range run.marks.next {
		for t, parts := range topics {
			for p, next := range parts {
				marked[mark{g, t, p}] = next
			}
		}
	}
	run.marks.mu.Unlock()
	ends, err := run.adm.ListEndOffsets(ctx, run.topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return false, "", fmt.Errorf("replay: end offsets of the shadow topics: %w", err)
	}
	for _, g := range run.groups {
		for _, topic := range g.inputs {
			for p, end := range ends[topic] {
				if at := marked[mark{g.group, topic, p}]; at < end.Offset {
					return false, fmt.Sprintf("%s %s/%d at %d of %d", g.group, topic, p, at, end.Offset), nil
				}
			}
		}
	}
	for _, l := range run.lookups {
		stats := l.proc.StatsWithContext(ctx).Lookup[l.table]
		for p, end := range ends[l.table] {
			if end.Offset == 0 {
				continue
			}
			// LastOffset is 0 until the view has read a record, as it
			// is once it has read offset 0: Count tells them apart. A
			// shadow's view starts from empty state, so it counts every
			// record of its table.
			last := int64(-1)
			if stats != nil && stats.Partitions[p] != nil && stats.Partitions[p].Input.Count > 0 {
				last = stats.Partitions[p].Input.LastOffset
			}
			if last < end.Offset-1 {
				return false, fmt.Sprintf("the lookup of %s/%d at %d of %d", l.table, p, last+1, end.Offset), nil
			}
		}
	}
	return true, "", nil
}

// settle waits until the shadow has settled (see settled).
func (run *shadowRun) settle(ctx context.Context) error {
	for {
		ok, behind, err := run.settled(ctx)
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replay: processing: %w; still behind: %s", ctx.Err(), behind)
		case err := <-run.done:
			run.done <- err
			return fmt.Errorf("replay: the shadow groups stopped before they were done (%s): %w", behind, err)
		case <-time.After(time.Millisecond):
		}
	}
}

// copyOrdered copies plan's spans of the live topics to their shadow
// topics (shadow), released in the order of replay.Merge, with rank giving
// each live topic's rank, and settle called between runs of different
// inputs and at the end. It returns how many records were copied and how
// many times it waited for the shadow.
func copyOrdered(ctx context.Context, cfg ReplayConfig, plan map[string]map[int32]replay.Span, shadow map[string]string,
	rank map[string]int, settle func(context.Context) error) (copied, waits int64, err error) {
	topicOf := map[int]string{}
	offsets := map[string]map[int32]kgo.Offset{}
	next := map[replay.Source]int64{}
	var sources []replay.Source
	for topic, parts := range plan {
		topicOf[rank[topic]] = topic
		for p, s := range parts {
			if s.Len() == 0 {
				continue
			}
			if offsets[topic] == nil {
				offsets[topic] = map[int32]kgo.Offset{}
			}
			offsets[topic][p] = kgo.NewOffset().At(s.From)
			sources = append(sources, replay.Source{Input: rank[topic], Partition: p})
			next[sources[len(sources)-1]] = s.From
		}
	}
	c := &orderedCopier{cfg: cfg, plan: plan, shadow: shadow, rank: rank, topicOf: topicOf, settle: settle,
		merge: replay.NewMerge[*kgo.Record](sources), start: time.Now(), total: replay.Total(plan), paused: map[replay.Source]bool{}, next: next}
	if c.reader, err = kgo.NewClient(readerOpts(cfg.Brokers, offsets)...); err != nil {
		return 0, 0, fmt.Errorf("replay: reader: %w", err)
	}
	defer c.reader.Close()
	// Records go to the partition they were read from, whatever their key:
	// the shadow groups must see each partition as the live ones did. A
	// run is flushed before the shadow is waited for, so no linger.
	if c.writer, err = kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner())); err != nil {
		return 0, 0, fmt.Errorf("replay: writer: %w", err)
	}
	defer c.writer.Close()
	err = c.run(ctx)
	return c.copied, c.runs, err
}

// orderedCopier is one copyOrdered.
type orderedCopier struct {
	cfg            ReplayConfig
	plan           map[string]map[int32]replay.Span
	shadow         map[string]string
	rank           map[string]int
	topicOf        map[int]string
	settle         func(context.Context) error
	reader, writer *kgo.Client
	merge          *replay.Merge[*kgo.Record]
	paused         map[replay.Source]bool
	// next is the next offset of each source not read to its span's end,
	// and skipped counts the offsets passed without a copy.
	next    map[replay.Source]int64
	skipped int64
	start   time.Time
	total   int64

	// current is the input of the records written since the shadow last
	// settled, -1 for none.
	current        int
	copied, runLen int64
	runs           int64
	// flushing and waiting are the time spent writing runs and waiting
	// for the shadow to settle.
	flushing, waiting time.Duration
	// failed is the first write that failed; mu guards it.
	mu     sync.Mutex
	failed error
}

// queueLimit is how many records of one partition wait in the merge before
// its fetching pauses.
const queueLimit = 2000

func (c *orderedCopier) report() {
	if c.cfg.Progress != nil {
		c.cfg.Progress(replay.Progress{Phase: "copy", Done: c.copied + c.skipped, Total: c.total, Elapsed: time.Since(c.start)})
	}
}

func (c *orderedCopier) run(ctx context.Context) error {
	c.current = -1
	last := time.Now()
	for {
		for {
			r, ok, done := c.merge.Next()
			if done {
				if err := c.endRun(ctx); err != nil {
					return err
				}
				c.report()
				c.cfg.Logger.Info("replay: copied in time order", "records", c.copied, "runs", c.runs,
					"elapsed", time.Since(c.start), "writing", c.flushing, "waiting", c.waiting)
				return nil
			}
			if !ok {
				break
			}
			if err := c.release(ctx, r); err != nil {
				return err
			}
			if time.Since(last) >= c.cfg.ProgressEvery {
				c.report()
				last = time.Now()
			}
		}
		if err := c.fetch(ctx); err != nil {
			return err
		}
	}
}

// release writes r to its shadow topic, first settling the shadow if r
// starts a run of another input.
func (c *orderedCopier) release(ctx context.Context, r *kgo.Record) error {
	if in := c.rank[r.Topic]; in != c.current {
		if err := c.endRun(ctx); err != nil {
			return err
		}
		c.current = in
	}
	c.writer.Produce(ctx, &kgo.Record{Topic: c.shadow[r.Topic], Partition: r.Partition, Key: r.Key, Value: r.Value,
		Headers: r.Headers, Timestamp: r.Timestamp}, func(rec *kgo.Record, err error) {
		if err != nil {
			c.mu.Lock()
			if c.failed == nil {
				c.failed = fmt.Errorf("replay: write %s/%d: %w", rec.Topic, rec.Partition, err)
			}
			c.mu.Unlock()
		}
	})
	c.runLen++
	return nil
}

// endRun waits until the run's records are written and the shadow has
// processed them and everything they made.
func (c *orderedCopier) endRun(ctx context.Context) error {
	if c.runLen == 0 {
		return nil
	}
	start := time.Now()
	if err := c.writer.Flush(ctx); err != nil {
		return fmt.Errorf("replay: copy: %w", err)
	}
	c.flushing += time.Since(start)
	// Flush returns once every record has its answer, so the callbacks
	// that set failed have run.
	c.mu.Lock()
	failed := c.failed
	c.mu.Unlock()
	if failed != nil {
		return failed
	}
	start = time.Now()
	if err := c.settle(ctx); err != nil {
		return err
	}
	c.waiting += time.Since(start)
	c.copied += c.runLen
	c.runLen = 0
	c.runs++
	return nil
}

func (c *orderedCopier) unfinished() string {
	var out []string
	for s := range c.next {
		out = append(out, fmt.Sprintf("%s/%d", c.topicOf[s.Input], s.Partition))
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// fetch reads more of the starved sources, pausing those with enough
// waiting.
func (c *orderedCopier) fetch(ctx context.Context) error {
	pause, resume := map[string][]int32{}, map[string][]int32{}
	for _, s := range c.merge.Starved() {
		if c.paused[s] {
			resume[c.topicOf[s.Input]] = append(resume[c.topicOf[s.Input]], s.Partition)
			c.paused[s] = false
		}
	}
	for topic, parts := range c.plan {
		for p := range parts {
			s := replay.Source{Input: c.rank[topic], Partition: p}
			if !c.paused[s] && c.merge.Len(s) >= queueLimit {
				pause[topic] = append(pause[topic], p)
				c.paused[s] = true
			}
		}
	}
	c.reader.PauseFetchPartitions(pause)
	c.reader.ResumeFetchPartitions(resume)
	pctx, cancel := context.WithTimeout(ctx, c.cfg.ProgressEvery)
	fetches := c.reader.PollFetches(pctx)
	cancel()
	if ctx.Err() != nil {
		return fmt.Errorf("replay: copy: %w after %d of %d records; not read to the end: %s",
			ctx.Err(), c.copied, c.total, c.unfinished())
	}
	for _, e := range fetches.Errors() {
		if !errors.Is(e.Err, context.DeadlineExceeded) && !errors.Is(e.Err, context.Canceled) {
			return fmt.Errorf("replay: read %s/%d: %w", e.Topic, e.Partition, e.Err)
		}
	}
	ended := map[string][]int32{}
	fetches.EachRecord(func(r *kgo.Record) {
		s := replay.Source{Input: c.rank[r.Topic], Partition: r.Partition}
		next, left := c.next[s]
		if !left {
			return
		}
		st := step(next, r.Offset, r.Attrs.IsControl(), c.plan[r.Topic][r.Partition].To)
		c.skipped += st.skipped
		if st.keep {
			c.merge.Push(s, r.Timestamp, r.Offset, r)
		}
		c.next[s] = st.next
		if st.last {
			c.merge.End(s)
			delete(c.next, s)
			ended[r.Topic] = append(ended[r.Topic], r.Partition)
		}
	})
	c.reader.PauseFetchPartitions(ended)
	return nil
}
