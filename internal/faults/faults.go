// Package faults makes a goka processor's infrastructure fail on demand:
// state writes that fail, as on a broken or full disk, and sends that fail,
// as when the brokers refuse or lose a produce request. Tests switch them
// on and off to check that such a failure stops the processor instead of
// turning its input into a dead letter, and that Titan recovers by itself
// once the failure has passed. Nothing in production builds an Injector.
//
// An Injector wraps the two builders goka takes (storage.Builder and
// goka.ProducerBuilder), so every processor built with the wrapped
// builders, and every processor rebuilt after a failure, shares its
// switches; gokaopts.Config.Faults is where Titan's processors take them.
package faults

import (
	"errors"
	"fmt"
	"hash"
	"sync/atomic"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
)

// ErrInjected is wrapped by every failure an Injector makes.
var ErrInjected = errors.New("faults: injected failure")

// Injector holds the switches. The zero value injects nothing; all methods
// are safe for concurrent use, as goka writes and sends from one goroutine
// per partition and acknowledges on others.
type Injector struct {
	writes, sends             atomic.Bool
	failedWrites, failedSends atomic.Int64
	// sendsTo names the one topic whose sends fail, nil for none.
	sendsTo atomic.Pointer[string]
}

// FailWrites switches failing state writes on or off.
func (in *Injector) FailWrites(on bool) { in.writes.Store(on) }

// FailSends switches failing sends on or off.
func (in *Injector) FailSends(on bool) { in.sends.Store(on) }

// FailSendsTo makes sends to topic alone fail, as when one topic cannot be
// written to (deleted, its partitions offline, refused by an ACL); an empty
// topic switches it off.
func (in *Injector) FailSendsTo(topic string) {
	if topic == "" {
		in.sendsTo.Store(nil)
		return
	}
	in.sendsTo.Store(&topic)
}

// Failed counts the writes and sends that failed so far, so a test can tell
// that a fault it switched on was hit.
func (in *Injector) Failed() (writes, sends int64) {
	return in.failedWrites.Load(), in.failedSends.Load()
}

// Storage wraps b: while writes fail, Set, Delete and SetOffset of every
// storage it builds change nothing and return an error wrapping
// ErrInjected. Reads, Open, Close and MarkRecovered pass through: the
// failure is the disk refusing writes, not the storage going away.
func (in *Injector) Storage(b storage.Builder) storage.Builder {
	return func(topic string, partition int32) (storage.Storage, error) {
		st, err := b(topic, partition)
		if err != nil {
			return nil, err
		}
		return &faultyStorage{Storage: st, in: in, topic: topic, partition: partition}, nil
	}
}

// Producer wraps b: while sends fail, Emit and EmitWithHeaders send
// nothing and return a promise that has already failed with an error
// wrapping ErrInjected, which is how goka learns that Kafka refused a
// record. Records sent before the switch was turned on are unaffected.
func (in *Injector) Producer(b goka.ProducerBuilder) goka.ProducerBuilder {
	return func(brokers []string, clientID string, hasher func() hash.Hash32) (goka.Producer, error) {
		p, err := b(brokers, clientID, hasher)
		if err != nil {
			return nil, err
		}
		return &faultyProducer{Producer: p, in: in}, nil
	}
}

type faultyStorage struct {
	storage.Storage
	in        *Injector
	topic     string
	partition int32
}

func (s *faultyStorage) refuse(op string) error {
	if !s.in.writes.Load() {
		return nil
	}
	s.in.failedWrites.Add(1)
	return fmt.Errorf("faults: state %s %s/%d: %w", op, s.topic, s.partition, ErrInjected)
}

func (s *faultyStorage) Set(key string, value []byte) error {
	if err := s.refuse("set"); err != nil {
		return err
	}
	return s.Storage.Set(key, value)
}

func (s *faultyStorage) Delete(key string) error {
	if err := s.refuse("delete"); err != nil {
		return err
	}
	return s.Storage.Delete(key)
}

func (s *faultyStorage) SetOffset(offset int64) error {
	if err := s.refuse("set offset"); err != nil {
		return err
	}
	return s.Storage.SetOffset(offset)
}

type faultyProducer struct {
	goka.Producer
	in *Injector
}

func (p *faultyProducer) Emit(topic, key string, value []byte) *goka.Promise {
	if promise, refused := p.refuse(topic); refused {
		return promise
	}
	return p.Producer.Emit(topic, key, value)
}

func (p *faultyProducer) EmitWithHeaders(topic, key string, value []byte, headers goka.Headers) *goka.Promise {
	if promise, refused := p.refuse(topic); refused {
		return promise
	}
	return p.Producer.EmitWithHeaders(topic, key, value, headers)
}

// refuse returns a failed promise while sends fail. It fails at once, in
// the caller's goroutine: goka handles a promise whichever goroutine
// finishes it, and a test then knows the failure happened before the
// callback returned.
func (p *faultyProducer) refuse(topic string) (*goka.Promise, bool) {
	if to := p.in.sendsTo.Load(); !p.in.sends.Load() && (to == nil || *to != topic) {
		return nil, false
	}
	p.in.failedSends.Add(1)
	promise, finish := goka.NewPromiseWithFinisher()
	finish(nil, fmt.Errorf("faults: send to %s: %w", topic, ErrInjected))
	return promise, true
}
