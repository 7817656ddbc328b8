// Package kafkatest connects integration tests to the real Apache Kafka broker that `make test`
// starts with deploy/kafka/kafka.sh, and gives each test topics of its own.
//
// Brokers is the single gate: it returns the addresses in TITAN_KAFKA_BROKERS, and without them
// fails the test under CI (where a missing broker is a broken pipeline, not a reason to pass) and
// skips it elsewhere, so `go test ./...` on a laptop without Kafka still runs the unit tests.
// NewCluster is the same gate for the tests that need the three-node cluster of `make
// test-cluster` (TITAN_KAFKA_CLUSTER_BROKERS). No other Kafka test may skip.
//
// Every test shares one broker, and goka derives group and table topic names from what it is given,
// so tests name their topics from Prefix (or let Topics do it): a unique prefix keeps tests that run
// in parallel, or a rerun after a crash, from reading each other's records. Topics are deleted when
// the test ends.
package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/internal/kafkaadmin"
	"github.com/titan-commerce/titan/internal/testenv"
)

// EnvBrokers names the variable holding the comma-separated broker addresses.
const EnvBrokers = "TITAN_KAFKA_BROKERS"

const hint = EnvBrokers + " not set: run the tests through `make test`, which starts Kafka"

// Brokers returns the broker addresses from TITAN_KAFKA_BROKERS, or ends the test: t.Fatal when
// CI=true, t.Skip otherwise.
func Brokers(t testing.TB) []string {
	t.Helper()
	brokers := splitBrokers(os.Getenv(EnvBrokers))
	if len(brokers) == 0 {
		testenv.Missing(t, hint)
	}
	return brokers
}

func splitBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// Admin returns an admin client for brokers, closed when the test ends.
func Admin(t testing.TB, brokers []string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatalf("kafkatest: client for %v: %v", brokers, err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// maxTestName keeps a prefix well under Kafka's 249-character topic limit, leaving room for the
// suffixes goka appends (a group's "-table") and for the caller's own names.
const maxTestName = 120

// Prefix returns a topic-name prefix unique to this test run: the test's name reduced to the
// characters Kafka allows, then a random part. Callers join their own names to it with a '.'.
func Prefix(t testing.TB) string {
	name := []byte(t.Name())
	for i, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			// Not '.' or '_': Kafka refuses a topic whose name differs from an existing one only
			// by those two, as they map to the same metric name.
			name[i] = '-'
		}
	}
	if len(name) > maxTestName {
		name = name[:maxTestName]
	}
	return fmt.Sprintf("%s-%012x", name, rand.Uint64()>>16)
}

// Topics creates one topic per name, each with the given partition count and one replica, named
// Prefix(t)+"."+name, and deletes them when the test ends. It returns the full topic name for each
// name and does not return before every partition is served by its leader, so the test can produce
// and consume at once.
func Topics(t testing.TB, brokers []string, partitions int32, names ...string) map[string]string {
	t.Helper()
	if partitions < 1 {
		t.Fatalf("kafkatest: %d partitions: a topic needs at least one", partitions)
	}
	adm := Admin(t, brokers)
	prefix := Prefix(t)
	full := make(map[string]string, len(names))
	topics := make([]string, 0, len(names))
	for _, n := range names {
		if _, dup := full[n]; dup {
			t.Fatalf("kafkatest: topic name %q given twice", n)
		}
		full[n] = prefix + "." + n
		topics = append(topics, full[n])
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopics(ctx, partitions, 1, nil, topics...)
	if err == nil {
		err = resp.Error()
	}
	// Registered even after a partial failure, so the topics that were created go away.
	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := adm.DeleteTopics(ctx, topics...)
		if err != nil {
			t.Errorf("kafkatest: deleting topics %v: %v", topics, err)
			return
		}
		for _, r := range resp.Sorted() {
			// Unknown: never created, because creating a sibling failed.
			if r.Err != nil && !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
				t.Errorf("kafkatest: deleting topic %s: %v", r.Topic, r.Err)
			}
		}
	})
	if err != nil {
		t.Fatalf("kafkatest: creating topics %v: %v", topics, err)
	}
	declared := make([]kafkaadmin.Topic, len(topics))
	for i, name := range topics {
		declared[i] = kafkaadmin.Topic{Name: name, Partitions: partitions}
	}
	if err := kafkaadmin.WaitServing(ctx, adm, declared); err != nil {
		t.Fatalf("kafkatest: topics %v: %v", topics, err)
	}
	return full
}
