package clickhouse

import (
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// A batch holds its rows column by column, each column a slice of its Go type, and hands every
// column to its INSERT whole (driver.BatchColumn.Append). A row appended value by value would box
// each value into an interface twice, once in the converter and once in the driver, which costs
// more than decoding the record.

// column is one column of a table's rows in a batch.
type column interface {
	len() int
	truncate(n int)
	// put appends the values of rows [from, to) to c, or, when keep is not nil, those of the
	// rows keep lists.
	put(c driver.BatchColumn, from, to int, keep []int) error
	value(i int) any
}

type values[T any] struct{ v []T }

func (c *values[T]) len() int { return len(c.v) }

func (c *values[T]) truncate(n int) {
	clear(c.v[n:]) // let the strings of the rows dropped go
	c.v = c.v[:n]
}

func (c *values[T]) put(dst driver.BatchColumn, from, to int, keep []int) error {
	if keep == nil {
		return dst.Append(c.v[from:to])
	}
	picked := make([]T, len(keep))
	for j, i := range keep {
		picked[j] = c.v[i]
	}
	return dst.Append(picked)
}

func (c *values[T]) value(i int) any { return c.v[i] }

// Column is a column of a raw table after topic, partition and offset: its name and, as a new
// empty column of the Go type its values have, its type.
type Column struct {
	Name string
	new  func() column
}

func typed[T any](name string) Column {
	return Column{Name: name, new: func() column { return &values[T]{} }}
}

// The column types of the raw tables, by their ClickHouse names.
func String(name string) Column   { return typed[string](name) }
func Int32(name string) Column    { return typed[int32](name) }
func Int64(name string) Column    { return typed[int64](name) }
func UInt8(name string) Column    { return typed[uint8](name) }
func UInt32(name string) Column   { return typed[uint32](name) }
func Float64(name string) Column  { return typed[float64](name) }
func Strings(name string) Column  { return typed[[]string](name) } // Array(String)
func DateTime(name string) Column { return typed[time.Time](name) }

// Rows are a batch's rows of one table.
type Rows struct {
	Table *Table
	cols  []column // the columns after topic, partition and offset
	at    []where  // where each row's record was
	month []int32  // each row's event month, YYYYMM: its partition in ClickHouse
}

func newRows(t *Table) *Rows {
	r := &Rows{Table: t, cols: make([]column, len(t.columns))}
	for i, c := range t.columns {
		r.cols[i] = c.new()
	}
	return r
}

// Len is how many rows r holds.
func (r *Rows) Len() int { return len(r.at) }

func (r *Rows) truncate(n int) {
	for _, c := range r.cols {
		c.truncate(min(n, c.len()))
	}
	r.at, r.month = r.at[:n], r.month[:n]
}

// Values are the values of row i, topic, partition and offset first: one per column of the table.
func (r *Rows) Values(i int) []any {
	v := []any{r.at[i].topic, r.at[i].partition, r.at[i].offset}
	for _, c := range r.cols {
		v = append(v, c.value(i))
	}
	return v
}

// Month is the event month (YYYYMM) of row i.
func (r *Rows) Month(i int) int { return int(r.month[i]) }

// complete reports a row that does not have a value in every column: a converter's mistake.
func (r *Rows) complete() error {
	for i, c := range r.cols {
		if c.len() != len(r.at) {
			return fmt.Errorf("clickhouse: %s: %d rows but %d values of %s", r.Table.Name, len(r.at), c.len(), r.Table.columns[i].Name)
		}
	}
	return nil
}

// Row fills one row, column by column in the table's order; each setter takes the next column's
// value and panics if the column is not of that type, which the converters' tests catch.
type Row struct {
	rows *Rows
	k    int
}

func set[T any](w Row, v T) Row {
	c, ok := w.rows.cols[w.k].(*values[T])
	if !ok {
		panic(fmt.Sprintf("clickhouse: %s.%s is not a column of %T", w.rows.Table.Name, w.rows.Table.columns[w.k].Name, v))
	}
	c.v = append(c.v, v)
	w.k++
	return w
}

func (w Row) Str(v string) Row     { return set(w, v) }
func (w Row) I32(v int32) Row      { return set(w, v) }
func (w Row) I64(v int64) Row      { return set(w, v) }
func (w Row) U8(v uint8) Row       { return set(w, v) }
func (w Row) U32(v uint32) Row     { return set(w, v) }
func (w Row) F64(v float64) Row    { return set(w, v) }
func (w Row) Strs(v []string) Row  { return set(w, v) }
func (w Row) Time(v time.Time) Row { return set(w, v) }
func (w Row) Bool(v bool) Row      { return w.U8(u8(v)) }

func u8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// Out is where converters put the rows of the records of a batch, table by table.
type Out struct {
	tables []*Rows // by Table.id; nil for a table with no rows yet
	at     where   // the record being converted
}

// NewOut returns an empty Out.
func NewOut() *Out { return &Out{tables: make([]*Rows, len(tables))} }

// Row starts a row of t, of the record being converted, in event month month (YYYYMM).
func (o *Out) Row(t *Table, month int) Row {
	r := o.tables[t.id]
	if r == nil {
		r = newRows(t)
		o.tables[t.id] = r
	}
	r.at = append(r.at, o.at)
	r.month = append(r.month, int32(month))
	return Row{rows: r}
}

// Rows are the rows of t that o holds; nil when it holds none.
func (o *Out) Rows(t *Table) *Rows { return o.tables[t.id] }

// Convert converts one record of st into o. A record the converter refuses adds no rows.
func (o *Out) Convert(st Stream, r Record) error {
	o.at = where{tp{r.Topic, r.Partition}, r.Offset}
	var before [4]int
	for i, t := range st.Tables {
		before[i] = o.len(t)
	}
	err := st.Convert(r, o)
	if err != nil {
		for i, t := range st.Tables {
			if rows := o.tables[t.id]; rows != nil {
				rows.truncate(before[i])
			}
		}
	}
	return err
}

func (o *Out) len(t *Table) int {
	if r := o.tables[t.id]; r != nil {
		return r.Len()
	}
	return 0
}

// reset empties o, keeping what it allocated for the next batch.
func (o *Out) reset() {
	for _, r := range o.tables {
		if r != nil {
			r.truncate(0)
		}
	}
}

// Len is how many rows o holds.
func (o *Out) Len() int {
	n := 0
	for _, r := range o.tables {
		if r != nil {
			n += r.Len()
		}
	}
	return n
}
