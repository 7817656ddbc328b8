package clickhouse

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/schemas"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	fraudv1 "github.com/titan-commerce/titan/schemas/fraud/v1"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
)

// Table is one raw table: its name and columns, in the order a row holds its values. Every
// table's first three columns are topic, partition and offset: where the record was in Kafka.
type Table struct {
	Name    string
	Columns []string
	insert  string
}

func table(name string, columns ...string) *Table {
	columns = append([]string{"topic", "partition", "offset"}, columns...)
	return &Table{Name: name, Columns: columns,
		insert: "INSERT INTO " + name + " (" + strings.Join(columns, ", ") + ")"}
}

// The raw tables, as the migrations create them.
var (
	InventoryEvents = table("inventory_events", "type", "command_id", "order_id", "sku", "qty", "reason",
		"seq", "on_hand", "reserved", "sold", "event_time")
	OrderEvents = table("order_events", "event_id", "order_id", "kind", "user_id", "currency", "lines",
		"units", "amount_minor", "reason", "event_time")
	OrderOutcomes = table("order_outcomes", "event_id", "order_id", "status", "user_id", "currency",
		"total_minor", "units", "lines", "review", "review_reasons", "reason", "detail", "event_time")
	OrderLines = table("order_lines", "line", "order_id", "sku", "qty", "unit_price_minor",
		"revenue_minor", "currency", "event_time")
	SagaEvents = table("saga_events", "order_id", "kind", "sku", "line", "found", "price_minor",
		"currency", "steps", "event_time")
	FraudDecisions = table("fraud_decisions", "order_id", "user_id", "outcome", "score", "reasons",
		"model_version", "event_time")
	FraudDecisionReasons = table("fraud_decision_reasons", "line", "order_id", "outcome", "reason",
		"contribution", "event_time")
	FlashSaleSales = table("flashsale_sales", "sale_id", "sku", "units", "price_minor", "per_user_limit",
		"buckets", "starts_at", "ends_at", "event_time")
	FlashSaleResults = table("flashsale_results", "sale_id", "idempotency_key", "user_id", "qty", "status",
		"reason", "bucket", "price_minor", "event_time")
	PriceChanges = table("price_changes", "sku", "currency", "base_minor", "price_minor", "cause",
		"version", "command_id", "rules", "event_time")
	RecommendationViews = table("recommendation_views", "event_id", "user_id", "sku", "session_id",
		"event_time")
)

// Row is one row of a raw table: the values of its columns after topic, partition and offset.
type Row struct {
	Table  *Table
	Values []any
	// Month is the row's event month (YYYYMM): the table's partition in ClickHouse.
	Month int
}

// Record is what a converter needs of a Kafka record.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Value     []byte
}

// Converter turns one record of a topic into the rows it adds, or an error that says why the
// record cannot be written (it goes to the dead-letter topic with that reason).
type Converter func(r Record) ([]Row, error)

// Stream is one topic the sink reads: its name without a namespace and its converter.
type Stream struct {
	Topic   string
	Convert Converter
	// Tables are the tables its rows go to.
	Tables []*Table
}

// Streams are the topics the sink writes to ClickHouse.
var Streams = []Stream{
	{schemas.InventoryEvents, inventoryEvent, []*Table{InventoryEvents}},
	{schemas.OrderEvents, orderEvent, []*Table{OrderEvents}},
	{schemas.OrderOutcomes, orderOutcome, []*Table{OrderOutcomes, OrderLines}},
	{schemas.OrderSaga, sagaMessage, []*Table{SagaEvents, FraudDecisions, FraudDecisionReasons}},
	{schemas.FlashSaleInternal, flashSaleMessage, []*Table{FlashSaleSales}},
	{schemas.FlashSaleEvents, flashSaleResult, []*Table{FlashSaleResults}},
	{schemas.PricingEvents, priceChanged, []*Table{PriceChanges}},
	{schemas.RecommendationViews, viewEvent, []*Table{RecommendationViews}},
}

// Reasons a record goes to the dead-letter topic.
var (
	ErrUndecodable = errors.New("undecodable")
	ErrTimeRange   = errors.New("time_out_of_range")
	ErrNoKind      = errors.New("unknown_kind")
)

// Reason is the dead-letter reason of a converter's error.
func Reason(err error) string {
	for _, r := range []error{ErrUndecodable, ErrTimeRange, ErrNoKind, ErrOverflow} {
		if errors.Is(err, r) {
			return r.Error()
		}
	}
	return ErrInvalid.Error()
}

// maxSeconds bounds a DateTime: 18.16 stores seconds since 1970 in a UInt32, and a time past
// 2100 is a broken clock, not an event.
const maxSeconds = 4102444800 // 2100-01-01T00:00:00Z

// eventTime converts a message's time in milliseconds, named by field for the error.
func eventTime(field string, ms int64) (time.Time, int, error) {
	if ms < 0 || ms/1000 >= maxSeconds {
		return time.Time{}, 0, fmt.Errorf("%w: %s %d is outside 1970..2100", ErrTimeRange, field, ms)
	}
	t := time.Unix(ms/1000, 0).UTC()
	return t, t.Year()*100 + int(t.Month()), nil
}

func decode(r Record, m proto.Message) error {
	if err := proto.Unmarshal(r.Value, m); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrUndecodable, r.Topic, err)
	}
	return nil
}

// open decodes r into m and converts the time ms reads from it: how every converter starts.
func open(r Record, m proto.Message, ms func() int64) (time.Time, int, error) {
	if err := decode(r, m); err != nil {
		return time.Time{}, 0, err
	}
	return eventTime("timestamp_ms", ms())
}

// lower is an enum's name without its prefix, in lower case: EVENT_TYPE_RESERVED is reserved.
func lower(name, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(name, prefix))
}

// names maps an enum's values to their lower names once, for the converters that run per record.
func names[E ~int32](values map[int32]string, prefix string) func(E) string {
	m := make(map[E]string, len(values))
	for v, name := range values {
		m[E(v)] = lower(name, prefix)
	}
	return func(e E) string {
		if name, ok := m[e]; ok {
			return name
		}
		return strconv.Itoa(int(e)) // a value newer than this build
	}
}

var (
	eventType   = names[inventoryv1.EventType](inventoryv1.EventType_name, "EVENT_TYPE_")
	outcomeName = names[fraudv1.Outcome](fraudv1.Outcome_name, "OUTCOME_")
	statusName  = names[flashsalev1.Status](flashsalev1.Status_name, "STATUS_")
)

func u8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func inventoryEvent(r Record) ([]Row, error) {
	var e inventoryv1.Event
	at, month, err := open(r, &e, e.GetTimestampMs)
	if err != nil {
		return nil, err
	}
	st := e.GetStock()
	return []Row{{InventoryEvents, []any{eventType(e.GetType()), e.GetCommandId(),
		e.GetOrderId(), e.GetSku(), e.GetQty(), e.GetReason(), e.GetSeq(), st.GetOnHand(), st.GetReserved(),
		st.GetSold(), at}, month}}, nil
}

func linesOf(lines []*ordersv1.OrderLine) (n uint32, units int64) {
	for _, l := range lines {
		units += l.GetQty()
	}
	return uint32(len(lines)), units
}

// ErrOverflow is wrapped by the error for a placed order whose total does not fit an int64, and
// ErrInvalid by one with a negative quantity or price: the saga rejects both, and their amount
// would be nonsense in a sum.
var (
	ErrOverflow = errors.New("amount_overflow")
	ErrInvalid  = errors.New("invalid")
)

// total is the sum of qty * unit price over lines.
func total(lines []*ordersv1.OrderLine) (int64, error) {
	var sum int64
	for i, l := range lines {
		if l.GetQty() < 0 || l.GetUnitPriceMinor() < 0 {
			return 0, fmt.Errorf("%w: lines[%d] has a negative qty or unit_price_minor", ErrInvalid, i)
		}
		hi, lo := bits.Mul64(uint64(l.GetQty()), uint64(l.GetUnitPriceMinor()))
		if hi != 0 || lo > math.MaxInt64 || sum > math.MaxInt64-int64(lo) {
			return 0, fmt.Errorf("%w: lines[%d]", ErrOverflow, i)
		}
		sum += int64(lo)
	}
	return sum, nil
}

func orderEvent(r Record) ([]Row, error) {
	var e ordersv1.OrderEvent
	at, month, err := open(r, &e, e.GetTimestampMs)
	if err != nil {
		return nil, err
	}
	var kind, user, currency, reason string
	var lines uint32
	var units, amount int64
	switch k := e.GetKind().(type) {
	case *ordersv1.OrderEvent_Placed:
		kind, user, currency = "placed", k.Placed.GetUserId(), k.Placed.GetCurrency()
		lines, units = linesOf(k.Placed.GetLines())
		if amount, err = total(k.Placed.GetLines()); err != nil {
			return nil, fmt.Errorf("%s: order %q: %w", r.Topic, e.GetOrderId(), err)
		}
	case *ordersv1.OrderEvent_PaymentFailed:
		kind, user, amount, reason = "payment_failed", k.PaymentFailed.GetUserId(), k.PaymentFailed.GetAmountMinor(), k.PaymentFailed.GetReason()
	case *ordersv1.OrderEvent_Cancelled:
		kind, reason = "cancelled", k.Cancelled.GetReason()
	case *ordersv1.OrderEvent_Confirmed:
		kind, user, currency, amount = "confirmed", k.Confirmed.GetUserId(), k.Confirmed.GetCurrency(), k.Confirmed.GetTotalMinor()
		lines, units = linesOf(k.Confirmed.GetLines())
	case *ordersv1.OrderEvent_Rejected:
		kind, reason = "rejected", k.Rejected.GetReason()
	default:
		return nil, fmt.Errorf("%w: order event %q has no kind", ErrNoKind, e.GetEventId())
	}
	return []Row{{OrderEvents, []any{e.GetEventId(), e.GetOrderId(), kind, user, currency, lines, units,
		amount, reason, at}, month}}, nil
}

func orderOutcome(r Record) ([]Row, error) {
	var e ordersv1.OrderEvent
	at, month, err := open(r, &e, e.GetTimestampMs)
	if err != nil {
		return nil, err
	}
	switch k := e.GetKind().(type) {
	case *ordersv1.OrderEvent_Confirmed:
		c := k.Confirmed
		n, units := linesOf(c.GetLines())
		reasons := c.GetReviewReasons()
		if reasons == nil {
			reasons = []string{}
		}
		rows := []Row{{OrderOutcomes, []any{e.GetEventId(), e.GetOrderId(), "confirmed", c.GetUserId(),
			c.GetCurrency(), c.GetTotalMinor(), units, n, u8(c.GetReview()), reasons, "", "", at}, month}}
		for i, l := range c.GetLines() {
			rows = append(rows, Row{OrderLines, []any{uint32(i), e.GetOrderId(), l.GetSku(), l.GetQty(),
				l.GetUnitPriceMinor(), l.GetQty() * l.GetUnitPriceMinor(), c.GetCurrency(), at}, month})
		}
		return rows, nil
	case *ordersv1.OrderEvent_Rejected:
		return []Row{{OrderOutcomes, []any{e.GetEventId(), e.GetOrderId(), "rejected", "", "", int64(0),
			int64(0), uint32(0), uint8(0), []string{}, k.Rejected.GetReason(), k.Rejected.GetDetail(), at}, month}}, nil
	default:
		return nil, fmt.Errorf("%w: outcome %q is neither confirmed nor rejected", ErrNoKind, e.GetEventId())
	}
}

func sagaMessage(r Record) ([]Row, error) {
	var m ordersv1.SagaMessage
	at, month, err := open(r, &m, m.GetTimestampMs)
	if err != nil {
		return nil, err
	}
	switch k := m.GetKind().(type) {
	case *ordersv1.SagaMessage_Fraud:
		d := k.Fraud
		outcome := outcomeName(d.GetOutcome())
		codes := make([]string, 0, len(d.GetReasons()))
		rows := []Row{
			{SagaEvents, []any{m.GetOrderId(), "fraud", "", int32(0), uint8(0), int64(0), "", int64(0), at}, month},
			{FraudDecisions, nil, month},
		}
		for i, reason := range d.GetReasons() {
			codes = append(codes, reason.GetCode())
			rows = append(rows, Row{FraudDecisionReasons, []any{uint32(i), m.GetOrderId(), outcome, reason.GetCode(),
				reason.GetContribution(), at}, month})
		}
		rows[1].Values = []any{m.GetOrderId(), d.GetUserId(), outcome, d.GetScore(), codes, d.GetModelVersion(), at}
		return rows, nil
	case *ordersv1.SagaMessage_Quote:
		q := k.Quote
		return []Row{{SagaEvents, []any{m.GetOrderId(), "quote", q.GetSku(), q.GetLine(), u8(q.GetFound()),
			q.GetPriceMinor(), q.GetCurrency(), int64(0), at}, month}}, nil
	case *ordersv1.SagaMessage_Timeout:
		return []Row{{SagaEvents, []any{m.GetOrderId(), "timeout", "", int32(0), uint8(0), int64(0), "",
			k.Timeout.GetSteps(), at}, month}}, nil
	default:
		return nil, fmt.Errorf("%w: saga message for order %q has no kind", ErrNoKind, m.GetOrderId())
	}
}

// flashSaleMessage keeps a sale's creation, which says how many units it offers; the other
// messages of the sale's internal topic are its processors' own traffic.
func flashSaleMessage(r Record) ([]Row, error) {
	var m flashsalev1.Message
	if err := decode(r, &m); err != nil {
		return nil, err
	}
	if m.GetKind() != flashsalev1.Kind_KIND_CREATE {
		return nil, nil
	}
	at, month, err := eventTime("timestamp_ms", m.GetTimestampMs())
	if err != nil {
		return nil, err
	}
	s := m.GetSale()
	starts, _, err := eventTime("sale.starts_at_ms", s.GetStartsAtMs())
	if err != nil {
		return nil, err
	}
	ends, _, err := eventTime("sale.ends_at_ms", s.GetEndsAtMs())
	if err != nil {
		return nil, err
	}
	return []Row{{FlashSaleSales, []any{s.GetId(), s.GetSku(), s.GetUnits(), s.GetPriceMinor(),
		s.GetPerUserLimit(), s.GetBuckets(), starts, ends, at}, month}}, nil
}

func flashSaleResult(r Record) ([]Row, error) {
	var res flashsalev1.Result
	at, month, err := open(r, &res, res.GetTimestampMs)
	if err != nil {
		return nil, err
	}
	return []Row{{FlashSaleResults, []any{res.GetSaleId(), res.GetIdempotencyKey(), res.GetUserId(),
		res.GetQty(), statusName(res.GetStatus()), res.GetReason(), res.GetBucket(),
		res.GetPriceMinor(), at}, month}}, nil
}

func priceChanged(r Record) ([]Row, error) {
	var p pricingv1.PriceChanged
	at, month, err := open(r, &p, p.GetTimestampMs)
	if err != nil {
		return nil, err
	}
	rules := make([]string, 0, len(p.GetContributions()))
	for _, c := range p.GetContributions() {
		rules = append(rules, c.GetRule())
	}
	return []Row{{PriceChanges, []any{p.GetSku(), p.GetCurrency(), p.GetBaseMinor(), p.GetPriceMinor(),
		p.GetCause(), p.GetVersion(), p.GetCommandId(), rules, at}, month}}, nil
}

func viewEvent(r Record) ([]Row, error) {
	var v recommendationsv1.ViewEvent
	at, month, err := open(r, &v, v.GetTimestampMs)
	if err != nil {
		return nil, err
	}
	return []Row{{RecommendationViews, []any{v.GetEventId(), v.GetUserId(), v.GetSku(), v.GetSessionId(), at}, month}}, nil
}
