// Package schematest checks Titan's ClickHouse schema (clickhouse.Migrations) and the queries over
// it on both engines Titan must work with: Debian's 18.16, which `make test` runs, and current
// ClickHouse, through chDB (package chdbtest).
//
// Samples holds sample rows for every raw table as Go values. On 18.16 they go in through batches
// that name their columns, the only way that works there; for chDB they are rendered as literal
// INSERT ... VALUES statements. Either way the materialized views fire and fill the summaries, so
// a query over a summary has rows to return.
//
// A package that writes queries over the schema (the dashboards, the analytics API) adds them to
// the check by calling Check with its own named queries:
//
//	res := schematest.Check(t, []chdbtest.Query{{Name: "gmv", SQL: "SELECT ..."}})
//
// Check applies the migrations to a fresh database on 18.16 and inserts the samples, runs every
// query there, then runs the same DDL, rows and queries in one chDB session, and fails the test on
// the first statement either engine refuses or when the engines return different rows.
package schematest

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/titan-commerce/titan/sinks/clickhouse"
)

// VersionsDDL is the statement Conn.Version runs to create the table of applied versions. It is a
// copy: the test of sinks/clickhouse checks it creates the same table as Conn.Version does.
const VersionsDDL = `CREATE TABLE IF NOT EXISTS titan_schema_versions (
    version UInt32,
    name String,
    applied_at DateTime
) ENGINE = ReplacingMergeTree ORDER BY version`

// Table is one table of the schema as its CREATE TABLE statement declares it.
type Table struct {
	Name    string
	Engine  string   // ReplacingMergeTree for raw tables, SummingMergeTree for summaries
	Columns []Column // in declared order
	OrderBy []string // the sorting key; a summary's rows are summed per key
}

// Column is one declared column.
type Column struct{ Name, Type string }

var (
	createTable = regexp.MustCompile(`(?s)^\s*CREATE TABLE IF NOT EXISTS (\w+) \((.*)\)\s*ENGINE = (\w+)(.*)$`)
	columnLine  = regexp.MustCompile(`^\s*(\w+)\s+(\S.*?),?\s*$`)
	orderBy     = regexp.MustCompile(`ORDER BY \(?([\w, ]+?)\)?\s*$`)
	createView  = regexp.MustCompile(`(?s)^\s*CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+) AS.*\bFROM (\w+)`)
)

// Tables returns every table the migrations create, in order, read from their statements.
func Tables() ([]Table, error) {
	var ts []Table
	for _, m := range clickhouse.Migrations {
		for _, stmt := range m.Statements {
			c := createTable.FindStringSubmatch(stmt)
			if c == nil {
				continue
			}
			t := Table{Name: c[1], Engine: c[3]}
			for _, line := range strings.Split(strings.TrimSpace(c[2]), "\n") {
				col := columnLine.FindStringSubmatch(line)
				if col == nil {
					return nil, fmt.Errorf("schematest: %s: cannot read the column %q", t.Name, line)
				}
				t.Columns = append(t.Columns, Column{Name: col[1], Type: col[2]})
			}
			o := orderBy.FindStringSubmatch(c[4])
			if o == nil {
				return nil, fmt.Errorf("schematest: %s: no ORDER BY", t.Name)
			}
			for _, k := range strings.Split(o[1], ",") {
				t.OrderBy = append(t.OrderBy, strings.TrimSpace(k))
			}
			ts = append(ts, t)
		}
	}
	return ts, nil
}

// View is a materialized view of the schema: it reads From and writes To.
type View struct{ Name, To, From string }

// Views returns every materialized view the migrations create, in order.
func Views() []View {
	var vs []View
	for _, m := range clickhouse.Migrations {
		for _, stmt := range m.Statements {
			if v := createView.FindStringSubmatch(stmt); v != nil {
				vs = append(vs, View{Name: v[1], To: v[2], From: v[3]})
			}
		}
	}
	return vs
}

// SummaryQuery reads a SummingMergeTree table the way every reader must: summed again per key,
// since rows of one key are merged only eventually, and without the keys whose sums are all zero.
// SummingMergeTree drops such a row when it merges it; current ClickHouse already does so as it
// inserts (optimize_on_insert), 18.16 only in a later background merge. A reader that kept them
// would see rows on 18.16 that current ClickHouse never stores (seen: a reservation that took no
// last unit leaves a row of zeros in stockouts_per_minute). HAVING names the sums by their
// aliases: each alias is its column's name, and in current ClickHouse sum(x) in HAVING would read
// x as the alias, an aggregate inside an aggregate.
func SummaryQuery(t Table) string {
	keys := make(map[string]bool, len(t.OrderBy))
	for _, k := range t.OrderBy {
		keys[k] = true
	}
	var sums, nonzero []string
	for _, c := range t.Columns {
		if !keys[c.Name] {
			sums = append(sums, fmt.Sprintf("sum(%s) AS %s", c.Name, c.Name))
			nonzero = append(nonzero, c.Name+" != 0")
		}
	}
	k := strings.Join(t.OrderBy, ", ")
	return fmt.Sprintf("SELECT %s, %s FROM %s GROUP BY %s HAVING %s ORDER BY %s",
		k, strings.Join(sums, ", "), t.Name, k, strings.Join(nonzero, " OR "), k)
}
