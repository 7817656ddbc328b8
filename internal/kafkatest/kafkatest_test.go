package kafkatest

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestSplitBrokers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , ", nil},
		{"127.0.0.1:19092", []string{"127.0.0.1:19092"}},
		{" a:1, b:2 ,", []string{"a:1", "b:2"}},
	} {
		if got := splitBrokers(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("splitBrokers(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

var legalTopic = regexp.MustCompile(`^[a-zA-Z0-9-]+$`)

func TestPrefix(t *testing.T) {
	for _, name := range []string{"plain", "with space/and.dots_and_underscores", strings.Repeat("long", 40)} {
		t.Run(name, func(t *testing.T) {
			a, b := Prefix(t), Prefix(t)
			if a == b {
				t.Errorf("two prefixes for one test are equal: %q", a)
			}
			if !legalTopic.MatchString(a) || len(a) > maxTestName+13 {
				t.Errorf("prefix %q: want only [a-zA-Z0-9-] and at most %d bytes", a, maxTestName+13)
			}
		})
	}
}

// TestTopicsRoundTrip runs against the real broker: the topics Topics returns take a record at once
// and hand it back, and are gone once the test's cleanups have run.
func TestTopicsRoundTrip(t *testing.T) {
	brokers := Brokers(t)
	var topic string
	t.Run("produce-consume", func(t *testing.T) {
		topic = Topics(t, brokers, 3, "events")["events"]
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()

		cl, err := kgo.NewClient(
			kgo.SeedBrokers(brokers...),
			kgo.DefaultProduceTopic(topic),
			kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()

		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		fs := cl.PollRecords(ctx, 1)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume: %v", err)
		}
		recs := fs.Records()
		if len(recs) != 1 || string(recs[0].Key) != "k" || string(recs[0].Value) != "v" {
			t.Fatalf("consumed %v, want one record k=v", recs)
		}
	})

	// Deletion, like creation, reaches the broker's metadata a moment after the controller commits it.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	adm := Admin(t, brokers)
	for {
		topics, err := adm.ListTopics(ctx)
		if err != nil {
			t.Fatalf("topic %s after its test ended: %v", topic, err)
		}
		if !topics.Has(topic) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("topic %s still exists after its test ended", topic)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
