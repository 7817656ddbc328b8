package gokaopts

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
)

// group wraps the sarama consumer group a goka processor consumes through,
// for three things goka does not do on a cluster that loses members and
// brokers:
//
//   - Offsets are committed in order. goka marks an input's offset once its
//     sends are acknowledged, and sarama keeps the highest mark: when a later
//     input's sends return first and an earlier one's fail (its partition's
//     leader died), the commit passes the failed input and it is never
//     decided again. group marks an offset only once every input delivered
//     before it on the partition is done, so a failed input is redelivered.
//   - A rebalance is joined at once. goka sleeps 5 s after every session
//     before it joins again (Processor.rebalanceLoop), which every member of
//     the group then waits for; group runs the next session itself, so goka
//     sees Consume return only with an error or when its context ends.
//   - A lost coordinator is waited out. A session that ends with an error
//     the handler did not raise (the coordinator's broker died, metadata
//     could not be refreshed) is tried again after rejoinBackoff for up to
//     rejoinFor, instead of failing the processor and with it its tables'
//     local state. Errors of goka's own (a failed input, a failed setup) end
//     Consume as before.
type group struct {
	sarama.ConsumerGroup
	log    *slog.Logger
	id     string
	marked MarkedFunc
}

// MarkedFunc is told, for a group, each next offset to read of a
// partition once every record delivered before it is done: the offset the
// group commits next, before sarama commits it.
type MarkedFunc func(group, topic string, partition int32, next int64)

const (
	// rejoinBackoff is the wait before a session that failed outside the
	// handler is tried again: about the time a cluster takes to move a dead
	// broker's leaderships (broker.session.timeout.ms).
	rejoinBackoff = 500 * time.Millisecond
	// rejoinFor bounds how long such failures are retried in a row before
	// the error goes to goka, and the processor fails for the supervisor to
	// see and rebuild.
	rejoinFor = time.Minute
	// minSession keeps a group whose sessions end as soon as they start
	// from spinning.
	minSession = 100 * time.Millisecond
)

func groupBuilder(b goka.ConsumerGroupBuilder, log *slog.Logger, marked MarkedFunc) goka.ConsumerGroupBuilder {
	return func(brokers []string, groupID, clientID string) (sarama.ConsumerGroup, error) {
		cg, err := b(brokers, groupID, clientID)
		if err != nil {
			return nil, err
		}
		return &group{ConsumerGroup: cg, log: log.With("group", groupID), id: groupID, marked: marked}, nil
	}
}

// Consume runs sessions until ctx ends, the handler fails, or the group
// protocol has failed for rejoinFor.
func (g *group) Consume(ctx context.Context, topics []string, handler sarama.ConsumerGroupHandler) error {
	var failingSince time.Time
	for {
		h := &orderedHandler{inner: handler, group: g.id, marked: g.marked}
		began := time.Now()
		err := g.ConsumerGroup.Consume(ctx, topics, h)
		switch {
		case ctx.Err() != nil:
			return err
		case err != nil && h.failed():
			return err
		case err != nil:
			if failingSince.IsZero() {
				failingSince = began
			}
			if time.Since(failingSince) > rejoinFor {
				return fmt.Errorf("gokaopts: consumer group failing for %v: %w", time.Since(failingSince).Round(time.Second), err)
			}
			g.log.Warn("consumer group session failed; joining again", "err", err, "retry_in", rejoinBackoff)
			if !wait(ctx, rejoinBackoff) {
				return nil
			}
		default:
			failingSince = time.Time{}
			if time.Since(began) < minSession && !wait(ctx, minSession) {
				return nil
			}
		}
	}
}

func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// orderedHandler is one session's handler: it passes goka a session whose
// marks are held back until they are in order, and claims that record what
// they deliver.
type orderedHandler struct {
	inner  sarama.ConsumerGroupHandler
	sess   *orderedSession
	group  string
	marked MarkedFunc

	mu struct {
		sync.Mutex
		failed bool // the handler returned an error
	}
}

func (h *orderedHandler) fail(err error) error {
	if err != nil {
		h.mu.Lock()
		h.mu.failed = true
		h.mu.Unlock()
	}
	return err
}

func (h *orderedHandler) failed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.mu.failed
}

func (h *orderedHandler) Setup(s sarama.ConsumerGroupSession) error {
	h.sess = &orderedSession{ConsumerGroupSession: s, parts: map[topicPartition]*partitionMarks{}, group: h.group, marked: h.marked}
	return h.fail(h.inner.Setup(h.sess))
}

func (h *orderedHandler) Cleanup(sarama.ConsumerGroupSession) error {
	return h.fail(h.inner.Cleanup(h.sess))
}

func (h *orderedHandler) ConsumeClaim(_ sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	marks := h.sess.partition(c.Topic(), c.Partition())
	out := make(chan *sarama.ConsumerMessage)
	claim := &orderedClaim{ConsumerGroupClaim: c, messages: out}
	// Forwards each message after recording its offset, so a mark is
	// never seen before the delivery it marks. Stops with the session or
	// the claim.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(out)
		for {
			select {
			case m, ok := <-c.Messages():
				if !ok {
					return
				}
				marks.delivered(m.Offset)
				select {
				case out <- m:
				case <-stop:
					return
				case <-h.sess.Context().Done():
					return
				}
			case <-stop:
				return
			case <-h.sess.Context().Done():
				return
			}
		}
	}()
	err := h.inner.ConsumeClaim(h.sess, claim)
	close(stop)
	wg.Wait()
	return h.fail(err)
}

type orderedClaim struct {
	sarama.ConsumerGroupClaim
	messages chan *sarama.ConsumerMessage
}

func (c *orderedClaim) Messages() <-chan *sarama.ConsumerMessage { return c.messages }

type topicPartition struct {
	topic     string
	partition int32
}

// orderedSession passes a mark on to sarama only once every offset
// delivered before it is marked too.
type orderedSession struct {
	sarama.ConsumerGroupSession
	group  string
	marked MarkedFunc

	mu    sync.Mutex
	parts map[topicPartition]*partitionMarks
}

func (s *orderedSession) partition(topic string, partition int32) *partitionMarks {
	s.mu.Lock()
	defer s.mu.Unlock()
	tp := topicPartition{topic, partition}
	m, ok := s.parts[tp]
	if !ok {
		m = &partitionMarks{done: map[int64]string{}}
		s.parts[tp] = m
	}
	return m
}

func (s *orderedSession) MarkOffset(topic string, partition int32, offset int64, metadata string) {
	s.mu.Lock()
	m, ok := s.parts[topicPartition{topic, partition}]
	s.mu.Unlock()
	if !ok {
		s.ConsumerGroupSession.MarkOffset(topic, partition, offset, metadata)
		if s.marked != nil {
			s.marked(s.group, topic, partition, offset)
		}
		return
	}
	// A mark names the next offset to read: offset-1 is the one done.
	if next, meta, ok := m.markDone(offset-1, metadata); ok {
		s.ConsumerGroupSession.MarkOffset(topic, partition, next, meta)
		if s.marked != nil {
			s.marked(s.group, topic, partition, next)
		}
	}
}

func (s *orderedSession) MarkMessage(msg *sarama.ConsumerMessage, metadata string) {
	s.MarkOffset(msg.Topic, msg.Partition, msg.Offset+1, metadata)
}

// partitionMarks holds the offsets of one partition delivered and not yet
// passed on, in delivery order, and which of them are done.
type partitionMarks struct {
	mu      sync.Mutex
	pending []int64
	done    map[int64]string // done offsets not yet passed on, with their metadata
}

func (m *partitionMarks) delivered(offset int64) {
	m.mu.Lock()
	m.pending = append(m.pending, offset)
	m.mu.Unlock()
}

// markDone records offset as done and returns the next offset to commit
// when the done prefix of the deliveries grew.
func (m *partitionMarks) markDone(offset int64, metadata string) (next int64, meta string, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.done[offset] = metadata
	n := 0
	for n < len(m.pending) {
		md, done := m.done[m.pending[n]]
		if !done {
			break
		}
		delete(m.done, m.pending[n])
		next, meta, ok = m.pending[n]+1, md, true
		n++
	}
	if n > 0 {
		m.pending = append(m.pending[:0], m.pending[n:]...)
	}
	return next, meta, ok
}
