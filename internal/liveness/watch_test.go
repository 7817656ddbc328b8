package liveness

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/titan-commerce/titan/internal/kafkatest"
)

// cluster returns a client of the test broker, a topic of one partition
// and a fresh group name.
func cluster(t *testing.T) (cl *kgo.Client, topic, group string) {
	t.Helper()
	brokers := kafkatest.Brokers(t)
	topic = kafkatest.Topics(t, brokers, 1, "in")["in"]
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl, topic, kafkatest.Prefix(t)
}

// join makes a consumer-group member that announces p and then never
// heartbeats, as a killed process leaves one; it returns the member id.
func join(t *testing.T, cl *kgo.Client, group, topic string, p Peer) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{topic}
	meta.UserData = MemberData(p)
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group = group
	req.SessionTimeoutMillis = 45000
	req.RebalanceTimeoutMillis = 45000
	req.ProtocolType = "consumer"
	proto := kmsg.NewJoinGroupRequestProtocol()
	proto.Name = "range"
	proto.Metadata = meta.AppendTo(nil)
	req.Protocols = append(req.Protocols, proto)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if kerr.ErrorForCode(resp.ErrorCode) == kerr.MemberIDRequired {
		req.MemberID = resp.MemberID
		if resp, err = req.RequestWith(ctx, cl); err != nil {
			t.Fatal(err)
		}
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("join group: %v", err)
	}
	assigned := kmsg.NewConsumerMemberAssignment()
	at := kmsg.NewConsumerMemberAssignmentTopic()
	at.Topic, at.Partitions = topic, []int32{0}
	assigned.Topics = append(assigned.Topics, at)
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.Generation, sync.MemberID = group, resp.Generation, resp.MemberID
	sync.ProtocolType, sync.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
	a := kmsg.NewSyncGroupRequestGroupAssignment()
	a.MemberID, a.MemberAssignment = resp.MemberID, assigned.AppendTo(nil)
	sync.GroupAssignment = append(sync.GroupAssignment, a)
	sresp, err := sync.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(sresp.ErrorCode); err != nil {
		t.Fatalf("sync group: %v", err)
	}
	return resp.MemberID
}

// TestWatcherRemovesADeadPeersMembers: a member whose instance is gone is
// out of its group within a second or so, not after its 45 s session.
func TestWatcherRemovesADeadPeersMembers(t *testing.T) {
	cl, topic, group := cluster(t)

	peer := listen(t)
	id := join(t, cl, group, topic, peer.Peer())
	self := listen(t)
	removed := make(chan int, 1)
	w, err := NewWatcher(WatcherOptions{Client: cl, Groups: []string{group}, Self: self.Peer(), Scan: 100 * time.Millisecond,
		Removed: func(g string, n int) {
			if g == group {
				select {
				case removed <- n:
				default:
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	waitHeld(t, peer, 1)
	// Its own beacon is not watched.
	if n := self.held(); n != 0 {
		t.Fatalf("the watcher holds %d connections to its own beacon", n)
	}

	began := time.Now()
	_ = peer.Close()
	select {
	case n := <-removed:
		if n != 1 {
			t.Fatalf("removed %d members, want 1", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the dead peer's member was not removed")
	}
	described, err := w.adm.DescribeGroups(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range described[group].Members {
		if m.MemberID == id {
			t.Fatalf("member %s is still in the group after its removal", id)
		}
	}
	t.Logf("member removed %v after its beacon closed", time.Since(began).Round(time.Millisecond))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestWatcherKeepsALivePeersMembers: a peer whose connection drops but
// which still answers keeps its members.
func TestWatcherKeepsALivePeersMembers(t *testing.T) {
	cl, topic, group := cluster(t)

	peer := listen(t)
	id := join(t, cl, group, topic, peer.Peer())
	w, err := NewWatcher(WatcherOptions{Client: cl, Groups: []string{group}, Self: Peer{Incarnation: newIncarnation()}, Scan: 100 * time.Millisecond,
		Removed: func(string, int) { t.Error("a live peer's members were removed") }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = w.Run(ctx) }()
	for range 3 {
		waitHeld(t, peer, 1)
		peer.dropConns()
		time.Sleep(300 * time.Millisecond)
	}
	waitHeld(t, peer, 1)
	described, err := w.adm.DescribeGroups(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range described[group].Members {
		found = found || m.MemberID == id
	}
	if !found {
		t.Fatalf("member %s left the group", id)
	}
}
