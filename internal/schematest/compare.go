package schematest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/titan-commerce/titan/internal/chdbtest"
	"github.com/titan-commerce/titan/sinks/clickhouse"
)

// The two engines hand rows back differently: 18.16 as Go values through clickhouse-go, chDB as
// JSON. Both are written here in one canonical text, a row a line with its values separated by
// tabs, so that rows can be compared: integers in decimal, floats as Go's shortest form (NaN and
// infinities as null, as ClickHouse's JSON writes them), times in UTC, arrays in brackets.

// oldRows runs sql on conn and returns its rows in canonical text.
func oldRows(ctx context.Context, conn *clickhouse.Conn, sql string) ([]string, error) {
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	var out []string
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		vals := make([]string, len(dest))
		for i, d := range dest {
			vals[i] = canonGo(reflect.ValueOf(d).Elem())
		}
		out = append(out, strings.Join(vals, "\t"))
	}
	return out, rows.Err()
}

func canonGo(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return "null"
		}
		return canonGo(v.Elem())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return canonFloat(v.Float())
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Slice, reflect.Array:
		items := make([]string, v.Len())
		for i := range items {
			items[i] = canonGo(v.Index(i))
		}
		return "[" + strings.Join(items, ",") + "]"
	}
	if t, ok := v.Interface().(time.Time); ok {
		return t.UTC().Format(time.DateTime)
	}
	return fmt.Sprintf("%v", v.Interface())
}

func canonFloat(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "null"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// currentRows writes the rows chDB returned in canonical text.
func currentRows(r chdbtest.Rows) []string {
	out := make([]string, len(r.Data))
	for i, row := range r.Data {
		vals := make([]string, len(row))
		for j, v := range row {
			vals[j] = canonJSON(v)
		}
		out[i] = strings.Join(vals, "\t")
	}
	return out
}

func canonJSON(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case json.Number:
		s := v.String()
		if strings.ContainsAny(s, ".eE") {
			if f, err := v.Float64(); err == nil {
				return canonFloat(f)
			}
		}
		return s
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case []any:
		items := make([]string, len(v))
		for i, x := range v {
			items[i] = canonJSON(x)
		}
		return "[" + strings.Join(items, ",") + "]"
	}
	return fmt.Sprintf("%v", v)
}

// diffRows says how two engines' rows of one query differ, or "" when they hold the same rows.
// Order is not compared: a query whose ORDER BY leaves ties may list them either way.
func diffRows(old, cur []string) string {
	a, b := slices.Sorted(slices.Values(old)), slices.Sorted(slices.Values(cur))
	if slices.Equal(a, b) {
		return ""
	}
	return fmt.Sprintf("18.16 returned %d rows:\n  %s\ncurrent ClickHouse returned %d rows:\n  %s",
		len(a), strings.Join(a, "\n  "), len(b), strings.Join(b, "\n  "))
}
