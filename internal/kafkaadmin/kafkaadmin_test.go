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
	"github.com/titan-commerce/titan/internal/kafkatest"
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
	// The embedded broker takes the public topics' setting too.
	if err := kafkaadmin.Ensure(ctx, adm, 1, []kafkaadmin.Topic{
		{Name: "a", Partitions: 4, AppendTime: true}, {Name: "p", Partitions: 4, AppendTime: true},
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

// Public topics are stamped by the broker: a record's time is when the
// broker appended it, whatever its producer wrote, on a new topic and on one
// that existed without the setting.
func TestAppendTime(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	adm := kafkatest.Admin(t, brokers)
	prefix := kafkatest.Prefix(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	fresh, old := prefix+".fresh", prefix+".old"
	kafkatest.DeleteNamespace(t, adm, prefix)
	if err := kafkaadmin.Ensure(ctx, adm, 1, []kafkaadmin.Topic{{Name: old, Partitions: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := kafkaadmin.Ensure(ctx, adm, 1, []kafkaadmin.Topic{
		{Name: fresh, Partitions: 1, AppendTime: true}, {Name: old, Partitions: 1, AppendTime: true},
	}); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	forged := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	before := time.Now().Add(-time.Minute)
	for _, topic := range []string{fresh, old} {
		rec := &kgo.Record{Topic: topic, Value: []byte("x"), Timestamp: forged}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
		got, err := kafkatest.ReadAll(ctx, brokers, adm, topic)
		if err != nil || len(got) != 1 {
			t.Fatalf("%s: read %d records: %v", topic, len(got), err)
		}
		if ts := got[0].Timestamp; ts.Before(before) {
			t.Errorf("%s: record stamped %v, the producer's time; want the broker's", topic, ts)
		}
	}
}
