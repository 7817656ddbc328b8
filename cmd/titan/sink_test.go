package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/titan-commerce/titan/internal/clickhousetest"
)

// titan sink migrate applies the schema once: run again, it applies nothing and says the version.
func TestSinkMigrate(t *testing.T) {
	_, db := clickhousetest.Database(t)
	addr := clickhousetest.Addr(t)
	migrate := func() string {
		t.Helper()
		var out, errs bytes.Buffer
		if code := run([]string{"sink", "migrate", "--clickhouse-addr", addr, "--clickhouse-database", db}, &out, &errs); code != 0 {
			t.Fatalf("titan sink migrate: exit %d: %s", code, errs.String())
		}
		return out.String()
	}
	if first := migrate(); !strings.Contains(first, "applied version 1\n") || !strings.Contains(first, "schema at version") {
		t.Fatalf("first run said %q", first)
	}
	if second := migrate(); strings.Contains(second, "applied") || !strings.Contains(second, "schema at version") {
		t.Fatalf("second run said %q", second)
	}
}

func TestSinkUsage(t *testing.T) {
	t.Setenv("TITAN_KAFKA_BROKERS", "") // make test sets it; these runs must not find a broker
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"sink"}, 0},
		{[]string{"sink", "help"}, 0},
		{[]string{"sink", "drop"}, 2},
		{[]string{"sink", "migrate", "--no-such-flag"}, 2},
		{[]string{"sink", "migrate", "--clickhouse-addr", "127.0.0.1:1", "--timeout", "2s"}, 1},
		{[]string{"sink", "migrate", "extra"}, 2},
		{[]string{"sink", "run"}, 2}, // no brokers
		{[]string{"sink", "run", "--brokers", "127.0.0.1:1", "--batch-records", "0"}, 2},
		{[]string{"sink", "run", "--brokers", "127.0.0.1:1", "--flush-interval", "-1s"}, 2},
		{[]string{"sink", "run", "--brokers", "127.0.0.1:1", "--partitions", "0"}, 2},
		{[]string{"sink", "run", "--brokers", "127.0.0.1:1", "--metrics-addr", "256.0.0.1:1"}, 1},
	} {
		var out, errs bytes.Buffer
		if code := run(tc.args, &out, &errs); code != tc.code {
			t.Errorf("titan %v: exit %d, want %d (%s)", tc.args, code, tc.code, errs.String())
		}
	}
}
