package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/titan-commerce/titan/sinks/clickhouse"
)

const sinkUsage = `Usage:
  titan sink migrate [flags]   apply the analytics schema's versions the database lacks, and record them

Flags of migrate (environment variable in brackets):
`

// sink runs a sink command.
func sink(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("titan sink migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		addr     = fs.String("clickhouse-addr", "127.0.0.1:9000", "ClickHouse's native protocol, host:port [TITAN_CLICKHOUSE_ADDR]")
		database = fs.String("clickhouse-database", "default", "database of Titan's tables [TITAN_CLICKHOUSE_DATABASE]")
		user     = fs.String("clickhouse-user", "default", "user [TITAN_CLICKHOUSE_USER]")
		password = fs.String("clickhouse-password", "", "password [TITAN_CLICKHOUSE_PASSWORD]")
		timeout  = fs.Duration("timeout", time.Minute, "how long the whole migration may take")
	)
	env := map[string]string{"clickhouse-addr": "TITAN_CLICKHOUSE_ADDR", "clickhouse-database": "TITAN_CLICKHOUSE_DATABASE",
		"clickhouse-user": "TITAN_CLICKHOUSE_USER", "clickhouse-password": "TITAN_CLICKHOUSE_PASSWORD"}
	help := func(w io.Writer) {
		fmt.Fprint(w, sinkUsage)
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		help(stdout)
		return 0
	}
	if args[0] != "migrate" {
		fmt.Fprintf(stderr, "titan: unknown sink command %q; try titan sink help\n", args[0])
		return 2
	}
	fs.Usage = func() { help(stderr) }
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if errs := applyEnv(fs, env); len(errs) > 0 {
		fmt.Fprintf(stderr, "titan: %v\n", errors.Join(errs...))
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	conn, err := clickhouse.Open(ctx, clickhouse.Options{Addr: *addr, Database: *database, Username: *user, Password: *password})
	if err != nil {
		fmt.Fprintf(stderr, "titan: %v\n", err)
		return 1
	}
	defer conn.Close()
	applied, err := conn.Migrate(ctx, clickhouse.Migrations)
	for _, v := range applied {
		fmt.Fprintf(stdout, "applied version %d\n", v)
	}
	if err != nil {
		fmt.Fprintf(stderr, "titan: %v\n", err)
		return 1
	}
	v, err := conn.Version(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "titan: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "schema at version %d\n", v)
	return 0
}
