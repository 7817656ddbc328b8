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

// A goka callback hands its outputs to the producer before its state write
// (see topologies/inventory and topologies/flashsale), and after a failure
// the processor rebuilds its tables from their changelogs and decides again
// whatever input it had not committed. That is exactly once only if a state
// write in a changelog implies that every output before it is in Kafka too:
// a processor that finds its state already moved by an input decides that
// the input's outputs are out, and sends nothing again.
//
// On one broker the connection's order gives that for free. On a cluster
// the changelog's partition and an output's partition have different
// leaders: when a broker dies, the output to it fails while the state write
// to a live one succeeds, and the output is lost for good. barrierProducer
// restores the order: a record for a changelog (a topic named like goka's
// group tables) is sent only once every output handed over before it has
// been acknowledged. Once anything has failed it sends nothing again and
// fails each record with ErrWithheld: the processor fails, and the one
// built after it finds the changelog without those writes, so it decides
// their inputs again and sends their outputs (copies of those that did
// arrive, which the receivers recognise) again.
//
// A changelog record waits for one output round trip more than it would
// alone; the callbacks themselves never wait.

// ErrWithheld fails a record that was not sent because a send before it
// failed.
var ErrWithheld = errors.New("gokaopts: record withheld after an earlier send failed")

// closeWait bounds how long Close waits for outstanding outputs before it
// fails the changelog records still held.
const closeWait = 30 * time.Second

// barrierProducerBuilder wraps b in a barrierProducer.
func barrierProducerBuilder(b goka.ProducerBuilder, log *slog.Logger) goka.ProducerBuilder {
	return func(brokers []string, clientID string, hasher func() hash.Hash32) (goka.Producer, error) {
		p, err := b(brokers, clientID, hasher)
		if err != nil {
			return nil, err
		}
		bp := newBarrierProducer(p)
		bp.log = log
		return bp, nil
	}
}

// heldTooLong is how long a changelog record may wait for the outputs
// before it before the wait is logged, naming the oldest of them.
const heldTooLong = 5 * time.Second

// isChangelog reports whether topic is a goka group table.
func isChangelog(topic string) bool {
	return strings.HasSuffix(topic, string(goka.GroupTable("")))
}

type heldRecord struct {
	// need: every output numbered below it must be acknowledged first.
	need    uint64
	topic   string
	key     string
	value   []byte
	headers goka.Headers
	finish  goka.PromiseFinisher
}

type barrierProducer struct {
	inner goka.Producer
	log   *slog.Logger
	wake  chan struct{} // a buffered poke for the sender
	// closing is closed by Close; the sender then exits once nothing is
	// held.
	closing chan struct{}
	sent    chan struct{} // closed when the sender has exited

	mu struct {
		sync.Mutex
		next  uint64          // number of the next output
		acked uint64          // every output numbered below is acknowledged
		done  map[uint64]bool // outputs at or past acked that are acknowledged
		// outstanding names the outputs not yet acknowledged, for the
		// log of a long wait.
		outstanding map[uint64]string
		since       time.Time // when the first held record was queued
		// failed is the first failure of any send; nil while none.
		failed error
		held   []heldRecord // changelog records in the order handed over
	}
}

func newBarrierProducer(inner goka.Producer) *barrierProducer {
	p := &barrierProducer{inner: inner, wake: make(chan struct{}, 1), closing: make(chan struct{}),
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
	if isChangelog(topic) {
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

// hold queues a changelog record behind the outputs handed over so far.
// Every changelog record goes through the queue, even with nothing to wait
// for, so that the sender keeps their order.
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

// send is the one goroutine that hands changelog records to the inner
// producer, in order, each once the outputs before it are acknowledged.
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

// logLongWait logs a changelog record that has waited heldTooLong for the
// outputs before it, naming the oldest of them.
func (p *barrierProducer) logLongWait() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.mu.held) == 0 || time.Since(p.mu.since) < heldTooLong {
		return
	}
	p.log.Warn("state writes held back: an output before them is not acknowledged yet",
		"held", len(p.mu.held), "waiting", time.Since(p.mu.since).Round(time.Millisecond),
		"oldest_output", p.mu.outstanding[p.mu.acked], "outputs_pending", len(p.mu.outstanding))
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

// Close sends what is held once the outputs before it are acknowledged
// (failing it after closeWait), then closes the inner producer, which
// waits for the acknowledgements of everything sent.
func (p *barrierProducer) Close() error {
	close(p.closing)
	select {
	case <-p.sent:
	case <-time.After(closeWait):
		p.mu.Lock()
		if p.mu.failed == nil {
			p.mu.failed = errors.New("gokaopts: producer closed before the outputs were acknowledged")
		}
		p.mu.Unlock()
		p.poke()
		<-p.sent
	}
	return p.inner.Close()
}
