package gokaopts

import (
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
)

// After a failure a processor rebuilds its tables from their changelogs
// and decides again whatever input it had not committed. That is exactly
// once only if what a successor finds in a changelog and what it finds in
// the outputs agree, and on a cluster they need not: a changelog's
// partition and an output's partition have different leaders, and when a
// broker dies a send to one fails while a send to the other succeeds. So a
// processor declares which of the two reaches Kafka first (Order), and
// barrierProducer enforces it: a record of the kind that goes second is
// sent only once every record of the other kind handed over before it has
// been acknowledged.
//
//   - OutputsFirst: a state write in the changelog implies that every
//     output before it is in Kafka too, so a processor that finds its
//     state already moved by an input sends nothing for it again. An
//     input whose outputs landed and whose state write did not is decided
//     again; that is safe only where a decision cannot come out otherwise
//     the second time (topologies/flashsaletopo).
//   - StateFirst: an output in Kafka implies that the state write before
//     it is in the changelog, so no input whose outputs anyone has seen is
//     ever decided again: a successor finds it in the state and publishes
//     the outputs the state remembers for it (topologies/inventorytopo, whose
//     commands arrive on two topics in no fixed order, so that deciding
//     one again could come out otherwise).
//
// Once anything has failed the producer sends nothing again and fails each
// record with ErrWithheld: the processor fails, and the one built after it
// starts from what did arrive.
//
// A held record waits for one round trip of the other kind more than it
// would alone; the callbacks themselves never wait.

// Order is which of a callback's records a processor lets reach Kafka
// first: its state writes or its outputs.
type Order int

const (
	// OutputsFirst sends a state write once the outputs before it are in.
	OutputsFirst Order = iota
	// StateFirst sends an output once the state writes before it are in.
	StateFirst
)

// ErrWithheld fails a record that was not sent because a send before it
// failed.
var ErrWithheld = errors.New("gokaopts: record withheld after an earlier send failed")

// closeWait bounds how long Close waits for outstanding records before it
// fails the records still held.
const closeWait = 30 * time.Second

// barrierProducerBuilder wraps b in a barrierProducer keeping order.
func barrierProducerBuilder(b goka.ProducerBuilder, order Order, log *slog.Logger) goka.ProducerBuilder {
	return func(brokers []string, clientID string, hasher func() hash.Hash32) (goka.Producer, error) {
		p, err := b(brokers, clientID, hasher)
		if err != nil {
			return nil, err
		}
		bp := newBarrierProducer(p, order)
		bp.log = log
		return bp, nil
	}
}

// heldTooLong is how long a record may wait for those of the other kind
// before it before the wait is logged, naming the oldest of them.
const heldTooLong = 5 * time.Second

// isChangelog reports whether topic is a goka group table.
func isChangelog(topic string) bool {
	return strings.HasSuffix(topic, string(goka.GroupTable("")))
}

type heldRecord struct {
	// need: every record of the other kind numbered below it must be
	// acknowledged first.
	need    uint64
	topic   string
	key     string
	value   []byte
	headers goka.Headers
	finish  goka.PromiseFinisher
}

type barrierProducer struct {
	inner goka.Producer
	order Order
	log   *slog.Logger
	wake  chan struct{} // a buffered poke for the sender
	// closing is closed by Close; the sender then exits once nothing is
	// held.
	closing chan struct{}
	sent    chan struct{} // closed when the sender has exited

	mu struct {
		sync.Mutex
		// Records of the kind sent at once are numbered:
		next  uint64          // number of the next one
		acked uint64          // every one numbered below is acknowledged
		done  map[uint64]bool // those at or past acked that are acknowledged
		// outstanding names those not yet acknowledged, for the log of
		// a long wait.
		outstanding map[uint64]string
		since       time.Time // when the first held record was queued
		// failed is the first failure of any send; nil while none.
		failed error
		held   []heldRecord // records of the kind held, in the order handed over
	}
}

func newBarrierProducer(inner goka.Producer, order Order) *barrierProducer {
	p := &barrierProducer{inner: inner, order: order, wake: make(chan struct{}, 1), closing: make(chan struct{}),
		sent: make(chan struct{})}
	p.mu.done = map[uint64]bool{}
	p.mu.outstanding = map[uint64]string{}
	p.log = slog.Default()
	go p.send()
	return p
}

func (p *barrierProducer) Emit(topic, key string, value []byte) *goka.Promise {
	return p.EmitWithHeaders(topic, key, value, nil)
}

func (p *barrierProducer) EmitWithHeaders(topic, key string, value []byte, headers goka.Headers) *goka.Promise {
	if p.holds(topic) {
		return p.hold(topic, key, value, headers)
	}
	p.mu.Lock()
	if err := p.mu.failed; err != nil {
		// Its input will be decided again after the processor fails;
		// sending it now could land it ahead of the one that failed.
		p.mu.Unlock()
		_, finish := goka.NewPromiseWithFinisher()
		return finish(nil, fmt.Errorf("%w: %w", ErrWithheld, err))
	}
	n := p.mu.next
	p.mu.next++
	p.mu.outstanding[n] = topic + "/" + key
	p.mu.Unlock()
	// Then may run at once, in this goroutine, on a promise that is
	// already finished: no lock is held here.
	return p.inner.EmitWithHeaders(topic, key, value, headers).Then(func(err error) { p.acknowledged(n, err) })
}

// holds reports whether a record for topic waits for those of the other
// kind before it.
func (p *barrierProducer) holds(topic string) bool {
	return isChangelog(topic) == (p.order == OutputsFirst)
}

// hold queues a record behind those of the other kind handed over so far.
// Every record of its kind goes through the queue, even with nothing to
// wait for, so that the sender keeps their order.
func (p *barrierProducer) hold(topic, key string, value []byte, headers goka.Headers) *goka.Promise {
	promise, finish := goka.NewPromiseWithFinisher()
	p.mu.Lock()
	if err := p.mu.failed; err != nil {
		p.mu.Unlock()
		return finish(nil, fmt.Errorf("%w: %w", ErrWithheld, err))
	}
	if len(p.mu.held) == 0 {
		p.mu.since = time.Now()
	}
	p.mu.held = append(p.mu.held, heldRecord{need: p.mu.next, topic: topic, key: key, value: value,
		headers: headers, finish: finish})
	p.mu.Unlock()
	p.poke()
	return promise
}

func (p *barrierProducer) acknowledged(n uint64, err error) {
	p.mu.Lock()
	if err != nil && p.mu.failed == nil {
		p.mu.failed = err
	}
	p.mu.done[n] = true
	delete(p.mu.outstanding, n)
	for p.mu.done[p.mu.acked] {
		delete(p.mu.done, p.mu.acked)
		p.mu.acked++
	}
	p.mu.Unlock()
	p.poke()
}

func (p *barrierProducer) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// send is the one goroutine that hands held records to the inner producer,
// in order, each once the records of the other kind before it are
// acknowledged.
func (p *barrierProducer) send() {
	defer close(p.sent)
	check := time.NewTicker(heldTooLong)
	defer check.Stop()
	for {
		for p.release() {
		}
		select {
		case <-check.C:
			p.logLongWait()
		case <-p.wake:
		case <-p.closing:
			p.mu.Lock()
			idle := len(p.mu.held) == 0
			p.mu.Unlock()
			if idle {
				return
			}
			// Still held: wait for the acknowledgements that free them.
			select {
			case <-p.wake:
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
}

// logLongWait logs a record that has waited heldTooLong for those of the
// other kind before it, naming the oldest of them.
func (p *barrierProducer) logLongWait() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.mu.held) == 0 || time.Since(p.mu.since) < heldTooLong {
		return
	}
	held, ahead := "state writes", "output"
	if p.order == StateFirst {
		held, ahead = "outputs", "state write"
	}
	p.log.Warn(held+" held back: a "+ahead+" before them is not acknowledged yet",
		"held", len(p.mu.held), "waiting", time.Since(p.mu.since).Round(time.Millisecond),
		"oldest", p.mu.outstanding[p.mu.acked], "pending", len(p.mu.outstanding))
}

// release sends or fails the first held record if it can, and reports
// whether it did.
func (p *barrierProducer) release() bool {
	p.mu.Lock()
	if len(p.mu.held) == 0 {
		p.mu.Unlock()
		return false
	}
	h := p.mu.held[0]
	failed := p.mu.failed
	if failed == nil && h.need > p.mu.acked {
		p.mu.Unlock()
		return false
	}
	p.mu.held[0] = heldRecord{}
	p.mu.held = p.mu.held[1:]
	p.mu.since = time.Now()
	p.mu.Unlock()
	if failed != nil {
		h.finish(nil, fmt.Errorf("%w: %w", ErrWithheld, failed))
		return true
	}
	p.inner.EmitWithHeaders(h.topic, h.key, h.value, h.headers).ThenWithMessage(
		func(msg *sarama.ProducerMessage, err error) {
			if err != nil {
				p.mu.Lock()
				if p.mu.failed == nil {
					p.mu.failed = err
				}
				p.mu.Unlock()
			}
			h.finish(msg, err)
		})
	return true
}

// Close sends what is held once the records before it are acknowledged
// (failing it after closeWait), then closes the inner producer, which
// waits for the acknowledgements of everything sent.
func (p *barrierProducer) Close() error {
	close(p.closing)
	select {
	case <-p.sent:
	case <-time.After(closeWait):
		p.mu.Lock()
		if p.mu.failed == nil {
			p.mu.failed = errors.New("gokaopts: producer closed before the records ahead were acknowledged")
		}
		p.mu.Unlock()
		p.poke()
		<-p.sent
	}
	return p.inner.Close()
}
