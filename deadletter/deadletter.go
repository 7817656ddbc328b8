package deadletter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/titan-commerce/titan/schemas"
)

// DeadLetter is one record set aside, with where it came from and why. Its
// JSON form is described in the package comment.
type DeadLetter struct {
	Topology  string    `json:"topology"`
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Key       string    `json:"key"`
	Value     []byte    `json:"value"`
	Reason    string    `json:"reason"`
	Error     string    `json:"error"`
	Time      time.Time `json:"time"`
	// BelongsTo is, for wrong_partition, the partition the key hashes to.
	BelongsTo *int32 `json:"belongs_to,omitempty"`
}

// ErrInvalid is wrapped by the errors of Decode, Encode and Check.
var ErrInvalid = errors.New("deadletter: invalid dead letter")

// Check reports the first field that no dead letter Titan writes can have.
func (d DeadLetter) Check() error {
	switch {
	case schemas.CheckTopic(d.Topic) != nil:
		return fmt.Errorf("%w: topic: %v", ErrInvalid, schemas.CheckTopic(d.Topic))
	case d.Partition < 0:
		return fmt.Errorf("%w: partition %d is negative", ErrInvalid, d.Partition)
	case d.Offset < 0:
		return fmt.Errorf("%w: offset %d is negative", ErrInvalid, d.Offset)
	case d.Reason == "":
		return fmt.Errorf("%w: reason is empty", ErrInvalid)
	case d.BelongsTo != nil && *d.BelongsTo < 0:
		return fmt.Errorf("%w: belongs_to %d is negative", ErrInvalid, *d.BelongsTo)
	}
	return nil
}

// Encode returns d's JSON form, or an error naming the field Check refuses.
func (d DeadLetter) Encode() ([]byte, error) {
	if err := d.Check(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(d)
	if err != nil {
		// Only a time outside years 0-9999 gets here.
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return b, nil
}

// Decode reads one dead letter's JSON form: a single object, whose known
// fields have their types and pass Check. Unknown fields are ignored, so a
// newer writer's dead letters still decode.
func Decode(b []byte) (DeadLetter, error) {
	var d DeadLetter
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&d); err != nil {
		return DeadLetter{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if bytes.TrimSpace(b)[0] != '{' {
		return DeadLetter{}, fmt.Errorf("%w: not a JSON object", ErrInvalid)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return DeadLetter{}, fmt.Errorf("%w: data after the object", ErrInvalid)
	}
	if err := d.Check(); err != nil {
		return DeadLetter{}, err
	}
	return d, nil
}

// ID names a dead letter by its source record: the same record set aside
// twice has one ID.
type ID struct {
	Topic     string
	Partition int32
	Offset    int64
}

// ID is the dead letter's source record.
func (d DeadLetter) ID() ID { return ID{d.Topic, d.Partition, d.Offset} }

// String is "topic/partition/offset", the form ParseID reads.
func (id ID) String() string { return fmt.Sprintf("%s/%d/%d", id.Topic, id.Partition, id.Offset) }

// ParseID reads "topic/partition/offset". A topic name cannot hold a '/',
// so the form is unambiguous.
func ParseID(s string) (ID, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return ID{}, fmt.Errorf("%w: record %q: want topic/partition/offset", ErrInvalid, s)
	}
	if err := schemas.CheckTopic(parts[0]); err != nil {
		return ID{}, fmt.Errorf("%w: record %q: topic: %v", ErrInvalid, s, err)
	}
	p, err := strconv.ParseInt(parts[1], 10, 32)
	if err != nil || p < 0 {
		return ID{}, fmt.Errorf("%w: record %q: partition %q is not a number from 0 to 2147483647", ErrInvalid, s, parts[1])
	}
	o, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || o < 0 {
		return ID{}, fmt.Errorf("%w: record %q: offset %q is not a number from 0", ErrInvalid, s, parts[2])
	}
	return ID{Topic: parts[0], Partition: int32(p), Offset: o}, nil
}
