package inventory

import (
	"encoding/binary"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
)

// FuzzDecide runs Decide over command sequences with any times, quantities
// and TTLs a record can carry, ids that collide and Titan's own commands
// mixed with clients'. After every step the ledger holds and the state
// reads back from the wire as it was written, with every time in range.
func FuzzDecide(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26})
	f.Add(make([]byte, 27*4))
	all := make([]byte, 27*3)
	for i := range all {
		all[i] = 0xff
	}
	f.Add(all)
	huge := make([]byte, 27*2) // two restocks of 2^62
	for i := 0; i < 2; i++ {
		huge[27*i] = byte(KindRestock)
		binary.LittleEndian.PutUint64(huge[27*i+3:], 1<<62)
		binary.LittleEndian.PutUint64(huge[27*i+11:], 1_700_000_000_000)
		huge[27*i+1] = byte(i)
		huge[27*i+4] = 1
	}
	f.Add(huge)
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewState()
		p := Policy{DedupeWindow: time.Minute, MaxApplied: 8}
		for i := 0; len(data) >= 27; i++ {
			c := fuzzCommand(data[:27])
			data = data[27:]
			c.Offset = int64(i)
			var events []Event
			s, events = Decide(s, c, p)
			if err := CheckState(s); err != nil {
				t.Fatalf("step %d %+v: %v", i, c, err)
			}
			if c.Kind != KindExpire && c.Kind != KindUnknown {
				results := 0
				for _, e := range events {
					if e.IsResult() {
						results++
					}
				}
				if results != 1 {
					t.Fatalf("step %d %+v: %d results", i, c, results)
				}
			}
			w := StateToWire(s)
			back := StateFromWire(w)
			if !proto.Equal(StateToWire(back), w) {
				t.Fatalf("step %d: state does not read back as written", i)
			}
			for _, r := range back.Reservations {
				if y := r.ExpiresAt.Year(); y < 1 || y > 9999 {
					t.Fatalf("step %d: deadline %v", i, r.ExpiresAt)
				}
			}
		}
	})
}

// fuzzCommand reads one command from 27 bytes: kind, id, order, flags, then
// qty, time and TTL as raw int64s.
func fuzzCommand(b []byte) Command {
	ids := []string{"c1", "c2", "titan:c3", "o1", "titan:flash-sale:s1"}
	c := Command{
		Kind:     Kind(b[0] % 6),
		ID:       ids[int(b[1])%len(ids)],
		OrderID:  ids[int(b[2])%len(ids)],
		SKU:      "sku-1",
		Internal: b[3]&1 == 1,
		Qty:      int64(binary.LittleEndian.Uint64(b[3:11])) >> (b[2] % 64),
		Time:     time.UnixMilli(int64(binary.LittleEndian.Uint64(b[11:19]))),
		TTL:      time.Duration(binary.LittleEndian.Uint64(b[19:27])),
	}
	if b[4]%3 == 0 {
		c.Qty %= 100 // also quantities that fit
	}
	if b[5]%3 == 0 {
		c.TTL %= time.Hour
	}
	return c
}
