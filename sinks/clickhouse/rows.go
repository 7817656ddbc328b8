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

// Table is one raw table: its name and columns. Every table's first three columns are topic,
// partition and offset: where the record was in Kafka.
type Table struct {
	Name string
	// Columns are the names of all its columns, topic, partition and offset first.
	Columns []string
	columns []Column // after topic, partition and offset
	id      int      // its index in tables
	insert  string
}

// tables are the raw tables, in the order they are written.
var tables []*Table

func table(name string, columns ...Column) *Table {
	t := &Table{Name: name, Columns: []string{"topic", "partition", "offset"}, columns: columns, id: len(tables)}
	for _, c := range columns {
		t.Columns = append(t.Columns, c.Name)
	}
	t.insert = "INSERT INTO " + name + " (" + strings.Join(t.Columns, ", ") + ")"
	tables = append(tables, t)
	return t
}

// The raw tables, as the migrations create them.
var (
	InventoryEvents = table("inventory_events", String("type"), String("command_id"), String("order_id"),
		String("sku"), Int64("qty"), String("reason"), Int64("seq"), Int64("on_hand"), Int64("reserved"),
		Int64("sold"), DateTime("event_time"))
	OrderEvents = table("order_events", String("event_id"), String("order_id"), String("kind"),
		String("user_id"), String("currency"), UInt32("lines"), Int64("units"), Int64("amount_minor"),
		String("reason"), DateTime("event_time"))
	OrderOutcomes = table("order_outcomes", String("event_id"), String("order_id"), String("status"),
		String("user_id"), String("currency"), Int64("total_minor"), Int64("units"), UInt32("lines"),
		UInt8("review"), Strings("review_reasons"), String("reason"), String("detail"), DateTime("event_time"))
	OrderLines = table("order_lines", UInt32("line"), String("order_id"), String("sku"), Int64("qty"),
		Int64("unit_price_minor"), Int64("revenue_minor"), String("currency"), DateTime("event_time"))
	SagaEvents = table("saga_events", String("order_id"), String("kind"), String("sku"), Int32("line"),
		UInt8("found"), Int64("price_minor"), String("currency"), Int64("steps"), DateTime("event_time"))
	FraudDecisions = table("fraud_decisions", String("order_id"), String("user_id"), String("outcome"),
		Float64("score"), Strings("reasons"), String("model_version"), DateTime("event_time"))
	FraudDecisionReasons = table("fraud_decision_reasons", UInt32("line"), String("order_id"),
		String("outcome"), String("reason"), Float64("contribution"), DateTime("event_time"))
	FlashSaleSales = table("flashsale_sales", String("sale_id"), String("sku"), Int64("units"),
		Int64("price_minor"), Int64("per_user_limit"), Int32("buckets"), DateTime("starts_at"),
		DateTime("ends_at"), DateTime("event_time"))
	FlashSaleResults = table("flashsale_results", String("sale_id"), String("idempotency_key"),
		String("user_id"), Int64("qty"), String("status"), String("reason"), Int32("bucket"),
		Int64("price_minor"), DateTime("event_time"))
	PriceChanges = table("price_changes", String("sku"), String("currency"), Int64("base_minor"),
		Int64("price_minor"), String("cause"), Int64("version"), String("command_id"), Strings("rules"),
		DateTime("event_time"))
	RecommendationViews = table("recommendation_views", String("event_id"), String("user_id"),
		String("sku"), String("session_id"), DateTime("event_time"))
)

// Record is what a converter needs of a Kafka record.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Value     []byte
}

// Converter turns one record of a topic into the rows it adds to out, or returns an error that
// says why the record cannot be written (it goes to the dead-letter topic with that reason).
type Converter func(r Record, out *Out) error

// Stream is one topic the sink reads: its name without a namespace and its converter.
type Stream struct {
	Topic   string
	Convert Converter
	// Tables are the tables its rows go to, three at most.
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

func inventoryEvent(r Record, out *Out) error {
	var e inventoryv1.Event
	at, month, err := open(r, &e, e.GetTimestampMs)
	if err != nil {
		return err
	}
	st := e.GetStock()
	out.Row(InventoryEvents, month).Str(eventType(e.GetType())).Str(e.GetCommandId()).Str(e.GetOrderId()).
		Str(e.GetSku()).I64(e.GetQty()).Str(e.GetReason()).I64(e.GetSeq()).I64(st.GetOnHand()).
		I64(st.GetReserved()).I64(st.GetSold()).Time(at)
	return nil
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

func orderEvent(r Record, out *Out) error {
	var e ordersv1.OrderEvent
	at, month, err := open(r, &e, e.GetTimestampMs)
	if err != nil {
		return err
	}
	var kind, user, currency, reason string
	var lines uint32
	var units, amount int64
	switch k := e.GetKind().(type) {
	case *ordersv1.OrderEvent_Placed:
		kind, user, currency = "placed", k.Placed.GetUserId(), k.Placed.GetCurrency()
		lines, units = linesOf(k.Placed.GetLines())
		if amount, err = total(k.Placed.GetLines()); err != nil {
			return fmt.Errorf("%s: order %q: %w", r.Topic, e.GetOrderId(), err)
		}
	case *ordersv1.OrderEvent_PaymentFailed:
		kind, user, amount, reason = "payment_failed", k.PaymentFailed.GetUserId(), k.PaymentFailed.GetAmountMinor(), k.PaymentFailed.GetReason()
	case *ordersv1.OrderEvent_Paid:
		kind, user, currency, amount = "paid", k.Paid.GetUserId(), k.Paid.GetCurrency(), k.Paid.GetAmountMinor()
	case *ordersv1.OrderEvent_Cancelled:
		kind, reason = "cancelled", k.Cancelled.GetReason()
	case *ordersv1.OrderEvent_Confirmed:
		kind, user, currency, amount = "confirmed", k.Confirmed.GetUserId(), k.Confirmed.GetCurrency(), k.Confirmed.GetTotalMinor()
		lines, units = linesOf(k.Confirmed.GetLines())
	case *ordersv1.OrderEvent_Rejected:
		kind, reason = "rejected", k.Rejected.GetReason()
	default:
		return fmt.Errorf("%w: order event %q has no kind", ErrNoKind, e.GetEventId())
	}
	out.Row(OrderEvents, month).Str(e.GetEventId()).Str(e.GetOrderId()).Str(kind).Str(user).Str(currency).
		U32(lines).I64(units).I64(amount).Str(reason).Time(at)
	return nil
}

func orderOutcome(r Record, out *Out) error {
	var e ordersv1.OrderEvent
	at, month, err := open(r, &e, e.GetTimestampMs)
	if err != nil {
		return err
	}
	switch k := e.GetKind().(type) {
	case *ordersv1.OrderEvent_Confirmed:
		c := k.Confirmed
		n, units := linesOf(c.GetLines())
		reasons := c.GetReviewReasons()
		if reasons == nil {
			reasons = []string{}
		}
		out.Row(OrderOutcomes, month).Str(e.GetEventId()).Str(e.GetOrderId()).Str("confirmed").Str(c.GetUserId()).
			Str(c.GetCurrency()).I64(c.GetTotalMinor()).I64(units).U32(n).Bool(c.GetReview()).Strs(reasons).
			Str("").Str("").Time(at)
		for i, l := range c.GetLines() {
			out.Row(OrderLines, month).U32(uint32(i)).Str(e.GetOrderId()).Str(l.GetSku()).I64(l.GetQty()).
				I64(l.GetUnitPriceMinor()).I64(l.GetQty() * l.GetUnitPriceMinor()).Str(c.GetCurrency()).Time(at)
		}
		return nil
	case *ordersv1.OrderEvent_Rejected:
		out.Row(OrderOutcomes, month).Str(e.GetEventId()).Str(e.GetOrderId()).Str("rejected").Str("").Str("").
			I64(0).I64(0).U32(0).U8(0).Strs([]string{}).Str(k.Rejected.GetReason()).Str(k.Rejected.GetDetail()).Time(at)
		return nil
	default:
		return fmt.Errorf("%w: outcome %q is neither confirmed nor rejected", ErrNoKind, e.GetEventId())
	}
}

func sagaMessage(r Record, out *Out) error {
	var m ordersv1.SagaMessage
	at, month, err := open(r, &m, m.GetTimestampMs)
	if err != nil {
		return err
	}
	switch k := m.GetKind().(type) {
	case *ordersv1.SagaMessage_Fraud:
		d := k.Fraud
		outcome := outcomeName(d.GetOutcome())
		codes := make([]string, 0, len(d.GetReasons()))
		out.Row(SagaEvents, month).Str(m.GetOrderId()).Str("fraud").Str("").I32(0).U8(0).I64(0).Str("").I64(0).Time(at)
		for i, reason := range d.GetReasons() {
			codes = append(codes, reason.GetCode())
			out.Row(FraudDecisionReasons, month).U32(uint32(i)).Str(m.GetOrderId()).Str(outcome).Str(reason.GetCode()).
				F64(reason.GetContribution()).Time(at)
		}
		out.Row(FraudDecisions, month).Str(m.GetOrderId()).Str(d.GetUserId()).Str(outcome).F64(d.GetScore()).
			Strs(codes).Str(d.GetModelVersion()).Time(at)
		return nil
	case *ordersv1.SagaMessage_Quote:
		q := k.Quote
		out.Row(SagaEvents, month).Str(m.GetOrderId()).Str("quote").Str(q.GetSku()).I32(q.GetLine()).
			Bool(q.GetFound()).I64(q.GetPriceMinor()).Str(q.GetCurrency()).I64(0).Time(at)
		return nil
	case *ordersv1.SagaMessage_Timeout:
		out.Row(SagaEvents, month).Str(m.GetOrderId()).Str("timeout").Str("").I32(0).U8(0).I64(0).Str("").
			I64(k.Timeout.GetSteps()).Time(at)
		return nil
	default:
		return fmt.Errorf("%w: saga message for order %q has no kind", ErrNoKind, m.GetOrderId())
	}
}

// flashSaleMessage keeps a sale's creation, which says how many units it offers; the other
// messages of the sale's internal topic are its processors' own traffic.
func flashSaleMessage(r Record, out *Out) error {
	var m flashsalev1.Message
	if err := decode(r, &m); err != nil {
		return err
	}
	if m.GetKind() != flashsalev1.Kind_KIND_CREATE {
		return nil
	}
	at, month, err := eventTime("timestamp_ms", m.GetTimestampMs())
	if err != nil {
		return err
	}
	s := m.GetSale()
	starts, _, err := eventTime("sale.starts_at_ms", s.GetStartsAtMs())
	if err != nil {
		return err
	}
	ends, _, err := eventTime("sale.ends_at_ms", s.GetEndsAtMs())
	if err != nil {
		return err
	}
	out.Row(FlashSaleSales, month).Str(s.GetId()).Str(s.GetSku()).I64(s.GetUnits()).I64(s.GetPriceMinor()).
		I64(s.GetPerUserLimit()).I32(s.GetBuckets()).Time(starts).Time(ends).Time(at)
	return nil
}

func flashSaleResult(r Record, out *Out) error {
	var res flashsalev1.Result
	at, month, err := open(r, &res, res.GetTimestampMs)
	if err != nil {
		return err
	}
	out.Row(FlashSaleResults, month).Str(res.GetSaleId()).Str(res.GetIdempotencyKey()).Str(res.GetUserId()).
		I64(res.GetQty()).Str(statusName(res.GetStatus())).Str(res.GetReason()).I32(res.GetBucket()).
		I64(res.GetPriceMinor()).Time(at)
	return nil
}

func priceChanged(r Record, out *Out) error {
	var p pricingv1.PriceChanged
	at, month, err := open(r, &p, p.GetTimestampMs)
	if err != nil {
		return err
	}
	rules := make([]string, 0, len(p.GetContributions()))
	for _, c := range p.GetContributions() {
		rules = append(rules, c.GetRule())
	}
	out.Row(PriceChanges, month).Str(p.GetSku()).Str(p.GetCurrency()).I64(p.GetBaseMinor()).I64(p.GetPriceMinor()).
		Str(p.GetCause()).I64(p.GetVersion()).Str(p.GetCommandId()).Strs(rules).Time(at)
	return nil
}

func viewEvent(r Record, out *Out) error {
	var v recommendationsv1.ViewEvent
	at, month, err := open(r, &v, v.GetTimestampMs)
	if err != nil {
		return err
	}
	out.Row(RecommendationViews, month).Str(v.GetEventId()).Str(v.GetUserId()).Str(v.GetSku()).
		Str(v.GetSessionId()).Time(at)
	return nil
}
