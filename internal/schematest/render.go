package schematest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Insert is the batch INSERT of s's columns, named as 18.16 needs them.
func (s Sample) Insert() string {
	return "INSERT INTO " + s.Table + " (" + strings.Join(s.Columns, ", ") + ")"
}

// Values renders s as one literal INSERT ... VALUES statement, for chDB. (Never send it to 18.16
// through clickhouse-go: a literal INSERT hangs there.)
func (s Sample) Values() (string, error) {
	var b strings.Builder
	b.WriteString(s.Insert())
	b.WriteString(" VALUES")
	for i, row := range s.Rows {
		if len(row) != len(s.Columns) {
			return "", fmt.Errorf("schematest: %s row %d has %d values for %d columns", s.Table, i, len(row), len(s.Columns))
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n(")
		for j, v := range row {
			if j > 0 {
				b.WriteString(", ")
			}
			lit, err := literal(v)
			if err != nil {
				return "", fmt.Errorf("schematest: %s.%s: %w", s.Table, s.Columns[j], err)
			}
			b.WriteString(lit)
		}
		b.WriteByte(')')
	}
	return b.String(), nil
}

// literal renders one sample value as a ClickHouse literal. A time is rendered as its Unix seconds,
// so that it means the same instant whatever the session's time zone.
func literal(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return quote(v), nil
	case int32, int64, uint8, uint32, uint64:
		return fmt.Sprint(v), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case []string:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]", nil
	case time.Time:
		return fmt.Sprintf("toDateTime(%d)", v.Unix()), nil
	default:
		return "", fmt.Errorf("no literal for %T", v)
	}
}

func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
