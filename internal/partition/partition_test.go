package partition

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaVectors are the expected values of Utils.murmur2 in Kafka's
// clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java
// (testMurmur2), as Java ints.
var kafkaVectors = []struct {
	key  string
	want int32
}{
	{"21", -973932308},
	{"foobar", -790332482},
	{"a-little-bit-long-string", -985981536},
	{"a-little-bit-longer-string", -1486304829},
	{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
	{"abc", 479470107},
}

func TestMurmur2KafkaVectors(t *testing.T) {
	for _, v := range kafkaVectors {
		if got := int32(murmur2([]byte(v.key))); got != v.want {
			t.Errorf("murmur2(%q) = %d, want %d", v.key, got, v.want)
		}
	}
}

// Kafka's BuiltInPartitioner.partitionForKey is
// toPositive(murmur2(key)) % numPartitions.
func TestPartitionKafkaVectors(t *testing.T) {
	for _, v := range kafkaVectors {
		for n := int32(1); n <= 64; n++ {
			want := (v.want & 0x7fffffff) % n
			if got := Partition([]byte(v.key), n); got != want {
				t.Errorf("Partition(%q, %d) = %d, want %d", v.key, n, got, want)
			}
		}
	}
	// Spelled out once, so a reader can check it by hand:
	// -973932308 & 0x7fffffff = 1173551340, and 1173551340 % 8 = 4.
	if got := Partition([]byte("21"), 8); got != 4 {
		t.Errorf(`Partition("21", 8) = %d, want 4`, got)
	}
}

func TestPartitionWithoutPartitions(t *testing.T) {
	for _, n := range []int32{0, -1} {
		if got := Partition([]byte("k"), n); got != -1 {
			t.Errorf("Partition(k, %d) = %d, want -1", n, got)
		}
	}
}

func TestHasherIsAHash32(t *testing.T) {
	h := Hasher()()
	for _, chunk := range []string{"a-little", "-bit-", "long-string"} {
		if _, err := h.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	kafka := int32(-985981536) // murmur2("a-little-bit-long-string")
	want := uint32(kafka) & 0x7fffffff
	if got := h.Sum32(); got != want {
		t.Fatalf("Sum32 after split writes = %d, want %d", got, want)
	}
	if got := h.Sum([]byte{0xaa}); len(got) != 5 || got[0] != 0xaa ||
		uint32(got[1])<<24|uint32(got[2])<<16|uint32(got[3])<<8|uint32(got[4]) != want {
		t.Fatalf("Sum = %x, want aa followed by %08x", got, want)
	}
	if h.Size() != 4 {
		t.Fatalf("Size = %d", h.Size())
	}

	// sarama reuses one hasher: Reset must forget the previous key.
	h.Reset()
	h.Write([]byte("abc"))
	if got, want := h.Sum32(), uint32(479470107); got != want {
		t.Fatalf("Sum32 after Reset = %d, want %d", got, want)
	}

	// A key longer than the hasher's own array, written in two parts.
	long := []byte(strings.Repeat("0123456789", 13))
	h.Reset()
	h.Write(long[:60])
	h.Write(long[60:])
	if got, want := h.Sum32(), positive(murmur2(long)); got != want {
		t.Fatalf("Sum32 of a %d-byte key = %d, want %d", len(long), got, want)
	}
}

// gokaPartition is goka's key-to-partition formula, copied from
// View.hash and Processor.hash (goka v1.1.17 view.go, processor.go), which
// are not exported.
func gokaPartition(hasher func() hash.Hash32, key []byte, n int32) int32 {
	h := hasher()
	h.Write(key)
	sum := int32(h.Sum32())
	if sum < 0 {
		sum = -sum
	}
	return sum % n
}

// TestEveryClientAgrees is the property the package exists for: goka's
// lookups, the records goka emits through sarama, franz-go producers (with
// this package's partitioner and with kgo's default) and Partition put
// every key in the same partition.
func TestEveryClientAgrees(t *testing.T) {
	const keys = 10_000
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	sar := sarama.NewCustomHashPartitioner(Hasher())("t")
	kgoDefault := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	kgoOurs := Kgo().ForTopic("t")

	for i := 0; i < keys; i++ {
		// No NUL: a key with one is placed by its prefix (below), which
		// kgo's default partitioner knows nothing of.
		key := make([]byte, rng.IntN(65))
		for j := range key {
			key[j] = byte(1 + rng.IntN(255))
		}
		msg := &sarama.ProducerMessage{Topic: "t", Key: sarama.ByteEncoder(key)}
		rec := &kgo.Record{Topic: "t", Key: key}

		for n := int32(1); n <= 64; n++ {
			want := Partition(key, n)
			if want < 0 || want >= n {
				t.Fatalf("Partition(%x, %d) = %d, out of range", key, n, want)
			}
			p, err := sar.Partition(msg, n)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				client string
				got    int32
			}{
				{"goka with Hasher()", gokaPartition(Hasher(), key, n)},
				{"sarama with Hasher()", p},
				{"kgo default", int32(kgoDefault.Partition(rec, int(n)))},
				{"kgo with Kgo()", int32(kgoOurs.Partition(rec, int(n)))},
			} {
				if c.got != want {
					t.Fatalf("key %x, %d partitions: %s chose %d, Partition chose %d", key, n, c.client, c.got, want)
				}
			}
		}
	}
}

// A key with a NUL byte lands where the part before it does, for goka's
// lookups, sarama, franz-go and Partition alike: a processor's entries
// under "key\x00..." share key's partition.
func TestKeysWithNULFollowTheirPrefix(t *testing.T) {
	sar := sarama.NewCustomHashPartitioner(Hasher())("t")
	kgoOurs := Kgo().ForTopic("t")
	for _, prefix := range []string{"", "sku-1", "a/b", "\xff\xfe", "SKU-000123"} {
		for _, rest := range []string{"\x00", "\x00r" + "order-9", "\x00\x00\x01", "\x00a" + prefix} {
			key := []byte(prefix + rest)
			for n := int32(1); n <= 64; n++ {
				want := Partition([]byte(prefix), n)
				p, err := sar.Partition(&sarama.ProducerMessage{Topic: "t", Key: sarama.ByteEncoder(key)}, n)
				if err != nil {
					t.Fatal(err)
				}
				for client, got := range map[string]int32{
					"Partition": Partition(key, n),
					"goka":      gokaPartition(Hasher(), key, n),
					"sarama":    p,
					"kgo":       int32(kgoOurs.Partition(&kgo.Record{Topic: "t", Key: key}, int(n))),
				} {
					if got != want {
						t.Fatalf("key %q, %d partitions: %s chose %d, its prefix is in %d", key, n, client, got, want)
					}
				}
			}
		}
	}
}

// Without Hasher, goka falls back to sarama's FNV-1a; this shows the
// agreement test above would notice, and what the mistake costs.
func TestGokaDefaultHasherDisagrees(t *testing.T) {
	const keys, n = 1000, 8
	wrong := 0
	for i := 0; i < keys; i++ {
		key := []byte(fmt.Sprintf("SKU-%d", i))
		if gokaPartition(func() hash.Hash32 { return fnv.New32a() }, key, n) != Partition(key, n) {
			wrong++
		}
	}
	// About 7 in 8 keys land elsewhere by chance.
	if wrong < keys/2 {
		t.Fatalf("FNV-1a and murmur2 agreed on %d of %d keys", keys-wrong, keys)
	}
	t.Logf("FNV-1a puts %d of %d keys in another partition", wrong, keys)
}

func BenchmarkPartition(b *testing.B) {
	key := []byte("SKU-000000000042")
	for b.Loop() {
		Partition(key, 64)
	}
}
