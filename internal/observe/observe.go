// Package observe wraps every processor callback in the same decorator: it
// refuses a record that sits in a partition its key does not hash to, times
// the callback, counts it as processed or failed, turns a rejected record
// into a dead letter with its reason, and keeps one bad record from stopping
// its partition, while letting goka's own failures stop the processor.
// Topologies hand it their pure-logic adapters; metrics reach Prometheus
// through the Hooks interface, so the core never imports a metrics library.
package observe

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lovoo/goka"

	"github.com/titan-commerce/titan/deadletter"
	"github.com/titan-commerce/titan/internal/partition"
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

// ReasonWrongPartition is the reason of a record whose key hashes to another
// partition than the one it arrived in.
const ReasonWrongPartition = "wrong_partition"

// DeadLetter is the value written to a dead-letter topic, the public type
// of package deadletter, where its JSON form is documented.
type DeadLetter = deadletter.DeadLetter

// Callback is a topology's adapter from a goka record to its pure logic.
type Callback func(ctx goka.Context, msg any) error

// Decorator is what one group's callbacks share.
type Decorator struct {
	// Topology names the group in metrics, logs and dead letters.
	Topology string
	// DeadLetters is an Output edge of the group with a bytes codec.
	DeadLetters goka.Stream
	// Partitions is the partition count of the group's inputs, which are
	// co-partitioned. Every record's key must hash (internal/partition) to
	// the partition it arrived in: the group keeps a key's state in that
	// partition only, and a record elsewhere would be applied to a second,
	// empty state for the key on whichever instance owns it, whose writes
	// to the changelog then overwrite the owner's. Zero disables the check,
	// for goka's tester, whose topics have one partition anyway.
	Partitions int32
	Hooks      Hooks
	Logger     *slog.Logger
	// Writer writes the dead letters and waits for Kafka to take each; a
	// write that fails fails the processor, so the record is read again
	// rather than dropped. Nil emits them through goka's context, whose
	// failures show only after the callback: for goka's tester, which
	// captures emits.
	Writer *DeadLetterWriter
}

// Wrap decorates fn. A record in the wrong partition, or one fn rejects or
// panics on, goes to the dead letters and processing goes on, unless the
// dead letter cannot be written, which fails the processor; any other
// error, and any failure goka itself reports while fn runs (a state read or
// write, an emit it cannot make), fails the processor, as an infrastructure
// error must: goka then stops it and it restarts from its last committed
// offset, so the record is processed again rather than set aside.
func (d Decorator) Wrap(fn Callback) goka.ProcessCallback {
	hooks, log := d.Hooks, d.Logger
	if hooks == nil {
		hooks = NopHooks{}
	}
	if log == nil {
		log = slog.Default()
	}
	return func(ctx goka.Context, msg any) {
		start := time.Now()
		var err error
		if belongs, ok := d.placed(ctx); !ok {
			err = &misplaced{belongs: belongs, err: Reject(ReasonWrongPartition,
				fmt.Errorf("key %q belongs to partition %d of %d, not %d", ctx.Key(), belongs, d.Partitions, ctx.Partition()))}
		} else {
			err = call(fn, &guarded{gokaContext: ctx}, msg)
		}
		reason := ""
		if err != nil {
			var rej *Rejected
			if !errors.As(err, &rej) {
				hooks.OnProcessed(d.Topology, ctx.Partition(), time.Since(start), "error")
				log.Error("processor failed", "topology", d.Topology, "topic", string(ctx.Topic()),
					"partition", ctx.Partition(), "offset", ctx.Offset(), "key", ctx.Key(), "err", err)
				ctx.Fail(err)
				return
			}
			reason = rej.Reason
			log.Warn("dead letter", "topology", d.Topology, "topic", string(ctx.Topic()),
				"partition", ctx.Partition(), "offset", ctx.Offset(), "key", ctx.Key(),
				"reason", rej.Reason, "err", rej.Err)
			value := encode(d.Topology, ctx, msg, rej, err)
			if d.Writer == nil {
				ctx.Emit(d.DeadLetters, ctx.Key(), value)
			} else if werr := d.Writer.write(string(d.DeadLetters), ctx.Key(), value); werr != nil {
				hooks.OnProcessed(d.Topology, ctx.Partition(), time.Since(start), "error")
				log.Error("processor failed: a dead letter could not be written", "topology", d.Topology,
					"topic", string(ctx.Topic()), "partition", ctx.Partition(), "offset", ctx.Offset(), "key", ctx.Key(),
					"reason", rej.Reason, "err", werr)
				ctx.Fail(werr)
				return
			}
		}
		hooks.OnProcessed(d.Topology, ctx.Partition(), time.Since(start), reason)
	}
}

// placed reports whether the record's key hashes to the partition it came
// from, and the partition it hashes to.
func (d Decorator) placed(ctx goka.Context) (int32, bool) {
	if d.Partitions <= 0 {
		return ctx.Partition(), true
	}
	p := partition.Partition([]byte(ctx.Key()), d.Partitions)
	return p, p == ctx.Partition()
}

// misplaced carries a wrong_partition rejection and where the key belongs.
type misplaced struct {
	belongs int32
	err     error
}

func (m *misplaced) Error() string { return m.err.Error() }
func (m *misplaced) Unwrap() error { return m.err }

// call runs fn and turns a panic of fn's own into a rejection: one
// poisonous record must not take its whole partition down with it. A panic
// goka raised through the context is its failure, not the record's, and is
// raised again.
func call(fn Callback, ctx *guarded, msg any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if ctx.failed {
				panic(r)
			}
			err = Reject("panic", fmt.Errorf("%v", r))
		}
	}()
	return fn(ctx, msg)
}

func encode(topology string, ctx goka.Context, msg any, rej *Rejected, err error) []byte {
	value, _ := msg.([]byte)
	dl := DeadLetter{
		Topology:  topology,
		Topic:     string(ctx.Topic()),
		Partition: ctx.Partition(),
		Offset:    ctx.Offset(),
		Key:       ctx.Key(),
		Value:     value,
		Reason:    rej.Reason,
		Error:     rej.Err.Error(),
		Time:      ctx.Timestamp(),
	}
	var m *misplaced
	if errors.As(err, &m) {
		dl.BelongsTo = &m.belongs
	}
	b, eerr := dl.Encode()
	if eerr != nil {
		// A rejection without a reason, or a timestamp past year 9999: keep
		// the record, without what cannot be written.
		if dl.Reason == "" {
			dl.Reason = "unknown"
		}
		dl.Time = time.Time{}
		b, eerr = dl.Encode()
	}
	if eerr != nil {
		// Only a topic goka could not have read from gets here.
		return []byte(fmt.Sprintf(`{"reason":%q}`, rej.Reason))
	}
	return b
}
