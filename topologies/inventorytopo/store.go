package inventorytopo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lovoo/goka/storage"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/localindex"
	"github.com/titan-commerce/titan/internal/millis"
	"github.com/titan-commerce/titan/processors/inventory"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// A SKU lives in the table under several keys. Its own key holds its head
// (inventory.Head: the ledger, offsets, seq, clock, next deadline and the
// bounds of its memory) and what the last command wrote under the others;
// each entry of its memory has a key of its own after a NUL byte, which
// the partitioner ignores (internal/partition), so all of a SKU's keys
// share its partition, its local storage and its changelog:
//
//	sku                      head (inventoryv1.SkuState, layout 2)
//	sku \0 r order           a reservation, open or ended
//	sku \0 e deadline order  an open reservation, by deadline (value 1)
//	sku \0 a id              a remembered command's result
//	sku \0 x id              a remembered Expire
//	sku \0 s seq             a remembered command's place, by seq
//	\xff e deadline sku \0 order
//	                         the expiry index: every open reservation of
//	                         the partition by deadline, in the local store
//	                         only (expiryIndex)
//
// Deadlines and seqs are 8 bytes, big-endian, so that keys sort by them.
// A command reads the entries it concerns and writes those it changes:
// the head, a few small records, and the deletes of what it forgets. The
// head is written first and names the other writes (its redo); a
// successor that finds the head and not all of them writes them again
// before anything else (graph.go). The trade-off against one value per
// SKU: more, smaller changelog records for a command (a reserve writes
// five), and reads that cost a lookup each; in return no command rewrites
// what the SKU remembers, and a hot SKU costs what a fresh one does.
const (
	tagReservation = 'r'
	tagExpiry      = 'e'
	tagApplied     = 'a'
	tagExpire      = 'x'
	tagLog         = 's'
)

func sideKey(sku string, tag byte, rest string) string {
	var b strings.Builder
	b.Grow(len(sku) + 2 + len(rest))
	b.WriteString(sku)
	b.WriteByte(0)
	b.WriteByte(tag)
	b.WriteString(rest)
	return b.String()
}

func sortable(n int64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n)^(1<<63))
	return string(b[:])
}

func reservationKey(sku, orderID string) string { return sideKey(sku, tagReservation, orderID) }

func expiryKey(sku string, at time.Time, orderID string) string {
	return sideKey(sku, tagExpiry, sortable(millis.Of(at))+orderID)
}

func appliedKey(sku, id string, expire bool) string {
	if expire {
		return sideKey(sku, tagExpire, id)
	}
	return sideKey(sku, tagApplied, id)
}

func logKey(sku string, seq int64) string { return sideKey(sku, tagLog, sortable(seq)) }

// isSideKey reports whether key is an entry of a SKU's memory rather than
// a SKU's own.
func isSideKey(key []byte) bool { return bytes.IndexByte(key, 0) >= 0 }

// IsResultKey reports whether key is an entry of a SKU's memory that holds
// a remembered command's result (an inventoryv1.AppliedCommand).
func IsResultKey(key string) bool {
	i := strings.IndexByte(key, 0)
	return i >= 0 && i+1 < len(key) && (key[i+1] == tagApplied || key[i+1] == tagExpire)
}

// isExpiryKey reports whether key is an entry of a SKU's expiry keys.
func isExpiryKey(key string) bool {
	i := strings.IndexByte(key, 0)
	return i >= 0 && i+1 < len(key) && key[i+1] == tagExpiry
}

// expiryIndex orders every open reservation of a partition by its deadline,
// whatever its SKU, under keys "\xffe<8-byte deadline><sku>\x00<order>"
// that exist only in the local store (internal/localindex): the sweeper
// reads what is due from there instead of looking at every SKU. A SKU
// cannot start with 0xff, which no UTF-8 text holds.
var expiryIndex = localindex.Rule{
	Name:   "expiry-v1",
	Prefix: []byte(expiryIndexPrefix),
	Derive: func(key, value []byte) ([]byte, bool) {
		i := bytes.IndexByte(key, 0)
		if i < 0 || len(key) < i+2+8 || key[i+1] != tagExpiry {
			return nil, false
		}
		sku, at, order := key[:i], key[i+2:i+2+8], key[i+2+8:]
		out := make([]byte, 0, len(expiryIndexPrefix)+len(key))
		out = append(out, expiryIndexPrefix...)
		out = append(out, at...)
		out = append(out, sku...)
		out = append(out, 0)
		return append(out, order...), value != nil
	},
}

const expiryIndexPrefix = "\xffe"

// dueKey is where the expiry index's entries due at or before at end.
func dueKey(at time.Time) []byte {
	return []byte(expiryIndexPrefix + sortable(millis.Of(at)+1))
}

// fromExpiryIndex returns the SKU and order of an entry of the expiry
// index, and false for the index's own name or a malformed entry.
func fromExpiryIndex(key []byte) (sku, orderID string, ok bool) {
	rest, ok := bytes.CutPrefix(key, []byte(expiryIndexPrefix))
	if !ok || len(rest) < 8 {
		return "", "", false
	}
	rest = rest[8:]
	i := bytes.IndexByte(rest, 0)
	if i < 0 {
		return "", "", false
	}
	return string(rest[:i]), string(rest[i+1:]), true
}

// present is the value of an expiry key: only the key matters, and an
// empty value could read as a delete on the way through Kafka.
var present = []byte{1}

// write is one write under a key; a nil value deletes it.
type write struct {
	key   string
	value []byte
}

// stored is the table's value under a SKU's own key.
type stored struct {
	head inventory.Head
	// redo are the writes the command that wrote the value made under the
	// SKU's other keys.
	redo []write
	// writer names the processor incarnation that wrote the value
	// (gokaopts.Keys.Writer).
	writer uint64
	// legacy is a value of layout 1, which kept the whole SKU in it; the
	// SKU's next command moves it to keys of its own.
	legacy *inventory.State
}

func newStored() stored { return stored{head: inventory.NewHead()} }

func encodeStored(v stored) ([]byte, error) {
	w := inventory.HeadToWire(v.head)
	w.Writer = v.writer
	if len(v.redo) > 0 {
		w.Redo = make([]*inventoryv1.KeyWrite, len(v.redo))
		for i, r := range v.redo {
			w.Redo[i] = &inventoryv1.KeyWrite{Key: []byte(r.key), Value: r.value, Delete: r.value == nil}
		}
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(w)
}

func decodeStored(b []byte) (stored, error) {
	var w inventoryv1.SkuState
	if err := proto.Unmarshal(b, &w); err != nil {
		return stored{}, fmt.Errorf("inventory: decode state: %w", err)
	}
	if w.GetLayout() < 2 {
		s := inventory.StateFromWire(&w)
		return stored{head: s.Head(), legacy: &s}, nil
	}
	v := stored{head: inventory.HeadFromWire(&w), writer: w.GetWriter()}
	if h := v.head; h.Seq < 0 || h.Oldest < 1 || h.Oldest > h.Seq+1 {
		// Only Titan writes these; a step on such a head would walk the
		// whole gap between the two.
		return stored{}, fmt.Errorf("inventory: decode state: remembered commands %d..%d out of range", h.Oldest, h.Seq)
	}
	if n := len(w.GetRedo()); n > 0 {
		v.redo = make([]write, 0, n)
		gokaopts.EachWrite(w.GetRedo(), func(key string, value []byte) {
			v.redo = append(v.redo, write{key: key, value: value})
		})
	}
	return v, nil
}

// memory reads a SKU's memory from st, as the value v says it is: its
// redo over what st holds, or the legacy value's own.
func (v stored) memory(st storage.Storage, sku string) *skuMemory {
	m := &skuMemory{st: st, sku: sku}
	if v.legacy != nil {
		m.legacy = v.legacy.Memory()
		return m
	}
	if len(v.redo) > 0 {
		m.over = make(map[string][]byte, len(v.redo))
		for _, w := range v.redo {
			m.over[w.key] = w.value
		}
	}
	return m
}

// skuMemory is an inventory.Memory over a table partition's storage. A
// read that fails is kept in err and reads as absent: the caller checks
// err after the step and fails the partition, so nothing decided on a
// failed read is written.
type skuMemory struct {
	st     storage.Storage
	sku    string
	over   map[string][]byte
	legacy inventory.Memory
	err    error
}

func (m *skuMemory) fail(err error) {
	if m.err == nil {
		m.err = err
	}
}

func (m *skuMemory) get(key string) []byte {
	if v, ok := m.over[key]; ok {
		return v
	}
	v, err := m.st.Get(key)
	if err != nil {
		m.fail(err)
		return nil
	}
	return v
}

func (m *skuMemory) decode(key string, b []byte, into proto.Message) bool {
	if b == nil {
		return false
	}
	if err := proto.Unmarshal(b, into); err != nil {
		m.fail(fmt.Errorf("inventory: decode %q: %w", key, err))
		return false
	}
	return true
}

func (m *skuMemory) Reservation(orderID string) (inventory.Reservation, bool) {
	if m.legacy != nil {
		return m.legacy.Reservation(orderID)
	}
	key := reservationKey(m.sku, orderID)
	var w inventoryv1.Reservation
	if !m.decode(key, m.get(key), &w) {
		return inventory.Reservation{}, false
	}
	return inventory.ReservationFromWire(&w), true
}

func (m *skuMemory) Applied(id string, expire bool) (inventory.Applied, bool) {
	if m.legacy != nil {
		return m.legacy.Applied(id, expire)
	}
	key := appliedKey(m.sku, id, expire)
	var w inventoryv1.AppliedCommand
	if !m.decode(key, m.get(key), &w) {
		return inventory.Applied{}, false
	}
	return inventory.AppliedFromWire(&w), true
}

func (m *skuMemory) Logged(seq int64) (inventory.Logged, bool) {
	if m.legacy != nil {
		return m.legacy.Logged(seq)
	}
	key := logKey(m.sku, seq)
	var w inventoryv1.LoggedCommand
	if !m.decode(key, m.get(key), &w) {
		return inventory.Logged{}, false
	}
	return inventory.LoggedFromWire(&w, seq), true
}

// Open walks the SKU's expiry keys in order from from's, merged with those
// in its redo, and yields the reservation of each. Starting at the
// earliest open one steps over the deletes of those that ended before it,
// which Pebble keeps until it compacts them.
func (m *skuMemory) Open(from inventory.Reservation, yield func(inventory.Reservation) bool) {
	if m.legacy != nil {
		m.legacy.Open(from, yield)
		return
	}
	prefix := sideKey(m.sku, tagExpiry, "")
	start := prefix
	if !from.ExpiresAt.IsZero() {
		start = expiryKey(m.sku, from.ExpiresAt, from.OrderID)
	}
	var over []string
	for k := range m.over {
		if strings.HasPrefix(k, prefix) && k >= start {
			over = append(over, k)
		}
	}
	slices.Sort(over)
	limit := sideKey(m.sku, tagExpiry+1, "")
	it, err := m.st.IteratorWithRange([]byte(start), []byte(limit))
	if err != nil {
		m.fail(err)
		return
	}
	defer it.Release()
	next := func() (string, bool) {
		for it.Next() {
			k := string(it.Key())
			if !strings.HasPrefix(k, prefix) || k < start {
				continue
			}
			if _, ok := m.over[k]; ok {
				continue // the redo's say stands
			}
			return k, true
		}
		if err := it.Err(); err != nil {
			m.fail(err)
		}
		return "", false
	}
	stored, more := next()
	for more || len(over) > 0 {
		var k string
		switch {
		case more && (len(over) == 0 || stored < over[0]):
			k = stored
			stored, more = next()
		default:
			k, over = over[0], over[1:]
			if m.over[k] == nil {
				continue // deleted by the redo
			}
		}
		if len(k) < len(prefix)+8 {
			continue // not a key this layout writes
		}
		order := k[len(prefix)+8:]
		r, ok := m.Reservation(order)
		if !ok || r.Status != inventory.StatusOpen {
			continue
		}
		if !yield(r) {
			return
		}
	}
}

// stepped is what one command does to a SKU in a table partition.
type stepped struct {
	// redo are the writes of the value found, made again first: another
	// incarnation wrote it and may have died before they all landed.
	redo []write
	// next is the SKU's new value, then its redo's writes.
	next   stored
	events []inventory.Event
}

// errInvariant marks a head that breaks a ledger rule: the command is set
// aside rather than written.
var errInvariant = errors.New("inventory: invariant")

// step decides one command on the SKU whose value is v, reading its memory
// from st. writer names the processor incarnation that will write the
// result. An error is the storage's or an encoding's, or errInvariant.
func step(v stored, st storage.Storage, sku string, c inventory.Command, p inventory.Policy, writer uint64) (stepped, error) {
	mem := v.memory(st, sku)
	head, changes, events := inventory.Step(v.head, mem, c, p)
	if mem.err != nil {
		return stepped{}, fmt.Errorf("inventory: read %s: %w", sku, mem.err)
	}
	if err := inventory.CheckHead(head); err != nil {
		return stepped{}, fmt.Errorf("%w: %w", errInvariant, err)
	}
	var (
		writes []write
		err    error
	)
	if v.legacy != nil {
		writes, err = explode(sku, v.legacy.With(head, changes))
	} else {
		writes, err = changeWrites(sku, changes)
	}
	if err != nil {
		return stepped{}, fmt.Errorf("inventory: encode state: %w", err)
	}
	out := stepped{next: stored{head: head, redo: writes, writer: writer}, events: events}
	if v.writer != writer {
		out.redo = v.redo
	}
	return out, nil
}

// changeWrites are the writes that make a command's changes.
func changeWrites(sku string, ch inventory.Changes) ([]write, error) {
	var out []write
	for _, f := range ch.Forget {
		out = append(out, write{key: logKey(sku, f.Seq)}, write{key: appliedKey(sku, f.CommandID, f.Expire)})
		for _, o := range f.Ended {
			out = append(out, write{key: reservationKey(sku, o)})
		}
	}
	for _, r := range ch.Reservations {
		b, err := proto.Marshal(inventory.ReservationToWire(r))
		if err != nil {
			return nil, err
		}
		out = append(out, write{key: reservationKey(sku, r.OrderID), value: b})
		e := write{key: expiryKey(sku, r.ExpiresAt, r.OrderID)}
		if r.Status == inventory.StatusOpen {
			e.value = present
		}
		out = append(out, e)
	}
	if ch.Remembers() {
		a, err := proto.Marshal(inventory.AppliedToWire(ch.Remember))
		if err != nil {
			return nil, err
		}
		l, err := proto.Marshal(inventory.LoggedToWire(ch.Log))
		if err != nil {
			return nil, err
		}
		out = append(out, write{key: appliedKey(sku, ch.Remember.CommandID, ch.Log.Expire), value: a},
			write{key: logKey(sku, ch.Log.Seq), value: l})
	}
	return out, nil
}

// explode writes a whole State under the keys of its memory: how a value
// of layout 1 moves to layout 2. An ended reservation that no remembered
// command ended (layout 1 kept those by time alone) is forgotten with the
// oldest remembered command, or not kept when none is remembered.
func explode(sku string, s inventory.State) ([]write, error) {
	var ch inventory.Changes
	ended := map[string]bool{}
	var logs []inventory.Logged
	for _, a := range s.Applied {
		l, _ := s.Memory().Logged(a.Seq)
		logs = append(logs, l)
		for _, o := range l.Ended {
			ended[o] = true
		}
	}
	for _, r := range s.Reservations {
		if r.Status != inventory.StatusOpen && !ended[r.OrderID] {
			if len(logs) == 0 {
				continue
			}
			logs[0].Ended = append(logs[0].Ended, r.OrderID)
		}
		ch.Reservations = append(ch.Reservations, r)
	}
	out, err := changeWrites(sku, ch)
	if err != nil {
		return nil, err
	}
	for i, a := range s.Applied {
		more, err := changeWrites(sku, inventory.Changes{Remember: a, Log: logs[i]})
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	return out, nil
}

// LoadState reads a SKU's whole state from a table partition's storage:
// for tests and tools that look at everything a SKU remembers. The
// reservations come in order of order id.
func LoadState(st storage.Storage, sku string) (inventory.State, error) {
	b, err := st.Get(sku)
	if err != nil || b == nil {
		return inventory.NewState(), err
	}
	v, err := decodeStored(b)
	if err != nil {
		return inventory.State{}, err
	}
	if v.legacy != nil {
		return *v.legacy, nil
	}
	m := v.memory(st, sku)
	h := v.head
	s := inventory.State{Stock: h.Stock, Offset: h.Offset, InternalOffset: h.InternalOffset, Seq: h.Seq, Clock: h.Clock}
	for seq := h.Oldest; seq <= h.Seq; seq++ {
		l, ok := m.Logged(seq)
		if !ok {
			return s, fmt.Errorf("inventory: %s: command %d of %d..%d not remembered", sku, seq, h.Oldest, h.Seq)
		}
		a, ok := m.Applied(l.CommandID, l.Expire)
		if !ok {
			return s, fmt.Errorf("inventory: %s: command %q not remembered", sku, l.CommandID)
		}
		s.Applied = append(s.Applied, a)
	}
	prefix := []byte(sideKey(sku, tagReservation, ""))
	it, err := st.IteratorWithRange(prefix, []byte(sideKey(sku, tagReservation+1, "")))
	if err != nil {
		return s, err
	}
	defer it.Release()
	for it.Next() {
		if k := it.Key(); bytes.HasPrefix(k, prefix) {
			if _, ok := m.over[string(k)]; ok {
				continue
			}
			if r, ok := m.Reservation(string(k[len(prefix):])); ok {
				s.Reservations = append(s.Reservations, r)
			}
		}
	}
	for k, w := range m.over {
		if strings.HasPrefix(k, string(prefix)) && w != nil {
			r, _ := m.Reservation(k[len(prefix):])
			s.Reservations = append(s.Reservations, r)
		}
	}
	slices.SortFunc(s.Reservations, func(a, b inventory.Reservation) int { return strings.Compare(a.OrderID, b.OrderID) })
	if m.err != nil {
		return s, m.err
	}
	return s, it.Err()
}
