package punctuate

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/lovoo/goka/storage"
)

// Proposal is a message a pass found due, about one thing.
type Proposal[M any] struct {
	// Key names what the message is about (a reservation, a SKU's price,
	// a sale's bucket, an order): a Punctuator keeps one proposal per Key
	// in flight.
	Key string
	// For tells the proposals about one Key apart (a later due time, a
	// later step of an order): one for another For than the proposal in
	// flight is sent at once.
	For string
	// Tracked says the key's state keeps Applied: the offset of the last
	// message on the proposals' topic its processor applied to it, -1 for
	// none. A proposal in flight is then sent again once the state has
	// passed the offset it was written at with the key still due: the
	// proposal was lost, or failed. Untracked, after ResendAfter.
	Tracked bool
	Applied int64
	Msg     M
	// Sent, if set, is called once the proposal is acknowledged, for a
	// log line of the topology's.
	Sent func()
}

// Config is what a Punctuator is built from.
type Config[M any] struct {
	// What names the work in logs: "expiry sweep", "price tick".
	What     string
	Interval time.Duration
	// ResendAfter is how long an untracked proposal stays in flight before
	// a pass that finds its key still due sends it again.
	ResendAfter time.Duration
	// Local returns the storages of the table partitions this instance
	// owns and has recovered.
	Local func() []storage.Storage
	// Begin, if set, is called at the start of a pass with the storages it
	// will scan: for a Due that keeps something of its own per partition
	// or per key, to let go of what it no longer sees.
	Begin func(now time.Time, local []storage.Storage)
	// Due calls propose for everything due in one partition at now. It
	// only reads: many readers and one writer is what goka's storage
	// contract allows.
	Due func(st storage.Storage, now time.Time, propose func(Proposal[M])) error
	// Send produces messages keyed as their processor reads them, waits
	// until Kafka has answered for each, and returns the offset each was
	// written at, -1 where its send failed (sdk.Keyed.SendAll).
	Send func(context.Context, []M) ([]int64, error)
	Log  *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Punctuator is a topology's scheduled work, as Kafka Streams' Punctuator
// is: goka has no timers, so every Interval it scans the partitions this
// instance owns for what is due (Due, the only part a topology writes) and
// proposes it through a topic, and the processor decides each proposal in
// its key's partition order, as it decides every other message.
//
// Why that is reliable: a proposal is only a proposal. One lost to a crash
// is made again by whichever instance owns the partition next; one made
// twice, or by two instances during a rebalance, finds nothing left to do
// where it lands. A Punctuator remembers what it sent and does not send it
// again while it is in flight (see Proposal), so a processor that lags
// gets one proposal per Key and For, not one per pass.
type Punctuator[M any] struct {
	c Config[M]
	// inFlight holds what was sent, by Key; only Pass touches it.
	inFlight map[string]flight
}

type flight struct {
	For    string
	offset int64
	sentAt time.Time
	// seen is the last pass that found the Key due.
	seen time.Time
}

// maxBatch bounds the messages one send carries, so a campaign that starts
// on a whole catalogue at once is sent in pieces, each acknowledged before
// the next is gathered.
const maxBatch = 1024

// New returns the punctuator c describes.
func New[M any](c Config[M]) *Punctuator[M] {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Punctuator[M]{c: c, inFlight: map[string]flight{}}
}

// Run makes a pass every Interval until ctx ends.
func (p *Punctuator[M]) Run(ctx context.Context) error {
	return Every(ctx, p.c.Interval, p.c.Log, p.c.What, p.Pass)
}

// Pass makes one pass and returns once what it sent is acknowledged. A
// partition whose scan fails is reported with the others' and does not
// keep them from being proposed. It is not safe for concurrent use.
func (p *Punctuator[M]) Pass(ctx context.Context) error {
	now := p.c.Now()
	local := p.c.Local()
	if p.c.Begin != nil {
		p.c.Begin(now, local)
	}
	var (
		batch []Proposal[M]
		errs  []error
	)
	propose := func(pr Proposal[M]) {
		if f, ok := p.inFlight[pr.Key]; ok && f.For == pr.For {
			f.seen = now
			p.inFlight[pr.Key] = f
			if !p.stale(f, pr, now) {
				return
			}
		}
		batch = append(batch, pr)
		if len(batch) == maxBatch {
			errs = append(errs, p.send(ctx, batch, now))
			batch = nil
		}
	}
	for _, st := range local {
		if err := p.c.Due(st, now, propose); err != nil {
			errs = append(errs, err)
		}
	}
	if len(batch) > 0 {
		errs = append(errs, p.send(ctx, batch, now))
	}
	// Partitions close and reopen during a rebalance, so a pass that does
	// not find a Key is not yet the end of it.
	forget := max(p.c.ResendAfter, time.Minute)
	for key, f := range p.inFlight {
		if now.Sub(f.seen) > forget {
			delete(p.inFlight, key)
		}
	}
	return errors.Join(errs...)
}

// stale reports whether the proposal in flight f no longer holds pr back.
func (p *Punctuator[M]) stale(f flight, pr Proposal[M], now time.Time) bool {
	if pr.Tracked {
		return pr.Applied >= f.offset
	}
	return now.Sub(f.sentAt) >= p.c.ResendAfter
}

// send sends a batch; what it could not deliver is proposed again by the
// next pass that finds it due. It waits at most ten intervals (at least
// ten seconds), so a broker that does not answer holds up a few passes.
func (p *Punctuator[M]) send(ctx context.Context, batch []Proposal[M], now time.Time) error {
	msgs := make([]M, len(batch))
	for i, pr := range batch {
		msgs[i] = pr.Msg
	}
	p.c.Log.Debug(p.c.What, "proposals", len(msgs))
	sctx, cancel := context.WithTimeout(ctx, max(10*p.c.Interval, 10*time.Second))
	defer cancel()
	offsets, err := p.c.Send(sctx, msgs)
	for i, pr := range batch {
		if i >= len(offsets) || offsets[i] < 0 {
			delete(p.inFlight, pr.Key)
			continue
		}
		p.inFlight[pr.Key] = flight{For: pr.For, offset: offsets[i], sentAt: now, seen: now}
		if pr.Sent != nil {
			pr.Sent()
		}
	}
	return err
}
