package grafana_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/chdbtest"
	"github.com/titan-commerce/titan/internal/schematest"
)

const (
	dashboardFile = "titan-commerce.json"
	pluginType    = "grafana-clickhouse-datasource"
	dsVariable    = "${datasource}"
)

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type target struct {
	RefID      string      `json:"refId"`
	Datasource *datasource `json:"datasource"`
	EditorType string      `json:"editorType"`
	QueryType  string      `json:"queryType"`
	Format     *int        `json:"format"`
	RawSQL     string      `json:"rawSql"`
}

type panel struct {
	ID         int         `json:"id"`
	Title      string      `json:"title"`
	Type       string      `json:"type"`
	Datasource *datasource `json:"datasource"`
	GridPos    *struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []target `json:"targets"`
}

type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query string `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

func load(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

var (
	// tableRef finds the tables a query reads: a name after FROM or JOIN (a subquery's "(" is not),
	// once arrayJoin drops ARRAY JOIN, whose arrays are no tables.
	tableRef  = regexp.MustCompile(`(?i)\b(?:FROM|JOIN)\s+(\w+)`)
	arrayJoin = regexp.MustCompile(`(?i)\bARRAY\s+JOIN\b`)
	macro     = regexp.MustCompile(`\$__\w+`)
)

// The dashboard is one Grafana can load: a uid, a title, a schema version, a datasource variable
// for the ClickHouse plugin, and panels with unique ids, a place on the grid and SQL targets on
// that variable. Every query reads only tables of the schema, and sums a summary again.
func TestDashboardStructure(t *testing.T) {
	d := load(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 36 {
		t.Errorf("uid %q, title %q, schemaVersion %d: want a uid, a title and a schemaVersion of Grafana 10 or later", d.UID, d.Title, d.SchemaVersion)
	}
	hasVar := false
	for _, v := range d.Templating.List {
		if "${"+v.Name+"}" == dsVariable && v.Type == "datasource" && v.Query == pluginType {
			hasVar = true
		}
	}
	if !hasVar {
		t.Errorf("no template variable %s of type datasource for %s", dsVariable, pluginType)
	}

	tables, err := schematest.Tables()
	if err != nil {
		t.Fatal(err)
	}
	engine := make(map[string]string, len(tables))
	for _, tb := range tables {
		engine[tb.Name] = tb.Engine
	}
	onVar := func(ds *datasource) bool { return ds != nil && ds.Type == pluginType && ds.UID == dsVariable }

	if len(d.Panels) == 0 {
		t.Fatal("no panels")
	}
	ids := map[int]string{}
	for _, p := range d.Panels {
		if other, dup := ids[p.ID]; dup || p.ID <= 0 {
			t.Errorf("panel %q: id %d is not positive or is also %q's", p.Title, p.ID, other)
		}
		ids[p.ID] = p.Title
		if p.Title == "" || p.Type == "" {
			t.Errorf("panel %d: title %q, type %q", p.ID, p.Title, p.Type)
		}
		if g := p.GridPos; g == nil || g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v is not on the 24-column grid", p.Title, p.GridPos)
		}
		if !onVar(p.Datasource) {
			t.Errorf("panel %q: datasource %+v, want the %s variable", p.Title, p.Datasource, dsVariable)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no targets", p.Title)
		}
		for _, tg := range p.Targets {
			where := fmt.Sprintf("panel %q target %s", p.Title, tg.RefID)
			if tg.RefID == "" || !onVar(tg.Datasource) || tg.EditorType != "sql" || strings.TrimSpace(tg.RawSQL) == "" || tg.Format == nil {
				t.Errorf("%s: want a refId, the %s datasource, editorType sql, a format and rawSql; got %+v", where, dsVariable, tg)
			}
			if tg.QueryType != "timeSeries" && tg.QueryType != "table" {
				t.Errorf("%s: queryType %q", where, tg.QueryType)
			}
			refs := tableRef.FindAllStringSubmatch(arrayJoin.ReplaceAllString(tg.RawSQL, ""), -1)
			if len(refs) == 0 {
				t.Errorf("%s reads no table", where)
			}
			for _, r := range refs {
				switch engine[r[1]] {
				case "":
					t.Errorf("%s reads %s, which is not a table of the schema", where, r[1])
				case "SummingMergeTree":
					if !strings.Contains(tg.RawSQL, "sum(") || !strings.Contains(tg.RawSQL, "GROUP BY") {
						t.Errorf("%s reads the summary %s without summing it again (sum() ... GROUP BY)", where, r[1])
					}
				}
			}
		}
	}
}

// expand replaces the plugin's macros as grafana-clickhouse-datasource does (pkg/macros), for a
// time range and an interval. A macro it does not know is an error: the test cannot say a query
// runs if it cannot write what Grafana would send.
func expand(sql string, from, to time.Time, interval time.Duration) (string, error) {
	sec := int(math.Max(interval.Seconds(), 1))
	fn := regexp.MustCompile(`\$__(timeFilter|timeInterval)\(([^()]+)\)`)
	sql = fn.ReplaceAllStringFunc(sql, func(m string) string {
		p := fn.FindStringSubmatch(m)
		col := strings.TrimSpace(p[2])
		if p[1] == "timeFilter" {
			return fmt.Sprintf("%s >= toDateTime(%d) AND %s <= toDateTime(%d)", col, from.Unix(), col, to.Unix())
		}
		return fmt.Sprintf("toStartOfInterval(toDateTime(%s), INTERVAL %d second)", col, sec)
	})
	sql = strings.NewReplacer(
		"$__fromTime", fmt.Sprintf("toDateTime(%d)", from.Unix()),
		"$__toTime", fmt.Sprintf("toDateTime(%d)", to.Unix()),
		"$__interval_s", fmt.Sprint(sec),
	).Replace(sql)
	if left := macro.FindString(sql); left != "" {
		return "", fmt.Errorf("macro %s is not expanded by this test", left)
	}
	return sql, nil
}

// Every panel's query, its macros expanded for an hour either side of the sample rows, runs on
// ClickHouse 18.16 and on current ClickHouse over the migrated schema and the samples, gives rows
// on both, and the same rows on both.
func TestDashboardQueriesRunOnOldAndCurrentClickHouse(t *testing.T) {
	d := load(t)
	from, to := schematest.Start.Add(-time.Hour), schematest.Start.Add(time.Hour)
	var queries []chdbtest.Query
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			sql, err := expand(tg.RawSQL, from, to, time.Minute)
			if err != nil {
				t.Fatalf("panel %q: %v", p.Title, err)
			}
			queries = append(queries, chdbtest.Query{Name: fmt.Sprintf("panel %d %s/%s", p.ID, p.Title, tg.RefID), SQL: sql})
		}
	}
	res := schematest.Check(t, queries)
	for _, q := range queries {
		if res.Old[q.Name] == 0 || res.Current[q.Name] == 0 {
			t.Errorf("%s: %d rows on 18.16, %d on %s; the samples should give some", q.Name, res.Old[q.Name], res.Current[q.Name], res.Engine)
		}
	}
}

// expand writes what the plugin would: the filter on both bounds in Unix seconds, the interval
// in whole seconds (at least one), and the bounds alone.
func TestExpand(t *testing.T) {
	from, to := time.Unix(1000, 0), time.Unix(2000, 0)
	got, err := expand("SELECT $__timeInterval(m) WHERE $__timeFilter(m) AND x BETWEEN $__fromTime AND $__toTime", from, to, 0)
	want := "SELECT toStartOfInterval(toDateTime(m), INTERVAL 1 second) WHERE m >= toDateTime(1000) AND m <= toDateTime(2000) AND x BETWEEN toDateTime(1000) AND toDateTime(2000)"
	if err != nil || got != want {
		t.Fatalf("expand = %s, %v\nwant %s", got, err, want)
	}
	if _, err := expand("SELECT $__timeFilter_ms(m)", from, to, time.Minute); err == nil {
		t.Fatal("an unknown macro expanded")
	}
}
