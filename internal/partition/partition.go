package partition

import (
	"bytes"
	"encoding/binary"
	"hash"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Partition returns the partition Kafka's default partitioner assigns to key
// in a topic with the given number of partitions, or -1 (Kafka's "unknown
// partition") when partitions < 1. A nil key hashes like an empty one here,
// although producers spread unkeyed records instead of hashing them.
func Partition(key []byte, partitions int32) int32 {
	if partitions < 1 {
		return -1
	}
	return int32(positive(murmur2(placed(key))) % uint32(partitions))
}

// placed is the part of a key that places it: all of it, or what comes
// before its first NUL byte. A processor keeps entries under "key\x00..."
// in its table beside key's own value, and they must share its partition
// (topologies/inventorytopo). No key a client may send holds a NUL (schemas'
// printable-id rule), so for those nothing differs from Kafka's
// partitioner.
func placed(key []byte) []byte {
	if i := bytes.IndexByte(key, 0); i >= 0 {
		return key[:i]
	}
	return key
}

// Hasher returns a constructor for goka (WithHasher, WithViewHasher,
// WithEmitterHasher) and sarama (NewCustomHashPartitioner) whose Sum32 is
// the key's murmur2 with the sign bit cleared.
func Hasher() func() hash.Hash32 {
	return func() hash.Hash32 { return new(hasher) }
}

// Kgo returns the franz-go partitioner: records with a key go to
// Partition(key, n); records without one are spread stickily, as kgo's
// default does.
func Kgo() kgo.Partitioner {
	return kgo.StickyKeyPartitioner(kgo.KafkaHasher(func(key []byte) uint32 { return murmur2(placed(key)) }))
}

// positive mirrors Kafka's Utils.toPositive: the sign bit is masked, not
// negated, so no two hashes fold onto one and MinInt32 needs no special case.
func positive(h uint32) uint32 { return h & 0x7fffffff }

// hasher buffers the written bytes because murmur2 mixes the total length
// into its seed, so it cannot hash incrementally. goka and sarama write a
// key once, then read Sum32. goka makes a hasher for every key it places
// and every view read, so a key of usual length is kept in the hasher's
// own array rather than in a buffer of its own.
type hasher struct {
	buf   []byte
	small [64]byte
}

var _ hash.Hash32 = (*hasher)(nil)

func (h *hasher) Write(p []byte) (int, error) {
	if h.buf == nil {
		h.buf = h.small[:0]
	}
	h.buf = append(h.buf, p...)
	return len(p), nil
}

func (h *hasher) Sum32() uint32 { return positive(murmur2(placed(h.buf))) }

func (h *hasher) Sum(b []byte) []byte { return binary.BigEndian.AppendUint32(b, h.Sum32()) }

func (h *hasher) Reset() { h.buf = h.buf[:0] }

func (h *hasher) Size() int { return 4 }

func (h *hasher) BlockSize() int { return 4 }
