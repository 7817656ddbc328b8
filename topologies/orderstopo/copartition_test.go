package orderstopo_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkaadmin"
)

// TestStartRefusesMispartitionedTopics: a saga topic left with another
// partition count (a hand-made topic, an earlier deployment) would send an
// order's answers to an instance that does not hold the order. Nothing
// starts: the instance refuses, and the saga's co-partitioning check names
// the group and the counts.
func TestStartRefusesMispartitionedTopics(t *testing.T) {
	d := newDeployment(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := kafkaadmin.Ensure(ctx, d.adm, 1, []kafkaadmin.Topic{{Name: string(d.ord.Saga), Partitions: partitions / 2}}); err != nil {
		t.Fatal(err)
	}
	_, err := instance.New(ctx, instance.Config{
		Brokers: d.brokers, Namespace: d.ns, StateDir: t.TempDir(), Partitions: partitions,
		Topologies: []string{instance.TopologyInventory, instance.TopologyOrders}, Logger: d.log,
	})
	if !errors.Is(err, kafkaadmin.ErrMismatch) {
		t.Fatalf("instance started on a saga topic of %d partitions: %v", partitions/2, err)
	}

	// The topics an instance of another partition count made are checked
	// as a set too.
	if err := kafkaadmin.Ensure(ctx, d.adm, 1, d.ord.Topics(partitions)[:1]); err != nil {
		t.Fatal(err)
	}
	err = kafkaadmin.CheckCopartitioned(ctx, d.adm, d.ord.Copartitioned(d.inv.OrderEvents))
	if !errors.Is(err, kafkaadmin.ErrNotCopartitioned) || !strings.Contains(err.Error(), string(d.ord.Group)) {
		t.Fatalf("co-partitioning check: %v", err)
	}
}
