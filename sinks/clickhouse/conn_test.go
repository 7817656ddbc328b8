package clickhouse_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/clickhousetest"
)

// The connection writes and reads on the server `make test` runs: a batch that names its columns,
// a ReplacingMergeTree read with FINAL, and a refusal of a batch that would not work on 18.16.
func TestBatchInsertAndRead(t *testing.T) {
	conn, db := clickhousetest.Database(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+db+`.events (
		topic String, partition Int32, offset Int64, sku String, qty Int64, at DateTime
	) ENGINE = ReplacingMergeTree ORDER BY (topic, partition, offset)`); err != nil {
		t.Fatal(err)
	}
	b, err := conn.Batch(ctx, "INSERT INTO "+db+".events (topic, partition, offset, sku, qty, at)")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1_700_000_000, 0).UTC()
	for i := range 1000 {
		// Every record twice, as a retried batch would write it.
		for range 2 {
			if err := b.Append("t", int32(i%8), int64(i), "sku-1", int64(i%5), at); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	var (
		rows uint64
		qty  int64
	)
	if err := conn.QueryRow(ctx, "SELECT count(), sum(qty) FROM "+db+".events FINAL").Scan(&rows, &qty); err != nil {
		t.Fatal(err)
	}
	if rows != 1000 || qty != 2000 {
		t.Fatalf("FINAL read %d rows of qty %d, want 1000 and 2000", rows, qty)
	}
	if _, err := conn.Batch(ctx, "INSERT INTO "+db+".events"); err == nil || !strings.Contains(err.Error(), "name its columns") {
		t.Fatalf("a batch without its columns: %v", err)
	}
}
