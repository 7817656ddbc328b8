package flashsale

import (
	"errors"
	"fmt"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/processors/flashsale"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// StateCodec stores a flashsale.State as flashsalev1.State.
type StateCodec struct{}

func (StateCodec) Encode(v any) ([]byte, error) {
	s, ok := v.(flashsale.State)
	if !ok {
		return nil, fmt.Errorf("flashsale: state codec cannot encode %T", v)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(flashsale.StateToWire(s))
}

func (StateCodec) Decode(b []byte) (any, error) {
	var w flashsalev1.State
	if err := proto.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("flashsale: decode state: %w", err)
	}
	return flashsale.StateFromWire(&w), nil
}

// ResultCodec stores a flashsale.Result as flashsalev1.Result.
type ResultCodec struct{}

func (ResultCodec) Encode(v any) ([]byte, error) {
	r, ok := v.(flashsale.Result)
	if !ok {
		return nil, fmt.Errorf("flashsale: result codec cannot encode %T", v)
	}
	return proto.Marshal(flashsale.ResultToWire(r))
}

func (ResultCodec) Decode(b []byte) (any, error) {
	var w flashsalev1.Result
	if err := proto.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("flashsale: decode result: %w", err)
	}
	return flashsale.ResultFromWire(&w), nil
}

// Limits on client messages; the API checks the same.
const (
	MaxIDBytes = 128
	MaxQty     = 1000
)

// graphs builds the two groups; inventory is the inventory topology's
// commands stream, where settlements go.
func graphs(n Names, inventory goka.Stream, r *Router, obs observe.Decorator) (sale, purchases *goka.GroupGraph) {
	saleObs, purchasesObs := obs, obs
	saleObs.Topology, saleObs.DeadLetters = string(n.Group), n.DeadLetters
	purchasesObs.Topology, purchasesObs.DeadLetters = string(n.PurchasesGroup), n.DeadLetters
	sale = goka.DefineGroup(n.Group,
		goka.Input(n.Commands, new(codec.Bytes), saleObs.Wrap(decider(n, inventory, r, false))),
		goka.Loop(new(codec.Bytes), saleObs.Wrap(decider(n, inventory, r, true))),
		goka.Persist(StateCodec{}),
		goka.Output(n.Events, new(codec.Bytes)),
		goka.Output(inventory, new(codec.Bytes)),
		goka.Output(n.DeadLetters, new(codec.Bytes)),
	)
	purchases = goka.DefineGroup(n.PurchasesGroup,
		goka.Input(n.Events, new(codec.Bytes), purchasesObs.Wrap(indexer)),
		goka.Persist(ResultCodec{}),
		goka.Output(n.DeadLetters, new(codec.Bytes)),
	)
	return sale, purchases
}

// decider adapts processors/flashsale to goka. Records from the commands
// topic are client messages: they may only define a sale or buy, and never
// claim an origin. Records from the loop topic are the keys' own.
func decider(n Names, inventory goka.Stream, r *Router, loop bool) observe.Callback {
	stream := int32(0)
	if loop {
		stream = 1
	}
	return func(ctx goka.Context, msg any) error {
		var w flashsalev1.Message
		if err := proto.Unmarshal(msg.([]byte), &w); err != nil {
			return observe.Reject("decode", err)
		}
		m := flashsale.MessageFromWire(&w)
		if m.Key != ctx.Key() {
			return observe.Reject("key_mismatch", fmt.Errorf("key %q, message for %q", ctx.Key(), m.Key))
		}
		if loop {
			m.Internal = true
		} else {
			m.Internal, m.Origin = false, flashsale.Origin{}
			if err := validateClient(m, r); err != nil {
				return observe.Reject("invalid", err)
			}
		}

		var (
			state flashsale.State
			out   flashsale.Output
		)
		if v := ctx.Value(); v != nil {
			state = v.(flashsale.State)
		}
		switch keyKind(m.Key) {
		case 's':
			s := deref(state.Sale)
			s, out = flashsale.DecideSale(s, m, r)
			state = flashsale.State{Sale: &s}
		case 'b':
			s := deref(state.Bucket)
			s, out = flashsale.DecideBucket(s, m, r)
			state = flashsale.State{Bucket: &s}
		case 'u':
			s := deref(state.User)
			s, out = flashsale.DecideUser(s, m, r)
			state = flashsale.State{User: &s}
		default:
			return observe.Reject("invalid", fmt.Errorf("key %q names no sale, bucket or user", m.Key))
		}

		// Messages and results go to the producer before the state write;
		// see the package comment.
		for seq, o := range out.Messages {
			o.Internal = true
			o.Origin = flashsale.Origin{Stream: stream, Partition: ctx.Partition(), Offset: ctx.Offset(), Seq: int32(seq)}
			b, err := proto.Marshal(flashsale.MessageToWire(o))
			if err != nil {
				return fmt.Errorf("flashsale: encode message: %w", err)
			}
			ctx.Loopback(o.Key, b)
		}
		for _, res := range out.Results {
			b, err := proto.Marshal(flashsale.ResultToWire(res))
			if err != nil {
				return fmt.Errorf("flashsale: encode result: %w", err)
			}
			ctx.Emit(n.Events, PurchaseKey(res.SaleID, res.IdempotencyKey), b)
		}
		if st := out.Settle; st != nil {
			b, err := proto.Marshal(settlementCommand(*st, m.Time))
			if err != nil {
				return fmt.Errorf("flashsale: encode settlement: %w", err)
			}
			ctx.Emit(inventory, st.SKU, b)
		}
		ctx.SetValue(state)
		return nil
	}
}

// settlementCommand takes what the sale sold from its inventory
// reservation and returns the rest; its id makes a repeated settlement
// change nothing.
func settlementCommand(st flashsale.Settlement, at time.Time) *inventoryv1.Command {
	c := inventory.Command{
		ID:      schemas.ReservedPrefix + "flash-sale:" + st.SaleID + ":settle",
		Kind:    inventory.KindCommit,
		OrderID: flashsale.AllocationOrder(st.SaleID),
		SKU:     st.SKU,
		Qty:     st.Sold,
		Time:    at,
	}
	if st.Sold == 0 {
		c.Kind, c.Qty = inventory.KindRelease, 0
	}
	return inventory.CommandToWire(c)
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

var errInvalid = errors.New("flashsale: invalid message")

// validateClient checks a message from outside: a Define of a valid sale on
// its sale key, or a Purchase on its buyer's key.
func validateClient(m flashsale.Message, r *Router) error {
	switch m.Kind {
	case flashsale.KindDefine:
		if !m.Sale.Valid() || m.Sale.ID != m.SaleID || m.Key != r.Sale(m.SaleID) || len(m.SaleID) > MaxIDBytes {
			return fmt.Errorf("%w: bad sale definition", errInvalid)
		}
	case flashsale.KindPurchase:
		switch {
		case m.SaleID == "" || len(m.SaleID) > MaxIDBytes:
			return fmt.Errorf("%w: sale id", errInvalid)
		case m.UserID == "" || len(m.UserID) > MaxIDBytes || m.Key != r.User(m.SaleID, m.UserID):
			return fmt.Errorf("%w: user id or key", errInvalid)
		case m.IdempotencyKey == "" || len(m.IdempotencyKey) > MaxIDBytes:
			return fmt.Errorf("%w: idempotency key", errInvalid)
		case m.Qty < 1 || m.Qty > MaxQty:
			return fmt.Errorf("%w: qty %d", errInvalid, m.Qty)
		case m.Bucket < 0 || m.Bucket >= flashsale.MaxBuckets:
			return fmt.Errorf("%w: bucket %d", errInvalid, m.Bucket)
		case m.Time.IsZero():
			return fmt.Errorf("%w: no timestamp", errInvalid)
		}
	case flashsale.KindClose:
		// The settler's: harmless from anyone, as a bucket closes only
		// once the sale's end has passed.
		if m.Bucket < 0 || m.Bucket >= flashsale.MaxBuckets || m.Key != r.Bucket(m.SaleID, m.Bucket) {
			return fmt.Errorf("%w: close of bucket %d on key %q", errInvalid, m.Bucket, m.Key)
		}
	default:
		return fmt.Errorf("%w: clients may only define, purchase or close, not %s", errInvalid, m.Kind)
	}
	return nil
}

// indexer keeps the first result of each attempt; later copies are the
// same result republished.
func indexer(ctx goka.Context, msg any) error {
	var w flashsalev1.Result
	if err := proto.Unmarshal(msg.([]byte), &w); err != nil {
		return observe.Reject("decode", err)
	}
	if PurchaseKey(w.GetSaleId(), w.GetIdempotencyKey()) != ctx.Key() {
		return observe.Reject("key_mismatch", fmt.Errorf("key %q, result for %s/%s", ctx.Key(), w.GetSaleId(), w.GetIdempotencyKey()))
	}
	if ctx.Value() == nil {
		ctx.SetValue(flashsale.ResultFromWire(&w))
	}
	return nil
}
