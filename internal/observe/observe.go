// Package observe wraps every processor callback in the same decorator: it
// times the callback, counts it as processed or failed, turns a rejected
// record into a dead letter with its reason, and keeps one bad record from
// stopping its partition. Topologies hand it their pure-logic adapters;
// metrics reach Prometheus through the Hooks interface, so the core never
// imports a metrics library.
package observe

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lovoo/goka"
)

// Hooks receive what every callback did. Implementations must be safe for
// concurrent use: partitions run on their own goroutines.
type Hooks interface {
	// OnProcessed is called once per record with the time it took and the
	// dead-letter reason, empty when the record was processed.
	OnProcessed(topology string, partition int32, took time.Duration, reason string)
}

// NopHooks discards everything.
type NopHooks struct{}

func (NopHooks) OnProcessed(string, int32, time.Duration, string) {}

// Rejected is the error a callback returns for a record it cannot process
// and that must be set aside, never retried: undecodable bytes, a command
// that fails validation, a key that does not match its value.
type Rejected struct {
	// Reason is a short stable code, e.g. "decode" or "invalid_qty".
	Reason string
	Err    error
}

func (r *Rejected) Error() string { return fmt.Sprintf("rejected (%s): %v", r.Reason, r.Err) }
func (r *Rejected) Unwrap() error { return r.Err }

// Reject builds a Rejected.
func Reject(reason string, err error) error { return &Rejected{Reason: reason, Err: err} }

// DeadLetter is the JSON value written to a dead-letter topic. The record is
// kept whole, so it can be fixed and sent again.
type DeadLetter struct {
	Topology  string    `json:"topology"`
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Key       string    `json:"key"`
	Value     []byte    `json:"value"`
	Reason    string    `json:"reason"`
	Error     string    `json:"error"`
	Time      time.Time `json:"time"`
}

// Callback is a topology's adapter from a goka record to its pure logic.
type Callback func(ctx goka.Context, msg any) error

// Wrap decorates fn. Records fn rejects, or that make it panic, go to dlq
// (an Output edge of the group with a bytes codec) and processing goes on;
// any other error fails the processor, as an infrastructure error must.
func Wrap(topology string, dlq goka.Stream, hooks Hooks, log *slog.Logger, fn Callback) goka.ProcessCallback {
	if hooks == nil {
		hooks = NopHooks{}
	}
	if log == nil {
		log = slog.Default()
	}
	return func(ctx goka.Context, msg any) {
		start := time.Now()
		err := call(fn, ctx, msg)
		reason := ""
		if err != nil {
			var rej *Rejected
			if !errors.As(err, &rej) {
				hooks.OnProcessed(topology, ctx.Partition(), time.Since(start), "error")
				ctx.Fail(err)
				return
			}
			reason = rej.Reason
			log.Warn("dead letter", "topology", topology, "topic", string(ctx.Topic()),
				"partition", ctx.Partition(), "offset", ctx.Offset(), "key", ctx.Key(),
				"reason", rej.Reason, "err", rej.Err)
			ctx.Emit(dlq, ctx.Key(), encode(topology, ctx, msg, rej))
		}
		hooks.OnProcessed(topology, ctx.Partition(), time.Since(start), reason)
	}
}

// call runs fn and turns a panic into a rejection: one poisonous record
// must not take its whole partition down with it.
func call(fn Callback, ctx goka.Context, msg any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Reject("panic", fmt.Errorf("%v", r))
		}
	}()
	return fn(ctx, msg)
}

func encode(topology string, ctx goka.Context, msg any, rej *Rejected) []byte {
	value, _ := msg.([]byte)
	b, err := json.Marshal(DeadLetter{
		Topology:  topology,
		Topic:     string(ctx.Topic()),
		Partition: ctx.Partition(),
		Offset:    ctx.Offset(),
		Key:       ctx.Key(),
		Value:     value,
		Reason:    rej.Reason,
		Error:     rej.Err.Error(),
		Time:      ctx.Timestamp(),
	})
	if err != nil {
		// Only a broken json package gets here; keep the reason at least.
		return []byte(fmt.Sprintf(`{"reason":%q}`, rej.Reason))
	}
	return b
}
