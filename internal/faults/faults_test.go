package faults_test

import (
	"errors"
	"hash"
	"sync"
	"testing"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"

	"github.com/titan-commerce/titan/internal/faults"
	"github.com/titan-commerce/titan/internal/gokaopts"
)

// The processors take an Injector through gokaopts.Config.Faults.
var _ gokaopts.Faults = (*faults.Injector)(nil)

// TestStorageFailsWritesOnDemand: while writes fail, no write reaches the
// storage and each says why; reads keep working; switched off, writes pass.
func TestStorageFailsWritesOnDemand(t *testing.T) {
	var in faults.Injector
	build := in.Storage(func(string, int32) (storage.Storage, error) { return storage.NewMemory(), nil })
	st, err := build("t", 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Open(); err != nil {
		t.Fatal(err)
	}
	if err := st.Set("k", []byte("before")); err != nil {
		t.Fatal(err)
	}

	in.FailWrites(true)
	for name, write := range map[string]func() error{
		"Set":       func() error { return st.Set("k", []byte("during")) },
		"Delete":    func() error { return st.Delete("k") },
		"SetOffset": func() error { return st.SetOffset(7) },
	} {
		if err := write(); !errors.Is(err, faults.ErrInjected) {
			t.Errorf("%s while writes fail = %v, want ErrInjected", name, err)
		}
	}
	if v, err := st.Get("k"); err != nil || string(v) != "before" {
		t.Errorf("Get while writes fail = %q, %v, want the value from before", v, err)
	}
	if off, err := st.GetOffset(-1); err != nil || off != -1 {
		t.Errorf("GetOffset after a failed SetOffset = %d, %v, want -1", off, err)
	}
	if w, s := in.Failed(); w != 3 || s != 0 {
		t.Errorf("Failed() = %d writes, %d sends, want 3, 0", w, s)
	}

	in.FailWrites(false)
	if err := st.Set("k", []byte("after")); err != nil {
		t.Fatal(err)
	}
	if v, _ := st.Get("k"); string(v) != "after" {
		t.Errorf("Get after writes heal = %q, want after", v)
	}
}

// TestProducerFailsSendsOnDemand: while sends fail, nothing reaches the
// producer and the promise has failed before Emit returns.
func TestProducerFailsSendsOnDemand(t *testing.T) {
	var in faults.Injector
	inner := &recordingProducer{}
	build := in.Producer(func([]string, string, func() hash.Hash32) (goka.Producer, error) { return inner, nil })
	p, err := build(nil, "id", nil)
	if err != nil {
		t.Fatal(err)
	}

	in.FailSends(true)
	for _, promise := range []*goka.Promise{
		p.Emit("out", "k", []byte("v")),
		p.EmitWithHeaders("out", "k", []byte("v"), goka.Headers{"h": []byte("x")}),
	} {
		var got error
		called := false
		promise.Then(func(err error) { called, got = true, err })
		if !called || !errors.Is(got, faults.ErrInjected) {
			t.Errorf("promise while sends fail: finished %t with %v, want ErrInjected at once", called, got)
		}
	}
	if n := inner.count(); n != 0 {
		t.Errorf("%d records reached the producer while sends failed", n)
	}

	in.FailSends(false)
	var got error
	p.Emit("out", "k", []byte("v")).Then(func(err error) { got = err })
	if got != nil || inner.count() != 1 {
		t.Errorf("after sends heal: error %v, %d records sent, want nil and 1", got, inner.count())
	}
	if w, s := in.Failed(); w != 0 || s != 2 {
		t.Errorf("Failed() = %d writes, %d sends, want 0, 2", w, s)
	}
}

// recordingProducer counts what it is given and acknowledges it at once.
type recordingProducer struct {
	mu   sync.Mutex
	sent int
}

func (r *recordingProducer) Emit(topic, key string, value []byte) *goka.Promise {
	return r.EmitWithHeaders(topic, key, value, nil)
}

func (r *recordingProducer) EmitWithHeaders(topic, _ string, _ []byte, _ goka.Headers) *goka.Promise {
	r.mu.Lock()
	r.sent++
	r.mu.Unlock()
	p, finish := goka.NewPromiseWithFinisher()
	finish(&sarama.ProducerMessage{Topic: topic}, nil)
	return p
}

func (r *recordingProducer) Close() error { return nil }

func (r *recordingProducer) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sent
}

// TestProducerFailsSendsToOneTopic: FailSendsTo fails the sends to its
// topic only, until switched off.
func TestProducerFailsSendsToOneTopic(t *testing.T) {
	var in faults.Injector
	inner := &recordingProducer{}
	build := in.Producer(func([]string, string, func() hash.Hash32) (goka.Producer, error) { return inner, nil })
	p, err := build(nil, "id", nil)
	if err != nil {
		t.Fatal(err)
	}
	emit := func(topic string) error {
		var got error
		p.Emit(topic, "k", []byte("v")).Then(func(err error) { got = err })
		return got
	}
	in.FailSendsTo("dead-letters")
	if err := emit("dead-letters"); !errors.Is(err, faults.ErrInjected) {
		t.Errorf("send to the failing topic: %v, want ErrInjected", err)
	}
	if err := emit("events"); err != nil {
		t.Errorf("send to another topic: %v, want it sent", err)
	}
	in.FailSendsTo("")
	if err := emit("dead-letters"); err != nil {
		t.Errorf("send after switching off: %v", err)
	}
	if n := inner.count(); n != 2 {
		t.Errorf("%d records reached the producer, want 2", n)
	}
}
