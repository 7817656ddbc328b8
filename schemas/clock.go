package schemas

import (
	"fmt"
	"time"
)

// TimeWindow bounds a message's own timestamp (timestamp_ms, set by whoever
// produced it) against the time Kafka received it: the record's timestamp,
// which Titan's public topics take from the broker (LogAppendTime), so a
// client cannot set it and a replay sees the same value. Processors decide
// with the message's own time (a replay must decide as the first run did);
// the window keeps a client from moving that clock far: a command stamped a
// year ahead would expire every reservation at once, one stamped in the past
// would buy in a flash sale that has ended.
type TimeWindow struct {
	// Ahead is how far past the record's time a message may be stamped:
	// clocks of producers drift.
	Ahead time.Duration
	// Behind is how long before the record's time a message may be
	// stamped: a producer may hold a record while it retries.
	Behind time.Duration
}

// DefaultTimeWindow allows five minutes of clock skew ahead and an hour of
// retries behind.
func DefaultTimeWindow() TimeWindow {
	return TimeWindow{Ahead: 5 * time.Minute, Behind: time.Hour}
}

// Validate reports a window that cannot work.
func (w TimeWindow) Validate() error {
	if w.Ahead < 0 || w.Behind < 0 {
		return fmt.Errorf("schemas: time window %v ahead, %v behind: both must be >= 0", w.Ahead, w.Behind)
	}
	return nil
}

// Check reports ReasonInvalidTimestamp for ms (Unix milliseconds) outside
// [at - Behind, at + Ahead], or not positive. It is exact for every int64:
// nothing in it can overflow.
func (w TimeWindow) Check(field string, ms int64, at time.Time) error {
	if ms <= 0 {
		return invalid(field, ReasonInvalidTimestamp)
	}
	ref := at.UnixMilli()
	if ms > satAdd(ref, w.Ahead.Milliseconds()) || ms < satAdd(ref, -w.Behind.Milliseconds()) {
		return &InvalidError{Field: field, Reason: ReasonInvalidTimestamp,
			Detail: fmt.Sprintf("%d ms from the time Kafka received it (allowed %v ahead, %v behind)",
				satAdd(ms, -ref), w.Ahead, w.Behind)}
	}
	return nil
}

// satAdd is a + b, saturated at the ends of int64.
func satAdd(a, b int64) int64 {
	s := a + b
	switch {
	case b > 0 && s < a:
		return 1<<63 - 1
	case b < 0 && s > a:
		return -1 << 63
	}
	return s
}
