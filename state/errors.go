package state

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by every operation on a Storage that is not open:
	// never opened, or already closed (goka may still deliver a producer ack
	// after it closed a partition), and by a Builder after Close.
	ErrClosed = errors.New("state: closed")

	// ErrInUse is returned by Open when this process already has the same
	// topic-partition open. Pebble's directory lock would refuse the second
	// open anyway; this names the cause instead of reporting a lock error.
	ErrInUse = errors.New("state: topic-partition already open")

	// ErrReservedKey is returned when a caller tries to write or delete the
	// key under which the offset is stored: doing so would corrupt the point
	// from which goka resumes the changelog.
	ErrReservedKey = errors.New("state: key is reserved for the changelog offset")

	// ErrNilValue is returned by Set for a nil value. goka uses nil as the
	// deletion marker (goka.DefaultUpdate turns it into Delete), so storing it
	// would make "deleted" and "empty" indistinguishable; goka's memory
	// storage refuses it too.
	ErrNilValue = errors.New("state: nil value")

	// ErrInvalidOption is returned by NewBuilder when an option is out of range.
	ErrInvalidOption = errors.New("state: invalid option")

	// ErrInvalidTopic is returned by Build for a topic that is not a legal
	// Kafka topic name or a negative partition. Kafka's naming rules are
	// what keep the topic safe to use as a directory name.
	ErrInvalidTopic = errors.New("state: invalid topic-partition")

	// ErrCorruptOffset is returned when the stored offset cannot be decoded.
	ErrCorruptOffset = errors.New("state: corrupt stored offset")
)

// OpError records which operation on which topic-partition failed. It wraps
// the cause, so errors.Is and errors.As see through it to the sentinels above
// and to Pebble's errors.
type OpError struct {
	Op        string // "open", "get", "set", "set offset", ...
	Topic     string
	Partition int32
	// Key is the user key the operation was about, if any.
	Key string
	Err error
}

func (e *OpError) Error() string {
	if e.Key != "" {
		return fmt.Sprintf("state: %s %s/%d key %q: %v", e.Op, e.Topic, e.Partition, e.Key, e.Err)
	}
	return fmt.Sprintf("state: %s %s/%d: %v", e.Op, e.Topic, e.Partition, e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }
