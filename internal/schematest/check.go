package schematest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/chdbtest"
	"github.com/titan-commerce/titan/internal/clickhousetest"
	"github.com/titan-commerce/titan/sinks/clickhouse"
)

// Setup is every DDL statement that makes the schema, in the order a fresh database gets them:
// the versions table Conn.Version creates, then every statement of every migration.
func Setup() []string {
	setup := []string{VersionsDDL}
	for _, m := range clickhouse.Migrations {
		setup = append(setup, m.Statements...)
	}
	return setup
}

// Document is the chDB document of the schema, the samples and queries: what Migrate and the
// sinks do to a fresh database, as literal statements.
func Document(queries []chdbtest.Query) (chdbtest.Doc, error) {
	doc := chdbtest.Doc{Setup: Setup(), Queries: queries}
	for _, m := range clickhouse.Migrations {
		doc.Rows = append(doc.Rows, fmt.Sprintf("INSERT INTO titan_schema_versions (version, name, applied_at) VALUES (%d, %s, toDateTime(%d))",
			m.Version, quote(m.Name), Start.Unix()))
	}
	for _, s := range Samples() {
		v, err := s.Values()
		if err != nil {
			return chdbtest.Doc{}, err
		}
		doc.Rows = append(doc.Rows, v)
	}
	return doc, nil
}

// Load migrates conn's database to the newest version and inserts the samples through batches.
func Load(ctx context.Context, conn *clickhouse.Conn) error {
	if _, err := conn.Migrate(ctx, clickhouse.Migrations); err != nil {
		return err
	}
	for _, s := range Samples() {
		b, err := conn.Batch(ctx, s.Insert())
		if err != nil {
			return err
		}
		for i, row := range s.Rows {
			if err := b.Append(row...); err != nil {
				_ = b.Abort()
				return fmt.Errorf("schematest: %s row %d: %w", s.Table, i, err)
			}
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("schematest: %s: %w", s.Table, err)
		}
	}
	return nil
}

// Counts is how many rows each query returned, by query name, on each engine.
type Counts struct {
	Old     map[string]int // ClickHouse 18.16, the server of the tests
	Current map[string]int // current ClickHouse, through chDB
	Engine  string         // chDB's ClickHouse version
}

// Check runs queries over the schema and the samples on 18.16 (a database of the test's own) and
// on current ClickHouse (chDB), failing the test on any statement either refuses and on any query
// whose rows differ between them (compared as sets of rows in a canonical text, so float and time
// formatting and ties in ORDER BY do not count). It returns the row counts so a test can ask for
// rows where the samples should give some. It needs both TITAN_CLICKHOUSE_ADDR and
// TITAN_CHDB_PYTHON.
func Check(t testing.TB, queries []chdbtest.Query) Counts {
	t.Helper()
	// Both gates first, so a missing prerequisite fails (CI) or skips before any work.
	clickhousetest.Addr(t)
	chdbtest.Python(t)

	doc, err := Document(queries)
	if err != nil {
		t.Fatal(err)
	}
	cur := chdbtest.Run(t, doc)

	conn, _ := clickhousetest.Database(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := Load(ctx, conn); err != nil {
		t.Fatalf("ClickHouse 18.16: %v", err)
	}
	old := make(map[string]int, len(queries))
	for _, q := range queries {
		rows, err := oldRows(ctx, conn, q.SQL)
		if err != nil {
			t.Fatalf("ClickHouse 18.16 refused %s: %v\n--- statement ---\n%s", q.Name, err, q.SQL)
		}
		old[q.Name] = len(rows)
		if d := diffRows(rows, currentRows(cur.Results[q.Name])); d != "" {
			t.Errorf("%s: the engines disagree (current is %s)\n%s\n--- statement ---\n%s", q.Name, cur.Engine, d, q.SQL)
		}
	}
	return Counts{Old: old, Current: cur.Rows, Engine: cur.Engine}
}
