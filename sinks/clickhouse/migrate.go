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
