package api

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// tailer hands each record of one topic, decoded, to the requests waiting
// for it. Every API instance reads the whole topic from where it stood
// when the instance started and picks out what its own requests wait for:
// the records are small, and the topic is the one place every answer is,
// whichever instance's processor wrote it. Results, OrderOutcomes and
// FlashSaleResults are tailers of their topics.
type tailer[E any] struct {
	// what names the tailer in its logs and errors.
	what   string
	client *kgo.Client
	log    *slog.Logger
	decode func([]byte) (E, error)
	// key is what the waiters of a record wait under, and false for a
	// record that answers no request (an expiry, a saga's step).
	key     func(E) (string, bool)
	waiters *pending[answerWaiter[E]]
}

// answerWaiter is one request's interest: the first record under its key
// that match accepts (any, if match is nil).
type answerWaiter[E any] struct {
	ch    chan E
	match func(E) bool
}

// startTailer positions a consumer at the current end of every partition
// of topic, so no answer to a request sent after it returns can be
// missed.
func startTailer[E any](ctx context.Context, brokers []string, topic, what string, log *slog.Logger,
	decode func([]byte) (E, error), key func(E) (string, bool), opts ...kgo.Opt) (*tailer[E], error) {
	client, err := tail(ctx, brokers, topic, opts...)
	if err != nil {
		return nil, fmt.Errorf("api: %s: %w", what, err)
	}
	return newTailer(what, client, log, decode, key), nil
}

func newTailer[E any](what string, client *kgo.Client, log *slog.Logger, decode func([]byte) (E, error), key func(E) (string, bool)) *tailer[E] {
	if log == nil {
		log = slog.Default()
	}
	return &tailer[E]{what: what, client: client, log: log, decode: decode, key: key, waiters: newPending[answerWaiter[E]]()}
}

// tail returns a consumer of every partition of topic from its current
// end.
func tail(ctx context.Context, brokers []string, topic string, opts ...kgo.Opt) (*kgo.Client, error) {
	admin, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	ends, err := kadm.NewClient(admin).ListEndOffsets(ctx, topic)
	admin.Close()
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("end offsets: %w", err)
	}
	start := map[string]map[int32]kgo.Offset{topic: {}}
	ends.Each(func(o kadm.ListedOffset) {
		start[o.Topic][o.Partition] = kgo.NewOffset().At(o.Offset)
	})
	return kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(start),
		kgo.FetchMaxWait(maxWaitFetch),
	}, opts...)...)
}

// Run dispatches records until ctx ends, then closes the consumer. A
// record it cannot decode is logged and skipped: it answers no one.
func (t *tailer[E]) Run(ctx context.Context) error {
	defer t.client.Close()
	for {
		fetches := t.client.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			t.log.Warn(t.what+": fetch", "topic", topic, "partition", p, "err", err)
		})
		fetches.EachRecord(func(rec *kgo.Record) {
			e, err := t.decode(rec.Value)
			if err != nil {
				t.log.Warn(t.what+": undecodable record", "partition", rec.Partition, "offset", rec.Offset, "err", err)
				return
			}
			t.deliver(e)
		})
	}
}

// wait registers interest in the first record under key that match
// accepts (any, if match is nil). Call it before sending the request;
// call cancel when done waiting. ok is false, and nothing registered,
// when the bound on waiting requests is reached.
func (t *tailer[E]) wait(key string, match func(E) bool) (<-chan E, func(), bool) {
	w := answerWaiter[E]{ch: make(chan E, 1), match: match}
	cancel, ok := t.waiters.add(key, w)
	return w.ch, cancel, ok
}

func (t *tailer[E]) deliver(e E) {
	key, ok := t.key(e)
	if !ok {
		return
	}
	for _, w := range t.waiters.take(key, func(w answerWaiter[E]) bool { return w.match == nil || w.match(e) }) {
		w.ch <- e // buffered, one record per waiter
	}
}
