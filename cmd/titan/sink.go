package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/sinks/clickhouse"
)

const sinkUsage = `Usage:
  titan sink run [flags]       write Titan's event topics to ClickHouse, each record once, and serve /metrics
  titan sink migrate [flags]   apply the analytics schema's versions the database lacks, and record them

titan run --sink runs the same sink inside an instance.

Flags (environment variable in brackets):
`

// clickhouseFlags are the flags that say where ClickHouse is, shared by every command that talks
// to it.
type clickhouseFlags struct {
	addr, database, user, password *string
}

var clickhouseEnv = map[string]string{"clickhouse-addr": "TITAN_CLICKHOUSE_ADDR", "clickhouse-database": "TITAN_CLICKHOUSE_DATABASE",
	"clickhouse-user": "TITAN_CLICKHOUSE_USER", "clickhouse-password": "TITAN_CLICKHOUSE_PASSWORD"}

func addClickHouseFlags(fs *flag.FlagSet, defaultAddr string) clickhouseFlags {
	return clickhouseFlags{
		addr:     fs.String("clickhouse-addr", defaultAddr, "ClickHouse's native protocol, host:port, where the analytics live [TITAN_CLICKHOUSE_ADDR]"),
		database: fs.String("clickhouse-database", "default", "database of Titan's tables [TITAN_CLICKHOUSE_DATABASE]"),
		user:     fs.String("clickhouse-user", "default", "user [TITAN_CLICKHOUSE_USER]"),
		password: fs.String("clickhouse-password", "", "password [TITAN_CLICKHOUSE_PASSWORD]"),
	}
}

func (f clickhouseFlags) options() clickhouse.Options {
	return clickhouse.Options{Addr: *f.addr, Database: *f.database, Username: *f.user, Password: *f.password}
}

// sink runs a sink command.
func sink(args []string, stdout, stderr io.Writer) int {
	return subcommand("sink", sinkUsage, []string{"run", "migrate"}, sinkFlags, args, stdout, stderr)
}

// sinkFlags declares the flags of a sink command; do runs it once they are parsed.
func sinkFlags(cmd string, stderr io.Writer) (*flag.FlagSet, func(stdout, stderr io.Writer) int) {
	fs := flag.NewFlagSet("titan sink "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	ch := addClickHouseFlags(fs, "127.0.0.1:9000")
	env := map[string]string{}
	for k, v := range clickhouseEnv {
		env[k] = v
	}
	if cmd == "migrate" {
		timeout := fs.Duration("timeout", time.Minute, "how long the whole migration may take")
		return fs, func(stdout, stderr io.Writer) int {
			if errs := applyEnv(fs, env); len(errs) > 0 {
				fmt.Fprintf(stderr, "titan: %v\n", errors.Join(errs...))
				return 2
			}
			return migrate(ch.options(), *timeout, stdout, stderr)
		}
	}
	var (
		brokers     = fs.String("brokers", "", "comma-separated Kafka brokers [TITAN_KAFKA_BROKERS]")
		namespace   = fs.String("namespace", "", "namespace of the deployment whose topics to read [TITAN_NAMESPACE]")
		group       = fs.String("group", "", "consumer group; empty uses the namespaced titan.sink.clickhouse [TITAN_SINK_GROUP]")
		batch       = fs.Int("batch-records", 10_000, "records a batch holds at most; with the fetch buffer, this bounds the sink's memory [TITAN_SINK_BATCH_RECORDS]")
		interval    = fs.Duration("flush-interval", time.Second, "how long a record waits at most before its batch is written [TITAN_SINK_FLUSH_INTERVAL]")
		doMigrate   = fs.Bool("migrate", true, "apply the schema's missing versions before starting [TITAN_SINK_MIGRATE]")
		metricsAddr = fs.String("metrics-addr", "127.0.0.1:9464", "address of /metrics; empty serves none [TITAN_SINK_METRICS_ADDR]")
		partitions  = fs.Int("partitions", 8, "partitions of the dead-letter topic, if the sink creates it [TITAN_PARTITIONS]")
		replication = fs.Int("replication", 1, "replication of the dead-letter topic, if the sink creates it [TITAN_REPLICATION]")
		logLevel    = fs.String("log-level", "info", "debug, info, warn or error [TITAN_LOG_LEVEL]")
		instanceID  = fs.String("instance-id", "", "static member id in the group: a sink restarted under the same id takes its partitions back at once; "+
			"empty joins as a dynamic member [TITAN_SINK_INSTANCE_ID]")
		session = fs.Duration("group-session-timeout", 45*time.Second, "how long the group waits to hear from the sink before its partitions go to the others [TITAN_GROUP_SESSION_TIMEOUT]")
	)
	for k, v := range map[string]string{"brokers": "TITAN_KAFKA_BROKERS", "namespace": "TITAN_NAMESPACE", "group": "TITAN_SINK_GROUP",
		"batch-records": "TITAN_SINK_BATCH_RECORDS", "flush-interval": "TITAN_SINK_FLUSH_INTERVAL", "migrate": "TITAN_SINK_MIGRATE",
		"metrics-addr": "TITAN_SINK_METRICS_ADDR", "partitions": "TITAN_PARTITIONS", "replication": "TITAN_REPLICATION", "log-level": "TITAN_LOG_LEVEL",
		"instance-id": "TITAN_SINK_INSTANCE_ID", "group-session-timeout": "TITAN_GROUP_SESSION_TIMEOUT"} {
		env[k] = v
	}
	return fs, func(stdout, stderr io.Writer) int {
		errs := applyEnv(fs, env)
		var level slog.Level
		if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
			errs = append(errs, fmt.Errorf("log level %q: %w", *logLevel, err))
		}
		if len(splitList(*brokers)) == 0 {
			errs = append(errs, errors.New("--brokers: the sink reads a real cluster; name its brokers"))
		}
		if *batch <= 0 || *interval <= 0 {
			errs = append(errs, fmt.Errorf("--batch-records %d and --flush-interval %v must be positive", *batch, *interval))
		}
		if *partitions <= 0 || *partitions > 1<<16 || *replication <= 0 || *replication > 1<<8 {
			errs = append(errs, fmt.Errorf("--partitions %d and --replication %d out of range", *partitions, *replication))
		}
		if len(errs) > 0 {
			fmt.Fprintf(stderr, "titan: %v\n", errors.Join(errs...))
			return 2
		}
		log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
		log.Info("starting the ClickHouse sink", "gogc", instance.ApplyGCPercent())
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		if *metricsAddr != "" {
			ln, err := net.Listen("tcp", *metricsAddr)
			if err != nil {
				fmt.Fprintf(stderr, "titan: --metrics-addr: %v\n", err)
				return 1
			}
			srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
			go func() { _ = srv.Serve(ln) }()
			defer srv.Close()
			log.Info("metrics listening", "addr", ln.Addr().String())
		}
		err := clickhouse.Serve(ctx, clickhouse.ServiceOptions{
			ClickHouse: ch.options(),
			Sink: clickhouse.SinkOptions{Brokers: splitList(*brokers), Namespace: *namespace, Group: *group,
				InstanceID: *instanceID, SessionTimeout: *session,
				BatchRecords: *batch, FlushInterval: *interval, Metrics: clickhouse.NewMetrics(reg), Logger: log},
			Migrate:              *doMigrate,
			DeadLetterPartitions: int32(*partitions),
			Replication:          int16(*replication),
		})
		if err != nil {
			fmt.Fprintf(stderr, "titan: %v\n", err)
			return 1
		}
		log.Info("sink stopped")
		return 0
	}
}

func migrate(o clickhouse.Options, timeout time.Duration, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := clickhouse.Open(ctx, o)
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
