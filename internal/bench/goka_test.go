package bench

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/kafkaadmin"
	"github.com/titan-commerce/titan/internal/kafkatest"
	wire "github.com/titan-commerce/titan/schemas/codec"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	"github.com/titan-commerce/titan/state"
)

// BenchmarkCommandsGoka is BenchmarkCommands' workload through goka with
// nothing of Titan's in the callbacks: the floor of what a goka processor
// that moves Titan's records costs on this machine, between Titan's figure
// and the franz-go ceiling. Its two groups are built with the options
// Titan's processors get (internal/gokaopts: the same consumer settings,
// franz-go producer, state-first barrier, Pebble storage) and write, for
// each command, the records Titan's inventory writes for it:
//
//   - records=titan: a restock writes its SKU's value and two more keys
//     of the table and one event; a reserve writes the value and four
//     keys, its event to the events and the order-events topics, and a
//     second group keyed by order folds the order event into a table of
//     its own, as titan-inventory-orders does. Nine records a reserve,
//     five a restock, counting the command.
//   - records=one: the value and one event, the least a processor that
//     keeps state and answers can write.
//
// The callbacks decode the command, as every processor must, and decide
// nothing: the difference to BenchmarkCommands is what Titan's own work
// costs (validation, the step, the codecs, the reads of a SKU's memory),
// and the difference to BenchmarkCommandsCeiling what goka and the extra
// records cost.
func BenchmarkCommandsGoka(b *testing.B) {
	for _, v := range []struct {
		name string
		full bool
	}{{"records=titan", true}, {"records=one", false}} {
		b.Run(v.name, func(b *testing.B) {
			brokers := kafkatest.Brokers(b)
			f := startFloor(b, brokers, v.full)
			roundTrip := func(cmds []*inventoryv1.Command) (done, acked time.Duration) {
				send := func(ctx context.Context, i int, fn func(error)) { f.send(ctx, cmds[i], fn) }
				return sendAndReadWithin(b, roundTimeout, len(cmds), send, len(cmds), f.events, func(*kgo.Record) bool { return true })
			}
			measureCommands(b, roundTrip)
		})
	}
}

// floor is BenchmarkCommandsGoka's pipeline.
type floor struct {
	*rawCommands
	events      *tail
	eventsTopic string
}

// floorValue stands for what Titan writes under a key: its head is about
// 40 bytes, the entries of a SKU's memory somewhat less.
var floorValue = make([]byte, 40)

// startFloor runs the floor's processors on topics of their own until they
// are ready, and registers their shutdown and the deletion of their topics
// and groups. full writes Titan's records, otherwise one of each kind.
func startFloor(b *testing.B, brokers []string, full bool) *floor {
	b.Helper()
	ns := kafkatest.Prefix(b)
	var (
		commands    = goka.Stream(ns + ".commands")
		events      = goka.Stream(ns + ".events")
		orderEvents = goka.Stream(ns + ".order-events")
		group       = goka.Group(ns + ".floor")
		ordersGroup = goka.Group(ns + ".floor-orders")
	)
	topics := []kafkaadmin.Topic{
		{Name: string(commands), Partitions: partitions, AppendTime: true},
		{Name: string(events), Partitions: partitions},
		{Name: string(orderEvents), Partitions: partitions},
		{Name: string(goka.GroupTable(group)), Partitions: partitions, Compact: true},
	}
	groups := []string{string(group)}
	if full {
		topics = append(topics, kafkaadmin.Topic{Name: string(goka.GroupTable(ordersGroup)), Partitions: partitions, Compact: true})
		groups = append(groups, string(ordersGroup))
	}
	createTopics(b, brokers, topics)
	b.Cleanup(func() { deleteNamespace(b, brokers, topics, groups) })

	store, err := state.NewBuilder(b.TempDir(), state.WithSync(state.SyncNone), state.WithLogger(quietLogger()))
	if err != nil {
		b.Fatal(err)
	}
	cfg := gokaopts.Config{Brokers: brokers, Replication: 1, Storage: store.Build, ClientID: "titan-bench-floor", Logger: quietLogger()}
	keys := gokaopts.NewKeys(goka.GroupTable(group))
	cb := func(ctx goka.Context, msg any) {
		var c inventoryv1.Command
		if err := proto.Unmarshal(msg.([]byte), &c); err != nil {
			ctx.Fail(err)
		}
		_ = ctx.Value()
		ctx.SetValue(floorValue)
		// The input's headers ride along for BenchmarkReserveLatencyGoka's
		// waiters, as a request's id rides on Titan's result event.
		ctx.Emit(events, ctx.Key(), msg.([]byte), goka.WithCtxEmitHeaders(ctx.Headers()))
		if !full {
			return
		}
		part, err := keys.Partition(ctx.Partition())
		if err != nil {
			ctx.Fail(err)
		}
		side := 2
		if c.GetReserve() != nil {
			side = 4
			ctx.Emit(orderEvents, c.GetOrderId(), msg.([]byte))
		}
		for i := range side {
			if err := part.Set(ctx.Key()+"\x00"+string(rune('a'+i))+c.GetCommandId(), floorValue[:24]); err != nil {
				ctx.Fail(err)
			}
		}
	}
	procs := []*goka.Processor{newFloorProcessor(b, brokers, goka.DefineGroup(group,
		goka.Input(commands, new(codec.Bytes), cb),
		goka.Persist(new(codec.Bytes)),
		goka.Output(events, new(codec.Bytes)),
		goka.Output(orderEvents, new(codec.Bytes)),
	), cfg.ProcessorWithKeys(gokaopts.StateFirst, keys))}
	if full {
		index := func(ctx goka.Context, msg any) {
			_ = ctx.Value()
			ctx.SetValue(floorValue)
		}
		procs = append(procs, newFloorProcessor(b, brokers, goka.DefineGroup(ordersGroup,
			goka.Input(orderEvents, new(codec.Bytes), index),
			goka.Persist(new(codec.Bytes)),
		), cfg.Processor(gokaopts.OutputsFirst)))
	}
	run(b, procs, store)

	cl, err := kgo.NewClient(producerOpts(brokers)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	raw := &rawCommands{cl: cl, topic: string(commands), enc: wire.Command()}
	return &floor{rawCommands: raw, events: newTail(b, brokers, string(events)), eventsTopic: string(events)}
}

func newFloorProcessor(b *testing.B, brokers []string, g *goka.GroupGraph, opts []goka.ProcessorOption) *goka.Processor {
	b.Helper()
	p, err := goka.NewProcessor(brokers, g, opts...)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// run runs procs until b ends and waits until every one is ready; the
// storages' builder closes after they stopped.
func run(b *testing.B, procs []*goka.Processor, store *state.Builder) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, len(procs))
	for _, p := range procs {
		go func() { done <- p.Run(ctx) }()
	}
	b.Cleanup(func() {
		cancel()
		for range procs {
			select {
			case err := <-done:
				if err != nil && !errors.Is(err, context.Canceled) {
					b.Errorf("floor processor: %v", err)
				}
			case <-time.After(startTimeout):
				b.Errorf("floor processor did not stop within %v", startTimeout)
			}
		}
		if err := store.Close(); err != nil {
			b.Errorf("floor state: %v", err)
		}
	})
	wait, waited := context.WithTimeout(ctx, startTimeout)
	defer waited()
	for _, p := range procs {
		if err := p.WaitForReadyContext(wait); err != nil {
			b.Fatalf("floor processor not ready: %v", err)
		}
	}
}
