package instance_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/kafkatest"
	"github.com/titan-commerce/titan/internal/observe"
	"github.com/titan-commerce/titan/internal/partition"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/sdk"
)

// TestDeadLetterWriteFailureStopsProcessor: a record that fails
// validation, while its dead-letter topic cannot be written to, stops the
// inventory processor at that record instead of being dropped: /readyz
// names the failure, the next command on the partition waits behind it,
// and reads keep answering. Once the topic takes writes again the rebuilt
// processor reads the record again, writes its one dead letter with its
// reason, and applies the command behind it once.
func TestDeadLetterWriteFailureStopsProcessor(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	f := start(ctx, t, instance.TopologyInventory)
	f.waitReady(ctx)
	names := f.inst.Names()
	const sku = "sku-poison"

	f.faults.FailSendsTo(string(names.DeadLetters))
	raw, err := kgo.NewClient(kgo.SeedBrokers(f.brokers...), kgo.RecordPartitioner(partition.Kgo()))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	poison := []byte("not a command")
	if err := raw.ProduceSync(ctx, &kgo.Record{Topic: string(names.Commands), Key: []byte(sku), Value: poison}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	p, err := sdk.NewProducer(f.brokers, sdk.WithClientID("titan-test-dlq"), sdk.WithCommandsTopic(string(names.Commands)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	restock := inventory.Command{ID: "restock-behind-poison", Kind: inventory.KindRestock, SKU: sku, Qty: 7, Time: time.Now()}
	if _, err := p.SendCommand(ctx, inventory.CommandToWire(restock)); err != nil {
		t.Fatal(err)
	}

	st := f.waitFailing(ctx, instance.TopologyInventory, 2)
	t.Logf("/readyz while the dead letters cannot be written: %+v", st)
	if _, sends := f.faults.Failed(); sends == 0 {
		t.Fatal("no dead letter was refused")
	}
	// The restock sits behind the poison; reads still answer from the view.
	if got := f.stock(ctx, sku); got.OnHand != 0 {
		t.Errorf("stock while the processor is stopped at the poison: %+v, want nothing applied", got)
	}
	f.checkNoDeadLetters(ctx, string(names.DeadLetters))

	f.faults.FailSendsTo("")
	f.waitReady(ctx)
	events := newEventLog(f.reader(string(names.Events)))
	events.await(ctx, t, []string{restock.ID})
	events.checkOneResultEach(t, []string{restock.ID})

	letters, err := kafkatest.ReadAll(ctx, f.brokers, f.adm, string(names.DeadLetters))
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) != 1 {
		t.Fatalf("%d dead letters, want the poison's one", len(letters))
	}
	var dl observe.DeadLetter
	if err := json.Unmarshal(letters[0].Value, &dl); err != nil {
		t.Fatal(err)
	}
	if dl.Key != sku || string(dl.Value) != string(poison) || dl.Reason == "" || dl.Topic != string(names.Commands) {
		t.Errorf("dead letter %+v, want the poison under %s with its reason", dl, sku)
	}
	if got := f.stock(ctx, sku); got.OnHand != 7 {
		t.Errorf("stock after recovery: %+v, want on hand 7 (the restock applied once)", got)
	}
}

// stockJSON is the part of GET /v1/inventory/{sku} the tests read.
type stockJSON struct {
	OnHand int64 `json:"on_hand"`
	Offset int64 `json:"offset"`
}

// stock reads a SKU's stock through the API, which must answer 200.
func (f *fixture) stock(ctx context.Context, sku string) stockJSON {
	f.t.Helper()
	status, body, err := f.get(ctx, "/v1/inventory/"+sku)
	if err != nil || status != http.StatusOK {
		f.t.Fatalf("GET stock %s: %d %s %v", sku, status, body, err)
	}
	var s stockJSON
	if err := json.Unmarshal(body, &s); err != nil {
		f.t.Fatal(err)
	}
	return s
}
