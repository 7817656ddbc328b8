package instance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/titan-commerce/titan/internal/gokaopts"
	"github.com/titan-commerce/titan/internal/kafkaadmin"
	"github.com/titan-commerce/titan/internal/replay"
	"github.com/titan-commerce/titan/internal/topology"
	"github.com/titan-commerce/titan/processors/inventory"
	"github.com/titan-commerce/titan/schemas"
	"github.com/titan-commerce/titan/state"
)

// ErrReplay is wrapped by the errors of Replay and DiffTables that come
// from their configuration or from the shadow namespace's state, as
// opposed to Kafka failing.
var ErrReplay = errors.New("replay")

// ReplayConfig configures Replay.
type ReplayConfig struct {
	// Brokers of the live cluster; a replay needs a real one.
	Brokers []string
	// Namespace is the live deployment's (Config.Namespace).
	Namespace string
	// Shadow names the shadow namespace; see ShadowNamespace.
	Shadow string
	// Topology to replay: ReplayablePricing, ReplayableInventory,
	// ReplayableRecommendations, ReplayableFraud, ReplayableOrders or
	// ReplayableFlashSale.
	Topology string
	// StateDir is where the shadow processor keeps its local state, in a
	// directory of the shadow namespace's name, removed first; empty
	// uses a temporary directory, removed at the end.
	StateDir string
	// Replication of the shadow topics; 0 means 1.
	Replication int
	// From and To bound the offsets copied (replay.ParseOffsets), Since
	// and Until the record times; zero values bound nothing. The end is
	// never past the end offsets seen when the replay starts.
	From, To     []replay.Offset
	Since, Until time.Time
	// PricingRules is a pricing rules file the shadow group prices with
	// (Config.PricingRules); empty uses the built-in rules.
	PricingRules string
	// FraudModel is a fraud model file the shadow fraud group scores with
	// (Config.FraudModel); empty uses the built-in model.
	FraudModel string
	// TimeWindow is the live deployment's (Config.TimeWindow): the shadow
	// group sets aside what the live one did. Zero means the default.
	TimeWindow schemas.TimeWindow
	// DedupeWindow is the live deployment's (Config.DedupeWindow), for the
	// inventory; zero means the default.
	DedupeWindow time.Duration
	// OrderReserveTTL is the live deployment's (Config.OrderReserveTTL),
	// for the order saga; zero means the default.
	OrderReserveTTL time.Duration
	// Replace deletes a shadow namespace of the same name first; without
	// it one that exists is an error.
	Replace bool
	// Timeout bounds the whole replay; 0 means 30 minutes.
	Timeout time.Duration
	// Progress, if set, is called every ProgressEvery (0 means a second)
	// and at the end of each phase.
	Progress      func(replay.Progress)
	ProgressEvery time.Duration
	Logger        *slog.Logger
}

// ReplayResult is what a replay did.
type ReplayResult struct {
	// ShadowNamespace is the namespace of the shadow topics and group.
	ShadowNamespace string
	// Plan is the span copied of every live input partition, by the
	// input's name without namespace.
	Plan map[string]map[int32]replay.Span
	// Copied is the number of records copied and processed.
	Copied int64
	// DeadLetters counts what the shadow group set aside.
	DeadLetters int64
	// Waits counts the times an ordered replay waited for the shadow
	// groups to settle before it released more.
	Waits int64
}

var shadowName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// ShadowNamespace is the namespace of the shadow called shadow beside the
// live deployment in namespace: "<namespace>.shadow-<shadow>". Its topics
// and group can never be the live ones, which have no "shadow-" part.
func ShadowNamespace(namespace, shadow string) (string, error) {
	if !shadowName.MatchString(shadow) {
		return "", fmt.Errorf("%w: --shadow %q: want 1 to 40 of a-z, 0-9 and -, starting with a letter or digit", ErrReplay, shadow)
	}
	return schemas.Namespaced(namespace, "shadow-"+shadow), nil
}

func (c *ReplayConfig) check() (replayTopology, string, error) {
	if c.Replication == 0 {
		c.Replication = 1
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Minute
	}
	if c.ProgressEvery == 0 {
		c.ProgressEvery = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.TimeWindow == (schemas.TimeWindow{}) {
		c.TimeWindow = schemas.DefaultTimeWindow()
	}
	if c.DedupeWindow == 0 {
		c.DedupeWindow = inventory.DefaultPolicy().DedupeWindow
	}
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, fmt.Errorf("%w: --brokers: a replay reads a live cluster; none given", ErrReplay))
	}
	rt, err := replayTopologyOf(c.Topology)
	errs = append(errs, err)
	ns, err := ShadowNamespace(c.Namespace, c.Shadow)
	errs = append(errs, err)
	if !c.Since.IsZero() && !c.Until.IsZero() && !c.Until.After(c.Since) {
		errs = append(errs, fmt.Errorf("%w: --until %s is not after --since %s", ErrReplay, c.Until.Format(time.RFC3339), c.Since.Format(time.RFC3339)))
	}
	if c.Replication < 1 || c.Timeout < 0 || c.DedupeWindow < 0 || c.OrderReserveTTL < 0 {
		errs = append(errs, fmt.Errorf("%w: replication %d, timeout %v, dedupe window %v and order reserve TTL %v must be positive",
			ErrReplay, c.Replication, c.Timeout, c.DedupeWindow, c.OrderReserveTTL))
	}
	if err := c.TimeWindow.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: --max-time-ahead, --max-time-behind: %w", ErrReplay, err))
	}
	if c.PricingRules != "" && c.Topology != ReplayablePricing && c.Topology != ReplayableOrders {
		errs = append(errs, fmt.Errorf("%w: --pricing-rules: only the pricing topology and the order saga price", ErrReplay))
	} else if c.PricingRules != "" {
		if _, err := (&Config{PricingRules: c.PricingRules}).PricingPolicy(); err != nil {
			errs = append(errs, fmt.Errorf("%w: --pricing-rules: %w", ErrReplay, err))
		}
	}
	if c.FraudModel != "" && c.Topology != ReplayableFraud {
		errs = append(errs, fmt.Errorf("%w: --fraud-model: only the fraud topology scores", ErrReplay))
	} else if c.FraudModel != "" {
		if _, err := loadFraudModel(c.FraudModel); err != nil {
			errs = append(errs, fmt.Errorf("%w: --fraud-model: %w", ErrReplay, err))
		}
	}
	return rt, ns, errors.Join(errs...)
}

// Replay runs a topology again over a range of its live inputs in a shadow
// namespace (ShadowNamespace) and returns once the shadow group has
// processed all of it and stopped.
//
// The live topics are only read, by a consumer with no group, and nothing
// of the live deployment is written: the selected range of each input
// partition is copied into the shadow namespace's input of the same name,
// to the same partition, with its key, value, headers and timestamp (the
// shadow inputs keep the producers' timestamps, not the broker's, so a
// message's time is checked against the time the live broker received
// it). Then the topology's group runs unchanged on the shadow namespace,
// with its own group, table, outputs and local state, without its
// punctuators (the recorded inputs hold the live run's ticks), until its
// committed offsets reach the ends of the shadow inputs.
//
// Each input partition keeps its order; how the group interleaves its
// inputs may differ from the live run, as on any reprocessing. The order
// saga and the flash sales, whose inputs answer each other, are copied
// while their groups run, in time order (replayorder.go).
func Replay(ctx context.Context, cfg ReplayConfig) (ReplayResult, error) {
	rt, ns, err := cfg.check()
	if err != nil {
		return ReplayResult{}, err
	}
	res := ReplayResult{ShadowNamespace: ns}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		return res, fmt.Errorf("replay: client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	live := map[string]string{}   // input name -> live topic
	shadow := map[string]string{} // live topic -> shadow topic
	for _, in := range rt.inputs {
		live[in] = schemas.Namespaced(cfg.Namespace, in)
		shadow[live[in]] = schemas.Namespaced(ns, in)
	}
	partitions, err := livePartitions(ctx, adm, live)
	if err != nil {
		return res, err
	}
	if res.Plan, err = planRange(ctx, adm, cfg, live); err != nil {
		return res, err
	}
	if err := prepareShadow(ctx, adm, cfg, ns, rt.groups(ns)); err != nil {
		return res, err
	}
	topics := rt.topics(ns, partitions)
	for _, in := range rt.inputs {
		if !slices.ContainsFunc(topics, func(t kafkaadmin.Topic) bool { return t.Name == shadow[live[in]] }) {
			topics = append(topics, kafkaadmin.Topic{Name: shadow[live[in]], Partitions: partitions})
		}
	}
	if err := ensureShadowTopics(ctx, adm, int16(cfg.Replication), topics); err != nil {
		return res, err
	}

	plan := map[string]map[int32]replay.Span{}
	for in, parts := range res.Plan {
		plan[live[in]] = parts
	}
	if rt.ordered {
		if res.Copied, res.Waits, err = replayOrdered(ctx, adm, cfg, rt, ns, partitions, plan, shadow, live); err != nil {
			return res, err
		}
	} else {
		if res.Copied, err = copyRange(ctx, cfg, plan, shadow); err != nil {
			return res, err
		}
		if err := runShadow(ctx, adm, cfg, rt, ns, partitions); err != nil {
			return res, err
		}
	}
	if ends, err := adm.ListEndOffsets(ctx, rt.deadLetters(ns)...); err == nil {
		ends.Each(func(o kadm.ListedOffset) { res.DeadLetters += max(o.Offset, 0) })
	}
	return res, nil
}

// livePartitions checks that every live input exists and that all have one
// partition count, which the shadow topics take.
func livePartitions(ctx context.Context, adm *kadm.Client, live map[string]string) (int32, error) {
	var names []string
	for _, t := range live {
		names = append(names, t)
	}
	md, err := adm.Metadata(ctx, names...)
	if err != nil {
		return 0, fmt.Errorf("replay: metadata of the live inputs: %w", err)
	}
	var n int32
	for _, t := range names {
		d, ok := md.Topics[t]
		if !ok || d.Err != nil || len(d.Partitions) == 0 {
			return 0, fmt.Errorf("%w: live input %s not found (is --namespace right?)", ErrReplay, t)
		}
		if n != 0 && int32(len(d.Partitions)) != n {
			return 0, fmt.Errorf("%w: the live inputs are not co-partitioned: %s has %d partitions, others %d", ErrReplay, t, len(d.Partitions), n)
		}
		n = int32(len(d.Partitions))
	}
	return n, nil
}

// planRange lists the live inputs' offsets (start, end, and those of
// --since and --until) and turns the configured range into a span per
// partition (replay.Plan).
func planRange(ctx context.Context, adm *kadm.Client, cfg ReplayConfig, live map[string]string) (map[string]map[int32]replay.Span, error) {
	names := map[string]string{} // live topic -> input name
	var topics []string
	for in, t := range live {
		names[t] = in
		topics = append(topics, t)
	}
	bounds := map[string]map[int32]replay.Bounds{}
	for _, in := range names {
		bounds[in] = map[int32]replay.Bounds{}
	}
	list := func(what string, l kadm.ListedOffsets, err error, set func(*replay.Bounds, int64)) error {
		if err == nil {
			err = l.Error()
		}
		if err != nil {
			return fmt.Errorf("replay: %s offsets of the live inputs: %w", what, err)
		}
		l.Each(func(o kadm.ListedOffset) {
			b, ok := bounds[names[o.Topic]][o.Partition]
			if !ok {
				b = replay.Bounds{Since: -1, Until: -1}
			}
			set(&b, o.Offset)
			bounds[names[o.Topic]][o.Partition] = b
		})
		return nil
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err := list("start", starts, err, func(b *replay.Bounds, o int64) { b.Start = o }); err != nil {
		return nil, err
	}
	// The end is the last stable offset: records of a transaction still
	// open are not read yet, and may never be.
	ends, err := adm.ListCommittedOffsets(ctx, topics...)
	if err := list("end", ends, err, func(b *replay.Bounds, o int64) { b.End = o }); err != nil {
		return nil, err
	}
	if !cfg.Since.IsZero() {
		l, err := adm.ListOffsetsAfterMilli(ctx, cfg.Since.UnixMilli(), topics...)
		if err := list("--since", l, err, func(b *replay.Bounds, o int64) { b.Since = o }); err != nil {
			return nil, err
		}
	}
	if !cfg.Until.IsZero() {
		l, err := adm.ListOffsetsAfterMilli(ctx, cfg.Until.UnixMilli(), topics...)
		if err := list("--until", l, err, func(b *replay.Bounds, o int64) { b.Until = o }); err != nil {
			return nil, err
		}
	}
	// replay.ErrBadRange says the mistake is the range's.
	return replay.Plan(bounds, cfg.From, cfg.To)
}

// prepareShadow makes sure nothing of the shadow namespace is left: with
// Replace it deletes its topics and groups, without it any of them is an
// error. Only names under ns are touched, which no live topic or group
// has.
func prepareShadow(ctx context.Context, adm *kadm.Client, cfg ReplayConfig, ns string, groups []string) error {
	topics, existing, err := shadowLeft(ctx, adm, ns, groups)
	if err != nil {
		return err
	}
	if len(topics)+len(existing) == 0 {
		return nil
	}
	if !cfg.Replace {
		return fmt.Errorf("%w: shadow namespace %s exists (%d topics, groups %v); pass --replace to replay into it again, or drop it (titan replay drop)",
			ErrReplay, ns, len(topics), existing)
	}
	return DropShadow(ctx, adm, ns, groups)
}

// shadowLeft lists the topics under ns and which of groups exist.
func shadowLeft(ctx context.Context, adm *kadm.Client, ns string, groups []string) ([]string, []string, error) {
	listed, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("replay: list topics: %w", err)
	}
	var topics []string
	for _, t := range listed.Names() {
		if strings.HasPrefix(t, ns+".") {
			topics = append(topics, t)
		}
	}
	described, err := adm.DescribeGroups(ctx, groups...)
	if err != nil {
		return nil, nil, fmt.Errorf("replay: describe groups: %w", err)
	}
	var existing []string
	for _, g := range described.Sorted() {
		if g.Err == nil && g.State != "Dead" {
			existing = append(existing, g.Group)
		}
	}
	return topics, existing, nil
}

// DropShadow deletes the shadow namespace ns: its topics and groups (the
// names ShadowNamespace gives, never a live one), and waits until they are
// gone.
func DropShadow(ctx context.Context, adm *kadm.Client, ns string, groups []string) error {
	if !strings.Contains(ns, "shadow-") {
		return fmt.Errorf("%w: %s is not a shadow namespace", ErrReplay, ns)
	}
	for _, g := range groups {
		if !strings.HasPrefix(g, ns+".") {
			return fmt.Errorf("%w: group %s is not in shadow namespace %s", ErrReplay, g, ns)
		}
	}
	topics, existing, err := shadowLeft(ctx, adm, ns, groups)
	if err != nil {
		return err
	}
	if len(existing) > 0 {
		resp, err := adm.DeleteGroups(ctx, existing...)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fmt.Errorf("replay: delete shadow groups %v (is a replay into it still running?): %w", existing, err)
		}
	}
	if len(topics) > 0 {
		resp, err := adm.DeleteTopics(ctx, topics...)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fmt.Errorf("replay: delete shadow topics: %w", err)
		}
	}
	for {
		left, _, err := shadowLeft(ctx, adm, ns, nil)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replay: shadow topics %v still there: %w", left, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ensureShadowTopics creates the shadow topics, trying again while the
// broker is still deleting those of a replaced shadow.
func ensureShadowTopics(ctx context.Context, adm *kadm.Client, replication int16, topics []kafkaadmin.Topic) error {
	for {
		err := kafkaadmin.Ensure(ctx, adm, replication, topics)
		if err == nil {
			return kafkaadmin.WaitServing(ctx, adm, topics)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replay: shadow topics: %w", err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// startShadow starts the shadow namespace's groups.
func startShadow(adm *kadm.Client, cfg ReplayConfig, rt replayTopology, ns string, partitions int32) (*shadowRun, error) {
	var cleanup []func()
	undo := func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}
	dir := cfg.StateDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "titan-replay-")
		if err != nil {
			return nil, fmt.Errorf("replay: state dir: %w", err)
		}
		cleanup = append(cleanup, func() { os.RemoveAll(tmp) })
		dir = tmp
	}
	dir = filepath.Join(dir, ns)
	// The shadow's topics were just made: state left from an earlier
	// replay would point at offsets of topics that are gone.
	if err := os.RemoveAll(dir); err != nil {
		undo()
		return nil, fmt.Errorf("replay: state dir: %w", err)
	}
	procs, err := state.NewBuilder(filepath.Join(dir, "processors"), state.WithSync(state.SyncNone), state.WithLogger(cfg.Logger))
	if err != nil {
		undo()
		return nil, fmt.Errorf("replay: state: %w", err)
	}
	cleanup = append(cleanup, func() { procs.Close() })
	// A lookup copies another group's table, which the same process
	// may run: its copy is opened apart, as an instance's are.
	lookups, err := state.NewBuilder(filepath.Join(dir, "lookups"), state.WithSync(state.SyncNone), state.WithLogger(cfg.Logger))
	if err != nil {
		undo()
		return nil, fmt.Errorf("replay: state: %w", err)
	}
	cleanup = append(cleanup, func() { lookups.Close() })
	host, _ := os.Hostname()
	marks := newGroupMarks()
	set, err := rt.build(ns, topology.Base{
		Goka: gokaopts.Config{Brokers: cfg.Brokers, Replication: cfg.Replication, Storage: procs.Build,
			ClientID: "titan-replay-" + host, Logger: cfg.Logger,
			CommitInterval: shadowCommitInterval, FetchMaxWait: shadowFetchMaxWait, Marked: marks.mark},
		Partitions: partitions,
		TimeWindow: cfg.TimeWindow,
		Logger:     cfg.Logger,
	}, cfg, lookups.Build)
	if err != nil {
		undo()
		return nil, err
	}
	runCtx, stop := context.WithCancel(context.Background())
	run := &shadowRun{adm: adm, set: set, done: make(chan error, 1), stop: stop, cleanup: undo, marks: marks}
	run.watch()
	go func() { run.done <- set.Run(runCtx) }()
	return run, nil
}

// shadowCommitInterval is how often the shadow groups commit: how soon the
// stage waits of a replay that is not ordered see them done.
// shadowFetchMaxWait is how long their fetches wait when there is nothing
// to read: how soon an ordered replay's shadow groups see a run of records.
// At sarama's 100 ms each run cost about 100 ms, whatever its size.
const (
	shadowCommitInterval = 10 * time.Millisecond
	shadowFetchMaxWait   = 5 * time.Millisecond
)

// close stops the shadow groups, which commit and close their storages as
// they stop, and reports how the groups ended unless they were only
// stopped. It is bounded, so a broker gone away does not hold the replay
// forever.
func (run *shadowRun) close() error {
	run.stop()
	defer run.cleanup()
	select {
	case err := <-run.done:
		if err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("replay: shadow group: %w", err)
		}
		return nil
	case <-time.After(90 * time.Second):
		return errors.New("replay: the shadow group did not stop within 90s")
	}
}

// runShadow runs the shadow groups until their committed offsets reach the
// ends of the shadow inputs, stage by stage, then stops them.
func runShadow(ctx context.Context, adm *kadm.Client, cfg ReplayConfig, rt replayTopology, ns string, partitions int32) error {
	run, err := startShadow(adm, cfg, rt, ns, partitions)
	if err != nil {
		return err
	}
	var (
		stopped bool
		waitErr error
	)
	for i, st := range rt.stages {
		if stopped, waitErr = waitProcessed(ctx, adm, cfg, ns, st, i == 0, run.done); waitErr != nil {
			break
		}
	}
	if stopped {
		run.stop()
		run.cleanup()
		return waitErr
	}
	return errors.Join(waitErr, run.close())
}

// replayOrdered runs the shadow groups while the copy releases the inputs
// in time order (see copyOrdered), then stops them once they have
// processed everything.
func replayOrdered(ctx context.Context, adm *kadm.Client, cfg ReplayConfig, rt replayTopology, ns string, partitions int32,
	plan map[string]map[int32]replay.Span, shadow map[string]string, live map[string]string) (copied, waits int64, err error) {
	run, err := startShadow(adm, cfg, rt, ns, partitions)
	if err != nil {
		return 0, 0, err
	}
	rank := map[string]int{}
	for i, in := range rt.inputs {
		rank[live[in]] = i
	}
	start := time.Now()
	copied, waits, err = copyOrdered(ctx, cfg, plan, shadow, rank, run.settle)
	if err == nil && cfg.Progress != nil {
		cfg.Progress(replay.Progress{Phase: "process", Done: copied, Total: copied, Elapsed: time.Since(start)})
	}
	select {
	case groupErr := <-run.done:
		// The groups stopped on their own: the copy saw it, or will not.
		run.stop()
		run.cleanup()
		return copied, waits, errors.Join(err, fmt.Errorf("replay: shadow group: %w", groupErr))
	default:
	}
	return copied, waits, errors.Join(err, run.close())
}
