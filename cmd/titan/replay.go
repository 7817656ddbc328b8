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
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/titan-commerce/titan/internal/instance"
	"github.com/titan-commerce/titan/internal/replay"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
)

const replayUsage = `Usage:
  titan replay --shadow NAME --topology TOPOLOGY [flags]
      run the topology again over a range of its live inputs in the shadow namespace
      <namespace>.shadow-NAME (its own group, table, outputs and state); the live
      group, its offsets, state and outputs are only read
  titan replay diff --shadow NAME --topology TOPOLOGY [flags]
      compare the shadow tables with the live ones key by key; exit 0 when identical,
      1 when they differ, 2 on error
  titan replay drop --shadow NAME [flags]
      delete the shadow namespace's topics and groups

TOPOLOGY is one of these, run without their punctuators (the recorded inputs hold
what they sent):
  pricing          pricing commands, its internal commands with the recorded ticks,
                   and the inventory events
  inventory        its commands and internal commands; its order index is rebuilt
                   from the shadow's order events
  recommendations  the views and the order outcomes; its purchases and pairs are made
                   again by the shadow's groups
  fraud            the observations the saga sent; its loop is made again, and it
                   scores with --fraud-model, which should be the live one
  orders           the order saga with the pricing group it quotes from: order events,
                   the recorded fraud decisions and timeouts, the inventory's answers,
                   and the pricing inputs; --pricing-rules applies
  flashsale        the sales' internal commands (creations, the recorded closes), the
                   inventory's answers and the purchases; the loop between a sale's
                   keys and the purchase index are made again
The orders and flashsale inputs answer each other across topics, so their copies are
released in time order while the shadow runs, each input's run only once the shadow
has processed what came before it: slower, and as faithful as the records' times.

Flags (environment variable in brackets):
`

// replayCmd runs a replay command.
func replayCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, replayUsage)
		for _, cmd := range []string{"replay", "diff", "drop"} {
			fs, _ := replayFlags(cmd, stdout)
			fmt.Fprintf(stdout, "\n%s:\n", cmd)
			fs.PrintDefaults()
		}
		return 0
	}
	cmd := "replay"
	if len(args) > 0 && (args[0] == "diff" || args[0] == "drop") {
		cmd, args = args[0], args[1:]
	}
	fs, f := replayFlags(cmd, stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, replayUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "titan replay: unexpected argument %q; try titan replay help\n", fs.Arg(0))
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if set["live"] && set["namespace"] && *f.live != *f.namespace {
		fmt.Fprintf(stderr, "titan replay: --live %q and --namespace %q name two deployments\n", *f.live, *f.namespace)
		return 2
	}
	if set["live"] {
		// Given on the command line, it wins over TITAN_NAMESPACE as
		// --namespace would.
		_ = fs.Set("namespace", *f.live)
	}
	if err := errors.Join(applyEnv(fs, f.env)...); err != nil {
		fmt.Fprintf(stderr, "titan replay: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	switch cmd {
	case "diff":
		return f.diff(ctx, stdout, stderr)
	case "drop":
		ns, err := instance.DropShadowNamespace(ctx, splitList(*f.brokers), *f.namespace, *f.shadow)
		if err != nil {
			fmt.Fprintf(stderr, "titan replay drop: %v\n", err)
			return replayExit(err)
		}
		fmt.Fprintf(stdout, "dropped shadow namespace %s\n", ns)
		return 0
	}
	return f.replay(ctx, stdout, stderr)
}

// replayFlagSet holds the flags of the replay commands; those a command
// does not take stay nil.
type replayFlagSet struct {
	brokers, namespace, live, shadow, topology             *string
	fromOffset, toOffset, since, until, stateDir, rulesArg *string
	fraudModel                                             *string
	replace                                                *bool
	timeout, timeAhead, timeBehind, dedupe, reserveTTL     *time.Duration
	limit                                                  *int
	logLevel                                               *string
	env                                                    map[string]string
}

func replayFlags(cmd string, out io.Writer) (*flag.FlagSet, *replayFlagSet) {
	fs := flag.NewFlagSet("titan replay "+cmd, flag.ContinueOnError)
	fs.SetOutput(out)
	f := &replayFlagSet{env: map[string]string{"brokers": "TITAN_KAFKA_BROKERS", "namespace": "TITAN_NAMESPACE"}}
	f.brokers = fs.String("brokers", "", "comma-separated Kafka brokers of the live deployment [TITAN_KAFKA_BROKERS]")
	f.namespace = fs.String("namespace", "", "the live deployment's namespace [TITAN_NAMESPACE]")
	f.shadow = fs.String("shadow", "", "name of the shadow namespace: 1 to 40 of a-z, 0-9 and -")
	if cmd == "drop" {
		return fs, f
	}
	f.topology = fs.String("topology", "", "topology to replay or compare: pricing, inventory, recommendations, fraud, orders or flashsale")
	f.timeout = fs.Duration("timeout", 30*time.Minute, "bound of the whole command")
	if cmd == "diff" {
		f.live = fs.String("live", "", "the live deployment's namespace; another name for --namespace")
		f.limit = fs.Int("limit", 20, "differences shown at most, in key order")
		return fs, f
	}
	f.fromOffset = fs.String("from-offset", "", "first offset copied: OFFSET for every input partition, PARTITION:OFFSET, or TOPIC:PARTITION:OFFSET "+
		"(TOPIC without namespace, e.g. titan.pricing.commands); comma-separated, the most specific wins")
	f.toOffset = fs.String("to-offset", "", "offset where the copy stops, not included; the same forms as --from-offset. Default: the end offsets seen at start")
	f.since = fs.String("since", "", "first record time copied: RFC 3339 (2026-12-04T00:00:00Z) or a duration ago (24h)")
	f.until = fs.String("until", "", "record time where the copy stops, not included: RFC 3339 or a duration ago")
	f.stateDir = fs.String("state-dir", "", "directory of the shadow group's local state (in a directory named after the shadow namespace); empty uses a temporary one [TITAN_STATE_DIR]")
	f.rulesArg = fs.String("pricing-rules", "", "pricing rules file the shadow pricing group (of --topology pricing or orders) prices with (as titan run --pricing-rules: give the live file for a faithful replay, a changed one to try it); empty uses the built-in rules")
	f.fraudModel = fs.String("fraud-model", "", "fraud model file the shadow fraud group scores with (as titan run --fraud-model: give the live file for a faithful replay, a changed one to try it); empty uses the built-in model")
	f.replace = fs.Bool("replace", false, "delete a shadow namespace of the same name first")
	// The live deployment's settings that decide what a group sets aside
	// or remembers: the same flags and variables as titan run's.
	f.timeAhead = fs.Duration("max-time-ahead", schemas.DefaultTimeWindow().Ahead, "as titan run's: how far past the time Kafka received it a client message may be stamped [TITAN_MAX_TIME_AHEAD]")
	f.timeBehind = fs.Duration("max-time-behind", schemas.DefaultTimeWindow().Behind, "as titan run's: how long before the time Kafka received it a client message may be stamped [TITAN_MAX_TIME_BEHIND]")
	f.dedupe = fs.Duration("dedupe-window", inventory.DefaultPolicy().DedupeWindow, "as titan run's: how long the inventory remembers a command id per SKU [TITAN_DEDUPE_WINDOW]")
	f.reserveTTL = fs.Duration("order-reserve-ttl", time.Hour, "as titan run's: how long the order saga's reservations hold [TITAN_ORDER_RESERVE_TTL]")
	f.env["max-time-ahead"], f.env["max-time-behind"], f.env["dedupe-window"] = "TITAN_MAX_TIME_AHEAD", "TITAN_MAX_TIME_BEHIND", "TITAN_DEDUPE_WINDOW"
	f.env["order-reserve-ttl"] = "TITAN_ORDER_RESERVE_TTL"
	f.logLevel = fs.String("log-level", "warn", "debug, info, warn or error [TITAN_LOG_LEVEL]")
	f.env["state-dir"], f.env["log-level"] = "TITAN_STATE_DIR", "TITAN_LOG_LEVEL"
	return fs, f
}

func (f *replayFlagSet) replay(ctx context.Context, stdout, stderr io.Writer) int {
	now := time.Now()
	var errs []error
	from, err := replay.ParseOffsets("from-offset", *f.fromOffset)
	errs = append(errs, err)
	to, err := replay.ParseOffsets("to-offset", *f.toOffset)
	errs = append(errs, err)
	since, err := replay.ParseTime("since", *f.since, now)
	errs = append(errs, err)
	until, err := replay.ParseTime("until", *f.until, now)
	errs = append(errs, err)
	var level slog.Level
	if err := level.UnmarshalText([]byte(*f.logLevel)); err != nil {
		errs = append(errs, fmt.Errorf("--log-level %q: %w", *f.logLevel, err))
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(stderr, "titan replay: %v\n", err)
		return 2
	}
	show, shown := progressPrinter(stdout)
	res, err := instance.Replay(ctx, instance.ReplayConfig{
		Brokers:         splitList(*f.brokers),
		Namespace:       *f.namespace,
		Shadow:          *f.shadow,
		Topology:        *f.topology,
		StateDir:        *f.stateDir,
		From:            from,
		To:              to,
		Since:           since,
		Until:           until,
		PricingRules:    *f.rulesArg,
		FraudModel:      *f.fraudModel,
		TimeWindow:      schemas.TimeWindow{Ahead: *f.timeAhead, Behind: *f.timeBehind},
		DedupeWindow:    *f.dedupe,
		OrderReserveTTL: *f.reserveTTL,
		Replace:         *f.replace,
		Timeout:         *f.timeout,
		Progress:        show,
		Logger:          slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	})
	shown()
	if err != nil {
		fmt.Fprintf(stderr, "titan replay: %v\n", err)
		return replayExit(err)
	}
	waited := ""
	if res.Waits > 0 {
		waited = fmt.Sprintf(", in time order: %d runs", res.Waits)
	}
	fmt.Fprintf(stdout, "replayed %d records of %s into shadow namespace %s (%d dead letters%s); compare with: titan replay diff --shadow %s --topology %s\n",
		res.Copied, *f.topology, res.ShadowNamespace, res.DeadLetters, waited, *f.shadow, *f.topology)
	return 0
}

func (f *replayFlagSet) diff(ctx context.Context, stdout, stderr io.Writer) int {
	if *f.limit < 0 {
		fmt.Fprintf(stderr, "titan replay diff: --limit %d is negative\n", *f.limit)
		return 2
	}
	diffs, err := instance.DiffTables(ctx, instance.DiffConfig{Brokers: splitList(*f.brokers), Namespace: *f.namespace,
		Shadow: *f.shadow, Topology: *f.topology, Timeout: *f.timeout})
	if err != nil {
		fmt.Fprintf(stderr, "titan replay diff: %v\n", err)
		return 2
	}
	code := 0
	for _, d := range diffs {
		fmt.Fprintf(stdout, "live %s (%d keys), shadow %s (%d keys)\n", d.LiveTable, len(d.Live), d.ShadowTable, len(d.Shadow))
		if err := replay.Report(stdout, d.Summary, d.Live, d.Shadow, *f.limit); err != nil {
			fmt.Fprintf(stderr, "titan replay diff: %v\n", err)
			return 2
		}
		if !d.Summary.Identical() {
			code = 1
		}
	}
	return code
}

// replayExit is 2 for a mistake in the command, 1 for a failure on the
// way.
func replayExit(err error) int {
	if errors.Is(err, instance.ErrReplay) || errors.Is(err, replay.ErrBadRange) {
		return 2
	}
	return 1
}

// progressPrinter shows progress as a bar redrawn in place when w is a
// terminal, one bar per phase, and otherwise as a plain line every few
// seconds and at each phase's end. done ends the last bar's line.
func progressPrinter(w io.Writer) (show func(replay.Progress), done func()) {
	var (
		phase string
		last  time.Time
		shown replay.Progress
	)
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		width := 30
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 100 {
			width = min(cols-70, 60)
		}
		show = func(p replay.Progress) {
			if phase != "" && p.Phase != phase {
				fmt.Fprintln(w)
			}
			phase = p.Phase
			fmt.Fprint(w, "\r\x1b[K"+p.Bar(width))
		}
		done = func() {
			if phase != "" {
				fmt.Fprintln(w)
			}
		}
		return show, done
	}
	show = func(p replay.Progress) {
		end := p.Done >= p.Total
		if (!end && time.Since(last) < 5*time.Second) || (end && p.Phase == shown.Phase && p.Done == shown.Done) {
			return
		}
		last, shown = time.Now(), p
		fmt.Fprintln(w, p.Line())
	}
	return show, func() {}
}
