// Package origin dedupes the messages a topology's keys send each other.
// A key that sends a message stamps it with where the record that made it
// was read (Origin); a key that receives it keeps, per place it receives
// from, the last origin it applied (Seen), and drops a message at or before
// it. That holds only because messages from one partition arrive in the
// order they were sent, which Titan's producers keep (internal/gokaopts);
// a copy sent again after a crash then always arrives behind the original.
// Flash sales' bucket, user and sale keys and the recommendations' items
// dedupe so.
package origin

// Origin locates the record whose processing sent a message: its input
// stream (a processor reads several, each with its own offsets), partition
// and offset; Seq orders the messages one record sent.
type Origin struct {
	Stream    int32
	Partition int32
	Offset    int64
	Seq       int32
}

// Source is where an origin's offsets are counted: its stream and
// partition.
func (o Origin) Source() int64 { return int64(o.Stream)<<32 | int64(uint32(o.Partition)) }

// After reports whether o comes after p from the same source.
func (o Origin) After(p Origin) bool {
	return o.Offset > p.Offset || (o.Offset == p.Offset && o.Seq > p.Seq)
}

// Seen keeps, per source, the last origin applied.
type Seen map[int64]Origin

// Apply reports whether a message from o is new and, if it is, returns
// the Seen that records it: a copy, so the state that held s is not
// changed under its holder. A message at or before the last one applied
// from its source gets s back and false.
func (s Seen) Apply(o Origin) (Seen, bool) {
	src := o.Source()
	if last, ok := s[src]; ok && !o.After(last) {
		return s, false
	}
	out := make(Seen, len(s)+1)
	for k, v := range s {
		out[k] = v
	}
	out[src] = o
	return out, true
}
