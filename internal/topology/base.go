package topology

import (
	"fmt"
	"log/slog"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/schemas"
)

// Base is what every topology is built from, whatever it runs; each
// topology's Options embed it beside their own.
type Base struct {
	// Goka carries brokers, replication and the storage of the
	// processors' tables.
	Goka gokaopts.Config
	// Partitions of the topology's topics, which are co-partitioned: a
	// record whose key hashes to another partition than the one it arrived
	// in is set aside (observe.Decorator).
	Partitions int32
	// TimeWindow bounds a client message's own time against the time Kafka
	// received it; the zero value means schemas.DefaultTimeWindow().
	TimeWindow schemas.TimeWindow
	Hooks      observe.Hooks
	Logger     *slog.Logger
}

// Check reports what cannot work and fills in the defaults; name, the
// topology's, starts its errors.
func (b *Base) Check(name string) error {
	if err := b.Goka.Validate(); err != nil {
		return err
	}
	if b.Partitions < 1 {
		return fmt.Errorf("%s: %d partitions", name, b.Partitions)
	}
	if b.TimeWindow == (schemas.TimeWindow{}) {
		b.TimeWindow = schemas.DefaultTimeWindow()
	}
	if err := b.TimeWindow.Validate(); err != nil {
		return err
	}
	if b.Logger == nil {
		b.Logger = slog.Default()
	}
	return nil
}

// Decorator is the decorator of the topology's callbacks, which writes
// their dead letters through w.
func (b *Base) Decorator(w *observe.DeadLetterWriter) observe.Decorator {
	return observe.Decorator{Partitions: b.Partitions, Hooks: b.Hooks, Logger: b.Logger, Writer: w}
}
