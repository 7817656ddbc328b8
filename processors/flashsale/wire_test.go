package flashsale

import (
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/processors/inventory"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
)

func roundTrip(t *testing.T, s State) State {
	t.Helper()
	b, err := proto.Marshal(StateToWire(s))
	if err != nil {
		t.Fatal(err)
	}
	var w flashsalev1.State
	if err := proto.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	return StateFromWire(&w)
}

func TestStateRoundTrip(t *testing.T) {
	r := testRouter{}
	sl, _ := reported(t, 1, 3)
	sl.Seen = Seen{}
	sl.Seen[Origin{Stream: 1, Partition: 3}.Source()] = Origin{Stream: 1, Partition: 3, Offset: 9, Seq: 1}
	failed, _ := OnInventory(allocating(t, sale(4, 1)), answer(inventory.EventRejected, AllocateCommandID("s"), 4, inventory.ReasonInsufficientStock), r)

	b := openBucket(1, 2, 0)
	b, _ = DecideBucket(b, Message{Kind: KindTake, SaleID: "s", IdempotencyKey: "k1", UserID: "u", Qty: 1, Time: t0.Add(time.Second)}, r)
	b, _ = DecideBucket(b, Message{Kind: KindTake, SaleID: "s", IdempotencyKey: "k2", UserID: "v", Qty: 1, Time: t0.Add(time.Second),
		Internal: true, Origin: Origin{Partition: 1, Offset: 4}}, r)

	u, _ := DecideUser(UserState{}, Message{Kind: KindPurchase, SaleID: "s", UserID: "u", IdempotencyKey: "a", Qty: 1, Bucket: 1, Time: t0}, r)
	u, _ = DecideUser(u, Message{Kind: KindPurchase, SaleID: "s", UserID: "u", IdempotencyKey: "b", Qty: 0, Bucket: 1, Time: t0}, r)

	closed, _ := DecideBucket(b, Message{Kind: KindClose, SaleID: "s", Time: t0.Add(2 * time.Hour)}, r)
	for _, s := range []State{{Sale: &sl}, {Sale: &failed}, {Bucket: &b}, {Bucket: &closed}, {User: &u}} {
		if got := roundTrip(t, s); !reflect.DeepEqual(got, s) {
			t.Errorf("round trip changed the state:\n got %+v\nwant %+v", got, s)
		}
	}
}

func TestEnumsMatchWire(t *testing.T) {
	if flashsalev1.Kind(KindGrant) != flashsalev1.Kind_KIND_GRANT || flashsalev1.Kind(KindDefine) != flashsalev1.Kind_KIND_DEFINE ||
		flashsalev1.Kind(KindCreate) != flashsalev1.Kind_KIND_CREATE || flashsalev1.Kind(KindAbandon) != flashsalev1.Kind_KIND_ABANDON {
		t.Fatal("kinds drifted from the wire enum")
	}
	if flashsalev1.SalePhase(PhaseAllocating) != flashsalev1.SalePhase_SALE_PHASE_ALLOCATING ||
		flashsalev1.SalePhase(PhaseSettlementFailed) != flashsalev1.SalePhase_SALE_PHASE_SETTLEMENT_FAILED {
		t.Fatal("phases drifted from the wire enum")
	}
	if flashsalev1.Status(StatusRejected) != flashsalev1.Status_STATUS_REJECTED {
		t.Fatal("statuses drifted from the wire enum")
	}
}

// TestSaleStateBeforePhase reads the sale states written before phases:
// a defined sale is open, a settled one settled.
func TestSaleStateBeforePhase(t *testing.T) {
	for _, tc := range []struct {
		defined, settled bool
		phase            Phase
	}{{false, false, PhaseNone}, {true, false, PhaseOpen}, {true, true, PhaseSettled}} {
		w := &flashsalev1.State{Kind: &flashsalev1.State_Sale{Sale: &flashsalev1.SaleState{
			Sale: SaleToWire(sale(3, 1)), Defined: tc.defined, Settled: tc.settled}}}
		if got := StateFromWire(w).Sale.Phase; got != tc.phase {
			t.Errorf("defined %v settled %v: phase %v, want %v", tc.defined, tc.settled, got, tc.phase)
		}
	}
}
