package instance_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/internal/testenv"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
	inventoryv1 "github.com/titan-commerce/titan/schemas/inventory/v1"
	"github.com/titan-commerce/titan/sdk"
)

// envNodeSDK names the directory of the Node SDK (sdk/node), installed and built; `make test` sets
// it after `make node-sdk`.
const envNodeSDK = "TITAN_NODE_SDK_DIR"

// nodeSDK returns node and the built SDK's directory, ending the test when they are missing.
func nodeSDK(t *testing.T) (node, dir string) {
	t.Helper()
	dir = strings.TrimSpace(os.Getenv(envNodeSDK))
	if dir == "" {
		testenv.Missing(t, envNodeSDK+" not set: run the tests through `make test`, which installs and builds sdk/node with `make node-sdk`")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("%s is set but node is not on PATH: %v", envNodeSDK, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "dist", "src", "cli", "send.js")); err != nil {
		t.Fatalf("the Node SDK in %s is not built (`make node-sdk`): %v", dir, err)
	}
	return node, dir
}

// The Node SDK's own broker test: every input it sends lands in the partition its key hashes to,
// and concurrent sends are each stored once.
func TestNodeSDKOnBroker(t *testing.T) {
	node, dir := nodeSDK(t)
	brokers := kafkatest.Brokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", filepath.Join("dist", "test", "broker.js"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), kafkatest.EnvBrokers+"="+strings.Join(brokers, ","))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node --test broker.js: %v\n%s", err, out)
	}
}

// A Node service sending inventory commands through the SDK has them processed exactly as the same
// commands sent through the Go SDK: for every SKU, the Node-sent commands yield the same events
// (kind, quantity, resulting stock) as the Go-sent ones for its twin SKU. A command the Node SDK
// refuses is never sent, so it leaves neither a result nor a dead letter.
func TestNodeSDKCommandsAreProcessed(t *testing.T) {
	node, dir := nodeSDK(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// Not a power of two: modulo one, a hash whose sign bit was not cleared (the mistake of
	// @platformatic/kafka's own default partitioner) places every key as Kafka's does.
	const nodePartitions = 6
	f := startWith(ctx, t, func(c *instance.Config) { c.Partitions = nodePartitions }, "inventory")
	f.waitReady(ctx)
	events := newEventLog(f.reader(schemas.Namespaced(f.ns, schemas.InventoryEvents)))

	const skus = 32
	goCmds, nodeCmds := ledgerCommands("go", skus), ledgerCommands("node", skus)
	p, err := sdk.NewProducer(f.brokers, sdk.WithCommandsTopic(schemas.Namespaced(f.ns, schemas.InventoryCommands)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, c := range goCmds {
		if _, err := p.SendCommand(ctx, c); err != nil {
			t.Fatal(err)
		}
	}

	refused := &inventoryv1.Command{CommandId: "node-refused", Sku: "bad\u200bsku", Qty: 1,
		Kind: &inventoryv1.Command_Restock{Restock: &inventoryv1.Restock{}}}
	outcomes := sendWithNode(ctx, t, node, dir, f, append(nodeCmds, refused))
	for i, o := range outcomes[:len(nodeCmds)] {
		sku := nodeCmds[i].GetSku()
		if o.Error != "" {
			t.Fatalf("the Node SDK could not send %s: %s", nodeCmds[i].GetCommandId(), o.Error)
		}
		if want := partition.Partition([]byte(sku), nodePartitions); o.Partition != want {
			t.Errorf("the Node SDK put %q in partition %d; Titan hashes it to %d", sku, o.Partition, want)
		}
	}
	if o := outcomes[len(nodeCmds)]; o.Field != "sku" || o.Reason != string(schemas.ReasonInvalidSKU) {
		t.Errorf("the Node SDK answered a SKU with a zero-width space with %+v; want field sku, reason invalid_sku", o)
	}
	if t.Failed() {
		// A misplaced command is dead-lettered, not applied: waiting for its result would only
		// time out.
		t.FailNow()
	}

	events.await(ctx, t, append(ids(goCmds), ids(nodeCmds)...))
	for i := range skus {
		goSKU, nodeSKU := goCmds[2*i].GetSku(), nodeCmds[2*i].GetSku()
		if g, n := ledger(events.bySKU[goSKU]), ledger(events.bySKU[nodeSKU]); g != n {
			t.Errorf("%s sent from Node gave\n%s\nits twin %s sent from Go\n%s", nodeSKU, n, goSKU, g)
		}
	}
	if len(events.results[refused.GetCommandId()]) != 0 {
		t.Errorf("the refused command has a result: it was sent")
	}
	f.checkNoDeadLetters(ctx, schemas.Namespaced(f.ns, schemas.InventoryDeadLetters))
}

// ledgerCommands are, for each of n SKUs of prefix's own, a restock of i+1 units and a reservation
// of one of them: two commands whose results depend on their order and on each other.
func ledgerCommands(prefix string, n int) []*inventoryv1.Command {
	now := time.Now().UnixMilli()
	var cmds []*inventoryv1.Command
	for i := range n {
		sku := fmt.Sprintf("%s-sku-%d", prefix, i)
		cmds = append(cmds,
			&inventoryv1.Command{CommandId: fmt.Sprintf("%s-restock-%d", prefix, i), Sku: sku, Qty: int64(i + 1), TimestampMs: now,
				Kind: &inventoryv1.Command_Restock{Restock: &inventoryv1.Restock{}}},
			&inventoryv1.Command{CommandId: fmt.Sprintf("%s-reserve-%d", prefix, i), OrderId: fmt.Sprintf("order-%d", i), Sku: sku,
				Qty: 1, TimestampMs: now, Kind: &inventoryv1.Command_Reserve{Reserve: &inventoryv1.Reserve{TtlMs: 600_000}}})
	}
	return cmds
}

// ledger is what a SKU's events say happened to it, without the names that tell the twins apart.
func ledger(evs []inventory.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%v qty=%d reason=%q on_hand=%d reserved=%d sold=%d\n", e.Type, e.Qty, e.Reason,
			e.Stock.OnHand, e.Stock.Reserved, e.Stock.Sold)
	}
	return b.String()
}

// nodeOutcome is a line of titan-send's output.
type nodeOutcome struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Error     string `json:"error"`
	Field     string `json:"field"`
	Reason    string `json:"reason"`
}

// sendWithNode sends cmds, restocks and reservations, through the Node SDK's titan-send into the
// fixture's namespace, each with its command id as the idempotency key and its time left to the
// SDK, and returns the outcome of each. Each command's id becomes the one the SDK derives.
func sendWithNode(ctx context.Context, t *testing.T, node, dir string, f *fixture, cmds []*inventoryv1.Command) []nodeOutcome {
	t.Helper()
	var in bytes.Buffer
	failures := 0
	for _, c := range cmds {
		args := map[string]any{"idempotencyKey": c.GetCommandId(), "sku": c.GetSku(), "qty": c.GetQty()}
		c.CommandId = schemas.DeriveID(c.GetCommandId())
		send := "restock"
		if r := c.GetReserve(); r != nil {
			send, args["orderId"], args["ttlMs"] = "reserve", c.GetOrderId(), r.GetTtlMs()
		}
		line, err := json.Marshal(map[string]any{"send": send, "args": args})
		if err != nil {
			t.Fatal(err)
		}
		in.Write(append(line, '\n'))
		if !schemas.ValidID(c.GetSku()) {
			failures++
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, node, filepath.Join(dir, "dist", "src", "cli", "send.js"),
		"--brokers", strings.Join(f.brokers, ","), "--namespace", f.ns, "--client-id", "node-sdk-test")
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	// titan-send exits 1 when a send failed: expected exactly when a command is invalid.
	var exit *exec.ExitError
	if err != nil && !(failures > 0 && errors.As(err, &exit) && exit.ExitCode() == 1) {
		t.Fatalf("titan-send: %v\n%s\n%s", err, out, stderr.String())
	}
	var outcomes []nodeOutcome
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var o nodeOutcome
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("titan-send wrote %q: %v", sc.Text(), err)
		}
		outcomes = append(outcomes, o)
	}
	if len(outcomes) != len(cmds) {
		t.Fatalf("titan-send answered %d of %d sends\n%s", len(outcomes), len(cmds), stderr.String())
	}
	return outcomes
}
