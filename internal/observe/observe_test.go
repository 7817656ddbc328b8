package observe

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lovoo/goka"
)

// gokaContext renames goka.Context for embedding: its method Context would
// clash with the field name.
type gokaContext interface{ goka.Context }

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
			Wrap("topo", "dlq", hooks, nil, tt.fn)(ctx, []byte("raw"))

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
