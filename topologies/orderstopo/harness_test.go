package orderstopo_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/ordergen"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/processors/pricing"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
	"github.com/titan-commerce/titan/topologies/inventorytopo"
	"github.com/titan-commerce/titan/topologies/orderstopo"
	"github.com/titan-commerce/titan/topologies/pricingtopo"
)

const (
	partitions = 8
	stopWait   = 90 * time.Second
	// reserveTTL outlasts the generated day: the day is replayed in
	// minutes, and event time races ahead of the order a partition is at.
	reserveTTL = 48 * time.Hour
	// dedupeWindow is how long the inventory remembers a command id, by
	// command time. A day replayed in a minute passes a real shop's 15
	// minutes in a second; a command sent again after a crash must still
	// be recognised.
	dedupeWindow = 48 * time.Hour
)

// deployment is one test's namespace on the shared broker.
type deployment struct {
	t       *testing.T
	brokers []string
	ns      string
	adm     *kadm.Client
	log     *slog.Logger
	inv     inventorytopo.Names
	ord     orderstopo.Names
	pr      pricingtopo.Names
	client  *kgo.Client
}

func newDeployment(t *testing.T) *deployment {
	t.Helper()
	brokers := kafkatest.Brokers(t)
	ns := kafkatest.Prefix(t)
	adm := kafkatest.Admin(t, brokers)
	// Registered before any instance starts, so it runs after they stop.
	kafkatest.DeleteNamespace(t, adm, ns)
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(partition.Kgo()),
		kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	return &deployment{
		t: t, brokers: brokers, ns: ns, adm: adm,
		log:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		inv:    inventorytopo.NamesFor(ns),
		ord:    orderstopo.NamesFor(ns),
		pr:     pricingtopo.NamesFor(ns),
		client: client,
	}
}

// node is one Titan instance in the test process, without an API.
type node struct {
	id     string
	inst   *instance.Instance
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

func (d *deployment) start(ctx context.Context, id, dir string) *node {
	d.t.Helper()
	inst, err := instance.New(ctx, instance.Config{
		Brokers:         d.brokers,
		Namespace:       d.ns,
		StateDir:        dir,
		Partitions:      partitions,
		InstanceID:      id,
		Topologies:      []string{instance.TopologyInventory, instance.TopologyOrders},
		OrderReserveTTL: reserveTTL,
		DedupeWindow:    dedupeWindow,
		TimeWindow:      dayWindow,
		Logger:          d.log.With("instance", id),
	})
	if err != nil {
		d.t.Fatalf("instance %s: %v", id, err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	n := &node{id: id, inst: inst, cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- inst.Run(runCtx) }()
	d.t.Cleanup(func() {
		if err := n.stop(); err != nil {
			d.t.Errorf("stopping %s: %v", id, err)
		}
	})
	return n
}

func (n *node) stop() error {
	n.once.Do(func() {
		n.cancel()
		timer := time.NewTimer(stopWait)
		defer timer.Stop()
		select {
		case n.err = <-n.done:
		case <-timer.C:
			n.err = fmt.Errorf("instance %s did not stop within %v", n.id, stopWait)
		}
	})
	return n.err
}

func waitReady(ctx context.Context, nodes ...*node) error {
	return kafkatest.WaitFor(ctx, "instances ready", func() (bool, string) {
		for _, n := range nodes {
			if !n.inst.Ready() {
				return false, n.id + " recovering"
			}
		}
		return true, ""
	})
}

// produce writes m keyed by key and fails the test on error; flush waits
// for every acknowledgement.
func (d *deployment) produce(ctx context.Context, topic, key string, m proto.Message) {
	b, err := proto.Marshal(m)
	if err != nil {
		d.t.Fatal(err)
	}
	d.client.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(key), Value: b}, func(r *kgo.Record, err error) {
		if err != nil {
			d.t.Errorf("produce to %s: %v", r.Topic, err)
		}
	})
}

func (d *deployment) flush(ctx context.Context) {
	if err := d.client.Flush(ctx); err != nil {
		d.t.Fatal(err)
	}
}

// stockUp prices and restocks the catalog an hour before the day starts.
func (d *deployment) stockUp(ctx context.Context, day ordergen.Day, at time.Time) {
	for _, it := range day.Catalog {
		d.produce(ctx, string(d.pr.Commands), it.SKU, &pricingv1.Command{
			CommandId: "catalog:" + it.SKU, Sku: it.SKU, TimestampMs: at.UnixMilli(),
			Kind: &pricingv1.Command_SetBase{SetBase: &pricingv1.SetBasePrice{PriceMinor: it.Price, Currency: it.Currency}},
		})
		d.produce(ctx, string(d.inv.Commands), it.SKU, inventory.CommandToWire(inventory.Command{
			ID: "restock:" + it.SKU, Kind: inventory.KindRestock, SKU: it.SKU, Qty: it.Stock, Time: at,
		}))
	}
	d.flush(ctx)
	// The saga's price checks and reservations travel on the internal
	// topics, in no order with these: a shop opens its checkout once its
	// catalog is in, and so does the test.
	d.waitApplied(ctx, string(d.pr.Group), string(d.pr.Commands))
	d.waitApplied(ctx, string(d.inv.Group), string(d.inv.Commands))
}

// waitApplied waits until group has committed every record of topic
// produced so far: goka commits a record once its state is written.
func (d *deployment) waitApplied(ctx context.Context, group, topic string) {
	d.t.Helper()
	ends, err := kafkatest.EndOffsets(ctx, d.adm, topic)
	if err != nil {
		d.t.Fatal(err)
	}
	err = kafkatest.WaitFor(ctx, group+" applies "+topic, func() (bool, string) {
		committed, err := d.adm.FetchOffsets(ctx, group)
		if err != nil {
			return false, err.Error()
		}
		for p, end := range ends {
			if o, _ := committed.Lookup(topic, p); o.At < end {
				return false, fmt.Sprintf("partition %d at %d of %d", p, o.At, end)
			}
		}
		return true, ""
	})
	if err != nil {
		d.t.Fatal(err)
	}
}

// outcomes reads every outcome so far: the distinct outcome per order and
// how many copies were published.
func (d *deployment) outcomes(ctx context.Context) (map[string]*ordersv1.OrderEvent, map[string]int, error) {
	recs, err := kafkatest.ReadAll(ctx, d.brokers, d.adm, string(d.ord.Outcomes))
	if err != nil {
		return nil, nil, err
	}
	out, copies := map[string]*ordersv1.OrderEvent{}, map[string]int{}
	for _, r := range recs {
		var ev ordersv1.OrderEvent
		if err := proto.Unmarshal(r.Value, &ev); err != nil {
			return nil, nil, fmt.Errorf("outcome at %d/%d: %w", r.Partition, r.Offset, err)
		}
		if prev, ok := out[ev.GetOrderId()]; ok && !proto.Equal(prev, &ev) {
			return nil, nil, fmt.Errorf("order %s has two different outcomes: %v and %v", ev.GetOrderId(), prev, &ev)
		}
		out[ev.GetOrderId()] = &ev
		copies[ev.GetOrderId()]++
	}
	return out, copies, nil
}

// waitOutcomes flushes what was produced and waits until at least n
// orders have an outcome.
func (d *deployment) waitOutcomes(ctx context.Context, n int) {
	d.t.Helper()
	d.flush(ctx)
	err := kafkatest.WaitFor(ctx, "outcomes", func() (bool, string) {
		outs, _, err := d.outcomes(ctx)
		if err != nil {
			return false, err.Error()
		}
		return len(outs) >= n, fmt.Sprintf("%d of %d", len(outs), n)
	})
	if err != nil {
		d.t.Fatal(err)
	}
}

// demandPriced lists the SKUs whose price demand has moved, from the
// pricing events.
func (d *deployment) demandPriced(ctx context.Context) (map[string]bool, error) {
	recs, err := kafkatest.ReadAll(ctx, d.brokers, d.adm, string(d.pr.Events))
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, r := range recs {
		var pc pricingv1.PriceChanged
		if err := proto.Unmarshal(r.Value, &pc); err != nil {
			return nil, err
		}
		for _, c := range pc.GetContributions() {
			if c.GetRule() == pricing.RuleDemand && c.GetAmountMinor() != 0 {
				out[pc.GetSku()] = true
			}
		}
	}
	return out, nil
}

// reservations folds the inventory's order-keyed events into the latest
// event per order and SKU.
func (d *deployment) reservations(ctx context.Context) (map[string]map[string]*inventoryv1.Event, error) {
	recs, err := kafkatest.ReadAll(ctx, d.brokers, d.adm, string(d.inv.OrderEvents))
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]*inventoryv1.Event{}
	for _, r := range recs {
		var ev inventoryv1.Event
		if err := proto.Unmarshal(r.Value, &ev); err != nil {
			return nil, err
		}
		if out[ev.GetOrderId()] == nil {
			out[ev.GetOrderId()] = map[string]*inventoryv1.Event{}
		}
		out[ev.GetOrderId()][ev.GetSku()] = &ev
	}
	return out, nil
}

// stock is the latest ledger of every SKU, from the inventory's events.
func (d *deployment) stock(ctx context.Context) (map[string]*inventoryv1.Stock, error) {
	recs, err := kafkatest.ReadAll(ctx, d.brokers, d.adm, string(d.inv.Events))
	if err != nil {
		return nil, err
	}
	out := map[string]*inventoryv1.Stock{}
	for _, r := range recs {
		var ev inventoryv1.Event
		if err := proto.Unmarshal(r.Value, &ev); err != nil {
			return nil, err
		}
		out[ev.GetSku()] = ev.GetStock()
	}
	return out, nil
}

// decisions reads the fraud decisions from the saga topic: order id to
// outcome.
func (d *deployment) decisions(ctx context.Context) (map[string]string, error) {
	recs, err := kafkatest.ReadAll(ctx, d.brokers, d.adm, string(d.ord.Saga))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, r := range recs {
		var m ordersv1.SagaMessage
		if err := proto.Unmarshal(r.Value, &m); err != nil {
			return nil, err
		}
		if f := m.GetFraud(); f != nil {
			out[m.GetOrderId()] = f.GetOutcome().String()
		}
	}
	return out, nil
}
