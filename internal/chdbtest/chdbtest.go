// Package chdbtest runs ClickHouse statements on current ClickHouse, in process, through chDB, so
// that tests check the schema and the queries Titan sends against the server it targets as well as
// against Debian's 18.16, which the rest of the tests run on.
//
// A test builds a Doc (the DDL to set up, INSERTs of sample rows, and named queries) and hands it
// to Run, which runs it all in one chDB session with deploy/chdb/check.py and returns each query's
// row count. The Python that has chDB is named by TITAN_CHDB_PYTHON, which `make test` sets after
// installing the pinned chDB under .run/venv (`make chdb`). Python is the single gate: without the
// variable it fails the test under CI=true and skips it elsewhere, like clickhousetest.Addr.
//
// Package schematest builds such a document from clickhouse.Migrations with sample rows for every
// raw table, and runs the same rows and queries on both engines and compares what they return.
package chdbtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/testenv"
)

// EnvPython names the variable holding the path of a Python that can import chdb.
const EnvPython = "TITAN_CHDB_PYTHON"

const hint = EnvPython + " not set: run the tests through `make test`, which installs chDB with `make chdb`"

// Python returns the interpreter from TITAN_CHDB_PYTHON, or ends the test: t.Fatal when CI=true,
// t.Skip otherwise. A variable naming a file that is not there always fails: that is a broken
// setup, not a missing one.
func Python(t testing.TB) string {
	t.Helper()
	py := strings.TrimSpace(os.Getenv(EnvPython))
	if py == "" {
		testenv.Missing(t, hint)
	}
	if _, err := os.Stat(py); err != nil {
		t.Fatalf("chdbtest: %s=%s: %v", EnvPython, py, err)
	}
	return py
}

// Query is one named query of a Doc; the name is what a failure reports.
type Query struct {
	Name string `json:"name"`
	SQL  string `json:"sql"`
}

// Doc is what check.py runs, in order: Setup (DDL), then Rows (INSERT statements, which fire the
// materialized views Setup made), then Queries.
type Doc struct {
	Setup   []string `json:"setup"`
	Rows    []string `json:"rows"`
	Queries []Query  `json:"queries"`
}

// Result is what a run of a Doc gave: the engine's version, and each query's row count and rows
// by the query's name.
type Result struct {
	Engine  string          `json:"engine"`
	Rows    map[string]int  `json:"rows"`
	Results map[string]Rows `json:"results"`
}

// Rows is what one query returned: its columns' ClickHouse types, and its rows as ClickHouse's
// JSONCompact writes them, decoded with json.Number for numbers (nil for NaN and infinities,
// strings for dates and times, in UTC).
type Rows struct {
	Types []string `json:"types"`
	Data  [][]any  `json:"data"`
}

// Timeout bounds one run of check.py; chDB starts in well under a second.
const Timeout = 2 * time.Minute

// Run runs doc on current ClickHouse through chDB and returns the row count of each query. Any
// statement that fails fails the test with its name and ClickHouse's error.
func Run(t testing.TB, doc Doc) Result {
	t.Helper()
	py := Python(t)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	res, err := RunWith(ctx, py, doc)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// RunWith is Run for a given interpreter, returning the error instead of failing a test.
func RunWith(ctx context.Context, python string, doc Doc) (Result, error) {
	seen := make(map[string]bool, len(doc.Queries))
	for _, q := range doc.Queries {
		if q.Name == "" || seen[q.Name] {
			return Result{}, fmt.Errorf("chdbtest: query names must be unique and not empty: %q", q.Name)
		}
		seen[q.Name] = true
	}
	script, err := Script()
	if err != nil {
		return Result{}, err
	}
	in, err := json.Marshal(doc)
	if err != nil {
		return Result{}, fmt.Errorf("chdbtest: %w", err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, python, script, "-")
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("chdbtest: current ClickHouse (chDB) refused a statement: %w\n%s", err, stderr.Bytes())
	}
	var res Result
	dec := json.NewDecoder(bytes.NewReader(stdout.Bytes()))
	dec.UseNumber()
	if err := dec.Decode(&res); err != nil {
		return Result{}, fmt.Errorf("chdbtest: reading check.py's answer %q: %w", stdout.Bytes(), err)
	}
	return res, nil
}

// Script is the path of deploy/chdb/check.py, found from the working directory (a package's
// directory under go test) up to the module's root.
func Script() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("chdbtest: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "deploy", "chdb", "check.py"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("chdbtest: no go.mod above the working directory to find deploy/chdb/check.py")
		}
		dir = parent
	}
}
