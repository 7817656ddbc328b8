package gokaopts

import (
	"fmt"
	"hash"
	"math/rand/v2"
	"sync"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"

	"github.com/titan-commerce/titan/internal/localindex"
)

// Keys lets a processor's callback read and write keys of its group table
// other than the record's own, which goka's Context does not: a callback
// reaches only ctx.Value of ctx.Key. A topology whose state for one key is
// too large to rewrite on every record keeps its parts under keys of their
// own, "key\x00...", in the same table: the same local storage, the same
// changelog, and, by the partitioner's NUL rule (internal/partition), the
// same partition as key, so goka's recovery restores them with the rest.
//
// Writes go to the storage goka reads and to the changelog through the
// processor's own producer, so the barrier (barrier.go) orders them with
// goka's own state writes: with StateFirst no output leaves before them.
// goka does not wait for them before it commits an input's offset; a
// topology that writes them after ctx.SetValue must make the value say
// what they were, so that a successor which finds the value without them
// can write them again (topologies/inventorytopo keeps them as its redo).
type Keys struct {
	table  string
	writer uint64
	// index, when set, derives local keys from the table's (Index).
	index *localindex.Rule

	mu       sync.Mutex
	parts    map[int32]storage.Storage
	producer goka.Producer
}

// NewKeys returns the key access for the processor of table's group.
func NewKeys(table goka.Table) *Keys {
	return &Keys{table: string(table), writer: rand.Uint64() | 1, parts: map[int32]storage.Storage{}}
}

// Writer names this incarnation of the processor: it differs for every
// Keys, and so for every processor built.
func (k *Keys) Writer() uint64 { return k.writer }

// Index has the table's storages keep r's derived keys beside the table's
// own (internal/localindex), for the processor and code that reads its
// partitions. Call it before the processor is built.
func (k *Keys) Index(r localindex.Rule) *Keys {
	k.index = &r
	return k
}

// Storage returns b, keeping the storage of each partition of the table it
// opens.
func (k *Keys) Storage(b storage.Builder) storage.Builder {
	if k.index != nil {
		b = localindex.Builder(b, k.table, *k.index)
	}
	return func(topic string, partition int32) (storage.Storage, error) {
		st, err := b(topic, partition)
		if err != nil || topic != k.table {
			return st, err
		}
		k.mu.Lock()
		k.parts[partition] = st
		k.mu.Unlock()
		return st, nil
	}
}

// Producer returns b, keeping the producer it builds.
func (k *Keys) Producer(b goka.ProducerBuilder) goka.ProducerBuilder {
	return func(brokers []string, clientID string, hasher func() hash.Hash32) (goka.Producer, error) {
		p, err := b(brokers, clientID, hasher)
		if err != nil {
			return nil, err
		}
		k.mu.Lock()
		k.producer = p
		k.mu.Unlock()
		return p, nil
	}
}

// Partition returns the table's partition p, for a callback processing a
// record of p.
func (k *Keys) Partition(p int32) (*Partition, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	st, ok := k.parts[p]
	if !ok || k.producer == nil {
		return nil, fmt.Errorf("gokaopts: table %s: partition %d is not open here", k.table, p)
	}
	return &Partition{Storage: st, table: k.table, producer: k.producer}, nil
}

// Partition is one partition of a table, as its processor's callback
// reads and writes it.
type Partition struct {
	// Storage is the partition's local storage, for reads.
	Storage  storage.Storage
	table    string
	producer goka.Producer
}

// Set writes value under key locally and to the changelog; a nil value
// deletes the key. A failed send fails the processor (barrier.go).
func (p *Partition) Set(key string, value []byte) error {
	var err error
	if value == nil {
		err = p.Storage.Delete(key)
	} else {
		err = p.Storage.Set(key, value)
	}
	if err != nil {
		return fmt.Errorf("gokaopts: table %s: write %q: %w", p.table, key, err)
	}
	p.producer.Emit(p.table, key, value)
	return nil
}

// Log sends to the changelog a write already made to Storage; a nil value
// deletes the key. A failed send fails the processor (barrier.go).
func (p *Partition) Log(key string, value []byte) {
	p.producer.Emit(p.table, key, value)
}

// ProcessorWithIndex returns Processor(order), with the storages of table
// keeping r's derived keys (internal/localindex).
func (c Config) ProcessorWithIndex(order Order, table goka.Table, r localindex.Rule) []goka.ProcessorOption {
	store, produce := c.builders(order)
	return c.processor(localindex.Builder(store, string(table), r), produce)
}

// ProcessorWithKeys returns Processor(order), with the processor's
// callbacks reaching keys of its table through k.
func (c Config) ProcessorWithKeys(order Order, k *Keys) []goka.ProcessorOption {
	store, produce := c.builders(order)
	return c.processor(k.Storage(store), k.Producer(produce))
}

// KeyWrite is the wire form of one write a head names (its redo), as each
// table's schema declares it: a key, and a value or a delete.
type KeyWrite interface {
	GetKey() []byte
	GetValue() []byte
	GetDelete() bool
}

// EachWrite calls fn with the key and value of every write in ws, in
// order: a nil value for a delete, and never nil for a write of an empty
// value, which protobuf decodes as nil.
func EachWrite[W KeyWrite](ws []W, fn func(key string, value []byte)) {
	for _, w := range ws {
		if w.GetDelete() {
			fn(string(w.GetKey()), nil)
			continue
		}
		v := w.GetValue()
		if v == nil {
			v = []byte{}
		}
		fn(string(w.GetKey()), v)
	}
}
