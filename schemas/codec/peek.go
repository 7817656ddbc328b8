package codec

import "google.golang.org/protobuf/encoding/protowire"

// PeekVarint reads one varint field of an encoded message without decoding
// the rest, for scans that look at every value of a table and act on few:
// the expiry sweeper's next deadline, the order saga's open steps. It
// reports false when the bytes do not parse; a field that is absent reads
// as 0, as proto3 would decode it.
func PeekVarint(b []byte, field protowire.Number) (uint64, bool) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, false
		}
		b = b[n:]
		if num == field && typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(b)
			return v, n >= 0
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return 0, false
		}
		b = b[n:]
	}
	return 0, true
}
