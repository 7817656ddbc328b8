// Command titan runs Titan's stream processors and HTTP API.
//
//	titan run [flags]
//
// Every flag has an environment variable; a flag given on the command line
// wins over the variable.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/titan-commerce/titan/api"
	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/schemas"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `titan: stream processing for a shop's hot paths, on Kafka.

Usage:
  titan run [flags]    run the processors and the HTTP API
  titan sink run|migrate [flags]
                       write the event topics to ClickHouse, or apply its schema (titan sink help)
  titan replay [diff|drop] [flags]
                       run a topology again over its recorded inputs in a shadow namespace, and compare its table with live (titan replay help)
  titan dlq inspect|replay [flags]
                       list dead letters, or send chosen ones back to their source topic (titan dlq help)
  titan topology describe|graph [flags]
                       the topologies' groups and topics, checked against the cluster, or drawn (titan topology help)
  titan version        show the version, the source revision and the Go version
  titan help           show this help

With no brokers configured, titan run starts an embedded in-process Kafka
broker whose data lives in memory and is gone at exit. Point it at a real
cluster with --brokers or TITAN_KAFKA_BROKERS.

Flags of run (environment variable in brackets; an empty variable counts as unset):
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			return refuseArgs(args[0], args[1:], stderr)
		}
		fs, _ := runFlags(stderr)
		fmt.Fprint(stdout, usage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return 0
	}
	if args[0] == "sink" {
		return sink(args[1:], stdout, stderr)
	}
	if args[0] == "replay" {
		return replayCmd(args[1:], stdout, stderr)
	}
	if args[0] == "dlq" {
		return dlqCommand(args[1:], stdout, stderr)
	}
	if args[0] == "topology" {
		return topologyCommand(args[1:], stdout, stderr)
	}
	if args[0] == "version" {
		return versionCommand(args[1:], stdout, stderr)
	}
	if args[0] != "run" {
		fmt.Fprintf(stderr, "titan: unknown command %q; try titan help\n", args[0])
		return 2
	}
	fs, load := runFlags(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		return refuseArgs("run", fs.Args(), stderr)
	}
	cfg, level, err := load()
	if err != nil {
		fmt.Fprintf(stderr, "titan: %v\n", err)
		return 2
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "titan: %v\n", err)
		return 2
	}
	gc := instance.ApplyGCPercent()
	cfg.Logger.Info("starting titan", "config", strings.ReplaceAll(strings.TrimSpace(cfg.String()), "\n", " "), "gogc", gc)
	announceAPI(cfg)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	inst, err := instance.New(ctx, cfg)
	if err != nil {
		return startFailed(cfg, err, stderr)
	}
	go reloadOnHangup(ctx, inst, cfg.APIAccess.Tokens, cfg.Logger)
	if err := inst.Run(ctx); err != nil {
		cfg.Logger.Error("stopped with error", "err", err)
		return 1
	}
	cfg.Logger.Info("stopped")
	return 0
}

// runFlags declares the flags of run; load resolves them against the
// environment once parsed.
// applyEnv sets every flag of fs not given on the command line from its
// environment variable in env, where that is set and not empty.
func applyEnv(fs *flag.FlagSet, env map[string]string) []error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if v := os.Getenv(env[f.Name]); v != "" && !set[f.Name] {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", env[f.Name], v, err))
			}
		}
	})
	return errs
}

func runFlags(stderr io.Writer) (*flag.FlagSet, func() (instance.Config, slog.Level, error)) {
	fs := flag.NewFlagSet("titan run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		brokers     = fs.String("brokers", "", "comma-separated Kafka brokers; empty runs the embedded in-memory broker [TITAN_KAFKA_BROKERS]")
		namespace   = fs.String("namespace", "", "prefix of every topic and group name, for deployments sharing a cluster [TITAN_NAMESPACE]")
		stateDir    = fs.String("state-dir", "", "directory of the local Pebble state; empty uses a temporary one [TITAN_STATE_DIR]")
		httpAddr    = fs.String("http-addr", "127.0.0.1:8080", "address of the HTTP API [TITAN_HTTP_ADDR]")
		partitions  = fs.Int("partitions", 8, "partitions of the topics titan creates [TITAN_PARTITIONS]")
		replication = fs.Int("replication", 1, "replication of the topics titan creates [TITAN_REPLICATION]")
		topologies  = fs.String("topologies", instance.TopologyInventory+","+instance.TopologyFlashSale+","+instance.TopologyOrders+","+instance.TopologyRecommendations,
			"comma-separated topologies to run: inventory, flashsale (needs inventory), orders (pricing, fraud and the order saga; needs inventory), recommendations (needs inventory) [TITAN_TOPOLOGIES]")
		reserveTTL  = fs.Duration("order-reserve-ttl", time.Hour, "how long the order saga's reservations hold before they must be committed [TITAN_ORDER_RESERVE_TTL]")
		stepTimeout = fs.Duration("order-step-timeout", 2*time.Minute, "how long an order waits for a step's answer before it is rejected as timed_out, releasing what it holds [TITAN_ORDER_STEP_TIMEOUT]")
		fraudModel  = fs.String("fraud-model", "", "fraud model file, reloaded on SIGHUP; empty uses the built-in model [TITAN_FRAUD_MODEL]")
		rulesFile   = fs.String("pricing-rules", "", "pricing rules file (JSON: max_campaign_discount_bps, demand); empty uses the built-in rules [TITAN_PRICING_RULES]")
		instanceID  = fs.String("instance-id", "", "name of this instance in Kafka client ids; defaults to the host name [TITAN_INSTANCE_ID]")
		commandWait = fs.Duration("command-wait", 2*time.Second, "how long a command request waits for its result before answering 202 [TITAN_COMMAND_WAIT]")
		maxPending  = fs.Int("max-pending", api.DefaultMaxPending, "requests the API holds waiting for their results, per kind (inventory commands, purchases, orders); past it a command is answered 429 overloaded [TITAN_MAX_PENDING]")
		maxBuffered = fs.Int("max-buffered-records", instance.DefaultMaxBufferedRecords, "records each of the API's producers buffers for Kafka; a command that finds its producer full is answered 429 overloaded [TITAN_MAX_BUFFERED_RECORDS]")
		readWait    = fs.Duration("read-wait", 2*time.Second, "how long a read with min_offset waits for the state to catch up [TITAN_READ_WAIT]")
		sweep       = fs.Duration("sweep-interval", time.Second, "how often expired reservations and time-driven price changes are looked for [TITAN_SWEEP_INTERVAL]")
		session     = fs.Duration("group-session-timeout", gokaopts.DefaultSessionTimeout, "how long a consumer group waits to hear from an instance before its partitions go to the others; "+
			"the broker's group.min.session.timeout.ms (6s unless lowered) is the least it accepts [TITAN_GROUP_SESSION_TIMEOUT]")
		peerAddr = fs.String("peer-addr", "127.0.0.1:0", "address of the liveness beacon the other instances watch: when its connections drop and nothing answers there, "+
			"they hand this instance's partitions on at once instead of after the session timeout; empty turns it off [TITAN_PEER_ADDR]")
		peerAdvertise = fs.String("peer-advertise", "", "address the other instances dial to reach --peer-addr; empty uses --peer-addr itself (the host name if it listens on every interface) [TITAN_PEER_ADVERTISE]")
		dedupe        = fs.Duration("dedupe-window", 15*time.Minute, "how long a command id is remembered per SKU [TITAN_DEDUPE_WINDOW]")
		timeAhead     = fs.Duration("max-time-ahead", schemas.DefaultTimeWindow().Ahead, "how far past the time Kafka received it a client message may be stamped [TITAN_MAX_TIME_AHEAD]")
		timeBehind    = fs.Duration("max-time-behind", schemas.DefaultTimeWindow().Behind, "how long before the time Kafka received it a client message may be stamped [TITAN_MAX_TIME_BEHIND]")
		syncPolicy    = fs.String("sync", "none", "state sync policy: none (the Kafka changelog is the durable copy) or always [TITAN_SYNC]")
		logLevel      = fs.String("log-level", "info", "debug, info, warn or error [TITAN_LOG_LEVEL]")
		tokensFile    = fs.String("api-tokens-file", "", "file of API bearer tokens, one 'token scope...' a line (scopes read, command, admin), reloaded on SIGHUP; "+
			"commands need a token with the command scope. Empty leaves the API open to anyone who can reach it [TITAN_API_TOKENS_FILE]")
		readAuth     = fs.Bool("api-read-auth", false, "reads need a token with the read scope too (needs --api-tokens-file) [TITAN_API_READ_AUTH]")
		ch           = addClickHouseFlags(fs, "")
		runSink      = fs.Bool("sink", false, "run the ClickHouse sink inside this instance: apply the analytics schema and write the event topics to --clickhouse-addr [TITAN_SINK]")
		allowedHosts = fs.String("api-allowed-hosts", "", "comma-separated host names the API answers to, compared with the Host header without its port; "+
			"guards against DNS rebinding. Empty answers any [TITAN_API_ALLOWED_HOSTS]")
	)
	env := map[string]string{
		"brokers": "TITAN_KAFKA_BROKERS", "namespace": "TITAN_NAMESPACE", "state-dir": "TITAN_STATE_DIR", "http-addr": "TITAN_HTTP_ADDR",
		"partitions": "TITAN_PARTITIONS", "replication": "TITAN_REPLICATION", "topologies": "TITAN_TOPOLOGIES",
		"instance-id": "TITAN_INSTANCE_ID", "command-wait": "TITAN_COMMAND_WAIT", "read-wait": "TITAN_READ_WAIT",
		"max-pending": "TITAN_MAX_PENDING", "max-buffered-records": "TITAN_MAX_BUFFERED_RECORDS",
		"sweep-interval": "TITAN_SWEEP_INTERVAL", "group-session-timeout": "TITAN_GROUP_SESSION_TIMEOUT",
		"peer-addr": "TITAN_PEER_ADDR", "peer-advertise": "TITAN_PEER_ADVERTISE", "dedupe-window": "TITAN_DEDUPE_WINDOW", "sync": "TITAN_SYNC",
		"log-level": "TITAN_LOG_LEVEL", "fraud-model": "TITAN_FRAUD_MODEL", "pricing-rules": "TITAN_PRICING_RULES",
		"order-reserve-ttl": "TITAN_ORDER_RESERVE_TTL", "order-step-timeout": "TITAN_ORDER_STEP_TIMEOUT",
		"max-time-ahead": "TITAN_MAX_TIME_AHEAD", "max-time-behind": "TITAN_MAX_TIME_BEHIND",
		"api-tokens-file": "TITAN_API_TOKENS_FILE", "api-read-auth": "TITAN_API_READ_AUTH", "api-allowed-hosts": "TITAN_API_ALLOWED_HOSTS",
		"sink": "TITAN_SINK",
	}
	for k, v := range clickhouseEnv {
		env[k] = v
	}
	load := func() (instance.Config, slog.Level, error) {
		errs := applyEnv(fs, env)
		var level slog.Level
		if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
			errs = append(errs, fmt.Errorf("log level %q: %w", *logLevel, err))
		}
		cfg := instance.Config{
			Brokers:             splitList(*brokers),
			Namespace:           *namespace,
			StateDir:            *stateDir,
			HTTPAddr:            *httpAddr,
			Partitions:          *partitions,
			Replication:         *replication,
			Topologies:          splitList(*topologies),
			InstanceID:          *instanceID,
			CommandWait:         *commandWait,
			ReadWait:            *readWait,
			MaxPending:          *maxPending,
			MaxBuffered:         *maxBuffered,
			SweepInterval:       *sweep,
			GroupSessionTimeout: *session,
			PeerAddr:            *peerAddr,
			PeerAdvertise:       *peerAdvertise,
			DedupeWindow:        *dedupe,
			Sync:                *syncPolicy,
			FraudModel:          *fraudModel,
			PricingRules:        *rulesFile,
			OrderReserveTTL:     *reserveTTL,
			OrderStepTimeout:    *stepTimeout,
			TimeWindow:          schemas.TimeWindow{Ahead: *timeAhead, Behind: *timeBehind},
			APIAccess:           api.Access{ReadAuth: *readAuth, AllowedHosts: splitList(*allowedHosts)},
			ClickHouse:          ch.options(),
			Sink:                *runSink,
		}
		if *tokensFile != "" {
			// Read now, so that a bad file stops the start with exit 2 and
			// the line at fault, like any other bad setting.
			tokens, err := api.LoadTokens(*tokensFile)
			if err != nil {
				errs = append(errs, err)
			}
			cfg.APIAccess.Tokens = tokens
		}
		return cfg, level, errors.Join(errs...)
	}
	return fs, load
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// announceAPI says once, at startup, who may use the API; an open one is
// said plainly, since anyone who can reach it can change stock and prices.
func announceAPI(cfg instance.Config) {
	if cfg.HTTPAddr == "" {
		return
	}
	a := cfg.APIAccess
	if a.Tokens == nil {
		cfg.Logger.Warn("API OPEN: no API tokens file is configured, so anyone who can reach "+cfg.HTTPAddr+
			" can send commands (restock, reserve, orders, prices, flash sales) and read all state. "+
			"Set --api-tokens-file or TITAN_API_TOKENS_FILE.", "addr", cfg.HTTPAddr)
		return
	}
	hosts := "any"
	if len(a.AllowedHosts) > 0 {
		hosts = strings.Join(a.AllowedHosts, ",")
	}
	cfg.Logger.Info("API tokens in force", "file", a.Tokens.Path(), "tokens", a.Tokens.Len(),
		"read_auth", a.ReadAuth, "allowed_hosts", hosts)
}

// reloadOnHangup reloads the fraud model and the API tokens on every
// SIGHUP until ctx ends, the usual signal for "read your configuration
// again". tokens is nil without a tokens file.
func reloadOnHangup(ctx context.Context, inst *instance.Instance, tokens *api.Tokens, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			// Each is reloaded on its own: a broken model file does not
			// keep a token from being revoked, nor the other way round.
			if err := inst.ReloadModel(); err != nil {
				log.Error("fraud model not reloaded; the previous one stays in force", "err", err)
			} else {
				log.Info("fraud model in force", "version", inst.ModelVersion())
			}
			reloadTokens(tokens, log)
		}
	}
}

// reloadTokens reads the tokens file again; a file that does not parse
// leaves the tokens in force, as a model that does not does.
func reloadTokens(tokens *api.Tokens, log *slog.Logger) {
	if tokens == nil {
		return
	}
	if err := tokens.Reload(); err != nil {
		log.Error("API tokens not reloaded; the previous ones stay in force", "err", err)
		return
	}
	log.Info("API tokens in force", "file", tokens.Path(), "tokens", tokens.Len())
}
