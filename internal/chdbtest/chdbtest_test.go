package chdbtest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/titan-commerce/titan/internal/chdbtest"
)

// Run counts each query's rows, and a statement current ClickHouse refuses comes back with its
// name and the server's error.
func TestRun(t *testing.T) {
	doc := chdbtest.Doc{
		Setup: []string{"CREATE TABLE t (a UInt8) ENGINE = MergeTree ORDER BY a"},
		Rows:  []string{"INSERT INTO t (a) VALUES (1), (2), (3)"},
		Queries: []chdbtest.Query{
			{Name: "all", SQL: "SELECT a FROM t"},
			{Name: "none", SQL: "SELECT a FROM t WHERE a > 5"},
		},
	}
	res := chdbtest.Run(t, doc)
	if res.Rows["all"] != 3 || res.Rows["none"] != 0 || res.Engine == "" {
		t.Fatalf("Run = %+v; want all=3 none=0 and an engine version", res)
	}
	if all := res.Results["all"]; len(all.Types) != 1 || all.Types[0] != "UInt8" || len(all.Data) != 3 || fmt.Sprint(all.Data[2]) != "[3]" {
		t.Fatalf("rows of all = %+v; want three UInt8 rows", all)
	}

	doc.Queries = append(doc.Queries, chdbtest.Query{Name: "broken", SQL: "SELECT no_such_function()"})
	_, err := chdbtest.RunWith(t.Context(), chdbtest.Python(t), doc)
	if err == nil || !strings.Contains(err.Error(), "broken") || !strings.Contains(err.Error(), "UNKNOWN_FUNCTION") {
		t.Fatalf("RunWith with a broken query = %v; want its name and ClickHouse's error", err)
	}
}
