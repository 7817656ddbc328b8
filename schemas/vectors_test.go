package schemas_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/schemas"
	flashsalev1 "github.com/titan-commerce/titan/schemas/flashsale/v1"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	ordersv1 "github.com/titan-commerce/titan/schemas/orders/v1"
	pricingv1 "github.com/titan-commerce/titan/schemas/pricing/v1"
	recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"
)

// The golden vectors pin Titan's wire contract for producers in any language: the bytes each
// input record encodes to and the partition each key goes to. The Go tests here check them
// against this module's encoding and partitioner; an SDK in another language checks the same files,
// so no two producers can drift apart without a test failing. `go test ./schemas -run Vectors
// -update` rewrites them from the lists below: a change to them is a change of the contract.
var update = flag.Bool("update", false, "rewrite the golden vectors in testdata/")

// partitionVectors are the file of key -> partition vectors.
type partitionVectors struct {
	Comment    string      `json:"comment"`
	Partitions []int32     `json:"partition_counts"`
	Keys       []keyVector `json:"keys"`
}

type keyVector struct {
	Key string `json:"key"`
	// Hex is the key's bytes, so that no JSON reader's handling of Unicode can change the key.
	Hex        string  `json:"key_hex"`
	Partitions []int32 `json:"partitions"` // one per partition count, in the file's order
}

// recordVectors are the file of record -> bytes vectors.
type recordVectors struct {
	Comment string         `json:"comment"`
	Records []recordVector `json:"records"`
}

type recordVector struct {
	Name string `json:"name"`
	// IdempotencyKey is the key an SDK's typed send of this input is given: the record's id is the
	// one derived from it (schemas.DeriveID), or, for a purchase, the key itself. Empty for a record
	// no typed send makes.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Topic is the topic the record is sent to, without a namespace.
	Topic string `json:"topic"`
	// Type is the message's full protobuf name.
	Type string `json:"type"`
	// Key is the record's key, which the topic's processor partitions by.
	Key string `json:"key"`
	// Message is the message in protobuf's JSON form.
	Message json.RawMessage `json:"message"`
	// Value is the record's value: the message's protobuf encoding, fields in number order, in hex.
	Value string `json:"value_hex"`
}

const (
	partitionsFile = "testdata/vectors/partitions.json"
	recordsFile    = "testdata/vectors/records.json"
	// at is the time of every vector record: a fixed one, so the bytes do not change.
	at = 1796083200000 // 2026-12-01T00:00:00Z
)

var partitionCounts = []int32{1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 100, 1000}

// vectorKeys cover murmur2's tail of 0 to 3 bytes, multi-byte UTF-8 and the longest id.
var vectorKeys = []string{
	"a", "ab", "abc", "abcd", "abcde", "abcdef", "abcdefg",
	"sku-1", "sku-2", "sku-42", "SKU-000123", "sku-éclair", "sku-日本", "sku-🛒",
	"order-2026-12-05-0001", "o-1", "user-7", "u:sale-1:user-7", "s:sale-1",
	"0", "-", "_", "a.b", "x" + strings.Repeat("y", 127),
}

// vectorRecords is one record of every input a shop's services send, with its key as the
// processors expect it.
func vectorRecords() []struct {
	name, topic, key, idempotencyKey string
	msg                              proto.Message
} {
	id := schemas.DeriveID
	return []struct {
		name, topic, key, idempotencyKey string
		msg                              proto.Message
	}{
		{"inventory restock", schemas.InventoryCommands, "sku-1", "restock-1", &inventoryv1.Command{CommandId: id("restock-1"), Sku: "sku-1", Qty: 25,
			TimestampMs: at, Kind: &inventoryv1.Command_Restock{Restock: &inventoryv1.Restock{}}}},
		{"inventory reserve", schemas.InventoryCommands, "sku-1", "reserve-1", &inventoryv1.Command{CommandId: id("reserve-1"), OrderId: "order-1",
			Sku: "sku-1", Qty: 2, TimestampMs: at, Kind: &inventoryv1.Command_Reserve{Reserve: &inventoryv1.Reserve{TtlMs: 600000}}}},
		{"inventory commit", schemas.InventoryCommands, "sku-1", "commit-1", &inventoryv1.Command{CommandId: id("commit-1"), OrderId: "order-1",
			Sku: "sku-1", TimestampMs: at, Kind: &inventoryv1.Command_Commit{Commit: &inventoryv1.Commit{}}}},
		{"inventory release", schemas.InventoryCommands, "sku-1", "release-1", &inventoryv1.Command{CommandId: id("release-1"), OrderId: "order-1",
			Sku: "sku-1", TimestampMs: at, Kind: &inventoryv1.Command_Release{Release: &inventoryv1.Release{}}}},
		{"order placed", schemas.OrderEvents, "order-1", "placed-1", &ordersv1.OrderEvent{EventId: id("placed-1"), OrderId: "order-1", TimestampMs: at,
			Kind: &ordersv1.OrderEvent_Placed{Placed: &ordersv1.OrderPlaced{UserId: "user-7", DeviceId: "device-1", PaymentId: "pay-1",
				Currency: "EUR", Lines: []*ordersv1.OrderLine{{Sku: "sku-1", Qty: 2, UnitPriceMinor: 1999}, {Sku: "sku-日本", Qty: 1, UnitPriceMinor: 500}}}}}},
		{"order payment failed", schemas.OrderEvents, "order-1", "payment-failed-1", &ordersv1.OrderEvent{EventId: id("payment-failed-1"), OrderId: "order-1",
			TimestampMs: at, Kind: &ordersv1.OrderEvent_PaymentFailed{PaymentFailed: &ordersv1.PaymentFailed{UserId: "user-7",
				DeviceId: "device-1", PaymentId: "pay-1", AmountMinor: 4498, Reason: "card_declined"}}}},
		{"order paid", schemas.OrderEvents, "order-1", "paid-1", &ordersv1.OrderEvent{EventId: id("paid-1"), OrderId: "order-1", TimestampMs: at,
			Kind: &ordersv1.OrderEvent_Paid{Paid: &ordersv1.OrderPaid{UserId: "user-7", PaymentId: "pay-1", AmountMinor: 4498, Currency: "EUR"}}}},
		{"order cancelled", schemas.OrderEvents, "order-1", "cancelled-1", &ordersv1.OrderEvent{EventId: id("cancelled-1"), OrderId: "order-1",
			TimestampMs: at, Kind: &ordersv1.OrderEvent_Cancelled{Cancelled: &ordersv1.OrderCancelled{Reason: "customer"}}}},
		{"catalog base price", schemas.PricingCommands, "sku-1", "price-1", &pricingv1.Command{CommandId: id("price-1"), Sku: "sku-1", TimestampMs: at,
			Kind: &pricingv1.Command_SetBase{SetBase: &pricingv1.SetBasePrice{PriceMinor: 1999, Currency: "EUR"}}}},
		{"catalog campaign", schemas.PricingCommands, "sku-1", "campaign-1", &pricingv1.Command{CommandId: id("campaign-1"), Sku: "sku-1", TimestampMs: at,
			Kind: &pricingv1.Command_UpsertCampaign{UpsertCampaign: &pricingv1.UpsertCampaign{Campaign: &pricingv1.Campaign{Id: "winter", Kind: pricingv1.CampaignKind_CAMPAIGN_KIND_PERCENT,
				PercentBps: 1500, StartsAtMs: at, EndsAtMs: at + 7*24*3600*1000}}}}},
		{"catalog campaign end", schemas.PricingCommands, "sku-1", "campaign-end-1", &pricingv1.Command{CommandId: id("campaign-end-1"), Sku: "sku-1",
			TimestampMs: at, Kind: &pricingv1.Command_EndCampaign{EndCampaign: &pricingv1.EndCampaign{CampaignId: "winter"}}}},
		{"flash-sale definition", schemas.FlashSaleCommands, "s:sale-1", "", &flashsalev1.Message{Kind: flashsalev1.Kind_KIND_DEFINE,
			SaleId: "sale-1", Key: "s:sale-1", TimestampMs: at, Sale: &flashsalev1.Sale{Id: "sale-1", Sku: "sku-1", Units: 100,
				StartsAtMs: at, EndsAtMs: at + 3600*1000, PerUserLimit: 2, PriceMinor: 999, Buckets: 4}}},
		{"flash-sale purchase", schemas.FlashSaleCommands, "u:sale-1:user-7", "buy-1", &flashsalev1.Message{Kind: flashsalev1.Kind_KIND_PURCHASE,
			SaleId: "sale-1", Key: "u:sale-1:user-7", TimestampMs: at, IdempotencyKey: "buy-1", UserId: "user-7", Qty: 1, Bucket: 2}},
		{"recommendation view", schemas.RecommendationViews, "user-7", "view-1", &recommendationsv1.ViewEvent{EventId: id("view-1"), UserId: "user-7",
			Sku: "sku-1", SessionId: "session-1", TimestampMs: at}},
	}
}

func TestPartitionVectors(t *testing.T) {
	if *update {
		v := partitionVectors{Comment: "Titan's key -> partition mapping: Kafka's default partitioner, " +
			"(murmur2(key bytes) & 0x7fffffff) % partition_count. partitions[i] is the key's partition " +
			"for partition_counts[i]. Written by `go test ./schemas -run Vectors -update`.", Partitions: partitionCounts}
		for _, k := range vectorKeys {
			kv := keyVector{Key: k, Hex: hex.EncodeToString([]byte(k))}
			for _, n := range partitionCounts {
				kv.Partitions = append(kv.Partitions, partition.Partition([]byte(k), n))
			}
			v.Keys = append(v.Keys, kv)
		}
		write(t, partitionsFile, v)
	}
	var v partitionVectors
	read(t, partitionsFile, &v)
	if len(v.Keys) < len(vectorKeys) || len(v.Partitions) == 0 {
		t.Fatalf("%s holds %d keys and %d partition counts", partitionsFile, len(v.Keys), len(v.Partitions))
	}
	for _, kv := range v.Keys {
		key, err := hex.DecodeString(kv.Hex)
		if err != nil || string(key) != kv.Key {
			t.Fatalf("key %q: key_hex %q is not its bytes", kv.Key, kv.Hex)
		}
		if len(kv.Partitions) != len(v.Partitions) {
			t.Fatalf("key %q: %d partitions for %d partition counts", kv.Key, len(kv.Partitions), len(v.Partitions))
		}
		for i, n := range v.Partitions {
			if got := partition.Partition(key, n); got != kv.Partitions[i] {
				t.Errorf("key %q, %d partitions: partition %d, the vector says %d", kv.Key, n, got, kv.Partitions[i])
			}
		}
	}
}

func TestRecordVectors(t *testing.T) {
	if *update {
		v := recordVectors{Comment: "One record of every input a shop's services send to Titan: its topic (without a " +
			"namespace), key, message in protobuf JSON and value_hex, the message's protobuf encoding with fields " +
			"in number order. Written by `go test ./schemas -run Vectors -update`."}
		for _, r := range vectorRecords() {
			js, err := protojson.Marshal(r.msg)
			if err != nil {
				t.Fatal(err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, js); err != nil {
				t.Fatal(err)
			}
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(r.msg)
			if err != nil {
				t.Fatal(err)
			}
			v.Records = append(v.Records, recordVector{Name: r.name, IdempotencyKey: r.idempotencyKey, Topic: r.topic,
				Type: string(r.msg.ProtoReflect().Descriptor().FullName()), Key: r.key, Message: compact.Bytes(), Value: hex.EncodeToString(b)})
		}
		write(t, recordsFile, v)
	}
	var v recordVectors
	read(t, recordsFile, &v)
	if len(v.Records) < len(vectorRecords()) {
		t.Fatalf("%s holds %d records, want %d", recordsFile, len(v.Records), len(vectorRecords()))
	}
	for _, r := range v.Records {
		t.Run(r.Name, func(t *testing.T) {
			mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(r.Type))
			if err != nil {
				t.Fatalf("type %s: %v", r.Type, err)
			}
			msg := mt.New().Interface()
			if err := protojson.Unmarshal(r.Message, msg); err != nil {
				t.Fatalf("message: %v", err)
			}
			got, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != r.Value {
				t.Fatalf("encodes to\n%x\nthe vector says\n%s", got, r.Value)
			}
			// The bytes decode back to the message: a reader in any language sees the same record.
			value, _ := hex.DecodeString(r.Value)
			back := mt.New().Interface()
			if err := proto.Unmarshal(value, back); err != nil || !proto.Equal(back, msg) {
				t.Fatalf("value_hex decodes to %v (%v)", back, err)
			}
			if err := keyAndValidity(r.Topic, r.Key, msg); err != nil {
				t.Fatal(err)
			}
			if err := idOfKey(r.IdempotencyKey, msg); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// idOfKey checks that a record an SDK's typed send makes carries the id derived from its idempotency
// key (a purchase, the key itself).
func idOfKey(key string, msg proto.Message) error {
	if key == "" {
		return nil
	}
	var got, want string
	switch m := msg.(type) {
	case *inventoryv1.Command:
		got, want = m.GetCommandId(), schemas.DeriveID(key)
	case *ordersv1.OrderEvent:
		got, want = m.GetEventId(), schemas.DeriveID(key)
	case *pricingv1.Command:
		got, want = m.GetCommandId(), schemas.DeriveID(key)
	case *recommendationsv1.ViewEvent:
		got, want = m.GetEventId(), schemas.DeriveID(key)
	case *flashsalev1.Message:
		got, want = m.GetIdempotencyKey(), key
	default:
		return fmt.Errorf("no typed send makes a %T", msg)
	}
	if got != want {
		return fmt.Errorf("the record's id is %q; from idempotency key %q an SDK makes %q", got, key, want)
	}
	return nil
}

// keyAndValidity checks a vector record the way its topic's processor will: the key is the one it
// partitions by, and the message passes the checks a client's record must pass.
func keyAndValidity(topic, key string, msg proto.Message) error {
	var want string
	var err error
	switch m := msg.(type) {
	case *inventoryv1.Command:
		want, err = m.GetSku(), schemas.CheckClientCommand(m)
	case *ordersv1.OrderEvent:
		want, err = m.GetOrderId(), schemas.CheckClientOrderEvent(m)
	case *pricingv1.Command:
		want, err = m.GetSku(), schemas.ValidatePricingCommand(m)
	case *flashsalev1.Message:
		want = m.GetKey()
	case *recommendationsv1.ViewEvent:
		want, err = m.GetUserId(), schemas.ValidateViewEvent(m)
	default:
		return fmt.Errorf("%s: no key rule for %T", topic, msg)
	}
	if err != nil {
		return fmt.Errorf("%s: a client's record must be valid: %w", topic, err)
	}
	if key != want {
		return fmt.Errorf("%s: key %q, the processor partitions by %q", topic, key, want)
	}
	return nil
}

// idVectors are the file of idempotency key -> derived id vectors (schemas.DeriveID).
type idVectors struct {
	Comment string     `json:"comment"`
	IDs     []idVector `json:"ids"`
}

type idVector struct {
	Key string `json:"key"`
	ID  string `json:"id"`
}

const idsFile = "testdata/vectors/ids.json"

// vectorIdempotencyKeys cover both forms of a derived id and the boundary between them: a key of
// MaxIDBytes-6 bytes still fits after "sdk:k:", one byte more goes to its digest, counted in
// UTF-8 bytes, not characters.
var vectorIdempotencyKeys = []string{
	"order-1", "checkout:cart-42:attempt-1", "clé-été", "注文-1", "🛒",
	strings.Repeat("k", schemas.MaxIDBytes-6), strings.Repeat("k", schemas.MaxIDBytes-5),
	strings.Repeat("é", (schemas.MaxIDBytes-6)/2), strings.Repeat("é", (schemas.MaxIDBytes-6)/2) + "x",
	strings.Repeat("long-key-", 14),
}

func TestIDVectors(t *testing.T) {
	if *update {
		v := idVectors{Comment: "Record ids the SDKs derive from a caller's idempotency key (schemas.DeriveID): " +
			"\"sdk:k:\" + key when that fits in 128 UTF-8 bytes, else \"sdk:h:\" + the hex SHA-256 of the key's UTF-8 " +
			"bytes. Written by `go test ./schemas -run Vectors -update`."}
		for _, k := range vectorIdempotencyKeys {
			v.IDs = append(v.IDs, idVector{Key: k, ID: schemas.DeriveID(k)})
		}
		write(t, idsFile, v)
	}
	var v idVectors
	read(t, idsFile, &v)
	if len(v.IDs) < len(vectorIdempotencyKeys) {
		t.Fatalf("%s holds %d ids, want %d", idsFile, len(v.IDs), len(vectorIdempotencyKeys))
	}
	for _, iv := range v.IDs {
		if got := schemas.DeriveID(iv.Key); got != iv.ID {
			t.Errorf("key %q derives %q, the vector says %q", iv.Key, got, iv.ID)
		}
		if err := schemas.CheckClientID("id", iv.ID, schemas.ReasonMissingCommandID); err != nil {
			t.Errorf("key %q: the derived id %q breaks the id rule: %v", iv.Key, iv.ID, err)
		}
	}
}

func read(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func write(t *testing.T, name string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
