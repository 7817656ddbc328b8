package gokaopts

import (
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// fakePartition is a sarama partition consumer whose channels the test
// feeds; AsyncClose closes them, as sarama's does once drained.
type fakePartition struct {
	sarama.PartitionConsumer
	messages chan *sarama.ConsumerMessage
	errors   chan *sarama.ConsumerError
	once     sync.Once
}

func newFakePartition() *fakePartition {
	return &fakePartition{messages: make(chan *sarama.ConsumerMessage), errors: make(chan *sarama.ConsumerError)}
}

func (f *fakePartition) Messages() <-chan *sarama.ConsumerMessage { return f.messages }
func (f *fakePartition) Errors() <-chan *sarama.ConsumerError     { return f.errors }
func (f *fakePartition) AsyncClose()                              { f.once.Do(f.end) }
func (f *fakePartition) end()                                     { close(f.messages); close(f.errors) }

func riding(inner sarama.PartitionConsumer) *ridingPartition {
	r := &ridingPartition{PartitionConsumer: inner, messages: make(chan *sarama.ConsumerMessage),
		errors: make(chan *sarama.ConsumerError, 1), closing: make(chan struct{}),
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go r.run()
	return r
}

func nextMessage(t *testing.T, r *ridingPartition) *sarama.ConsumerMessage {
	t.Helper()
	select {
	case m := <-r.Messages():
		return m
	case e := <-r.Errors():
		t.Fatalf("error %v, want a message", e)
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
	}
	return nil
}

// TestALookupRidesThroughALeadersDeath: the error sarama reports when it
// moves to a partition's next leader does not reach goka, and the
// messages after it do; a close ends both channels with nothing to drain.
func TestALookupRidesThroughALeadersDeath(t *testing.T) {
	inner := newFakePartition()
	r := riding(inner)
	inner.messages <- &sarama.ConsumerMessage{Offset: 1}
	if m := nextMessage(t, r); m.Offset != 1 {
		t.Fatalf("offset %d, want 1", m.Offset)
	}
	inner.errors <- &sarama.ConsumerError{Topic: "t", Partition: 0, Err: io.EOF}
	go func() { inner.messages <- &sarama.ConsumerMessage{Offset: 2} }()
	if m := nextMessage(t, r); m.Offset != 2 {
		t.Fatalf("offset %d, want 2", m.Offset)
	}
	r.AsyncClose()
	for e := range r.Errors() {
		t.Errorf("drained error %v after a close", e)
	}
	for m := range r.Messages() {
		t.Errorf("drained message %v after a close", m)
	}
}

// TestALookupGivenUpReportsWhy: when sarama gives a partition up (it ends
// the consumer after an error), goka reads that error, and its close ends
// the messages.
func TestALookupGivenUpReportsWhy(t *testing.T) {
	inner := newFakePartition()
	r := riding(inner)
	gone := errors.New("offset out of range")
	inner.errors <- &sarama.ConsumerError{Topic: "t", Partition: 0, Err: gone}
	inner.AsyncClose()
	select {
	case e := <-r.Errors():
		if e == nil || !errors.Is(e.Err, gone) {
			t.Fatalf("error %v, want %v", e, gone)
		}
	case <-r.Messages():
		t.Fatal("the messages ended before the error was read")
	case <-time.After(5 * time.Second):
		t.Fatal("no error")
	}
	r.AsyncClose()
	if err := r.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}
