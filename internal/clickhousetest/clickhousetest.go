// Package clickhousetest connects integration tests to the real ClickHouse server that `make test`
// starts with deploy/clickhouse/clickhouse.sh, and gives each test a database of its own.
//
// Addr is the single gate: it returns the address in TITAN_CLICKHOUSE_ADDR, and without it fails
// the test under CI (where a missing server is a broken pipeline, not a reason to pass) and skips
// it elsewhere. No other ClickHouse test may skip.
package clickhousetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/testenv"
	"github.com/titan-commerce/titan/sinks/clickhouse"
)

// EnvAddr names the variable holding the server's native-protocol address.
const EnvAddr = "TITAN_CLICKHOUSE_ADDR"

const hint = EnvAddr + " not set: run the tests through `make test`, which starts ClickHouse"

// Addr returns the address from TITAN_CLICKHOUSE_ADDR, or ends the test: t.Fatal when CI=true,
// t.Skip otherwise.
func Addr(t testing.TB) string {
	t.Helper()
	addr := strings.TrimSpace(os.Getenv(EnvAddr))
	if addr == "" {
		testenv.Missing(t, hint)
	}
	return addr
}

// Database creates a database of the test's own, named after the test, and drops it when the test
// ends; it returns a connection to it.
func Database(t testing.TB) (*clickhouse.Conn, string) {
	t.Helper()
	addr := Addr(t)
	name := []byte(strings.ToLower(t.Name()))
	for i, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			name[i] = '_'
		}
	}
	if len(name) > 40 {
		name = name[:40]
	}
	db := fmt.Sprintf("t_%s_%x", name, rand.Uint32())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := clickhouse.Open(ctx, clickhouse.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
			t.Errorf("clickhousetest: dropping %s: %v", db, err)
		}
		_ = admin.Close()
	})
	conn, err := clickhouse.Open(ctx, clickhouse.Options{Addr: addr, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn, db
}
