package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/deadletter"
	"github.com/titan-commerce/titan/schemas"
)

// SinkOptions configure a Sink.
type SinkOptions struct {
	// Brokers of the Kafka cluster.
	Brokers []string
	// Namespace of the deployment whose topics the sink reads (schemas.Namespaced).
	Namespace string
	// Group is the consumer group; default the namespaced "titan.sink.clickhouse".
	Group string
	// ClientID names the sink to Kafka; default "titan-sink".
	ClientID string
	// InstanceID, when set, makes the sink a static member of its group (KIP-345): a sink that
	// restarts under the same id after a crash takes its partitions back at once, without waiting
	// for the group to notice the crash.
	InstanceID string
	// SessionTimeout is how long the group waits to hear from a sink before its partitions go to
	// the others; zero leaves the client's default (45 s).
	SessionTimeout time.Duration
	// BatchRecords is how many records a batch holds at most before it is written. The sink holds
	// two batches at most, one being written and the next being read, which with the client's
	// fetch buffer bounds its memory. Default 10,000.
	BatchRecords int
	// FlushInterval is how long a record waits at most before its batch is written. Default 1 s.
	FlushInterval time.Duration
	// InsertTimeout bounds one attempt to write a batch. Default 30 s.
	InsertTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between attempts while ClickHouse fails.
	// Defaults 100 ms and 5 s.
	MinBackoff, MaxBackoff time.Duration
	// Metrics records what the sink does; nil records nothing.
	Metrics *Metrics
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Kafka adds client options, after the sink's own.
	Kafka []kgo.Opt
}

func (o *SinkOptions) defaults() error {
	if len(o.Brokers) == 0 {
		return errors.New("clickhouse: sink: no brokers")
	}
	if o.Group == "" {
		o.Group = schemas.Namespaced(o.Namespace, "titan.sink.clickhouse")
	}
	if o.ClientID == "" {
		o.ClientID = "titan-sink"
	}
	if o.BatchRecords <= 0 {
		o.BatchRecords = 10_000
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Second
	}
	if o.InsertTimeout <= 0 {
		o.InsertTimeout = 30 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(5*time.Second, o.MinBackoff)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// DeadLetterTopic is where the sink sets aside the records it cannot write, as deadletter.DeadLetter
// values keyed like the record.
func DeadLetterTopic(namespace string) string {
	return schemas.Namespaced(namespace, schemas.SinkDeadLetters)
}

// A Sink writes Titan's event topics to ClickHouse, exactly once per record.
//
// It reads the topics of Streams as one consumer group and writes what it read in batches, one
// INSERT per table, when a batch is full or its first record has waited FlushInterval. It commits
// the batch's offsets to Kafka only after ClickHouse took every row. It reads the next batch while
// one is written, and no further: while ClickHouse is slow or down the sink retries with backoff,
// pauses its fetches, and holds no more than two batches.
//
// Offsets committed after the rows are written would still repeat rows written just before a
// crash; what makes a row count once is that each row carries its record's (topic, partition,
// offset). Before writing a partition's rows to a table, the sink reads the highest offset that
// table holds for the partition, once when it is given the partition and again after any attempt
// that failed (the server may have taken the rows before the answer was lost), and drops the rows
// at or below it. A batch's rows for one table go in one INSERT per event month, so each INSERT
// is one part and lands whole or not at all, and the rows of a partition reach a table in offset
// order.
type Sink struct {
	o     SinkOptions
	conn  *Conn
	cl    *kgo.Client
	topic map[string]Stream // by full topic name
	dlq   string

	mu struct {
		sync.Mutex
		// fresh marks the partitions whose watermarks were read since they were last assigned.
		fresh map[tp]bool
	}
	// marks is the highest offset each table holds, by partition. Only the writer reads and
	// writes it.
	marks map[*Table]map[tp]int64
	// uncommitted holds the last record written of each partition whose offset is not yet
	// committed, and committed when offsets were last committed. The writer fills it; the loop
	// reads it only while nothing is being written.
	uncommitted map[tp]*kgo.Record
	committed   time.Time
}

type tp struct {
	topic     string
	partition int32
}

// batch is what has been read and not yet written.
type batch struct {
	records int
	first   time.Time
	out     *Out
	dead    []*kgo.Record
	last    map[tp]*kgo.Record
}

type where struct {
	tp
	offset int64
}

func (b *batch) reset() {
	b.records, b.dead = 0, nil
	b.out.reset()
	clear(b.last)
}

// NewSink connects to Kafka; Run starts reading.
func NewSink(conn *Conn, o SinkOptions) (*Sink, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	s := &Sink{o: o, conn: conn, topic: map[string]Stream{}, dlq: DeadLetterTopic(o.Namespace),
		marks: map[*Table]map[tp]int64{}, uncommitted: map[tp]*kgo.Record{}}
	s.mu.fresh = map[tp]bool{}
	topics := make([]string, 0, len(Streams))
	for _, st := range Streams {
		name := schemas.Namespaced(o.Namespace, st.Topic)
		s.topic[name] = st
		topics = append(topics, name)
	}
	stale := func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { s.stale(ps) }
	gone := func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
		s.stale(ps)
		for topic, parts := range ps {
			for _, p := range parts {
				o.Metrics.forget(topic, p) // another sink reports its lag now
			}
		}
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(o.Brokers...),
		kgo.ClientID(o.ClientID),
		kgo.ConsumerGroup(o.Group),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// A client may write the topics a shop's services feed (order
		// events, views) with a transactional producer: an aborted
		// transaction's records never reach ClickHouse.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		// The sink lets a rebalance through only between batches, so a partition never moves
		// while rows of it wait to be written.
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(stale),
		kgo.OnPartitionsRevoked(gone),
		kgo.OnPartitionsLost(gone),
		kgo.FetchMaxBytes(16 << 20),
		// A dead letter's send has a deadline of its own: a write attempt that cannot reach
		// Kafka fails and is retried like one ClickHouse refused.
		kgo.RecordDeliveryTimeout(o.InsertTimeout),
	}
	if o.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(o.InstanceID))
	}
	if o.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(o.SessionTimeout))
	}
	cl, err := kgo.NewClient(append(opts, o.Kafka...)...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: sink: %w", err)
	}
	s.cl = cl
	return s, nil
}

// stale forgets the watermarks of partitions that moved: another sink may have written them.
func (s *Sink) stale(ps map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for topic, parts := range ps {
		for _, p := range parts {
			delete(s.mu.fresh, tp{topic, p})
		}
	}
}

// Close leaves the group and closes the Kafka client. Leaving revokes the partitions, which waits
// for the rebalance the sink may still block (BlockRebalanceOnPoll), so Close lets it through
// first: the sink has stopped reading, and what it holds unwritten is read again by the next owner.
func (s *Sink) Close() {
	s.cl.AllowRebalance()
	s.cl.Close()
}

// Run reads and writes until ctx ends, then writes what it holds, within a few seconds, and
// returns ctx's error. It returns early only if Kafka closes the client.
//
// Reading and writing overlap: while one batch is written, the next is read and converted, so the
// sink holds two batches at most. Batches are written one at a time, in the order read, each
// committed before the next is written. A rebalance is let through when nothing is held, and at
// least every rebalanceEvery under a load that never leaves the sink empty: then the sink stops
// reading until both batches are written.
func (s *Sink) Run(ctx context.Context) error {
	jobs, done := make(chan *batch), make(chan error, 1)
	go func() {
		for b := range jobs {
			done <- s.flush(ctx, b)
		}
	}()
	defer close(jobs)
	cur, spare := newBatch(), newBatch()
	var inflight *batch // the batch being written, nil when none
	// inflightRecords is how many records inflight holds, counted when it was sent: the writer
	// empties the batch once written, so the loop does not read it while it is in flight.
	var inflightRecords int
	// wait waits for the batch in flight. After an error (ctx ended) the batch stays in flight,
	// unwritten, and the error stays in done for the next wait.
	wait := func() error {
		if inflight == nil {
			return nil
		}
		err := <-done
		if err != nil {
			done <- err
			return err
		}
		spare, inflight = inflight, nil
		return nil
	}
	send := func() {
		inflightRecords = cur.records
		jobs <- cur
		inflight, cur, spare = cur, spare, nil
	}
	allowed := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			// What is in flight goes first: a partition's rows must reach a table in order.
			if werr := wait(); werr == nil {
				s.drain(cur)
			}
			return err
		}
		if inflight != nil && len(done) > 0 {
			_ = wait() // written, or ctx ended: seen on the next turn
		}
		held := cur.records
		if inflight != nil {
			held += inflightRecords
		}
		s.o.Metrics.buffered(held)
		pause := s.o.FlushInterval
		if cur.records > 0 {
			pause = time.Until(cur.first.Add(s.o.FlushInterval))
		}
		if pause > 0 && cur.records < s.o.BatchRecords {
			pctx, cancel := context.WithTimeout(ctx, pause)
			fs := s.cl.PollRecords(pctx, s.o.BatchRecords-cur.records)
			cancel()
			if fs.IsClientClosed() {
				_ = wait()
				return errors.New("clickhouse: sink: Kafka client closed")
			}
			fs.EachError(func(topic string, p int32, err error) {
				if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
					s.o.Logger.Warn("sink: fetch", "topic", topic, "partition", p, "err", err)
				}
			})
			fs.EachPartition(func(p kgo.FetchTopicPartition) {
				if n := len(p.Records); n > 0 {
					s.o.Metrics.lag(p.Topic, p.Partition, p.HighWatermark-p.Records[n-1].Offset-1)
				}
			})
			fs.EachRecord(func(r *kgo.Record) { s.add(cur, r) })
		}
		if cur.records > 0 && (cur.records >= s.o.BatchRecords || !time.Now().Before(cur.first.Add(s.o.FlushInterval))) {
			if wait() != nil {
				continue // ctx ended
			}
			send()
		}
		switch {
		case inflight == nil && cur.records == 0:
		case time.Since(allowed) < rebalanceEvery:
			continue
		default:
			// Held for long enough under load: write everything, then let the rebalance through.
			if wait() != nil {
				continue
			}
			if cur.records > 0 {
				send()
				if wait() != nil {
					continue
				}
			}
		}
		// The offsets go before the partitions do.
		s.commit(ctx)
		s.cl.AllowRebalance()
		allowed = time.Now()
	}
}

// rebalanceEvery bounds how long a busy sink holds off a rebalance.
const rebalanceEvery = 5 * time.Second

func newBatch() *batch { return &batch{out: NewOut(), last: map[tp]*kgo.Record{}} }

// drain writes what the sink holds when it is told to stop.
func (s *Sink) drain(b *batch) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if b.records > 0 {
		if err := s.flush(ctx, b); err != nil {
			s.o.Logger.Warn("sink: stopping with a batch unwritten; it is read again on the next start", "records", b.records)
		}
	}
	s.commit(ctx)
}

// add converts one record into b, or sets it aside as a dead letter.
func (s *Sink) add(b *batch, r *kgo.Record) {
	if b.records == 0 {
		b.first = time.Now()
	}
	b.records++
	at := tp{r.Topic, r.Partition}
	b.last[at] = r
	st, ok := s.topic[r.Topic]
	if !ok {
		return // not a topic the sink asked for
	}
	if err := b.out.Convert(st, Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Value: r.Value}); err != nil {
		b.dead = append(b.dead, s.deadLetter(r, err))
	}
}

func (s *Sink) deadLetter(r *kgo.Record, err error) *kgo.Record {
	reason := Reason(err)
	s.o.Metrics.deadLetter(reason)
	v, jerr := deadletter.DeadLetter{Topology: "clickhouse-sink", Topic: r.Topic, Partition: r.Partition,
		Offset: r.Offset, Key: string(r.Key), Value: r.Value, Reason: reason, Error: err.Error(), Time: time.Now().UTC()}.Encode()
	if jerr != nil {
		v = []byte(reason)
	}
	return &kgo.Record{Topic: s.dlq, Key: r.Key, Value: v}
}

// flush writes b, retrying until ClickHouse takes it or ctx ends, then commits its offsets and
// empties it.
func (s *Sink) flush(ctx context.Context, b *batch) error {
	start := time.Now()
	backoff := s.o.MinBackoff
	paused := false
	defer func() {
		if paused {
			s.cl.ResumeFetchTopics(slices.Collect(maps.Keys(s.topic))...)
		}
	}()
	for {
		err := s.write(ctx, b)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.o.Metrics.retry()
		s.o.Logger.Warn("sink: write failed; retrying", "records", b.records, "backoff", backoff, "err", err)
		if !paused {
			s.cl.PauseFetchTopics(slices.Collect(maps.Keys(s.topic))...)
			paused = true
		}
		// The server may have taken rows whose answer was lost: read the watermarks again.
		s.mu.Lock()
		for at := range b.last {
			delete(s.mu.fresh, at)
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, s.o.MaxBackoff)
	}
	s.o.Metrics.flushed(b.records, time.Since(start))
	maps.Copy(s.uncommitted, b.last)
	if time.Since(s.committed) >= commitEvery {
		s.commit(ctx)
	}
	b.reset()
	return nil
}

// commitEvery is how often a busy sink commits its offsets. They only say where to start
// reading after a restart; what keeps a row from being written twice is the watermark, so a
// commit need not follow every batch, and one that fails costs a little reading again.
const commitEvery = time.Second

// commit commits the offsets of the records written.
func (s *Sink) commit(ctx context.Context) {
	if len(s.uncommitted) == 0 {
		return
	}
	if ctx.Err() != nil {
		return // the drain commits them, with time of its own
	}
	s.committed = time.Now()
	if err := s.cl.CommitRecords(ctx, slices.Collect(maps.Values(s.uncommitted))...); err != nil {
		s.o.Logger.Warn("sink: commit offsets; trying again later", "err", err)
		return
	}
	clear(s.uncommitted)
}

// write is one attempt at writing the batch: its dead letters first, then each table's rows
// above the table's watermark.
func (s *Sink) write(ctx context.Context, b *batch) error {
	if len(b.dead) > 0 {
		if err := s.cl.ProduceSync(ctx, b.dead...).FirstErr(); err != nil {
			return fmt.Errorf("dead letters: %w", err)
		}
		b.dead = nil
	}
	if err := s.loadMarks(ctx, b); err != nil {
		return err
	}
	// Rows go out table by table; within a table, a run of rows of one month is one INSERT.
	for _, rows := range b.out.tables {
		if rows == nil {
			continue
		}
		for from := 0; from < rows.Len(); {
			to := from + 1
			for to < rows.Len() && rows.month[to] == rows.month[from] {
				to++
			}
			if err := s.insert(ctx, rows, from, to); err != nil {
				return err
			}
			from = to
		}
	}
	return nil
}

// insert writes the rows [from, to) of rows, all of one month, that their table does not hold yet.
func (s *Sink) insert(ctx context.Context, rows *Rows, from, to int) error {
	t := rows.Table
	marks := s.marks[t]
	var keep []int // nil while every row is kept
	for i := from; i < to; i++ {
		w := rows.at[i]
		if mark, ok := marks[w.tp]; ok && w.offset <= mark {
			if keep == nil {
				keep = make([]int, 0, to-from)
				for j := from; j < i; j++ {
					keep = append(keep, j)
				}
			}
			continue
		}
		if keep != nil {
			keep = append(keep, i)
		}
	}
	n := to - from
	if keep != nil {
		n = len(keep)
	}
	if skipped := to - from - n; skipped > 0 {
		s.o.Metrics.skipped(t.Name, skipped)
	}
	if n == 0 {
		return nil
	}
	ictx, cancel := context.WithTimeout(ctx, s.o.InsertTimeout)
	defer cancel()
	ins, err := s.conn.Batch(ictx, t.insert)
	if err != nil {
		return err
	}
	topics, partitions, offsets := make([]string, 0, n), make([]int32, 0, n), make([]int64, 0, n)
	each(from, to, keep, func(i int) {
		w := rows.at[i]
		topics, partitions, offsets = append(topics, w.topic), append(partitions, w.partition), append(offsets, w.offset)
	})
	err = errors.Join(ins.Column(0).Append(topics), ins.Column(1).Append(partitions), ins.Column(2).Append(offsets))
	for k, c := range rows.cols {
		if err != nil {
			break
		}
		if err = c.put(ins.Column(3+k), from, to, keep); err != nil {
			err = fmt.Errorf("column %s: %w", t.columns[k].Name, err)
		}
	}
	if err != nil {
		_ = ins.Abort()
		return fmt.Errorf("clickhouse: %s: %w", t.Name, err)
	}
	if err := ins.Send(); err != nil {
		return fmt.Errorf("clickhouse: insert into %s: %w", t.Name, err)
	}
	if marks == nil {
		marks = map[tp]int64{}
		s.marks[t] = marks
	}
	each(from, to, keep, func(i int) {
		w := rows.at[i]
		marks[w.tp] = max(marks[w.tp], w.offset)
	})
	s.o.Metrics.written(t.Name, n)
	return nil
}

// each calls f with each row of [from, to), or of keep when it is not nil.
func each(from, to int, keep []int, f func(int)) {
	if keep != nil {
		for _, i := range keep {
			f(i)
		}
		return
	}
	for i := from; i < to; i++ {
		f(i)
	}
}

// loadMarks reads the watermarks of the batch's partitions that are not fresh: for each table
// the partition's records go to, the highest offset it holds.
func (s *Sink) loadMarks(ctx context.Context, b *batch) error {
	s.mu.Lock()
	var stale []tp
	for at := range b.last {
		if !s.mu.fresh[at] {
			stale = append(stale, at)
		}
	}
	s.mu.Unlock()
	for _, at := range stale {
		for _, t := range s.topic[at.topic].Tables {
			mark, ok, err := s.conn.highestOffset(ctx, t, at)
			if err != nil {
				return err
			}
			if s.marks[t] == nil {
				s.marks[t] = map[tp]int64{}
			}
			if ok {
				s.marks[t][at] = mark
			} else {
				delete(s.marks[t], at)
			}
		}
		s.mu.Lock()
		s.mu.fresh[at] = true
		s.mu.Unlock()
	}
	return nil
}

// highestOffset is the highest offset t holds of partition at, and whether it holds any.
func (c *Conn) highestOffset(ctx context.Context, t *Table, at tp) (int64, bool, error) {
	// The topic is inlined: 18.16 has no server-side parameters, and a topic name is
	// [a-zA-Z0-9._-] (schemas.CheckTopic), nothing that could end the string.
	if err := schemas.CheckTopic(at.topic); err != nil {
		return 0, false, err
	}
	q := fmt.Sprintf("SELECT count(), max(offset) FROM %s WHERE topic = '%s' AND partition = %d", t.Name, at.topic, at.partition)
	var n uint64
	var mark int64
	if err := c.QueryRow(ctx, q).Scan(&n, &mark); err != nil {
		return 0, false, fmt.Errorf("clickhouse: watermark of %s in %s: %w", at.topic, t.Name, err)
	}
	return mark, n > 0, nil
}
