package schematest

import (
	"testing"
	"time"
)

// Values quotes strings, arrays and times so that any sample text survives as written and a time
// means the same instant in any session time zone.
func TestValues(t *testing.T) {
	s := Sample{Table: "t", Columns: []string{"s", "n", "f", "a", "at"}, Rows: [][]any{
		{`it's a \ back`, int64(-3), 0.5, []string{"x", "y'"}, time.Unix(1768471200, 0)},
	}}
	got, err := s.Values()
	want := "INSERT INTO t (s, n, f, a, at) VALUES\n('it\\'s a \\\\ back', -3, 0.5, ['x', 'y\\''], toDateTime(1768471200))"
	if err != nil || got != want {
		t.Fatalf("Values =\n%s, %v\nwant\n%s", got, err, want)
	}
	if _, err := (Sample{Table: "t", Columns: []string{"a"}, Rows: [][]any{{1, 2}}}).Values(); err == nil {
		t.Fatal("a row with more values than columns rendered")
	}
}

// Tables reads every table of the migrations with its columns and sorting key.
func TestTables(t *testing.T) {
	ts, err := Tables()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]Table{}
	for _, tb := range ts {
		found[tb.Name] = tb
	}
	inv, ok := found["inventory_events"]
	if !ok || inv.Engine != "ReplacingMergeTree" || len(inv.Columns) != 14 || len(inv.OrderBy) != 3 {
		t.Fatalf("inventory_events = %+v", inv)
	}
	sum, ok := found["orders_per_minute"]
	if !ok || sum.Engine != "SummingMergeTree" || len(sum.OrderBy) != 2 {
		t.Fatalf("orders_per_minute = %+v", sum)
	}
	if got := SummaryQuery(found["fraud_per_minute"]); got != "SELECT minute, outcome, sum(decisions) AS decisions FROM fraud_per_minute GROUP BY minute, outcome HAVING decisions != 0 ORDER BY minute, outcome" {
		t.Fatalf("SummaryQuery = %s", got)
	}
}
