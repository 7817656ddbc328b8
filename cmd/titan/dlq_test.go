package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/deadletter"
	"github.com/titan-commerce/titan/internal/dlq"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/internal/proctest"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/topologies/inventorytopo"
)

const dlqPartitions = 4

// dlqRun runs titan dlq with the test's brokers and namespace and returns
// its exit code, output and errors.
func dlqRun(t *testing.T, brokers []string, ns string, args ...string) (int, string, string) {
	t.Helper()
	var out, errs bytes.Buffer
	full := append([]string{"dlq", args[0], "--brokers", strings.Join(brokers, ","), "--namespace", ns, "--timeout", "30s"}, args[1:]...)
	code := run(full, &out, &errs)
	return code, out.String(), errs.String()
}

// inspectLines runs titan dlq inspect --json and decodes its lines.
func inspectLines(t *testing.T, brokers []string, ns string, args ...string) []dlq.Line {
	t.Helper()
	code, out, errs := dlqRun(t, brokers, ns, append([]string{"inspect", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("inspect %v: exit %d: %s", args, code, errs)
	}
	var lines []dlq.Line
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var line dlq.Line
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("inspect %v printed %q: %v", args, l, err)
		}
		lines = append(lines, line)
	}
	return lines
}

// TestDLQInspectAndReplay runs titan with the inventory topology and sends
// it records it sets aside: one that does not decode, one with an invalid
// quantity, and a valid restock placed in the wrong partition by a producer
// with another partitioner. It adds, written with the public type, an old
// dead letter of an internal topic, a second copy of the restock's, and one
// in the orders topology's topic. It inspects them by topology, reason and
// time, and replays the restock: it reaches its topic once, in the
// partition its key belongs to, and the processor applies it. Neither
// command joins a group or commits an offset.
func TestDLQInspectAndReplay(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	brokers := kafkatest.Brokers(t)
	adm := kafkatest.Admin(t, brokers)
	ns := kafkatest.Prefix(t)
	kafkatest.DeleteNamespace(t, adm, ns)
	groupsBefore := listGroups(ctx, t, adm)
	// A titan process running the inventory topology in the namespace.
	inst := proctest.Spawn(t, proctest.Build(ctx, t), "titan", t.TempDir(), "--brokers", strings.Join(brokers, ","),
		"--namespace", ns, "--topologies", "inventory", "--partitions", fmt.Sprint(dlqPartitions), "--state-dir", t.TempDir())
	if err := inst.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	names := inventorytopo.NamesFor(ns)
	commands, dlqTopic := string(names.Commands), string(names.DeadLetters)

	raw, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	encode := func(c inventory.Command) []byte {
		b, err := proto.Marshal(inventory.CommandToWire(c))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	at := func(key string) int32 { return partition.Partition([]byte(key), dlqPartitions) }
	restock := encode(inventory.Command{ID: "restock-misplaced", Kind: inventory.KindRestock, SKU: "sku-b", Qty: 7, Time: time.Now()})
	zero := encode(inventory.Command{ID: "restock-zero", Kind: inventory.KindRestock, SKU: "sku-c", Qty: 0, Time: time.Now()})
	sent := []*kgo.Record{
		{Topic: commands, Partition: at("sku-a"), Key: []byte("sku-a"), Value: []byte("not a command")},
		{Topic: commands, Partition: (at("sku-b") + 1) % dlqPartitions, Key: []byte("sku-b"), Value: restock},
		{Topic: commands, Partition: at("sku-c"), Key: []byte("sku-c"), Value: zero},
	}
	if err := raw.ProduceSync(ctx, sent...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	letters := awaitRecords(ctx, t, brokers, adm, dlqTopic, 3)
	var misplaced deadletter.DeadLetter
	reasons := map[string]bool{}
	for _, r := range letters {
		d, err := deadletter.Decode(r.Value)
		if err != nil {
			t.Fatalf("the processor wrote a dead letter Decode refuses: %v\n%s", err, r.Value)
		}
		reasons[d.Reason] = true
		if d.Reason == "wrong_partition" {
			misplaced = d
		}
	}
	if misplaced.Key != "sku-b" || !bytes.Equal(misplaced.Value, restock) || !reasons["decode"] || len(reasons) != 3 {
		t.Fatalf("dead letters with reasons %v, misplaced %+v", reasons, misplaced)
	}

	// An old dead letter of an internal topic, the restock's set aside a
	// second time, and an order event in the orders topology's topic,
	// written with the public type.
	old := deadletter.DeadLetter{Topology: ns + ".titan-inventory", Topic: string(names.Internal), Partition: 0, Offset: 3,
		Key: "sku-x", Value: []byte{0xff}, Reason: "decode", Error: "proto: cannot parse", Time: time.Now().Add(-3 * time.Hour)}
	oldValue, err := old.Encode()
	if err != nil {
		t.Fatal(err)
	}
	twice, err := misplaced.Encode()
	if err != nil {
		t.Fatal(err)
	}
	ordersDLQ, err := deadletter.TopicOf(ns, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := adm.CreateTopics(ctx, 1, 1, nil, ordersDLQ); err != nil || resp.Error() != nil {
		t.Fatalf("creating %s: %v %v", ordersDLQ, err, resp.Error())
	}
	order, err := deadletter.DeadLetter{Topology: ns + ".titan-orders", Topic: ns + ".titan.orders.events", Key: "o-1",
		Value: []byte{0x0a}, Reason: "decode", Error: "proto: cannot parse", Time: time.Now()}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.ProduceSync(ctx,
		&kgo.Record{Topic: dlqTopic, Partition: 0, Key: []byte("sku-x"), Value: oldValue, Timestamp: old.Time},
		&kgo.Record{Topic: dlqTopic, Partition: 1, Key: []byte("sku-b"), Value: twice},
		&kgo.Record{Topic: ordersDLQ, Partition: 0, Key: []byte("o-1"), Value: order},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}

	t.Run("inspect", func(t *testing.T) {
		count := func(args ...string) int { return len(inspectLines(t, brokers, ns, args...)) }
		for _, tc := range []struct {
			args []string
			want int
		}{
			{nil, 6},
			{[]string{"--topology", "inventory"}, 5},
			{[]string{"--topology", "orders"}, 1},
			{[]string{"--topology", "orders", "--reason", "wrong_partition"}, 0},
			{[]string{"--topology", "pricing"}, 0}, // not deployed: no topic
			{[]string{"--reason", "decode"}, 3},
			{[]string{"--topology", "inventory", "--reason", "decode"}, 2},
			{[]string{"--reason", "wrong_partition"}, 2},
			{[]string{"--reason", "nothing_like_it"}, 0},
			{[]string{"--since", "2h"}, 5},
			{[]string{"--until", "2h"}, 1},
			{[]string{"--since", "4h", "--until", "2h", "--reason", "decode"}, 1},
			{[]string{"--since", time.Now().Add(time.Hour).Format(time.RFC3339)}, 0},
			{[]string{"--limit", "2"}, 2},
		} {
			if got := count(tc.args...); got != tc.want {
				t.Errorf("inspect %v: %d dead letters, want %d", tc.args, got, tc.want)
			}
		}
		lines := inspectLines(t, brokers, ns, "--until", "2h")
		if l := lines[0]; l.DeadLetter == nil || l.DeadLetter.Topic != old.Topic || l.DeadLetter.Key != "sku-x" || l.Decoded != nil {
			t.Errorf("the old dead letter: %+v", l)
		}
		// The table shows the restock decoded from its schema.
		code, out, errs := dlqRun(t, brokers, ns, "inspect", "--reason", "wrong_partition")
		if code != 0 || !strings.Contains(out, "SOURCE") || !strings.Contains(out, misplaced.ID().String()) ||
			!strings.Contains(out, `"commandId":"restock-misplaced"`) || !strings.Contains(out, "wrong_partition") {
			t.Errorf("table: exit %d\n%s%s", code, out, errs)
		}
		if code, _, errs := dlqRun(t, brokers, ns, "inspect", "--limit", "1"); code != 0 || !strings.Contains(errs, "5 more") {
			t.Errorf("--limit 1: exit %d, %q", code, errs)
		}
	})

	t.Run("replay", func(t *testing.T) {
		before := commandsWith(ctx, t, brokers, adm, commands, "sku-b")
		if len(before) != 1 {
			t.Fatalf("%d records of sku-b before the replay", len(before))
		}
		// Refused and not found: nothing is sent.
		if code, out, _ := dlqRun(t, brokers, ns, "replay", "--record", old.ID().String()); code != 1 || !strings.Contains(out, "is not "+commands) {
			t.Errorf("an internal topic's dead letter: exit %d\n%s", code, out)
		}
		if code, out, _ := dlqRun(t, brokers, ns, "replay", "--record", misplaced.ID().String(), "--record", commands+"/0/999"); code != 1 || !strings.Contains(out, "not_found") {
			t.Errorf("a record with no dead letter: exit %d\n%s", code, out)
		}
		code, out, errs := dlqRun(t, brokers, ns, "replay", "--record", misplaced.ID().String(), "--dry-run")
		if code != 0 || strings.Count(out, "would_send") != 1 || !strings.Contains(out, "once") {
			t.Errorf("dry run: exit %d\n%s%s", code, out, errs)
		}
		if got := commandsWith(ctx, t, brokers, adm, commands, "sku-b"); len(got) != 1 {
			t.Fatalf("refused, missing and dry runs sent %d records", len(got)-1)
		}

		// Listed twice and set aside twice: sent once.
		code, out, errs = dlqRun(t, brokers, ns, "replay", "--json", "--record", misplaced.ID().String(), "--record", misplaced.ID().String())
		if code != 0 {
			t.Fatalf("replay: exit %d\n%s%s", code, out, errs)
		}
		var report []replayLine
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var r replayLine
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatalf("%q: %v", l, err)
			}
			report = append(report, r)
		}
		after := commandsWith(ctx, t, brokers, adm, commands, "sku-b")
		if len(after) != 2 {
			t.Fatalf("%d records of sku-b after the replay, want the original and one copy", len(after))
		}
		copied := after[0]
		if copied.Partition == before[0].Partition && copied.Offset == before[0].Offset {
			copied = after[1]
		}
		if copied.Partition != at("sku-b") || !bytes.Equal(copied.Value, restock) {
			t.Errorf("the copy is in partition %d (want %d), value equal %v", copied.Partition, at("sku-b"), bytes.Equal(copied.Value, restock))
		}
		want := fmt.Sprintf("%s/%d/%d", commands, copied.Partition, copied.Offset)
		if len(report) != 2 || report[1].Action != "sent" || report[1].To != want || report[0].Action != "once" {
			t.Errorf("report %+v, want once, then sent to %s", report, want)
		}
		if got := awaitStock(ctx, t, inst, "sku-b", 7); got != 7 {
			t.Errorf("sku-b on hand %d after the replay, want 7", got)
		}

		// --all: what may go back goes, the rest is reported.
		before = commandsWith(ctx, t, brokers, adm, commands, "sku-a")
		code, out, errs = dlqRun(t, brokers, ns, "replay", "--all", "--topology", "inventory", "--reason", "decode")
		if code != 0 || strings.Count(out, "sent") != 1 || strings.Count(out, "refused") != 1 {
			t.Errorf("--all --reason decode: exit %d\n%s%s", code, out, errs)
		}
		if got := commandsWith(ctx, t, brokers, adm, commands, "sku-a"); len(got) != len(before)+1 {
			t.Errorf("sku-a: %d records, want %d", len(got), len(before)+1)
		}
		if code, _, errs := dlqRun(t, brokers, ns, "replay", "--all", "--limit", "1"); code != 1 || !strings.Contains(errs, "more than --limit 1") {
			t.Errorf("--all past --limit: exit %d %s", code, errs)
		}
	})

	// Neither command joined a group or committed an offset.
	checkNoGroup(ctx, t, adm, groupsBefore, ns)
}

// checkNoGroup fails the test if titan dlq left a trace in a consumer
// group: a group that appeared since before with a member of titan dlq's
// client id, or any group with offsets committed for the namespace's
// topics other than the instance's own groups'. Other tests may create
// groups of their own on the same broker meanwhile.
func checkNoGroup(ctx context.Context, t *testing.T, adm *kadm.Client, before map[string]bool, ns string) {
	t.Helper()
	after := listGroups(ctx, t, adm)
	var created []string
	for g := range after {
		if !before[g] {
			created = append(created, g)
		}
	}
	described, err := adm.DescribeGroups(ctx, created...)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range described {
		for _, m := range g.Members {
			if m.ClientID == dlq.ClientID {
				t.Errorf("titan dlq joined group %s", g.Group)
			}
		}
	}
	for g := range after {
		if strings.HasPrefix(g, ns+".titan-inventory") {
			continue
		}
		offsets, err := adm.FetchOffsets(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		for topic := range offsets {
			if strings.HasPrefix(topic, ns+".") {
				t.Errorf("group %s committed offsets of %s", g, topic)
			}
		}
	}
	t.Logf("%d groups before, %d after; new: %v", len(before), len(after), created)
}

func listGroups(ctx context.Context, t *testing.T, adm *kadm.Client) map[string]bool {
	t.Helper()
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, g := range listed.Groups() {
		out[g] = true
	}
	return out
}

// awaitRecords waits until topic holds n records and returns them.
func awaitRecords(ctx context.Context, t *testing.T, brokers []string, adm *kadm.Client, topic string, n int) []*kgo.Record {
	t.Helper()
	var got []*kgo.Record
	err := kafkatest.WaitFor(ctx, fmt.Sprintf("%d records in %s", n, topic), func() (bool, string) {
		var err error
		got, err = kafkatest.ReadAll(ctx, brokers, adm, topic)
		if err != nil {
			return false, err.Error()
		}
		return len(got) >= n, fmt.Sprintf("%d records", len(got))
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// commandsWith reads topic whole and returns the records with key.
func commandsWith(ctx context.Context, t *testing.T, brokers []string, adm *kadm.Client, topic, key string) []*kgo.Record {
	t.Helper()
	all, err := kafkatest.ReadAll(ctx, brokers, adm, topic)
	if err != nil {
		t.Fatal(err)
	}
	var out []*kgo.Record
	for _, r := range all {
		if string(r.Key) == key {
			out = append(out, r)
		}
	}
	return out
}

// awaitStock waits until the API says sku has want on hand, and returns
// what it said last.
func awaitStock(ctx context.Context, t *testing.T, inst *proctest.Proc, sku string, want int64) int64 {
	t.Helper()
	var got int64
	cl := &http.Client{Timeout: 5 * time.Second}
	_ = kafkatest.WaitFor(ctx, "stock of "+sku, func() (bool, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+inst.Addr+"/v1/inventory/"+sku, nil)
		resp, err := cl.Do(req)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		var s struct {
			OnHand int64 `json:"on_hand"`
		}
		if resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&s) == nil {
			got = s.OnHand
		}
		return got == want, fmt.Sprintf("status %d, on hand %d", resp.StatusCode, got)
	})
	return got
}

func TestDLQUsage(t *testing.T) {
	t.Setenv("TITAN_KAFKA_BROKERS", "") // make test sets it; these runs must not find a broker
	t.Setenv("TITAN_NAMESPACE", "")
	nowhere := []string{"--brokers", "127.0.0.1:1"}
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"dlq"}, 0, ""},
		{[]string{"dlq", "help"}, 0, ""},
		{[]string{"dlq", "drop"}, 2, "unknown dlq command"},
		{[]string{"dlq", "inspect"}, 2, "--brokers"},
		{append([]string{"dlq", "inspect", "extra"}, nowhere...), 2, "takes no arguments"},
		{append([]string{"dlq", "inspect", "--topology", "titan-inventory"}, nowhere...), 2, "--topology"},
		{append([]string{"dlq", "inspect", "--since", "yesterday"}, nowhere...), 2, "--since"},
		{append([]string{"dlq", "inspect", "--until", "-1h"}, nowhere...), 2, "--until"},
		{append([]string{"dlq", "inspect", "--since", "1h", "--until", "2h"}, nowhere...), 2, "not before --until"},
		{append([]string{"dlq", "inspect", "--limit", "0"}, nowhere...), 2, "--limit"},
		{append([]string{"dlq", "inspect", "--timeout", "0s"}, nowhere...), 2, "--timeout"},
		{append([]string{"dlq", "inspect", "--record", "t/0/1"}, nowhere...), 2, "not defined"},
		{append([]string{"dlq", "replay"}, nowhere...), 2, "--record"},
		{append([]string{"dlq", "replay", "--all", "--record", "t/0/1"}, nowhere...), 2, "exclude each other"},
		{append([]string{"dlq", "replay", "--record", "t/0"}, nowhere...), 2, "topic/partition/offset"},
		{append([]string{"dlq", "replay", "--record", "t/0/-1"}, nowhere...), 2, "offset"},
		// No broker answers: the command fails rather than wait.
		{append([]string{"dlq", "inspect", "--timeout", "1s"}, nowhere...), 1, "end offsets"},
		{append([]string{"dlq", "replay", "--all", "--timeout", "1s"}, nowhere...), 1, "end offsets"},
	} {
		var out, errs bytes.Buffer
		code := run(tc.args, &out, &errs)
		if code != tc.code || !strings.Contains(errs.String(), tc.says) {
			t.Errorf("titan %v: exit %d, want %d saying %q: %s", tc.args, code, tc.code, tc.says, errs.String())
		}
	}
}
