package clickhouse

import (
	"context"
	"fmt"
	"time"
)

// Migration is one version of the schema: statements applied in order, once. Each leaves the
// schema as it found it when run again (CREATE ... IF NOT EXISTS), so a migration cut short and
// run again, or run by two processes at once, ends the same. A released migration is never edited:
// a change to the schema is a new version.
type Migration struct {
	Version    uint32
	Name       string
	Statements []string
}

// versionsTable records the versions applied to a database. Two processes that migrate at once may
// both record a version; the table keeps one row per version in the end, and readers take max.
const versionsTable = "titan_schema_versions"

// Migrations are the schema's versions, oldest first. Every event table is a ReplacingMergeTree
// ordered by where its record was in Kafka (topic, partition, offset), so a batch written twice,
// after a crash or a retry, counts once in a query that reads it FINAL.
var Migrations = []Migration{
	{Version: 1, Name: "inventory events", Statements: []string{`
CREATE TABLE IF NOT EXISTS inventory_events (
    topic String,
    partition Int32,
    offset Int64,
    type String,
    command_id String,
    order_id String,
    sku String,
    qty Int64,
    reason String,
    seq Int64,
    on_hand Int64,
    reserved Int64,
    sold Int64,
    event_time DateTime
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (topic, partition, offset)`}},
}

// Version is the newest version applied to the connection's database, 0 for none.
func (c *Conn) Version(ctx context.Context) (uint32, error) {
	if err := c.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+versionsTable+` (
    version UInt32,
    name String,
    applied_at DateTime
) ENGINE = ReplacingMergeTree ORDER BY version`); err != nil {
		return 0, fmt.Errorf("clickhouse: %s: %w", versionsTable, err)
	}
	var v uint32
	if err := c.QueryRow(ctx, "SELECT max(version) FROM "+versionsTable).Scan(&v); err != nil {
		return 0, fmt.Errorf("clickhouse: read %s: %w", versionsTable, err)
	}
	return v, nil
}

// Migrate applies, in order, the migrations of ms newer than the database's version, recording
// each once its statements have run, and returns the versions it applied.
func (c *Conn) Migrate(ctx context.Context, ms []Migration) ([]uint32, error) {
	for i := 1; i < len(ms); i++ {
		if ms[i].Version <= ms[i-1].Version {
			return nil, fmt.Errorf("clickhouse: migration %d follows %d", ms[i].Version, ms[i-1].Version)
		}
	}
	current, err := c.Version(ctx)
	if err != nil {
		return nil, err
	}
	var applied []uint32
	for _, m := range ms {
		if m.Version <= current {
			continue
		}
		for _, stmt := range m.Statements {
			if err := c.Exec(ctx, stmt); err != nil {
				return applied, fmt.Errorf("clickhouse: migration %d (%s): %w", m.Version, m.Name, err)
			}
		}
		b, err := c.Batch(ctx, "INSERT INTO "+versionsTable+" (version, name, applied_at)")
		if err != nil {
			return applied, err
		}
		if err := b.Append(m.Version, m.Name, time.Now().UTC().Truncate(time.Second)); err != nil {
			return applied, fmt.Errorf("clickhouse: record migration %d: %w", m.Version, err)
		}
		if err := b.Send(); err != nil {
			return applied, fmt.Errorf("clickhouse: record migration %d: %w", m.Version, err)
		}
		applied = append(applied, m.Version)
	}
	return applied, nil
}
