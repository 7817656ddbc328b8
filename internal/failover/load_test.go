package failover_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/processors/inventory"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	"github.com/titan-commerce/titan/sdk"
)

// commands is a reproducible mix of client commands over a set of SKUs: restocks, reservations
// with long and short TTLs (the short ones expire, lazily or by the sweeper), commits and releases
// of recent reservations (some already ended), commits of orders never made, and exact re-sends of
// earlier commands. Only the timestamps come from the clock.
type commands struct {
	rng    *rand.Rand
	prefix string
	skus   []string
	seq    int
	// sent holds every distinct command in first-send order; a re-send is one of these, byte for
	// byte.
	sent      []*inventoryv1.Command
	byID      map[string]*inventoryv1.Command
	reserves  []*inventoryv1.Command
	restocked map[string]int64 // the ground truth of every SKU's restocks
	// lastSent is when the load last sent a command into each partition: the partition's results
	// stop for good soon after, which is no failover's doing.
	lastSent map[int32]time.Time
	sends    int
	resends  int
}

func newCommands(seed uint64, prefix string, skus int) *commands {
	c := &commands{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), prefix: prefix,
		byID: map[string]*inventoryv1.Command{}, restocked: map[string]int64{}, lastSent: map[int32]time.Time{}}
	for i := range skus {
		c.skus = append(c.skus, fmt.Sprintf("sku-%03d", i))
	}
	return c
}

func (c *commands) recentReserve() *inventoryv1.Command {
	n := min(len(c.reserves), 500)
	return c.reserves[len(c.reserves)-1-c.rng.IntN(n)]
}

// next returns the command to send at now.
func (c *commands) next(now time.Time) *inventoryv1.Command {
	w := c.pick(now)
	c.lastSent[partition.Partition([]byte(w.GetSku()), partitions)] = now
	return w
}

func (c *commands) pick(now time.Time) *inventoryv1.Command {
	c.sends++
	r := c.rng.IntN(100)
	if r < 8 && len(c.sent) > 0 {
		c.resends++
		return c.sent[len(c.sent)-1-c.rng.IntN(min(len(c.sent), 200))]
	}
	c.seq++
	cmd := inventory.Command{ID: fmt.Sprintf("%s-c%06d", c.prefix, c.seq), Time: now, SKU: c.skus[c.rng.IntN(len(c.skus))]}
	if r >= 70 && len(c.reserves) == 0 {
		r = 10 // nothing to end yet: restock instead
	}
	switch {
	case r < 35:
		cmd.Kind, cmd.Qty = inventory.KindRestock, 1+c.rng.Int64N(40)
		c.restocked[cmd.SKU] += cmd.Qty
	case r < 70:
		cmd.Kind, cmd.Qty = inventory.KindReserve, 1+c.rng.Int64N(8)
		cmd.OrderID = fmt.Sprintf("%s-o%06d", c.prefix, c.seq)
		cmd.TTL = time.Hour
		if c.rng.IntN(2) == 0 {
			cmd.TTL = time.Duration(300+c.rng.IntN(2200)) * time.Millisecond
		}
	case r < 97:
		prev := c.recentReserve()
		cmd.Kind, cmd.SKU, cmd.OrderID = inventory.KindCommit, prev.GetSku(), prev.GetOrderId()
		if r >= 88 {
			cmd.Kind = inventory.KindRelease
		}
	default:
		cmd.Kind, cmd.OrderID = inventory.KindCommit, fmt.Sprintf("%s-nobody-%d", c.prefix, c.seq)
	}
	wire := inventory.CommandToWire(cmd)
	c.sent = append(c.sent, wire)
	c.byID[cmd.ID] = wire
	if cmd.Kind == inventory.KindReserve {
		c.reserves = append(c.reserves, wire)
	}
	return wire
}

// purchases is a reproducible stream of purchase attempts on one sale: users pick a quantity of 1
// or 2, and some attempts are sent again with the same idempotency key, byte for byte, as a client
// that lost the answer would.
type purchases struct {
	rng    *rand.Rand
	sale   flashsale.Sale
	router *flashsale.Keys
	users  []string
	// attempts holds every distinct attempt in first-send order.
	attempts []flashsale.Message
	sends    int
	retries  int
}

func newPurchases(seed uint64, s flashsale.Sale, r *flashsale.Keys, users int) *purchases {
	p := &purchases{rng: rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d)), sale: s, router: r}
	for i := range users {
		p.users = append(p.users, fmt.Sprintf("user-%05d", i))
	}
	return p
}

// next returns the attempt to send at now, or false once the sale's window is over.
func (p *purchases) next(now time.Time) (flashsale.Message, bool) {
	if !p.sale.Active(now) {
		return flashsale.Message{}, false
	}
	p.sends++
	if p.rng.IntN(100) < 8 && len(p.attempts) > 0 {
		p.retries++
		return p.attempts[len(p.attempts)-1-p.rng.IntN(min(len(p.attempts), 50))], true
	}
	user := p.users[p.rng.IntN(len(p.users))]
	m := flashsale.Message{
		Kind: flashsale.KindPurchase, SaleID: p.sale.ID, Key: p.router.User(p.sale.ID, user), UserID: user,
		IdempotencyKey: fmt.Sprintf("k%06d", len(p.attempts)), Qty: 1 + p.rng.Int64N(2),
		Bucket: flashsale.BucketOf(user, p.sale.Buckets), Time: time.UnixMilli(now.UnixMilli()).UTC(),
	}
	p.attempts = append(p.attempts, m)
	return m, true
}

// load sends commands and purchases at a steady pace from its own goroutine, without waiting for
// acknowledgements in between: a partition whose leader is gone holds up only its own records.
type load struct {
	cmds     *commands
	buys     *purchases
	sender   *sdk.Producer
	buyer    *kgo.Client
	perTick  int // commands per tick
	buysTick int // purchase attempts per tick
	cancel   context.CancelFunc
	done     chan struct{}

	mu struct {
		sync.Mutex
		errs []error
	}
}

// tick is the load's pace: perTick commands and buysTick attempts every tick.
const tick = 50 * time.Millisecond

func (d *deployment) startLoad(cmds *commands, buys *purchases, perTick, buysTick int) *load {
	d.t.Helper()
	sender, err := sdk.NewProducer(d.brokers, sdk.WithClientID("titan-test-commands"),
		sdk.WithCommandsTopic(string(d.inv.Commands)))
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(sender.Close)
	buyer, err := kgo.NewClient(kgo.SeedBrokers(d.brokers...), kgo.RecordPartitioner(partition.Kgo()),
		kgo.DefaultProduceTopic(string(d.fs.Commands)), kgo.ProducerLinger(5*time.Millisecond),
		kgo.ClientID("titan-test-buyer"), kgo.MetadataMinAge(250*time.Millisecond))
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(buyer.Close)
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cmds: cmds, buys: buys, sender: sender, buyer: buyer, perTick: perTick, buysTick: buysTick,
		cancel: cancel, done: make(chan struct{})}
	go l.run(ctx)
	d.t.Cleanup(func() {
		cancel()
		<-l.done
	})
	return l
}

func (l *load) fail(err error) {
	if err == nil {
		return
	}
	l.mu.Lock()
	l.mu.errs = append(l.mu.errs, err)
	l.mu.Unlock()
}

func (l *load) run(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(tick)
	defer t.Stop()
	// Records keep their own context: ending the load stops new sends, not those under way.
	send := context.Background()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		for range l.perTick {
			l.sender.SendCommandAsync(send, l.cmds.next(now), func(_ sdk.Ack, err error) { l.fail(err) })
		}
		for range l.buysTick {
			m, ok := l.buys.next(now)
			if !ok {
				break
			}
			v, err := proto.Marshal(flashsale.MessageToWire(m))
			if err != nil {
				l.fail(err)
				continue
			}
			l.buyer.Produce(send, &kgo.Record{Key: []byte(m.Key), Value: v}, func(_ *kgo.Record, err error) { l.fail(err) })
		}
	}
}

// stop ends the load and waits until Kafka has acknowledged everything it sent; any send that
// failed is an error, since the test could not tell whether the record is in the log.
func (l *load) stop(ctx context.Context) error {
	l.cancel()
	<-l.done
	if err := l.sender.Flush(ctx); err != nil {
		return err
	}
	if err := l.buyer.Flush(ctx); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return errors.Join(l.mu.errs...)
}
