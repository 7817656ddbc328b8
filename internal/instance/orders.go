package instance

import (
	"context"
	"fmt"
	"time"

	"github.com/lovoo/goka"

	"github.com/titan-commerce/titan/api"
	"github.com/titan-commerce/titan/internal/kafkaadmin"
	"github.com/titan-commerce/titan/internal/metrics"
	"github.com/titan-commerce/titan/internal/topology"
	"github.com/titan-commerce/titan/processors/fraud"
	"github.com/titan-commerce/titan/processors/orders"
	"github.com/titan-commerce/titan/processors/pricing"
	"github.com/titan-commerce/titan/schemas/codec"
	fraudv1 "github.com/titan-commerce/titan/schemas/fraud/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
	"github.com/titan-commerce/titan/sdk"
	"github.com/titan-commerce/titan/topologies/fraudtopo"
	"github.com/titan-commerce/titan/topologies/orderstopo"
	"github.com/titan-commerce/titan/topologies/pricingtopo"
)

// orderPipeline is the order saga with the pricing and fraud processors it
// asks, and what the API reads of them: a part of the instance.
type orderPipeline struct {
	i       *Instance
	names   orderstopo.Names
	pricing pricingtopo.Names
	fraud   fraudtopo.Names

	model *fraudtopo.ModelFile
	// policy is the pricing policy of Config.PricingRules, read once at
	// build: the group, the saga's quotes and the API's prices agree.
	policy pricing.Policy

	// Views and outcomes for the API; nil without it.
	orders, prices, entities *view
	outcomes                 *api.OrderOutcomes
}

func newOrderPipeline(i *Instance, namespace string) *orderPipeline {
	return &orderPipeline{
		i:       i,
		names:   orderstopo.NamesFor(namespace),
		pricing: pricingtopo.NamesFor(namespace),
		fraud:   fraudtopo.NamesFor(namespace),
	}
}

func (p *orderPipeline) topics(partitions int32) []kafkaadmin.Topic {
	var out []kafkaadmin.Topic
	out = append(out, p.names.Topics(partitions)...)
	out = append(out, p.pricing.Topics(partitions)...)
	return append(out, p.fraud.Topics(partitions)...)
}

// copartitioned lists what each group of the pipeline needs co-partitioned,
// the inventory's topics it reads included.
func (p *orderPipeline) copartitioned() []kafkaadmin.Copartitioned {
	return []kafkaadmin.Copartitioned{
		p.names.Copartitioned(p.i.names.OrderEvents),
		p.pricing.Copartitioned(p.i.names.Events),
		p.fraud.Copartitioned(),
	}
}

func (i *Instance) loadModel() (*fraudtopo.ModelFile, error) { return loadFraudModel(i.cfg.FraudModel) }

// loadFraudModel loads the model file at path, which a reload reads
// again, or the built-in model when path is empty.
func loadFraudModel(path string) (*fraudtopo.ModelFile, error) {
	if path != "" {
		return fraudtopo.LoadModelFile(path)
	}
	m, err := fraud.ParseModel(fraud.DefaultModelJSON)
	if err != nil {
		return nil, fmt.Errorf("instance: built-in fraud model: %w", err)
	}
	return fraudtopo.StaticModel(m), nil
}

func (p *orderPipeline) build(hooks *metrics.Processing) error {
	i := p.i
	var err error
	if p.model, err = i.loadModel(); err != nil {
		return err
	}
	if p.policy, err = i.cfg.PricingPolicy(); err != nil {
		return fmt.Errorf("instance: %w", err)
	}
	if _, err = supervised(i, "pricing", pricingtopo.New, p.pricingOptions(hooks)); err != nil {
		return err
	}
	if _, err = supervised(i, "fraud", fraudtopo.New, p.fraudOptions(hooks)); err != nil {
		return err
	}
	_, err = supervised(i, TopologyOrders, orderstopo.New, p.sagaOptions(hooks))
	return err
}

func (p *orderPipeline) graphs() []TopologyGraph {
	return []TopologyGraph{
		{"pricing", pricingtopo.Graphs(p.pricingOptions(nil))},
		{"fraud", fraudtopo.Graphs(p.fraudOptions(nil))},
		{TopologyOrders, orderstopo.Graphs(p.sagaOptions(nil))},
	}
}

// pricingPolicy is the pricing group's rules (Config.PricingRules, read by
// build), which the saga quotes from the pricing table with too: one policy
// for both. Before build, for the graphs alone, it is the zero policy, which
// the topologies take as the default rules; rules change prices, not edges.
func (p *orderPipeline) pricingPolicy() pricing.Policy { return p.policy }

func (p *orderPipeline) pricingOptions(hooks *metrics.Processing) pricingtopo.Options {
	i := p.i
	return pricingtopo.Options{
		Base: topology.Base{
			TimeWindow: i.cfg.TimeWindow,
			Partitions: int32(i.cfg.Partitions),
			Goka:       i.gokaConfig(i.procs.Build, "pricing"),
			Hooks:      hooks,
			Logger:     i.log,
		},
		Policy:       p.pricingPolicy(),
		Names:        p.pricing,
		Peers:        pricingtopo.Peers{InventoryEvents: i.names.Events, Saga: p.names.Saga},
		Local:        i.recoveredPartitions,
		Send:         sdk.KeyedOn(i.own, string(p.pricing.Internal), (*pricingv1.Command).GetSku).SendAll,
		TickInterval: i.cfg.SweepInterval,
	}
}

// fraudOptions carries the model build loaded; none before.
func (p *orderPipeline) fraudOptions(hooks *metrics.Processing) fraudtopo.Options {
	i := p.i
	return fraudtopo.Options{
		Base: topology.Base{
			Partitions: int32(i.cfg.Partitions),
			Goka:       i.gokaConfig(i.procs.Build, "fraud"),
			Hooks:      hooks,
			Logger:     i.log,
		},
		Names: p.fraud,
		Saga:  p.names.Saga,
		Model: p.model,
	}
}

func (p *orderPipeline) sagaOptions(hooks *metrics.Processing) orderstopo.Options {
	i := p.i
	return orderstopo.Options{
		Base: topology.Base{
			TimeWindow: i.cfg.TimeWindow,
			Partitions: int32(i.cfg.Partitions),
			Goka:       i.lookupGokaConfig("orders", p.pricing.Table()),
			Hooks:      hooks,
			Logger:     i.log,
		},
		Names: p.names,
		Peers: orderstopo.Peers{
			InventoryCommands:    i.names.Internal,
			InventoryOrderEvents: i.names.OrderEvents,
			FraudObservations:    p.fraud.Observations,
		},
		Prices:      orderstopo.Prices{Table: p.pricing.Table(), Codec: pricingtopo.StateCodec, Quote: pricingtopo.Quoter(p.pricingPolicy())},
		Policy:      i.orderPolicy(),
		Local:       i.recoveredPartitions,
		SendSaga:    sdk.KeyedOn(i.own, string(p.names.Saga), (*ordersv1.SagaMessage).GetOrderId).SendAll,
		StepTimeout: i.cfg.OrderStepTimeout,
	}
}

func (i *Instance) orderPolicy() orders.Policy {
	p := orders.DefaultPolicy()
	p.ReserveTTL = i.cfg.OrderReserveTTL
	return p
}

// ReloadModel reads the fraud model file again; the new model scores from
// the next observation on. Without a model file (the built-in model) it
// does nothing.
func (i *Instance) ReloadModel() error {
	if i.ord == nil || i.ord.model == nil {
		return nil
	}
	return i.ord.model.Reload()
}

// ModelVersion is the version of the fraud model in force, empty without
// the order pipeline.
func (i *Instance) ModelVersion() string {
	if i.ord == nil || i.ord.model == nil {
		return ""
	}
	return i.ord.model.Model().Version
}

// orderDeps builds what the API's order, price and fraud routes read and
// send through; nil when the instance runs no order pipeline.
func (i *Instance) orderDeps(ctx context.Context, viewOpts func(*api.Notifier) []goka.ViewOption) (*api.OrderDeps, error) {
	p := i.ord
	if p == nil {
		return nil, nil
	}
	ordersN := api.NewNotifier()
	var err error
	// The API renders the tables' wire form; the processors' codecs would
	// decode into the domain types only to be mapped back.
	if p.orders, err = i.newView(p.names.Table(), codec.NewProto[*ordersv1.Order](), viewOpts(ordersN)...); err != nil {
		return nil, fmt.Errorf("instance: order view: %w", err)
	}
	if p.prices, err = i.newView(p.pricing.Table(), codec.NewProto[*pricingv1.SkuPrice](), viewOpts(api.NewNotifier())...); err != nil {
		return nil, fmt.Errorf("instance: price view: %w", err)
	}
	if p.entities, err = i.newView(p.fraud.Table(), codec.NewProto[*fraudv1.Entity](), viewOpts(api.NewNotifier())...); err != nil {
		return nil, fmt.Errorf("instance: fraud view: %w", err)
	}
	if p.outcomes, err = api.NewOrderOutcomes(ctx, i.brokers, string(p.names.Outcomes), i.log); err != nil {
		return nil, err
	}
	if err := i.superviseConsumer("order outcomes", p.outcomes); err != nil {
		return nil, err
	}
	return &api.OrderDeps{
		Orders:         p.orders,
		OrdersNotifier: ordersN,
		Prices:         p.prices,
		Fraud:          p.entities,
		// A checkout's order events and a catalog's price commands are
		// clients' records, checked by the SDK as any client's.
		SendOrder: func(ctx context.Context, ev *ordersv1.OrderEvent) (int32, int64, error) {
			ack, err := i.producer.PublishOrderEvent(ctx, ev)
			return ack.Partition, ack.Offset, err
		},
		SendPricing: func(ctx context.Context, cmd *pricingv1.Command) (int32, int64, error) {
			ack, err := i.producer.SendPricingCommand(ctx, cmd)
			return ack.Partition, ack.Offset, err
		},
		Outcomes: p.outcomes,
		PriceAt: func(sp *pricingv1.SkuPrice, now time.Time) (*pricingv1.Quote, bool) {
			// The stored state is as of the SKU's last input; bring
			// campaigns and demand up to now before reading the price.
			st, _ := pricing.Tick(pricing.StateFromWire(sp), now, p.policy)
			q, ok := pricing.PriceAt(st, now, p.policy)
			if !ok {
				return nil, false
			}
			return pricing.QuoteToWire(q), true
		},
		FraudFeatures: func(e *fraudv1.Entity, now time.Time) []*fraudv1.Feature {
			fs := fraud.EntityFromWire(e).Features(now)
			out := make([]*fraudv1.Feature, len(fs))
			for n, f := range fs {
				out[n] = &fraudv1.Feature{Name: f.Name, Value: f.Value}
			}
			return out
		},
	}, nil
}
