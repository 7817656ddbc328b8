// Command kafkawait blocks until a Kafka broker is usable by tests, for deploy/kafka/kafka.sh up.
//
// A broker answers metadata requests before its controller has settled, so answering is not enough:
// a test's first CreateTopics would then fail or time out. kafkawait therefore also creates and
// deletes a throwaway topic, which needs the controller's quorum and the broker's metadata to agree.
//
//	go run ./deploy/kafka/kafkawait -brokers 127.0.0.1:19092 -timeout 90s [-pid N]
//
// It exits 0 once the broker is ready and 1 with the last error seen when the timeout passes or the
// process given by -pid exits, whichever comes first: a broker that died on startup (a port in use,
// a bad config) should not cost the whole timeout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:19092", "comma-separated seed brokers")
	timeout := flag.Duration("timeout", 90*time.Second, "how long to wait for the broker")
	pid := flag.Int("pid", 0, "stop waiting when this process exits (0: do not watch a process)")
	replication := flag.Int("replication", 1, "replicas of the throwaway topic: the brokers that must be up")
	rejoined := flag.String("rejoined", "", "ID@ADDR of a restarted broker to wait for first (empty: none)")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var err error
	if *rejoined != "" {
		err = waitRejoined(ctx, *rejoined, *pid)
	}
	if err == nil {
		err = wait(ctx, strings.Split(*brokers, ","), *pid, int16(*replication))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "kafkawait: %s: %v\n", *brokers, err)
		os.Exit(1)
	}
}

func wait(ctx context.Context, brokers []string, pid int, replication int16) error {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		// Refused connections fail at once; a short dial timeout only matters for a broker that
		// accepts but hangs, and keeps each attempt well inside the overall timeout.
		kgo.DialTimeout(2*time.Second),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	topic := fmt.Sprintf("kafkawait-%016x", rand.Uint64())
	steps := []func(context.Context) error{
		func(ctx context.Context) error { return everySeedLists(ctx, cl, brokers, replication) },
		func(ctx context.Context) error {
			_, err := adm.CreateTopic(ctx, 1, replication, nil, topic)
			// An earlier attempt may have timed out on our side after the broker created it.
			if errors.Is(err, kerr.TopicAlreadyExists) {
				return nil
			}
			return err
		},
		func(ctx context.Context) error {
			_, err := adm.DeleteTopic(ctx, topic)
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				return nil
			}
			return err
		},
	}

	return retry(ctx, pid, steps...)
}

// everySeedLists asks each seed broker itself for the live brokers and fails unless every one lists
// at least want of them. The request must reach a broker on every attempt: kadm's BrokerMetadata
// answers from the client's cached broker list once it holds one, so a first answer given while a
// node was still fenced (2 of 3 listed) was handed back for as long as kafkawait waited, on a
// cluster that had long been whole. Asking every seed rather than any one also means that a
// client may bootstrap from any node as soon as kafkawait returns.
func everySeedLists(ctx context.Context, cl *kgo.Client, addrs []string, want int16) error {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // brokers only
	// The client keeps its seeds in the order they were given.
	for i, seed := range cl.SeedBrokers() {
		addr := fmt.Sprintf("seed %d", i)
		if i < len(addrs) {
			addr = addrs[i]
		}
		raw, err := seed.Request(ctx, req)
		if err != nil {
			return fmt.Errorf("%s: %w", addr, err)
		}
		if n := len(raw.(*kmsg.MetadataResponse).Brokers); n < int(want) {
			return fmt.Errorf("%s lists %d live brokers, want %d", addr, n, want)
		}
	}
	return nil
}

// retry runs each step until it succeeds, in order, giving up when ctx ends or the process pid (if
// not 0) exits.
func retry(ctx context.Context, pid int, steps ...func(context.Context) error) error {
	var last error
	for _, step := range steps {
		for {
			attempt, cancel := context.WithTimeout(ctx, 5*time.Second)
			last = step(attempt)
			cancel()
			if last == nil {
				break
			}
			if pid > 0 && !alive(pid) {
				return fmt.Errorf("broker process %d exited (last error: %w)", pid, last)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("not ready in time: %w", last)
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	return nil
}

// waitRejoined waits until the broker given as ID@ADDR answers a metadata request itself, lists
// itself as a live broker, and is in the in-sync replicas of every partition it is a replica of.
func waitRejoined(ctx context.Context, rejoined string, pid int) error {
	idText, addr, ok := strings.Cut(rejoined, "@")
	id, err := strconv.Atoi(idText)
	if !ok || err != nil {
		return fmt.Errorf("-rejoined %q is not ID@ADDR", rejoined)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTimeout(2*time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	return retry(ctx, pid, func(ctx context.Context) error {
		seeds := cl.SeedBrokers()
		if len(seeds) == 0 {
			return errors.New("no seed broker")
		}
		// Straight to the restarted broker, not to whichever the client would pick.
		raw, err := seeds[0].Request(ctx, kmsg.NewPtrMetadataRequest())
		if err != nil {
			return err
		}
		resp := raw.(*kmsg.MetadataResponse)
		if !slices.ContainsFunc(resp.Brokers, func(b kmsg.MetadataResponseBroker) bool { return b.NodeID == int32(id) }) {
			return fmt.Errorf("broker %d does not list itself as live yet", id)
		}
		behind := 0
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if slices.Contains(p.Replicas, int32(id)) && !slices.Contains(p.ISR, int32(id)) {
					behind++
				}
			}
		}
		if behind > 0 {
			return fmt.Errorf("broker %d is not yet in sync on %d partitions", id, behind)
		}
		return nil
	})
}

// alive reports whether pid is a running process. A process that has exited but whose parent has
// not reaped it still answers kill(pid, 0), so on Linux its state in /proc decides.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !errors.Is(err, os.ErrNotExist) || !procMounted()
	}
	// The state follows the command name, which is in parentheses and may itself contain them.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 || i+2 >= len(stat) {
		return true
	}
	state := stat[i+2]
	return state != 'Z' && state != 'X'
}

func procMounted() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}
