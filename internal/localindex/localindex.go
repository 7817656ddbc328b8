// Package localindex keeps, in a goka table's local storage, keys derived
// from the table's own keys that exist only there: an index that orders the
// table's entries otherwise than their keys do (by time, say, across every
// key of the partition), or lists the few that matter among many (the open
// orders of every order the table holds).
//
// goka replicates a table through its changelog, one record per key, and
// places each key by its own partitioner. An index kept as table keys of
// its own would need changelog records for what Kafka already holds, and
// keys that sort by time would land in other partitions than what they
// index. A derived key needs neither: it is written beside every write of
// the key it derives from, through the same storage, so that goka's
// recovery, which writes every changelog record through the storage,
// rebuilds the index with the table, and it never leaves the instance.
//
// A derived key and its source are two writes, not one. That is safe only
// in a storage that discards its state after an unclean stop, as Titan's
// processors' storages do (state, WithTrustUncleanState false): whatever
// survives is a clean close, or a recovery's batch, where both are in.
//
// A storage written before its rule existed, or under an older version of
// it, has a table without its index: Open derives the keys of every stored
// key once, then records the rule's name.
package localindex

import (
	"bytes"
	"fmt"

	"github.com/lovoo/goka/storage"

	"github.com/titan-commerce/titan/state"
)

// Rule says which keys are derived from a table's keys.
type Rule struct {
	// Name versions the rule: a storage whose index was built under
	// another name is indexed again when opened.
	Name string
	// Prefix starts every derived key; no key of the table may start with
	// it. The key Prefix itself holds the rule's name.
	Prefix []byte
	// Derive returns the key derived from key, which must start with
	// Prefix and be longer, or nil if key has none, and whether value
	// keeps it: a write of value under key writes the derived key if
	// present, deletes it otherwise. value is nil for a delete of key.
	// Unless Moves is set, a derived key may depend on the value only
	// through present: its place must not move with the value, since a
	// write does not know the value it replaces.
	Derive func(key, value []byte) (derived []byte, present bool)
	// Moves lets a derived key depend on the value (a time the value
	// holds, say): every write then reads the value it replaces, to
	// delete the key derived from that one. It suits tables written far
	// less often than they are read.
	Moves bool
}

// Builder returns b, with the storages of topic keeping r's derived keys.
func Builder(b storage.Builder, topic string, r Rule) storage.Builder {
	return func(t string, partition int32) (storage.Storage, error) {
		st, err := b(t, partition)
		if err != nil || t != topic {
			return st, err
		}
		return &indexed{Storage: st, rule: r}, nil
	}
}

// present is a derived key's value: only the key means anything, and Titan's
// storages refuse a nil value.
var present = []byte{1}

type indexed struct {
	storage.Storage
	rule Rule
}

// Open opens the storage and, if its index was not built under this rule,
// builds it from the stored keys.
func (s *indexed) Open() error {
	if d, ok := s.Storage.(interface{ DeriveOnLoad(state.Derived) }); ok && !s.rule.Moves {
		// A storage that loads its changelog in bulk writes around
		// Set; it writes the derived keys itself, and the rule's name,
		// rather than leave them to a rebuild that reads it all back.
		d.DeriveOnLoad(state.Derived{Derive: s.rule.Derive, Value: present, NameKey: s.rule.Prefix, Name: []byte(s.rule.Name)})
	}
	if err := s.Storage.Open(); err != nil {
		return err
	}
	name, err := s.Storage.Get(string(s.rule.Prefix))
	if err != nil {
		return fmt.Errorf("localindex: %w", err)
	}
	if name != nil && string(name) == s.rule.Name {
		return nil
	}
	if err := s.rebuild(); err != nil {
		return fmt.Errorf("localindex: rule %s: %w", s.rule.Name, err)
	}
	return nil
}

// rebuild drops every key under the prefix and derives the keys of every
// other stored key, then records the rule's name: a crash before the name
// is in leaves a storage that is indexed again. An iterator reads the
// storage as it was when it began, so the writes made meanwhile do not
// show up in it.
func (s *indexed) rebuild() error {
	err := s.each(s.rule.Prefix, func(key, _ []byte) error { return s.Storage.Delete(string(key)) })
	if err != nil {
		return err
	}
	err = s.each(nil, func(key, value []byte) error {
		if bytes.HasPrefix(key, s.rule.Prefix) {
			return nil
		}
		if d, ok := s.rule.Derive(key, value); d != nil && ok {
			return s.Storage.Set(string(d), present)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.Storage.Set(string(s.rule.Prefix), []byte(s.rule.Name))
}

// each calls fn with every stored key that starts with prefix, or every
// key if prefix is empty, and its value.
func (s *indexed) each(prefix []byte, fn func(key, value []byte) error) error {
	var (
		it  storage.Iterator
		err error
	)
	if len(prefix) > 0 {
		it, err = s.Storage.IteratorWithRange(prefix, nil)
	} else {
		it, err = s.Storage.Iterator()
	}
	if err != nil {
		return err
	}
	defer it.Release()
	for it.Next() {
		v, err := it.Value()
		if err != nil {
			return err
		}
		if err := fn(it.Key(), v); err != nil {
			return err
		}
	}
	return it.Err()
}

// Set stores value under key, then writes or deletes the key derived from
// it.
func (s *indexed) Set(key string, value []byte) error {
	old, err := s.moved(key)
	if err != nil {
		return err
	}
	if err := s.Storage.Set(key, value); err != nil {
		return err
	}
	return s.derive(key, value, old)
}

// Delete deletes key, then the key derived from it.
func (s *indexed) Delete(key string) error {
	old, err := s.moved(key)
	if err != nil {
		return err
	}
	if err := s.Storage.Delete(key); err != nil {
		return err
	}
	return s.derive(key, nil, old)
}

// moved is, under a rule whose keys move, the key derived from the value
// stored under key now.
func (s *indexed) moved(key string) ([]byte, error) {
	if !s.rule.Moves || bytes.HasPrefix([]byte(key), s.rule.Prefix) {
		return nil, nil
	}
	v, err := s.Storage.Get(key)
	if err != nil || v == nil {
		return nil, err
	}
	if d, ok := s.rule.Derive([]byte(key), v); ok {
		return d, nil
	}
	return nil, nil
}

func (s *indexed) derive(key string, value, old []byte) error {
	d, ok := s.rule.Derive([]byte(key), value)
	if old != nil && !(ok && bytes.Equal(old, d)) {
		if err := s.Storage.Delete(string(old)); err != nil {
			return err
		}
	}
	switch {
	case d == nil:
		return nil
	case ok:
		return s.Storage.Set(string(d), present)
	default:
		return s.Storage.Delete(string(d))
	}
}
