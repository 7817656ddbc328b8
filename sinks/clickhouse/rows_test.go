package clickhouse

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/schemas"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
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

// checkRows holds every converter to its tables: each row goes to a table of its stream, with one
// value per column after topic, partition and offset, and a month that is its event time's.
func checkRows(t testing.TB, st Stream, rows []Row) {
	t.Helper()
	for _, r := range rows {
		if !slices.Contains(st.Tables, r.Table) {
			t.Fatalf("%s: a row for %s, not one of its tables", st.Topic, r.Table.Name)
		}
		if len(r.Values) != len(r.Table.Columns)-3 {
			t.Fatalf("%s: %d values for the %d columns of %s", st.Topic, len(r.Values), len(r.Table.Columns)-3, r.Table.Name)
		}
		at, ok := r.Values[len(r.Values)-1].(time.Time)
		if !ok || r.Table.Columns[len(r.Table.Columns)-1] != "event_time" {
			t.Fatalf("%s: the last column of %s is not its event time", st.Topic, r.Table.Name)
		}
		if r.Month != at.Year()*100+int(at.Month()) {
			t.Fatalf("%s: month %d for a row of %v", st.Topic, r.Month, at)
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
			rows, err := stream(tc.topic).Convert(Record{Topic: tc.topic, Value: tc.value})
			if !errors.Is(err, tc.want) || rows != nil {
				t.Fatalf("rows %v, err %v; want %v", rows, err, tc.want)
			}
			if Reason(err) != tc.want.Error() {
				t.Fatalf("reason %q, want %q", Reason(err), tc.want.Error())
			}
		})
	}
}

// A flash sale's internal traffic other than its creation adds no row and is no dead letter.
func TestConvertSkipsSaleTraffic(t *testing.T) {
	rows, err := stream(schemas.FlashSaleInternal).Convert(Record{Value: marshal(t, &flashsalev1.Message{Kind: flashsalev1.Kind_KIND_TAKE, TimestampMs: -5})})
	if err != nil || len(rows) != 0 {
		t.Fatalf("rows %v, err %v", rows, err)
	}
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
		rows, err := st.Convert(Record{Topic: st.Topic, Value: value})
		if err != nil {
			if rows != nil {
				t.Fatalf("rows beside an error: %v", err)
			}
			return
		}
		checkRows(t, st, rows)
	})
}
