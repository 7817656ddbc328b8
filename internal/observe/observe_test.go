package observe

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lovoo/goka"

	"github.com/titan-commerce/titan/internal/partition"
)

// fakeContext records what the decorator does with a goka.Context; the
// methods it never calls panic through the nil embedded interface.
type fakeContext struct {
	gokaContext
	emitted map[goka.Stream][]any
	failed  error
}

func (c *fakeContext) Topic() goka.Stream   { return "in" }
func (c *fakeContext) Key() string          { return "k" }
func (c *fakeContext) Partition() int32     { return 3 }
func (c *fakeContext) Offset() int64        { return 42 }
func (c *fakeContext) Timestamp() time.Time { return time.UnixMilli(1) }
func (c *fakeContext) Fail(err error)       { c.failed = err }
func (c *fakeContext) Emit(topic goka.Stream, key string, value any, _ ...goka.ContextOption) {
	if c.emitted == nil {
		c.emitted = map[goka.Stream][]any{}
	}
	c.emitted[topic] = append(c.emitted[topic], value)
}

type recordingHooks struct {
	mu      sync.Mutex
	reasons []string
}

func (h *recordingHooks) OnProcessed(_ string, _ int32, _ time.Duration, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reasons = append(h.reasons, reason)
}

func TestWrap(t *testing.T) {
	tests := []struct {
		name       string
		fn         Callback
		wantDLQ    string // reason in the dead letter, "" for none
		wantFailed bool
	}{
		{"processed", func(goka.Context, any) error { return nil }, "", false},
		{"rejected", func(goka.Context, any) error { return Reject("invalid_qty", errors.New("qty 0")) }, "invalid_qty", false},
		{"wrapped rejection", func(goka.Context, any) error {
			return errors.Join(errors.New("context"), Reject("decode", errors.New("bad bytes")))
		}, "decode", false},
		{"panic", func(goka.Context, any) error { panic("boom") }, "panic", false},
		{"infrastructure error", func(goka.Context, any) error { return errors.New("disk gone") }, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := &fakeContext{}
			hooks := &recordingHooks{}
			Decorator{Topology: "topo", DeadLetters: "dlq", Hooks: hooks}.Wrap(tt.fn)(ctx, []byte("raw"))

			if (ctx.failed != nil) != tt.wantFailed {
				t.Fatalf("failed = %v, want failed %v", ctx.failed, tt.wantFailed)
			}
			dl := ctx.emitted["dlq"]
			if tt.wantDLQ == "" {
				if len(dl) != 0 {
					t.Fatalf("unexpected dead letter %s", dl[0])
				}
			} else {
				if len(dl) != 1 {
					t.Fatalf("%d dead letters, want 1", len(dl))
				}
				var d DeadLetter
				if err := json.Unmarshal(dl[0].([]byte), &d); err != nil {
					t.Fatal(err)
				}
				want := DeadLetter{Topology: "topo", Topic: "in", Partition: 3, Offset: 42, Key: "k", Value: []byte("raw"), Reason: tt.wantDLQ}
				d.Error, d.Time = "", time.Time{}
				if string(d.Value) != string(want.Value) || d.Reason != want.Reason || d.Offset != want.Offset ||
					d.Partition != want.Partition || d.Key != want.Key || d.Topic != want.Topic || d.Topology != want.Topology {
					t.Fatalf("dead letter %+v, want %+v", d, want)
				}
			}
			wantReason := tt.wantDLQ
			if tt.wantFailed {
				wantReason = "error"
			}
			if len(hooks.reasons) != 1 || hooks.reasons[0] != wantReason {
				t.Fatalf("hooks saw %q, want %q", hooks.reasons, wantReason)
			}
		})
	}
}

// keyed is a fakeContext with a key and partition of the test's choosing.
type keyed struct {
	fakeContext
	key       string
	partition int32
}

func (c *keyed) Key() string      { return c.key }
func (c *keyed) Partition() int32 { return c.partition }

// A record whose key hashes elsewhere is set aside before the callback sees
// it, with the partition it belongs to.
func TestWrongPartition(t *testing.T) {
	const n = 8
	belongs := partition.Partition([]byte("sku-42"), n)
	called := 0
	fn := func(goka.Context, any) error { called++; return nil }
	d := Decorator{Topology: "topo", DeadLetters: "dlq", Partitions: n}

	right := &keyed{key: "sku-42", partition: belongs}
	d.Wrap(fn)(right, []byte("raw"))
	if called != 1 || len(right.emitted) != 0 {
		t.Fatalf("a record in its own partition: called %d, emitted %v", called, right.emitted)
	}

	wrong := &keyed{key: "sku-42", partition: (belongs + 3) % n}
	d.Wrap(fn)(wrong, []byte("raw"))
	if called != 1 {
		t.Fatal("the callback saw a record in the wrong partition")
	}
	dl := wrong.emitted["dlq"]
	if len(dl) != 1 {
		t.Fatalf("%d dead letters", len(dl))
	}
	var got DeadLetter
	if err := json.Unmarshal(dl[0].([]byte), &got); err != nil {
		t.Fatal(err)
	}
	if got.Reason != ReasonWrongPartition || got.BelongsTo == nil || *got.BelongsTo != belongs || got.Partition != wrong.partition {
		t.Fatalf("dead letter %+v", got)
	}
}

// failing is a fakeContext whose state and emits fail the way goka's do:
// by panicking through Fail.
type failing struct{ fakeContext }

func (c *failing) Value() any                          { c.Fail(errors.New("storage: read failed")); return nil }
func (c *failing) SetValue(any, ...goka.ContextOption) { c.Fail(errors.New("storage: write failed")) }
func (c *failing) Fail(err error)                      { c.failed = err; panic(err) }
func (c *failing) Emit(goka.Stream, string, any, ...goka.ContextOption) {
	c.Fail(errors.New("no such output"))
}

// goka's own failures stop the processor: the decorator raises them again
// instead of writing a dead letter, whatever the callback does around them.
func TestGokaFailureIsNotADeadLetter(t *testing.T) {
	for name, fn := range map[string]Callback{
		"read":  func(ctx goka.Context, _ any) error { _ = ctx.Value(); return nil },
		"write": func(ctx goka.Context, _ any) error { ctx.SetValue(1); return nil },
		"emit":  func(ctx goka.Context, _ any) error { ctx.Emit("out", "k", 1); return nil },
		"write, then the callback's own panic": func(ctx goka.Context, _ any) (err error) {
			defer func() {
				if recover() != nil {
					panic("the callback's clean-up failed too")
				}
			}()
			ctx.SetValue(1)
			return nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := &failing{}
			hooks := &recordingHooks{}
			defer func() {
				if recover() == nil {
					t.Fatal("goka's failure was recovered")
				}
				if len(ctx.emitted["dlq"]) != 0 || ctx.failed == nil || len(hooks.reasons) != 0 {
					t.Fatalf("dead letters %v, failed %v, hooks %v", ctx.emitted["dlq"], ctx.failed, hooks.reasons)
				}
			}()
			Decorator{Topology: "topo", DeadLetters: "dlq", Hooks: hooks}.Wrap(fn)(ctx, []byte("raw"))
		})
	}
}
