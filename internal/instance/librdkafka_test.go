package instance_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/internal/testenv"
	"github.com/titan-commerce/titan/schemas"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
)

// envClientsPython names a Python that can import confluent_kafka; `make test` installs it under
// .run/venv from deploy/clients/requirements.txt.
const envClientsPython = "TITAN_CLIENTS_PYTHON"

// A Python service sending inventory commands with librdkafka (confluent-kafka) and the
// partitioner the README gives, murmur2_random, has every command processed like one sent from
// Go. With librdkafka's default partitioner, consistent_random, the commands whose key crc32
// places elsewhere than murmur2 are refused as wrong_partition and change no stock: the setting is
// what makes the difference, and a forgotten one is caught, not absorbed.
func TestLibrdkafkaProducerIsProcessed(t *testing.T) {
	py := strings.TrimSpace(os.Getenv(envClientsPython))
	if py == "" {
		testenv.Missing(t, envClientsPython+" not set: run the tests through `make test`, which installs confluent-kafka with `make clients`")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	f := start(ctx, t, "inventory")
	f.waitReady(ctx)
	commands := schemas.Namespaced(f.ns, schemas.InventoryCommands)
	events := newEventLog(f.reader(schemas.Namespaced(f.ns, schemas.InventoryEvents)))

	// With the partitioner the README gives: every command lands where Titan hashes its key, and
	// every one is applied.
	right := restocks("right", 64)
	for _, d := range produceWithLibrdkafka(ctx, t, py, f.brokers, commands, "murmur2_random", right) {
		if want := partition.Partition([]byte(d.Key), partitions); d.Partition != want {
			t.Errorf("librdkafka with murmur2_random put %q in partition %d; Titan hashes it to %d", d.Key, d.Partition, want)
		}
	}
	events.await(ctx, t, ids(right))
	for _, c := range right {
		if got := onHand(events, c.GetSku()); got != c.GetQty() {
			t.Errorf("%s: on hand %d after a restock of %d", c.GetSku(), got, c.GetQty())
		}
	}
	f.checkNoDeadLetters(ctx, schemas.Namespaced(f.ns, schemas.InventoryDeadLetters))

	// With librdkafka's default partitioner: the misplaced commands are dead letters.
	wrong := restocks("default", 64)
	misplaced := map[string]bool{}
	for _, d := range produceWithLibrdkafka(ctx, t, py, f.brokers, commands, "", wrong) {
		if d.Partition != partition.Partition([]byte(d.Key), partitions) {
			misplaced[d.Key] = true
		}
	}
	if len(misplaced) == 0 {
		t.Fatal("librdkafka's default partitioner placed all 64 keys as murmur2 does; the control shows nothing")
	}
	var placed []string
	for _, c := range wrong {
		if !misplaced[c.GetSku()] {
			placed = append(placed, c.GetCommandId())
		}
	}
	events.await(ctx, t, placed)
	letters := awaitDeadLetters(ctx, t, f, len(misplaced))
	pctx, pcancel := context.WithTimeout(ctx, time.Second)
	events.poll(pctx) // what a misplaced command wrongly applied would have written by now
	pcancel()
	for _, l := range letters {
		if l.Reason != "wrong_partition" || !misplaced[l.Key] {
			t.Errorf("dead letter %+v; want wrong_partition for a misplaced key", l)
		}
	}
	for _, c := range wrong {
		if misplaced[c.GetSku()] && len(events.bySKU[c.GetSku()]) != 0 {
			t.Errorf("%s: the misplaced restock changed its stock: %v", c.GetSku(), events.bySKU[c.GetSku()])
		}
	}
	t.Logf("librdkafka's default partitioner misplaced %d of %d keys; murmur2_random none", len(misplaced), len(wrong))
}

// restocks are n restock commands of n SKUs of their own.
func restocks(prefix string, n int) []*inventoryv1.Command {
	cmds := make([]*inventoryv1.Command, n)
	for i := range cmds {
		cmds[i] = &inventoryv1.Command{CommandId: fmt.Sprintf("%s-restock-%d", prefix, i), Sku: fmt.Sprintf("%s-sku-%d", prefix, i),
			Qty: int64(i + 1), TimestampMs: time.Now().UnixMilli(), Kind: &inventoryv1.Command_Restock{Restock: &inventoryv1.Restock{}}}
	}
	return cmds
}

func ids(cmds []*inventoryv1.Command) []string {
	out := make([]string, len(cmds))
	for i, c := range cmds {
		out[i] = c.GetCommandId()
	}
	return out
}

// onHand is the stock on hand of sku after the last event read of it.
func onHand(l *eventLog, sku string) int64 {
	evs := l.bySKU[sku]
	if len(evs) == 0 {
		return -1
	}
	return evs[len(evs)-1].Stock.OnHand
}

type delivery struct {
	Key       string `json:"key"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Error     string `json:"error"`
}

// produceWithLibrdkafka sends cmds to topic keyed by SKU through testdata/librdkafka_produce.py,
// with partitioner, or librdkafka's default when it is empty, and returns where each landed.
func produceWithLibrdkafka(ctx context.Context, t *testing.T, py string, brokers []string, topic, partitioner string,
	cmds []*inventoryv1.Command) []delivery {
	t.Helper()
	var in bytes.Buffer
	for _, c := range cmds {
		v, err := proto.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		line, _ := json.Marshal(map[string]string{"topic": topic, "key": c.GetSku(), "value_hex": hex.EncodeToString(v)})
		in.Write(append(line, '\n'))
	}
	args := []string{"testdata/librdkafka_produce.py", "--bootstrap", strings.Join(brokers, ",")}
	if partitioner != "" {
		args = append(args, "--partitioner", partitioner)
	}
	cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, py, args...)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("librdkafka_produce.py: %v\n%s\n%s", err, out, stderr.String())
	}
	var ds []delivery
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var d delivery
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("librdkafka_produce.py wrote %q: %v", sc.Text(), err)
		}
		if d.Error != "" {
			t.Fatalf("librdkafka could not deliver %q: %s", d.Key, d.Error)
		}
		ds = append(ds, d)
	}
	if len(ds) != len(cmds) {
		t.Fatalf("librdkafka delivered %d of %d commands\n%s", len(ds), len(cmds), stderr.String())
	}
	return ds
}

type deadLetter struct {
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

// awaitDeadLetters reads the inventory dead letters until it has n, then once more a second later,
// so that one too many shows.
func awaitDeadLetters(ctx context.Context, t *testing.T, f *fixture, n int) []deadLetter {
	t.Helper()
	topic := schemas.Namespaced(f.ns, schemas.InventoryDeadLetters)
	var letters []deadLetter
	deadline := time.Now().Add(time.Minute)
	for {
		records, err := kafkatest.ReadAll(ctx, f.brokers, f.adm, topic)
		if err != nil {
			t.Fatal(err)
		}
		letters = letters[:0]
		for _, r := range records {
			var l deadLetter
			if err := json.Unmarshal(r.Value, &l); err != nil {
				t.Fatalf("dead letter %s: %v", r.Value, err)
			}
			letters = append(letters, l)
		}
		if time.Now().After(deadline) {
			break
		}
		if len(letters) >= n {
			deadline = time.Now() // one more read
			time.Sleep(time.Second)
			continue
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(letters) != n {
		t.Fatalf("%d dead letters, want one for each of the %d misplaced commands", len(letters), n)
	}
	return letters
}
