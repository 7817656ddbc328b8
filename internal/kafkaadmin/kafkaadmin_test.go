package kafkaadmin_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/internal/kafkaadmin"
)

func TestCheckCopartitioned(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafkaadmin.Ensure(ctx, adm, 1, []kafkaadmin.Topic{
		{Name: "a", Partitions: 4}, {Name: "b", Partitions: 4}, {Name: "c", Partitions: 3},
	}); err != nil {
		t.Fatal(err)
	}

	if err := kafkaadmin.CheckCopartitioned(ctx, adm, kafkaadmin.Copartitioned{Group: "g", Topics: []string{"a", "b"}}); err != nil {
		t.Fatalf("equal counts: %v", err)
	}
	err = kafkaadmin.CheckCopartitioned(ctx, adm,
		kafkaadmin.Copartitioned{Group: "ok", Topics: []string{"a", "b"}},
		kafkaadmin.Copartitioned{Group: "saga", Topics: []string{"a", "c"}})
	if !errors.Is(err, kafkaadmin.ErrNotCopartitioned) {
		t.Fatalf("mismatch: got %v", err)
	}
	for _, want := range []string{"saga", "a=4", "c=3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	err = kafkaadmin.CheckCopartitioned(ctx, adm, kafkaadmin.Copartitioned{Group: "g", Topics: []string{"a", "missing"}})
	if !errors.Is(err, kafkaadmin.ErrNotCopartitioned) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing topic: got %v", err)
	}
}
