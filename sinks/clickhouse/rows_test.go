package clickhouse

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/schemas"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
)

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func stream(topic string) Stream {
	for _, st := range Streams {
		if st.Topic == topic {
			return st
		}
	}
	panic(topic)
}

// convert converts one record of st into an Out of its own.
func convert(st Stream, r Record) (*Out, error) {
	out := NewOut()
	return out, out.Convert(st, r)
}

// checkRows holds every converter to its tables: each row goes to a table of its stream, with one
// value per column, and a month that is its event time's.
func checkRows(t testing.TB, st Stream, out *Out) {
	t.Helper()
	for _, tb := range tables {
		rows := out.Rows(tb)
		if rows == nil || rows.Len() == 0 {
			continue
		}
		if !slices.Contains(st.Tables, tb) {
			t.Fatalf("%s: a row for %s, not one of its tables", st.Topic, tb.Name)
		}
		if err := rows.complete(); err != nil {
			t.Fatalf("%s: %v", st.Topic, err)
		}
		for i := range rows.Len() {
			values := rows.Values(i)
			if len(values) != len(tb.Columns) {
				t.Fatalf("%s: %d values for the %d columns of %s", st.Topic, len(values), len(tb.Columns), tb.Name)
			}
			at, ok := values[len(values)-1].(time.Time)
			if !ok || tb.Columns[len(tb.Columns)-1] != "event_time" {
				t.Fatalf("%s: the last column of %s is not its event time", st.Topic, tb.Name)
			}
			if rows.Month(i) != at.Year()*100+int(at.Month()) {
				t.Fatalf("%s: month %d for a row of %v", st.Topic, rows.Month(i), at)
			}
		}
	}
}

func TestConvertRefuses(t *testing.T) {
	placed := func(lines ...*ordersv1.OrderLine) []byte {
		return marshal(t, &ordersv1.OrderEvent{EventId: "e", OrderId: "o", TimestampMs: 1e12,
			Kind: &ordersv1.OrderEvent_Placed{Placed: &ordersv1.OrderPlaced{Currency: "EUR", Lines: lines}}})
	}
	for _, tc := range []struct {
		name  string
		topic string
		value []byte
		want  error
	}{
		{"not protobuf", schemas.InventoryEvents, []byte{0xff, 0xff, 0xff}, ErrUndecodable},
		{"no kind", schemas.OrderOutcomes, marshal(t, &ordersv1.OrderEvent{EventId: "e", TimestampMs: 1e12}), ErrNoKind},
		{"placed is no outcome", schemas.OrderOutcomes, placed(), ErrNoKind},
		{"before 1970", schemas.OrderEvents, marshal(t, &ordersv1.OrderEvent{TimestampMs: -1,
			Kind: &ordersv1.OrderEvent_Cancelled{Cancelled: &ordersv1.OrderCancelled{}}}), ErrTimeRange},
		{"after 2100", schemas.OrderEvents, marshal(t, &ordersv1.OrderEvent{TimestampMs: math.MaxInt64,
			Kind: &ordersv1.OrderEvent_Cancelled{Cancelled: &ordersv1.OrderCancelled{}}}), ErrTimeRange},
		{"a sale ending after 2100", schemas.FlashSaleInternal, marshal(t, &flashsalev1.Message{Kind: flashsalev1.Kind_KIND_CREATE,
			TimestampMs: 1e12, Sale: &flashsalev1.Sale{Id: "s", StartsAtMs: 1e12, EndsAtMs: math.MaxInt64}}), ErrTimeRange},
		{"a total past int64", schemas.OrderEvents, placed(&ordersv1.OrderLine{Sku: "a", Qty: 1 << 40, UnitPriceMinor: 1 << 40}), ErrOverflow},
		{"a sum past int64", schemas.OrderEvents, placed(&ordersv1.OrderLine{Sku: "a", Qty: 1, UnitPriceMinor: math.MaxInt64},
			&ordersv1.OrderLine{Sku: "b", Qty: 1, UnitPriceMinor: 1}), ErrOverflow},
		{"a negative price", schemas.OrderEvents, placed(&ordersv1.OrderLine{Sku: "a", Qty: 1, UnitPriceMinor: -5}), ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := convert(stream(tc.topic), Record{Topic: tc.topic, Value: tc.value})
			if !errors.Is(err, tc.want) || out.Len() != 0 {
				t.Fatalf("%d rows, err %v; want %v", out.Len(), err, tc.want)
			}
			if Reason(err) != tc.want.Error() {
				t.Fatalf("reason %q, want %q", Reason(err), tc.want.Error())
			}
		})
	}
}

// A flash sale's internal traffic other than its creation adds no row and is no dead letter.
func TestConvertSkipsSaleTraffic(t *testing.T) {
	out, err := convert(stream(schemas.FlashSaleInternal), Record{Value: marshal(t, &flashsalev1.Message{Kind: flashsalev1.Kind_KIND_TAKE, TimestampMs: -5})})
	if err != nil || out.Len() != 0 {
		t.Fatalf("%d rows, err %v", out.Len(), err)
	}
}

// A record refused after its converter added rows leaves none of them behind, in any table, and
// the rows of the records before it stay whole.
func TestConvertRefusedAddsNoRows(t *testing.T) {
	at := time.Unix(1e9, 0).UTC()
	st := Stream{Topic: "t", Tables: []*Table{OrderOutcomes, OrderLines}, Convert: func(r Record, out *Out) error {
		out.Row(OrderLines, 200109).U32(0).Str("o").Str("a").I64(1).I64(2).I64(2).Str("EUR").Time(at)
		if r.Offset == 1 {
			out.Row(OrderLines, 200109).U32(1).Str("o").Str("b") // half a row
			return ErrInvalid
		}
		return nil
	}}
	out := NewOut()
	if err := out.Convert(st, Record{Topic: "t", Offset: 0}); err != nil {
		t.Fatal(err)
	}
	if err := out.Convert(st, Record{Topic: "t", Offset: 1}); !errors.Is(err, ErrInvalid) {
		t.Fatal(err)
	}
	lines := out.Rows(OrderLines)
	if err := lines.complete(); err != nil || lines.Len() != 1 {
		t.Fatalf("%d rows (%v), want the first record's one", lines.Len(), err)
	}
	if got, want := lines.Values(0), []any{"t", int32(0), int64(0), uint32(0), "o", "a", int64(1), int64(2), int64(2), "EUR", at}; !slices.Equal(got, want) {
		t.Fatalf("row %v, want %v", got, want)
	}
}

// A converter that gives a column a value of another type is caught at once, naming the column.
func TestRowRefusesAValueOfAnotherType(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "order_lines.line") {
			t.Fatalf("recovered %v, want a panic naming order_lines.line", r)
		}
	}()
	NewOut().Row(OrderLines, 200109).Str("0")
}

// FuzzConvert feeds every converter arbitrary bytes: none may panic, and what it accepts fits its
// tables.
func FuzzConvert(f *testing.F) {
	f.Add(0, []byte{})
	f.Add(2, marshal(f, &ordersv1.OrderEvent{EventId: "e", OrderId: "o", TimestampMs: 1e12,
		Kind: &ordersv1.OrderEvent_Confirmed{Confirmed: &ordersv1.OrderConfirmed{Lines: []*ordersv1.OrderLine{{Sku: "a", Qty: 1}}}}}))
	f.Add(4, marshal(f, &flashsalev1.Message{Kind: flashsalev1.Kind_KIND_CREATE, TimestampMs: 1e12, Sale: &flashsalev1.Sale{Id: "s"}}))
	f.Fuzz(func(t *testing.T, which int, value []byte) {
		st := Streams[uint(which)%uint(len(Streams))]
		out, err := convert(st, Record{Topic: st.Topic, Value: value})
		if err != nil {
			if out.Len() != 0 {
				t.Fatalf("%d rows beside an error: %v", out.Len(), err)
			}
			return
		}
		checkRows(t, st, out)
	})
}

// BenchmarkConvert is the sink's own work per record, without Kafka or ClickHouse: decoding an
// inventory event and adding its row to a batch of 10,000.
func BenchmarkConvert(b *testing.B) {
	st := stream(schemas.InventoryEvents)
	values := make([][]byte, 10_000)
	for i := range values {
		values[i] = marshal(b, &inventoryv1.Event{Type: inventoryv1.EventType_EVENT_TYPE_RESERVED, Sku: fmt.Sprintf("sku-%d", i%5000),
			Qty: 1, OrderId: fmt.Sprintf("o%d", i), CommandId: fmt.Sprintf("c%d", i), Seq: int64(i), TimestampMs: 1.7e12,
			Stock: &inventoryv1.Stock{OnHand: 100, Reserved: 1}})
	}
	out := NewOut()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(values) {
			out.reset()
			i = 0
		}
		if err := out.Convert(st, Record{Topic: "t", Offset: int64(i), Value: values[i]}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
