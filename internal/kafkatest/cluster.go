package kafkatest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/titan-commerce/titan/internal/testenv"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// EnvClusterBrokers names the variable holding the addresses of the three-node cluster that
// `make test-cluster` starts with deploy/kafka/cluster.sh.
const EnvClusterBrokers = "TITAN_KAFKA_CLUSTER_BROKERS"

const clusterHint = EnvClusterBrokers + " not set: run the cluster tests through `make test-cluster`, which starts the cluster"

// ClusterNodes is how many nodes cluster.sh runs; node n (1-based) is the broker with id n.
const ClusterNodes = 3

// Cluster is the three-node cluster of deploy/kafka/cluster.sh, which a test may take nodes of down
// and bring back. Node n is broker id n.
type Cluster struct {
	Brokers []string
	t       testing.TB
	script  string
	adm     *kadm.Client

	mu   sync.Mutex
	down map[int]bool // nodes this test took down and has not started again
}

// NewCluster returns the cluster named by TITAN_KAFKA_CLUSTER_BROKERS, or ends the test as
// Brokers does: t.Fatal when CI=true, t.Skip otherwise. Every node the test takes down is started
// again when the test ends, so the next test finds all three.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	brokers := splitBrokers(os.Getenv(EnvClusterBrokers))
	if len(brokers) == 0 {
		testenv.Missing(t, clusterHint)
	}
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("kafkatest: finding the module root: %v", err)
	}
	c := &Cluster{Brokers: brokers, t: t, adm: Admin(t, brokers), down: map[int]bool{},
		script: filepath.Join(strings.TrimSpace(string(root)), "deploy", "kafka", "cluster.sh")}
	t.Cleanup(func() {
		c.mu.Lock()
		var down []int
		for n := range c.down {
			down = append(down, n)
		}
		c.mu.Unlock()
		slices.Sort(down)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		for _, n := range down {
			if err := c.Start(ctx, n); err != nil {
				t.Errorf("kafkatest: starting node %d again after the test: %v", n, err)
			}
		}
	})
	return c
}

// Admin is an admin client of the cluster.
func (c *Cluster) Admin() *kadm.Client { return c.adm }

// Kill kills node n with SIGKILL and returns once the process is gone.
func (c *Cluster) Kill(ctx context.Context, n int) error {
	if err := c.run(ctx, "kill", n); err != nil {
		return err
	}
	c.mu.Lock()
	c.down[n] = true
	c.mu.Unlock()
	return nil
}

// Start starts node n again on its data and returns once it serves and is back in the in-sync
// replicas of every partition it holds.
func (c *Cluster) Start(ctx context.Context, n int) error {
	if err := c.run(ctx, "start", n); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.down, n)
	c.mu.Unlock()
	return nil
}

func (c *Cluster) run(ctx context.Context, verb string, n int) error {
	if n < 1 || n > ClusterNodes {
		return fmt.Errorf("kafkatest: no node %d", n)
	}
	out, err := exec.CommandContext(ctx, "bash", c.script, verb, fmt.Sprint(n)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("kafkatest: cluster.sh %s %d: %w\n%s", verb, n, err, out)
	}
	c.t.Logf("%s", strings.TrimSpace(string(out)))
	return nil
}

// Leader returns the node that leads partition p of topic.
func (c *Cluster) Leader(ctx context.Context, topic string, p int32) (int, error) {
	td, err := c.adm.ListTopics(ctx, topic)
	if err != nil {
		return 0, err
	}
	d, ok := td[topic]
	if !ok || d.Err != nil {
		return 0, fmt.Errorf("kafkatest: topic %s: %v", topic, d.Err)
	}
	pd, ok := d.Partitions[p]
	if !ok || pd.Err != nil || pd.Leader < 0 {
		return 0, fmt.Errorf("kafkatest: %s/%d has no leader (%v)", topic, p, pd.Err)
	}
	return int(pd.Leader), nil
}

// ActiveController is the node that leads the controller quorum (every node is a controller as
// well as a broker). Killing it costs a broker kill more: the others elect a new leader first, and
// that one gives every broker a fresh session before it fences the dead one.
func (c *Cluster) ActiveController(ctx context.Context) (int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	req := kmsg.NewPtrDescribeQuorumRequest()
	topic := kmsg.NewDescribeQuorumRequestTopic()
	topic.Topic = "__cluster_metadata"
	topic.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{kmsg.NewDescribeQuorumRequestTopicPartition()}
	req.Topics = append(req.Topics, topic)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return 0, fmt.Errorf("kafkatest: describe quorum: %w", err)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return 0, fmt.Errorf("kafkatest: describe quorum: %w", err)
			}
			return int(p.LeaderID), nil
		}
	}
	return 0, fmt.Errorf("kafkatest: describe quorum: no partition in the answer")
}

// Leaders maps each partition of topic to the node that leads it.
func (c *Cluster) Leaders(ctx context.Context, topic string) (map[int32]int, error) {
	td, err := c.adm.ListTopics(ctx, topic)
	if err != nil {
		return nil, err
	}
	d, ok := td[topic]
	if !ok || d.Err != nil {
		return nil, fmt.Errorf("kafkatest: topic %s: %v", topic, d.Err)
	}
	out := map[int32]int{}
	for p, pd := range d.Partitions {
		out[p] = int(pd.Leader)
	}
	return out, nil
}

// WaitInSync waits until every partition of the topics whose names start with prefix has all its
// replicas in sync: a node started again has caught up, and the next fault starts from a whole
// cluster.
func (c *Cluster) WaitInSync(ctx context.Context, prefix string) error {
	return WaitFor(ctx, "every replica of "+prefix+"* in sync", func() (bool, string) {
		td, err := c.adm.ListTopics(ctx)
		if err != nil {
			return false, err.Error()
		}
		behind := 0
		var example string
		for name, d := range td {
			if !strings.HasPrefix(name, prefix) {
				continue
			}
			for p, pd := range d.Partitions {
				if len(pd.ISR) < len(pd.Replicas) || pd.Leader < 0 {
					behind++
					example = fmt.Sprintf("%s/%d replicas %v isr %v leader %d", name, p, pd.Replicas, pd.ISR, pd.Leader)
				}
			}
		}
		return behind == 0, fmt.Sprintf("%d partitions not fully in sync, e.g. %s", behind, example)
	})
}
