package clickhouse_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/chdbtest"
	"github.com/titan-commerce/titan/internal/clickhousetest"
	"github.com/titan-commerce/titan/internal/schematest"
)

// Every statement of every migration runs on current ClickHouse (chDB) as well as on 18.16; with
// the sample rows inserted, the materialized views fill every summary on both, and a read of every
// table, summaries summed again per key, returns the same rows on both, value for value.
func TestSchemaRunsOnOldAndCurrentClickHouse(t *testing.T) {
	tables, err := schematest.Tables()
	if err != nil {
		t.Fatal(err)
	}
	samples := make(map[string]schematest.Sample)
	for _, s := range schematest.Samples() {
		samples[s.Table] = s
	}
	feeds := make(map[string]string) // summary table -> the raw table its view reads
	for _, v := range schematest.Views() {
		feeds[v.To] = v.From
	}

	queries := []chdbtest.Query{{Name: "schema version", SQL: "SELECT max(version) FROM titan_schema_versions"}}
	for _, tb := range tables {
		switch tb.Engine {
		case "ReplacingMergeTree":
			s, ok := samples[tb.Name]
			if !ok {
				t.Errorf("raw table %s has no sample rows in schematest.Samples", tb.Name)
				continue
			}
			var cols []string
			for _, c := range tb.Columns {
				cols = append(cols, c.Name)
			}
			if !slices.Equal(slices.Sorted(slices.Values(cols)), slices.Sorted(slices.Values(s.Columns))) {
				t.Errorf("the samples of %s have columns %v; the table has %v", tb.Name, s.Columns, cols)
			}
			queries = append(queries, chdbtest.Query{Name: "raw " + tb.Name, SQL: "SELECT * FROM " + tb.Name + " FINAL"})
		case "SummingMergeTree":
			if _, ok := samples[feeds[tb.Name]]; !ok {
				t.Errorf("summary %s is fed by no view over a table with sample rows", tb.Name)
			}
			queries = append(queries, chdbtest.Query{Name: "summary " + tb.Name, SQL: schematest.SummaryQuery(tb)})
		default:
			t.Errorf("table %s: engine %s is neither a raw table's nor a summary's", tb.Name, tb.Engine)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	res := schematest.Check(t, queries)
	for _, q := range queries {
		if res.Old[q.Name] == 0 || res.Current[q.Name] == 0 {
			t.Errorf("%s: %d rows on 18.16, %d on %s; the samples should give some", q.Name, res.Old[q.Name], res.Current[q.Name], res.Engine)
		}
	}
	t.Logf("%d statements and %d queries ran on ClickHouse 18.16 and %s", len(schematest.Setup()), len(queries), res.Engine)
}

// The versions table in the chDB document is the one Conn.Version creates: 18.16 reports the same
// definition for both.
func TestVersionsDDLIsConnVersions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	byVersion, db1 := clickhousetest.Database(t)
	if _, err := byVersion.Version(ctx); err != nil {
		t.Fatal(err)
	}
	byCopy, db2 := clickhousetest.Database(t)
	if err := byCopy.Exec(ctx, schematest.VersionsDDL); err != nil {
		t.Fatal(err)
	}
	var a, b string
	if err := byVersion.QueryRow(ctx, "SHOW CREATE TABLE titan_schema_versions").Scan(&a); err != nil {
		t.Fatal(err)
	}
	if err := byCopy.QueryRow(ctx, "SHOW CREATE TABLE titan_schema_versions").Scan(&b); err != nil {
		t.Fatal(err)
	}
	a, b = strings.ReplaceAll(a, db1+".", ""), strings.ReplaceAll(b, db2+".", "")
	if a != b {
		t.Fatalf("schematest.VersionsDDL makes\n%s\nConn.Version makes\n%s", b, a)
	}
}
