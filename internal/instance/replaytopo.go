package instance

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/kafkaadmin"
	"github.com/titan-commerce/titan/internal/topology"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/processors/orders"
	"github.com/titan-commerce/titan/processors/recommendations"
	"github.com/titan-commerce/titan/schemas"
	"github.com/titan-commerce/titan/schemas/codec"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	fraudv1 "github.com/titan-commerce/titan/schemas/fraud/v1"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
	"github.com/titan-commerce/titan/topologies/flashsaletopo"
	"github.com/titan-commerce/titan/topologies/fraudtopo"
	"github.com/titan-commerce/titan/topologies/inventorytopo"
	"github.com/titan-commerce/titan/topologies/orderstopo"
	"github.com/titan-commerce/titan/topologies/pricingtopo"
	"github.com/titan-commerce/titan/topologies/recommendationstopo"
)

// The topologies Replay and DiffTables support. Each one's inputs are all
// copied, so it needs nothing else at replay, and it runs without its
// punctuator, whose work the recorded inputs hold:
//
//   - pricing: its commands, its internal commands with the ticks the live
//     ticker sent, and the inventory events it reads demand from.
//   - inventory: its commands and its internal commands (the saga's and
//     flash sales' reservations, the expiries the live sweeper sent); its
//     order index is rebuilt from the shadow's own order events.
//   - recommendations: the views and the order saga's outcomes; the
//     purchases and pairs its groups send each other are made again by the
//     shadow's own groups. It has no punctuator. An item counts pairs of
//     views and of orders, and of several sender partitions, in the order
//     they reach it, which can differ from live (an item's epoch is its
//     first pair's time), as on any reprocessing.
//   - fraud: the observations the saga sent; the loop that carries each
//     one from device to card to user is the shadow group's own, and its
//     decisions go to the shadow's saga topic, which nothing reads. It
//     scores with the model file it is given (ReplayConfig.FraudModel),
//     which must be the live one for a faithful replay; decisions made
//     live before a reload of the model differ. It has no punctuator.
//   - orders: the order saga, with the pricing group whose table it quotes
//     from. Its inputs are the order events, the saga topic's recorded
//     fraud decisions and Timeouts (the fraud group is not run, and the
//     live deadline scanner's Timeouts stand), the inventory's answers,
//     and the pricing group's inputs; what the saga sends the inventory
//     and the fraud group goes to shadow topics nothing reads. The
//     pricing rules file applies (ReplayConfig.PricingRules).
//   - flashsale: the sale group and the purchase index. Its inputs are the
//     internal topic (the API's Creates, the recorded settler's Abandons
//     and Closes), the inventory's answers on the allocations topic, and
//     the purchases; the loop between a sale's keys and the purchase index
//     are the shadow's own. A bucket borrows from another by messages
//     whose order across partitions depends on timing, live as in a
//     shadow, so a sale whose buckets ran dry can end differently.
//
// The saga and the flash sales are ordered (replayTopology.ordered): their
// answers come back on other topics than their questions, and a group
// reads its topics side by side, so with every copy there from the start a
// copied answer (a reservation, a Close) could be read before what it
// answers. Their copies are released in time order while the shadow runs
// (replayorder.go).
const (
	ReplayablePricing         = "pricing"
	ReplayableInventory       = "inventory"
	ReplayableRecommendations = "recommendations"
	ReplayableFraud           = "fraud"
	ReplayableOrders          = "orders"
	ReplayableFlashSale       = "flashsale"
)

// replayTopology is what Replay and DiffTables know of a topology.
type replayTopology struct {
	// inputs are the topics copied, by their names without namespace.
	inputs []string
	// topics are every topic of the shadow namespace but the inputs.
	topics func(ns string, partitions int32) []kafkaadmin.Topic
	// stages are the topology's groups in the order they finish: each is
	// done when it has committed the ends of its inputs as they are once
	// the stages before it are done.
	stages []replayStage
	// tables are the group tables DiffTables compares.
	tables      []replayTable
	deadLetters func(ns string) []string
	// ordered says the shadow must read the inputs in the order their
	// records caused each other live (replayorder.go): the groups run
	// while the copy releases them in time order, and stages are not
	// waited for.
	ordered bool
	// build builds the shadow groups on base; a group's lookups open
	// their tables' copies through lookups, apart from the groups' own.
	build func(ns string, base topology.Base, cfg ReplayConfig, lookups storage.Builder) (*topology.Set, error)
}

type replayStage struct {
	group func(ns string) string
	// inputs by their names without namespace.
	inputs []string
}

type replayTable struct {
	table func(ns string) goka.Table
	// render gives a value a readable, canonical form; key is the
	// table's key, for tables whose keys hold values of several kinds.
	render func(key string, value []byte) (string, error)
}

// groups are the topology's groups, once each: a group that reads its own
// loop is a stage more than once.
func (rt replayTopology) groups(ns string) []string {
	var out []string
	for _, s := range rt.stages {
		if g := s.group(ns); !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

func replayTopologyOf(name string) (replayTopology, error) {
	switch name {
	case ReplayablePricing:
		return pricingReplay(), nil
	case ReplayableInventory:
		return inventoryReplay(), nil
	case ReplayableRecommendations:
		return recommendationsReplay(), nil
	case ReplayableFraud:
		return fraudReplay(), nil
	case ReplayableOrders:
		return ordersReplay(), nil
	case ReplayableFlashSale:
		return flashSaleReplay(), nil
	}
	return replayTopology{}, fmt.Errorf("%w: --topology %q cannot be replayed; supported: %s", ErrReplay, name, strings.Join(replayables, ", "))
}

// replayables are the topologies Replay supports.
var replayables = []string{ReplayablePricing, ReplayableInventory, ReplayableRecommendations, ReplayableFraud,
	ReplayableOrders, ReplayableFlashSale}

func pricingReplay() replayTopology {
	inputs := []string{schemas.PricingCommands, schemas.PricingInternal, schemas.InventoryEvents}
	return replayTopology{
		inputs: inputs,
		topics: func(ns string, partitions int32) []kafkaadmin.Topic {
			n := pricingtopo.NamesFor(ns)
			return []kafkaadmin.Topic{
				{Name: string(n.Events), Partitions: partitions},
				{Name: string(n.DeadLetters), Partitions: partitions},
				{Name: string(orderstopo.NamesFor(ns).Saga), Partitions: partitions},
				{Name: string(n.Table()), Partitions: partitions, Compact: true},
			}
		},
		stages: []replayStage{{group: func(ns string) string { return string(pricingtopo.NamesFor(ns).Group) }, inputs: inputs}},
		tables: []replayTable{{table: func(ns string) goka.Table { return pricingtopo.NamesFor(ns).Table() },
			render: renderAs(codec.NewProto[*pricingv1.SkuPrice](), nil)}},
		deadLetters: func(ns string) []string { return []string{string(pricingtopo.NamesFor(ns).DeadLetters)} },
		build: func(ns string, base topology.Base, cfg ReplayConfig, _ storage.Builder) (*topology.Set, error) {
			policy, err := (&Config{PricingRules: cfg.PricingRules}).PricingPolicy()
			if err != nil {
				return nil, fmt.Errorf("%w: --pricing-rules: %w", ErrReplay, err)
			}
			t, err := pricingtopo.New(pricingtopo.Options{
				Base:   base,
				Names:  pricingtopo.NamesFor(ns),
				Peers:  pricingtopo.Peers{InventoryEvents: inventorytopo.NamesFor(ns).Events, Saga: orderstopo.NamesFor(ns).Saga},
				Policy: policy,
				Replay: true,
			})
			if err != nil {
				return nil, err
			}
			return t.Set, nil
		},
	}
}

func inventoryReplay() replayTopology {
	return replayTopology{
		inputs: []string{schemas.InventoryCommands, schemas.InventoryInternal},
		topics: func(ns string, partitions int32) []kafkaadmin.Topic {
			var out []kafkaadmin.Topic
			for _, t := range inventorytopo.NamesFor(ns).Topics(partitions) {
				// The copies keep the live broker's stamps (see Replay).
				t.AppendTime = false
				out = append(out, t)
			}
			return out
		},
		stages: []replayStage{
			{group: func(ns string) string { return string(inventorytopo.NamesFor(ns).Group) },
				inputs: []string{schemas.InventoryCommands, schemas.InventoryInternal}},
			{group: func(ns string) string { return string(inventorytopo.NamesFor(ns).OrdersGroup) },
				inputs: []string{schemas.InventoryOrderEvents}},
		},
		tables: []replayTable{
			{table: func(ns string) goka.Table { return inventorytopo.NamesFor(ns).Table() }, render: renderInventory},
			{table: func(ns string) goka.Table { return inventorytopo.NamesFor(ns).OrdersTable() },
				render: renderAs(codec.NewProto[*inventoryv1.OrderReservations](), func(m *inventoryv1.OrderReservations) {
					withoutOffsets(m.GetLatest()...)
				})},
		},
		deadLetters: func(ns string) []string { return []string{string(inventorytopo.NamesFor(ns).DeadLetters)} },
		build: func(ns string, base topology.Base, cfg ReplayConfig, _ storage.Builder) (*topology.Set, error) {
			policy := inventory.DefaultPolicy()
			policy.DedupeWindow = cfg.DedupeWindow
			t, err := inventorytopo.New(inventorytopo.Options{Base: base, Names: inventorytopo.NamesFor(ns), Policy: policy, Replay: true})
			if err != nil {
				return nil, err
			}
			return t.Set, nil
		},
	}
}

func recommendationsReplay() replayTopology {
	names := func(ns string) recommendationstopo.Names { return recommendationstopo.NamesFor(ns) }
	outcomes := func(ns string) goka.Stream { return orderstopo.NamesFor(ns).Outcomes }
	return replayTopology{
		inputs: []string{schemas.RecommendationViews, schemas.OrderOutcomes},
		topics: func(ns string, partitions int32) []kafkaadmin.Topic {
			var out []kafkaadmin.Topic
			for _, t := range names(ns).Topics(partitions, outcomes(ns)) {
				// The copies keep the live broker's stamps (see Replay).
				t.AppendTime = false
				out = append(out, t)
			}
			return out
		},
		// The users group reads the purchases the orders group sends, and
		// the items group the pairs both send.
		stages: []replayStage{
			{group: func(ns string) string { return string(names(ns).OrdersGroup) }, inputs: []string{schemas.OrderOutcomes}},
			{group: func(ns string) string { return string(names(ns).UsersGroup) },
				inputs: []string{schemas.RecommendationViews, schemas.RecommendationPurchases}},
			{group: func(ns string) string { return string(names(ns).ItemsGroup) }, inputs: []string{schemas.RecommendationPairs}},
		},
		tables: []replayTable{
			{table: func(ns string) goka.Table { return names(ns).UsersTable() },
				render: renderAs(codec.NewProto[*recommendationsv1.UserHistory](), nil)},
			{table: func(ns string) goka.Table { return names(ns).OrdersTable() },
				render: renderAs(codec.NewProto[*recommendationsv1.Basket](), nil)},
			{table: func(ns string) goka.Table { return names(ns).ItemsTable() }, render: renderItem},
		},
		deadLetters: func(ns string) []string { return []string{string(names(ns).DeadLetters)} },
		build: func(ns string, base topology.Base, _ ReplayConfig, _ storage.Builder) (*topology.Set, error) {
			t, err := recommendationstopo.New(recommendationstopo.Options{Base: base, Names: names(ns), Outcomes: outcomes(ns),
				Policy: recommendations.DefaultPolicy()})
			if err != nil {
				return nil, err
			}
			return t.Set, nil
		},
	}
}

func fraudReplay() replayTopology {
	names := func(ns string) fraudtopo.Names { return fraudtopo.NamesFor(ns) }
	group := func(ns string) string { return string(names(ns).Group) }
	loop := strings.TrimPrefix(string(names("").Loop()), ".")
	return replayTopology{
		inputs: []string{schemas.FraudObservations},
		topics: func(ns string, partitions int32) []kafkaadmin.Topic {
			return append(names(ns).Topics(partitions), kafkaadmin.Topic{Name: string(orderstopo.NamesFor(ns).Saga), Partitions: partitions})
		},
		// An observation visits at most three keys (fraud.Route): the
		// loop is read twice, each time to the end the hop before left.
		stages: []replayStage{
			{group: group, inputs: []string{schemas.FraudObservations}},
			{group: group, inputs: []string{loop}},
			{group: group, inputs: []string{loop}},
		},
		tables: []replayTable{{table: func(ns string) goka.Table { return names(ns).Table() },
			render: renderAs(codec.NewProto[*fraudv1.Entity](), nil)}},
		deadLetters: func(ns string) []string { return []string{string(names(ns).DeadLetters)} },
		build: func(ns string, base topology.Base, cfg ReplayConfig, _ storage.Builder) (*topology.Set, error) {
			model, err := loadFraudModel(cfg.FraudModel)
			if err != nil {
				return nil, fmt.Errorf("%w: --fraud-model: %w", ErrReplay, err)
			}
			t, err := fraudtopo.New(fraudtopo.Options{Base: base, Names: names(ns), Saga: orderstopo.NamesFor(ns).Saga, Model: model})
			if err != nil {
				return nil, err
			}
			return t.Set, nil
		},
	}
}

// renderItem renders an item's head without what names the process that
// wrote it (its writer), the redo of its last pair (the same writes stand
// under their own keys) and the places of the records its pairs came
// from: those are offsets of the inputs the pairs were made from, and the
// shadow's copies start at offset 0 wherever the live range started. A
// side key's value (store.go: a neighbor) is compared as its bytes.
func renderItem(key string, value []byte) (string, error) {
	if strings.IndexByte(key, 0) >= 0 {
		return fmt.Sprintf("%q", value), nil
	}
	return renderAs(codec.NewProto[*recommendationsv1.ItemState](), func(m *recommendationsv1.ItemState) {
		m.Writer, m.Redo, m.Seen = 0, nil, nil
	})(key, value)
}

// renderInventory renders a SKU's head without what names the process
// that wrote it (its writer, random per process), the redo of its last
// command (the same writes stand under their own keys) and the offsets of
// the commands it applied, and a remembered command's result without its
// offset: offsets are places in the inputs, and the shadow's copies start
// at offset 0 wherever the live range started, without a transaction's
// aborted records and markers. Any other side key's value (store.go:
// reservations, the log) is compared as its bytes.
func renderInventory(key string, value []byte) (string, error) {
	switch {
	case strings.IndexByte(key, 0) < 0:
		return renderAs(codec.NewProto[*inventoryv1.SkuState](), func(m *inventoryv1.SkuState) {
			m.Writer, m.Redo, m.Offset, m.InternalOffset = 0, nil, 0, 0
			for _, a := range m.GetApplied() {
				withoutOffsets(a.GetResult())
				withoutOffsets(a.GetExpired()...)
			}
		})(key, value)
	case inventorytopo.IsResultKey(key):
		return renderAs(codec.NewProto[*inventoryv1.AppliedCommand](), func(m *inventoryv1.AppliedCommand) {
			withoutOffsets(m.GetResult())
			withoutOffsets(m.GetExpired()...)
		})(key, value)
	}
	return fmt.Sprintf("%q", value), nil
}

// withoutOffsets clears the offsets of the commands events answer (see
// renderInventory).
func withoutOffsets(events ...*inventoryv1.Event) {
	for _, e := range events {
		if e != nil {
			e.Offset = 0
		}
	}
}

// renderAs renders a value of message type M as canonical JSON, after
// clean, if set, has cleared what is not the table's to compare.
func renderAs[M proto.Message](c *codec.Proto[M], clean func(M)) func(string, []byte) (string, error) {
	return func(_ string, b []byte) (string, error) {
		m, err := c.DecodeMessage(b)
		if err != nil {
			return "", err
		}
		if clean != nil {
			clean(m)
		}
		return canonicalJSON(m)
	}
}

// appendTimeOff returns topics with the broker's stamps off: the copies
// keep the live records' times (see Replay).
func appendTimeOff(topics []kafkaadmin.Topic) []kafkaadmin.Topic {
	for i := range topics {
		topics[i].AppendTime = false
	}
	return topics
}

func ordersReplay() replayTopology {
	saga := func(ns string) orderstopo.Names { return orderstopo.NamesFor(ns) }
	prices := func(ns string) pricingtopo.Names { return pricingtopo.NamesFor(ns) }
	return replayTopology{
		// By rank: in one millisecond, prices change before an order is
		// decided, and questions come before answers.
		inputs: []string{schemas.PricingCommands, schemas.PricingInternal, schemas.InventoryEvents,
			schemas.OrderEvents, schemas.OrderSaga, schemas.InventoryOrderEvents},
		topics: func(ns string, partitions int32) []kafkaadmin.Topic {
			inv := inventorytopo.NamesFor(ns)
			out := appendTimeOff(append(saga(ns).Topics(partitions), prices(ns).Topics(partitions)...))
			return append(out,
				kafkaadmin.Topic{Name: string(inv.Internal), Partitions: partitions},
				kafkaadmin.Topic{Name: string(fraudtopo.NamesFor(ns).Observations), Partitions: partitions})
		},
		stages: []replayStage{
			{group: func(ns string) string { return string(saga(ns).Group) },
				inputs: []string{schemas.OrderEvents, schemas.OrderSaga, schemas.InventoryOrderEvents}},
			{group: func(ns string) string { return string(prices(ns).Group) },
				inputs: []string{schemas.PricingCommands, schemas.PricingInternal, schemas.InventoryEvents}},
		},
		tables: []replayTable{
			{table: func(ns string) goka.Table { return saga(ns).Table() }, render: renderAs(codec.NewProto[*ordersv1.Order](), nil)},
			{table: func(ns string) goka.Table { return prices(ns).Table() }, render: renderAs(codec.NewProto[*pricingv1.SkuPrice](), nil)},
		},
		deadLetters: func(ns string) []string {
			return []string{string(saga(ns).DeadLetters), string(prices(ns).DeadLetters)}
		},
		ordered: true,
		build: func(ns string, base topology.Base, cfg ReplayConfig, lookups storage.Builder) (*topology.Set, error) {
			policy, err := (&Config{PricingRules: cfg.PricingRules}).PricingPolicy()
			if err != nil {
				return nil, fmt.Errorf("%w: --pricing-rules: %w", ErrReplay, err)
			}
			inv := inventorytopo.NamesFor(ns)
			p, err := pricingtopo.New(pricingtopo.Options{
				Base:   base,
				Names:  prices(ns),
				Peers:  pricingtopo.Peers{InventoryEvents: inv.Events, Saga: saga(ns).Saga},
				Policy: policy,
				Replay: true,
			})
			if err != nil {
				return nil, err
			}
			orderPolicy := orders.DefaultPolicy()
			if cfg.OrderReserveTTL > 0 {
				orderPolicy.ReserveTTL = cfg.OrderReserveTTL
			}
			sagaBase, table := base, prices(ns).Table()
			sagaBase.Goka.Lookups = []goka.Table{table}
			sagaBase.Goka.Storage = func(topic string, partition int32) (storage.Storage, error) {
				if topic == string(table) {
					return lookups(topic, partition)
				}
				return base.Goka.Storage(topic, partition)
			}
			o, err := orderstopo.New(orderstopo.Options{
				Base:  sagaBase,
				Names: saga(ns),
				Peers: orderstopo.Peers{InventoryCommands: inv.Internal, InventoryOrderEvents: inv.OrderEvents,
					FraudObservations: fraudtopo.NamesFor(ns).Observations},
				Prices: orderstopo.Prices{Table: prices(ns).Table(), Codec: pricingtopo.StateCodec, Quote: pricingtopo.Quoter(policy)},
				Policy: orderPolicy,
				Replay: true,
			})
			if err != nil {
				return nil, err
			}
			return topology.Join(p.Set, o.Set), nil
		},
	}
}

func flashSaleReplay() replayTopology {
	names := func(ns string) flashsaletopo.Names { return flashsaletopo.NamesFor(ns) }
	return replayTopology{
		// By rank: in one millisecond, a sale is created or closed before
		// a purchase, and the inventory's answers come after the Create.
		inputs: []string{schemas.FlashSaleInternal, schemas.FlashSaleAllocations, schemas.FlashSaleCommands},
		topics: func(ns string, partitions int32) []kafkaadmin.Topic {
			return append(appendTimeOff(names(ns).Topics(partitions)),
				kafkaadmin.Topic{Name: string(inventorytopo.NamesFor(ns).Internal), Partitions: partitions})
		},
		stages: []replayStage{
			{group: func(ns string) string { return string(names(ns).Group) },
				inputs: []string{schemas.FlashSaleInternal, schemas.FlashSaleAllocations, schemas.FlashSaleCommands}},
			{group: func(ns string) string { return string(names(ns).PurchasesGroup) }, inputs: []string{schemas.FlashSaleEvents}},
		},
		tables: []replayTable{
			{table: func(ns string) goka.Table { return names(ns).Table() }, render: renderFlashSale},
			{table: func(ns string) goka.Table { return names(ns).PurchasesTable() },
				render: renderAs(codec.NewProto[*flashsalev1.Result](), nil)},
		},
		deadLetters: func(ns string) []string { return []string{string(names(ns).DeadLetters)} },
		ordered:     true,
		build: func(ns string, base topology.Base, _ ReplayConfig, _ storage.Builder) (*topology.Set, error) {
			t, err := flashsaletopo.New(flashsaletopo.Options{Base: base, Names: names(ns),
				Inventory: inventorytopo.NamesFor(ns).Internal, Replay: true})
			if err != nil {
				return nil, err
			}
			return t.Set, nil
		},
	}
}

// renderFlashSale renders a sale, bucket or user state without the
// origins of the messages it has seen or holds: they are the partitions
// and offsets of the records that sent them, and the shadow's copies start
// at offset 0 wherever the live range started.
func renderFlashSale(key string, value []byte) (string, error) {
	return renderAs(codec.NewProto[*flashsalev1.State](), func(m *flashsalev1.State) {
		if s := m.GetSale(); s != nil {
			s.Seen = nil
		}
		if b := m.GetBucket(); b != nil {
			b.Seen = nil
			for _, msg := range b.Parked {
				msg.Origin = nil
			}
		}
		if u := m.GetUser(); u != nil {
			u.Seen = nil
			for _, msg := range u.Pending {
				msg.Origin = nil
			}
		}
	})(key, value)
}
