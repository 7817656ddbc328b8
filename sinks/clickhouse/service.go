package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/internal/kafkaadmin"
)

// ServiceOptions configure Serve.
type ServiceOptions struct {
	ClickHouse Options
	Sink       SinkOptions
	// Migrate applies the schema's missing versions before the sink starts.
	Migrate bool
	// DeadLetterPartitions and Replication shape the dead-letter topic when Serve creates it.
	// Defaults 1 and 1.
	DeadLetterPartitions int32
	Replication          int16
	// MaxBackoff caps the wait between attempts to start; default 30 s.
	MaxBackoff time.Duration
}

// Serve runs a sink until ctx ends: it connects to ClickHouse, applies the schema if asked,
// creates the dead-letter topic if it is missing, and runs the sink. When one of these fails (the
// server is down when the sink starts, say) it waits and starts again, so an instance never stops
// for its analytics. It returns nil once ctx ends.
func Serve(ctx context.Context, o ServiceOptions) error {
	if o.DeadLetterPartitions <= 0 {
		o.DeadLetterPartitions = 1
	}
	if o.Replication <= 0 {
		o.Replication = 1
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if err := o.Sink.defaults(); err != nil {
		return err
	}
	log := o.Sink.Logger
	wait := time.Second
	for ctx.Err() == nil {
		started := time.Now()
		err := serveOnce(ctx, o)
		if ctx.Err() != nil {
			break
		}
		if time.Since(started) > time.Minute {
			wait = time.Second
		}
		log.Error("sink stopped; starting again", "in", wait, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, o.MaxBackoff)
	}
	return nil
}

func serveOnce(ctx context.Context, o ServiceOptions) error {
	conn, err := Open(ctx, o.ClickHouse)
	if err != nil {
		return err
	}
	defer conn.Close()
	if o.Migrate {
		applied, err := conn.Migrate(ctx, Migrations)
		if err != nil {
			return err
		}
		if len(applied) > 0 {
			o.Sink.Logger.Info("sink: schema migrated", "versions", applied)
		}
	}
	if err := EnsureDeadLetterTopic(ctx, o.Sink.Brokers, DeadLetterTopic(o.Sink.Namespace), o.DeadLetterPartitions, o.Replication); err != nil {
		return err
	}
	s, err := NewSink(conn, o.Sink)
	if err != nil {
		return err
	}
	defer s.Close()
	o.Sink.Logger.Info("sink running", "clickhouse", o.ClickHouse.Addr, "database", o.ClickHouse.Database, "group", s.o.Group)
	if err := s.Run(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// EnsureDeadLetterTopic creates the sink's dead-letter topic if it is missing; one that exists is
// used as it is.
func EnsureDeadLetterTopic(ctx context.Context, brokers []string, topic string, partitions int32, replication int16) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return fmt.Errorf("clickhouse: sink: %w", err)
	}
	defer cl.Close()
	err = kafkaadmin.Ensure(ctx, kadm.NewClient(cl), replication, []kafkaadmin.Topic{{Name: topic, Partitions: partitions}})
	if err != nil && !errors.Is(err, kafkaadmin.ErrMismatch) {
		return fmt.Errorf("clickhouse: sink: %w", err)
	}
	return nil
}
