package clickhouse_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/clickhousetest"
	"github.com/titan-commerce/titan/sinks/clickhouse"
)

// Migrate applies every version once: a second run applies none, and a version added later is
// applied alone. The tables exist and the version is recorded.
func TestMigrateAppliesEachVersionOnce(t *testing.T) {
	conn, db := clickhousetest.Database(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	want := make([]uint32, len(clickhouse.Migrations))
	for i, m := range clickhouse.Migrations {
		want[i] = m.Version
	}
	applied, err := conn.Migrate(ctx, clickhouse.Migrations)
	if err != nil || !slices.Equal(applied, want) {
		t.Fatalf("first Migrate = %v, %v; want %v", applied, err, want)
	}
	if applied, err := conn.Migrate(ctx, clickhouse.Migrations); err != nil || len(applied) != 0 {
		t.Fatalf("second Migrate = %v, %v; want nothing applied", applied, err)
	}
	var tables uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = '"+db+"' AND name = 'inventory_events'").Scan(&tables); err != nil || tables != 1 {
		t.Fatalf("inventory_events: %d tables, %v", tables, err)
	}
	last := clickhouse.Migrations[len(clickhouse.Migrations)-1].Version
	next := append(slices.Clone(clickhouse.Migrations), clickhouse.Migration{Version: last + 1, Name: "probe",
		Statements: []string{"CREATE TABLE IF NOT EXISTS probe (x UInt8) ENGINE = MergeTree ORDER BY x"}})
	if applied, err := conn.Migrate(ctx, next); err != nil || !slices.Equal(applied, []uint32{last + 1}) {
		t.Fatalf("Migrate with a new version = %v, %v", applied, err)
	}
	if v, err := conn.Version(ctx); err != nil || v != last+1 {
		t.Fatalf("Version = %d, %v; want %d", v, err, last+1)
	}
}

// Versions out of order are refused before anything runs.
func TestMigrateRefusesVersionsOutOfOrder(t *testing.T) {
	conn, _ := clickhousetest.Database(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ms := []clickhouse.Migration{{Version: 2, Name: "b"}, {Version: 1, Name: "a"}}
	if applied, err := conn.Migrate(ctx, ms); err == nil || len(applied) != 0 {
		t.Fatalf("Migrate = %v, %v; want a refusal", applied, err)
	}
}
