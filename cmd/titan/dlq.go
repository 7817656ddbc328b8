package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/titan-commerce/titan/deadletter"
	"github.com/titan-commerce/titan/internal/dlq"
)

const dlqUsage = `Usage:
  titan dlq inspect [flags]   list dead letters, oldest first, with their original values decoded where
                              their topic's message is known
  titan dlq replay [flags]    send chosen dead letters' original key and value back to their source topic

Both read the dead-letter topics (all, or --topology's) from the start, or from --since, up to where they
ended when the command began. They join no consumer group and commit nothing. --since and --until bound the
time a dead letter was written to its topic: an RFC 3339 time, or a duration back from now (90m).

replay is for records that failed because of a condition that was transient or has since been fixed: the
value goes back as it was, and a record that was wrong is set aside again. It sends the listed records
(--record topic/partition/offset, the SOURCE column of inspect, repeatable) or, with --all, every dead
letter the filters select; --dry-run says what it would send. A dead letter goes back only to the input
topic of the topology that set it aside (its commands, order events or views, which a shop's services
write); the fraud group's and the ClickHouse sink's go back nowhere. A record set aside more than once
is sent once. A second run sends again what it is told to: an inventory command's id makes the second
copy a duplicate within --dedupe-window, but every reader of the topic, the ClickHouse sink too, reads a
replayed record as a new one.

Flags (environment variable in brackets):
`

// dlqTopologies names the values of --topology for the help.
func dlqTopologies() string {
	var names []string
	for _, t := range deadletter.Topics("") {
		names = append(names, t.Topology)
	}
	return strings.Join(names, ", ")
}

// dlqCommand runs a dlq command.
func dlqCommand(args []string, stdout, stderr io.Writer) int {
	return subcommand("dlq", dlqUsage, []string{"inspect", "replay"}, dlqCommandFlags, args, stdout, stderr)
}

// dlqCommandFlags declares a dlq command's flags and what runs it once they are parsed.
func dlqCommandFlags(cmd string, stderr io.Writer) (*flag.FlagSet, func(stdout, stderr io.Writer) int) {
	fs, load := dlqFlags(cmd, stderr)
	return fs, func(stdout, stderr io.Writer) int {
		o, err := load(time.Now())
		if err != nil {
			fmt.Fprintf(stderr, "titan: %v\n", err)
			return 2
		}
		ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
		defer cancel()
		if o.cmd == "inspect" {
			return dlqInspect(ctx, o, stdout, stderr)
		}
		return dlqReplay(ctx, o, stdout, stderr)
	}
}

// dlqOptions are a dlq command's flags, checked.
type dlqOptions struct {
	cmd       string
	brokers   []string
	namespace string
	topics    []string
	filter    dlq.Filter
	limit     int
	json      bool
	timeout   time.Duration
	sel       dlq.Selection
	dryRun    bool
}

// records is the repeatable --record.
type records []deadletter.ID

func (r *records) String() string {
	var s []string
	for _, id := range *r {
		s = append(s, id.String())
	}
	return strings.Join(s, ",")
}

func (r *records) Set(v string) error {
	id, err := deadletter.ParseID(v)
	if err != nil {
		return err
	}
	*r = append(*r, id)
	return nil
}

// dlqFlags declares the flags of a dlq command; load checks them once
// parsed, against now for the times given as durations.
func dlqFlags(cmd string, stderr io.Writer) (*flag.FlagSet, func(now time.Time) (dlqOptions, error)) {
	fs := flag.NewFlagSet("titan dlq "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		brokers   = fs.String("brokers", "", "comma-separated Kafka brokers [TITAN_KAFKA_BROKERS]")
		namespace = fs.String("namespace", "", "namespace of the deployment whose dead letters to read [TITAN_NAMESPACE]")
		topology  = fs.String("topology", "", "read only this topology's dead-letter topic: "+dlqTopologies()+"; empty reads them all")
		reason    = fs.String("reason", "", "only dead letters with this reason, e.g. decode, invalid_qty, wrong_partition")
		since     = fs.String("since", "", "only dead letters written at or after this time (RFC 3339, or a duration back from now)")
		until     = fs.String("until", "", "only dead letters written before this time (RFC 3339, or a duration back from now)")
		limit     = fs.Int("limit", 100, "at most this many dead letters: inspect lists the oldest, replay --all refuses to send more")
		asJSON    = fs.Bool("json", false, "print one JSON object a line instead of a table")
		timeout   = fs.Duration("timeout", 30*time.Second, "how long the whole command may take")
		recs      records
		all       *bool
		dryRun    *bool
	)
	if cmd == "replay" {
		fs.Var(&recs, "record", "replay the dead letter of this source record, topic/partition/offset (repeatable)")
		all = fs.Bool("all", false, "replay every dead letter the filters select")
		dryRun = fs.Bool("dry-run", false, "say what would be sent, and send nothing")
	}
	env := map[string]string{"brokers": "TITAN_KAFKA_BROKERS", "namespace": "TITAN_NAMESPACE"}
	return fs, func(now time.Time) (dlqOptions, error) {
		errs := applyEnv(fs, env)
		o := dlqOptions{cmd: cmd, brokers: splitList(*brokers), namespace: *namespace, limit: *limit, json: *asJSON, timeout: *timeout}
		if len(o.brokers) == 0 {
			errs = append(errs, errors.New("--brokers: name the cluster's brokers"))
		}
		if *topology == "" {
			for _, t := range deadletter.Topics(o.namespace) {
				o.topics = append(o.topics, t.Name)
			}
		} else if t, err := deadletter.TopicOf(o.namespace, *topology); err != nil {
			errs = append(errs, fmt.Errorf("--topology: %w", err))
		} else {
			o.topics = []string{t}
		}
		var err error
		o.filter.Reason = strings.TrimSpace(*reason)
		if o.filter.Since, err = dlq.ParseTime("since", *since, now); err != nil {
			errs = append(errs, err)
		}
		if o.filter.Until, err = dlq.ParseTime("until", *until, now); err != nil {
			errs = append(errs, err)
		}
		if err := o.filter.Check(); err != nil {
			errs = append(errs, err)
		}
		if o.limit < 1 {
			errs = append(errs, fmt.Errorf("--limit %d: must be at least 1", o.limit))
		}
		if o.timeout <= 0 {
			errs = append(errs, fmt.Errorf("--timeout %v: must be positive", o.timeout))
		}
		if cmd == "replay" {
			o.sel, o.dryRun = dlq.Selection{IDs: recs, All: *all}, *dryRun
			if err := o.sel.Check(); err != nil {
				errs = append(errs, err)
			}
			if len(recs) > 0 {
				o.filter.IDs = o.sel.Set()
			}
		}
		return o, errors.Join(errs...)
	}
}

// read reads the selected dead letters, keeping the first limit of them in
// order.
func (o dlqOptions) read(ctx context.Context, limit int, order func(a, b dlq.Entry) int, stderr io.Writer) (*dlq.Keep, error) {
	keep := dlq.NewKeep(limit, order)
	missing, err := dlq.Read(ctx, o.brokers, o.topics, o.filter.Since, func(e dlq.Entry) {
		if o.filter.Match(e) {
			keep.Add(e)
		}
	})
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "titan: no such topic, so no dead letters there: %s\n", strings.Join(missing, ", "))
	}
	return keep, err
}

func dlqInspect(ctx context.Context, o dlqOptions, stdout, stderr io.Writer) int {
	keep, err := o.read(ctx, o.limit, dlq.ByTime, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "titan: %v\n", err)
		return 1
	}
	entries := keep.Sorted()
	if o.json {
		err = dlq.WriteLines(stdout, o.namespace, entries)
	} else {
		err = dlq.WriteTable(stdout, o.namespace, entries)
	}
	if err != nil {
		fmt.Fprintf(stderr, "titan: %v\n", err)
		return 1
	}
	if keep.Dropped > 0 {
		fmt.Fprintf(stderr, "titan: %d more dead letters match; narrow the filters or raise --limit\n", keep.Dropped)
	}
	return 0
}

// replayLine is what replay --json prints for each dead letter it acted on.
type replayLine struct {
	// Action is sent, would_send, failed, refused, not_found or once.
	Action string `json:"action"`
	Record string `json:"record"`
	// To is where a sent record went: topic/partition/offset.
	To     string `json:"to,omitempty"`
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
}

func dlqReplay(ctx context.Context, o dlqOptions, stdout, stderr io.Writer) int {
	limit := o.limit
	if !o.sel.All {
		// The filter holds only the listed records' dead letters.
		limit = math.MaxInt
	}
	keep, err := o.read(ctx, limit, dlq.BySource, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "titan: %v\n", err)
		return 1
	}
	if keep.Dropped > 0 {
		fmt.Fprintf(stderr, "titan: nothing sent: %d dead letters match, more than --limit %d; narrow the filters or raise --limit\n",
			keep.Dropped+o.limit, o.limit)
		return 1
	}
	plan := dlq.PlanReplay(o.namespace, o.sel, keep.Sorted())
	out := replayPrinter{w: stdout, json: o.json}
	for _, r := range plan.Refused {
		out.print(replayLine{Action: "refused", Record: r.Entry.Source(), Reason: r.Entry.Letter.Reason, Error: r.Why})
	}
	for _, id := range plan.Missing {
		out.print(replayLine{Action: "not_found", Record: id.String(), Error: "no dead letter read holds it (check --topology, --since, --until, --reason)"})
	}
	for _, e := range plan.Repeats {
		out.print(replayLine{Action: "once", Record: e.Source(), Reason: e.Letter.Reason, Error: "set aside more than once, sent once"})
	}
	if !plan.Whole(o.sel) {
		fmt.Fprintln(stderr, "titan: nothing sent: every listed record must be found and may be replayed")
		return 1
	}
	if o.dryRun {
		for _, e := range plan.Send {
			out.print(replayLine{Action: "would_send", Record: e.Source(), To: e.Letter.Topic, Reason: e.Letter.Reason})
		}
		return 0
	}
	if len(plan.Send) == 0 {
		fmt.Fprintln(stderr, "titan: no dead letter to send")
		return 0
	}
	sent, err := dlq.Send(ctx, o.brokers, plan.Send)
	if err != nil {
		fmt.Fprintf(stderr, "titan: %v\n", err)
		return 1
	}
	failed := 0
	for i, s := range sent {
		line := replayLine{Action: "sent", Record: s.ID.String(), Reason: plan.Send[i].Letter.Reason,
			To: deadletter.ID{Topic: s.ID.Topic, Partition: s.Partition, Offset: s.Offset}.String()}
		if s.Err != nil {
			failed++
			line.Action, line.To, line.Error = "failed", "", s.Err.Error()
		}
		out.print(line)
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "titan: %d of %d dead letters not sent\n", failed, len(sent))
		return 1
	}
	return 0
}

type replayPrinter struct {
	w    io.Writer
	json bool
}

func (p replayPrinter) print(l replayLine) {
	if p.json {
		b, _ := json.Marshal(l)
		fmt.Fprintf(p.w, "%s\n", b)
		return
	}
	fmt.Fprintf(p.w, "%-10s %s", l.Action, l.Record)
	if l.To != "" {
		fmt.Fprintf(p.w, " -> %s", l.To)
	}
	if l.Reason != "" {
		fmt.Fprintf(p.w, " (reason %s)", l.Reason)
	}
	if l.Error != "" {
		fmt.Fprintf(p.w, ": %s", l.Error)
	}
	fmt.Fprintln(p.w)
}
