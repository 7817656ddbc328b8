package gokaopts

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
)

// fakeProducer records what is sent and lets the test acknowledge or fail
// each send when it likes.
type fakeProducer struct {
	mu     sync.Mutex
	sent   []string // topic/key in the order sent
	finish map[string]goka.PromiseFinisher
}

func newFakeProducer() *fakeProducer {
	return &fakeProducer{finish: map[string]goka.PromiseFinisher{}}
}

func (f *fakeProducer) Emit(topic, key string, value []byte) *goka.Promise {
	return f.EmitWithHeaders(topic, key, value, nil)
}

func (f *fakeProducer) EmitWithHeaders(topic, key string, _ []byte, _ goka.Headers) *goka.Promise {
	p, finish := goka.NewPromiseWithFinisher()
	f.mu.Lock()
	f.sent = append(f.sent, topic+"/"+key)
	f.finish[topic+"/"+key] = finish
	f.mu.Unlock()
	return p
}

func (f *fakeProducer) Close() error { return nil }

func (f *fakeProducer) ack(t *testing.T, name string, err error) {
	t.Helper()
	f.mu.Lock()
	finish, ok := f.finish[name]
	f.mu.Unlock()
	if !ok {
		t.Fatalf("%s was never sent", name)
	}
	finish(&sarama.ProducerMessage{Offset: 7}, err)
}

func (f *fakeProducer) sentNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.sent...)
}

// eventually polls cond for a second: the barrier's sender runs on its own
// goroutine.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("never: %s", what)
}

func contains(names []string, name string) bool { return slices.Contains(names, name) }

func TestBarrierHoldsChangelogUntilOutputsAcknowledged(t *testing.T) {
	f := newFakeProducer()
	p := newBarrierProducer(f, OutputsFirst)
	defer p.Close()

	p.Emit("events", "a", nil)
	p.Emit("loop", "b", nil)
	var got error = errors.New("not finished")
	var offset int64
	p.Emit("g-table", "k", nil).ThenWithMessage(func(m *sarama.ProducerMessage, err error) {
		got = err
		if m != nil {
			offset = m.Offset
		}
	})
	// An output handed over after the state write does not hold it back.
	p.Emit("events", "c", nil)

	time.Sleep(20 * time.Millisecond)
	if contains(f.sentNames(), "g-table/k") {
		t.Fatal("changelog record sent before the outputs before it were acknowledged")
	}
	f.ack(t, "loop/b", nil)
	time.Sleep(20 * time.Millisecond)
	if contains(f.sentNames(), "g-table/k") {
		t.Fatal("changelog record sent with one output before it unacknowledged")
	}
	f.ack(t, "events/a", nil)
	eventually(t, "changelog record sent", func() bool { return contains(f.sentNames(), "g-table/k") })
	f.ack(t, "g-table/k", nil)
	if got != nil || offset != 7 {
		t.Fatalf("changelog promise: err %v offset %d, want nil and the inner message's offset 7", got, offset)
	}
}

func TestBarrierWithholdsChangelogAfterAFailure(t *testing.T) {
	f := newFakeProducer()
	p := newBarrierProducer(f, OutputsFirst)
	defer p.Close()

	p.Emit("events", "a", nil)
	var first, second error
	done := make(chan struct{}, 2)
	p.Emit("g-table", "k1", nil).Then(func(err error) { first = err; done <- struct{}{} })
	refused := errors.New("leader gone")
	f.ack(t, "events/a", refused)
	<-done
	p.Emit("g-table", "k2", nil).Then(func(err error) { second = err; done <- struct{}{} })
	<-done
	for _, err := range []error{first, second} {
		if !errors.Is(err, ErrWithheld) || !errors.Is(err, refused) {
			t.Errorf("changelog promise failed with %v, want ErrWithheld wrapping the output's failure", err)
		}
	}
	if names := f.sentNames(); contains(names, "g-table/k1") || contains(names, "g-table/k2") {
		t.Errorf("changelog records sent after an output failed: %v", names)
	}
}

func TestBarrierKeepsChangelogOrder(t *testing.T) {
	f := newFakeProducer()
	p := newBarrierProducer(f, OutputsFirst)
	defer p.Close()

	p.Emit("g-table", "1", nil) // nothing to wait for
	p.Emit("events", "a", nil)
	p.Emit("g-table", "2", nil) // waits for a
	p.Emit("g-table", "3", nil) // waits for a, and must follow 2
	eventually(t, "first changelog record sent", func() bool { return contains(f.sentNames(), "g-table/1") })
	f.ack(t, "events/a", nil)
	eventually(t, "all sent", func() bool { return len(f.sentNames()) == 4 })
	var tables []string
	for _, n := range f.sentNames() {
		if isChangelog(n[:len(n)-2]) {
			tables = append(tables, n)
		}
	}
	if want := []string{"g-table/1", "g-table/2", "g-table/3"}; !slices.Equal(tables, want) {
		t.Fatalf("changelog records sent as %v, want %v", tables, want)
	}
}

func TestIsChangelog(t *testing.T) {
	for topic, want := range map[string]bool{
		"titan-inventory-table":        true,
		"titan-inventory-orders-table": true,
		"titan-inventory-loop":         false,
		"titan.inventory.events":       false,
	} {
		if got := isChangelog(topic); got != want {
			t.Errorf("isChangelog(%q) = %v, want %v", topic, got, want)
		}
	}
}

func TestBarrierWithholdsOutputsAfterAFailure(t *testing.T) {
	f := newFakeProducer()
	p := newBarrierProducer(f, OutputsFirst)
	defer p.Close()

	p.Emit("loop", "a", nil)
	f.ack(t, "loop/a", errors.New("leader gone"))
	var err error
	p.Emit("loop", "b", nil).Then(func(e error) { err = e })
	if !errors.Is(err, ErrWithheld) || contains(f.sentNames(), "loop/b") {
		t.Fatalf("an output after a failure: err %v, sent %v; want it withheld", err, f.sentNames())
	}
}

func TestBarrierStateFirstHoldsOutputsUntilStateAcknowledged(t *testing.T) {
	f := newFakeProducer()
	p := newBarrierProducer(f, StateFirst)
	defer p.Close()

	p.Emit("g-table", "k1", nil)
	var got error = errors.New("not finished")
	p.Emit("events", "a", nil).Then(func(err error) { got = err })
	p.Emit("g-table", "k2", nil) // a later state write goes at once
	eventually(t, "state writes sent", func() bool {
		return contains(f.sentNames(), "g-table/k1") && contains(f.sentNames(), "g-table/k2")
	})
	time.Sleep(20 * time.Millisecond)
	if contains(f.sentNames(), "events/a") {
		t.Fatal("output sent before the state write before it was acknowledged")
	}
	// k2 came after the output: acknowledging it alone frees nothing.
	f.ack(t, "g-table/k2", nil)
	time.Sleep(20 * time.Millisecond)
	if contains(f.sentNames(), "events/a") {
		t.Fatal("output sent with the state write before it unacknowledged")
	}
	f.ack(t, "g-table/k1", nil)
	eventually(t, "output sent", func() bool { return contains(f.sentNames(), "events/a") })
	f.ack(t, "events/a", nil)
	if got != nil {
		t.Fatalf("output promise: %v", got)
	}
}

func TestBarrierStateFirstWithholdsOutputsAfterAFailedStateWrite(t *testing.T) {
	f := newFakeProducer()
	p := newBarrierProducer(f, StateFirst)
	defer p.Close()

	p.Emit("g-table", "k1", nil)
	done := make(chan error, 1)
	p.Emit("events", "a", nil).Then(func(err error) { done <- err })
	refused := errors.New("leader gone")
	eventually(t, "state write sent", func() bool { return contains(f.sentNames(), "g-table/k1") })
	f.ack(t, "g-table/k1", refused)
	if err := <-done; !errors.Is(err, ErrWithheld) || !errors.Is(err, refused) {
		t.Fatalf("output promise failed with %v, want ErrWithheld wrapping the state write's failure", err)
	}
	if contains(f.sentNames(), "events/a") {
		t.Fatalf("output sent after its state write failed: %v", f.sentNames())
	}
}
