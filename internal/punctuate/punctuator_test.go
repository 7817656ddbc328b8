package punctuate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/lovoo/goka/storage"
)

// rig is a Punctuator over two partitions whose due proposals a test sets,
// with a clock it moves and a send it records.
type rig struct {
	p     *Punctuator[string]
	now   time.Time
	due   map[storage.Storage][]Proposal[string]
	fail  map[storage.Storage]error
	parts []storage.Storage
	// sent is every send's messages; refuse fails the messages it names.
	sent   [][]string
	refuse map[string]bool
	offset int64
	begun  int
}

func newRig(t *testing.T) *rig {
	r := &rig{now: time.Unix(1_700_000_000, 0), due: map[storage.Storage][]Proposal[string]{},
		fail: map[storage.Storage]error{}, refuse: map[string]bool{}}
	r.parts = []storage.Storage{storage.NewMemory(), storage.NewMemory()}
	r.p = New(Config[string]{
		What: "test pass", Interval: time.Second, ResendAfter: 5 * time.Second,
		Local: func() []storage.Storage { return r.parts },
		Begin: func(now time.Time, local []storage.Storage) {
			if !now.Equal(r.now) || len(local) != len(r.parts) {
				t.Errorf("Begin(%v, %d storages), want (%v, %d)", now, len(local), r.now, len(r.parts))
			}
			r.begun++
		},
		Due: func(st storage.Storage, now time.Time, propose func(Proposal[string])) error {
			for _, pr := range r.due[st] {
				propose(pr)
			}
			return r.fail[st]
		},
		Send: func(_ context.Context, msgs []string) ([]int64, error) {
			r.sent = append(r.sent, slices.Clone(msgs))
			offsets := make([]int64, len(msgs))
			var err error
			for i, m := range msgs {
				if r.refuse[m] {
					offsets[i], err = -1, errors.New("refused")
					continue
				}
				offsets[i] = r.offset
				r.offset++
			}
			return offsets, err
		},
		Log: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return r.now },
	})
	return r
}

// pass runs one pass after d and returns what it sent.
func (r *rig) pass(t *testing.T, d time.Duration) []string {
	t.Helper()
	r.now = r.now.Add(d)
	before := len(r.sent)
	_ = r.p.Pass(context.Background())
	var out []string
	for _, s := range r.sent[before:] {
		out = append(out, s...)
	}
	return out
}

func TestAProposalInFlightWaitsForResendAfter(t *testing.T) {
	r := newRig(t)
	sent := false
	r.due[r.parts[0]] = []Proposal[string]{{Key: "a", For: "1", Msg: "a1", Sent: func() { sent = true }}}
	if got := r.pass(t, 0); !slices.Equal(got, []string{"a1"}) || !sent {
		t.Fatalf("first pass sent %v (Sent called: %v)", got, sent)
	}
	if got := r.pass(t, 4*time.Second); got != nil {
		t.Errorf("in flight for 4 s, sent again: %v", got)
	}
	if got := r.pass(t, time.Second); !slices.Equal(got, []string{"a1"}) {
		t.Errorf("after ResendAfter, sent %v, want it again", got)
	}
	// A later due time for the same key is a new proposal.
	r.due[r.parts[0]] = []Proposal[string]{{Key: "a", For: "2", Msg: "a2"}}
	if got := r.pass(t, time.Second); !slices.Equal(got, []string{"a2"}) {
		t.Errorf("another For sent %v, want it at once", got)
	}
	if r.begun != 4 {
		t.Errorf("Begin called %d times in 4 passes", r.begun)
	}
}

func TestAProposalInFlightWaitsForTheStateToPassIt(t *testing.T) {
	r := newRig(t)
	r.offset = 10
	due := func(applied int64) {
		r.due[r.parts[1]] = []Proposal[string]{{Key: "b", Tracked: true, Applied: applied, Msg: "b"}}
	}
	due(-1)
	if got := r.pass(t, 0); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("first pass sent %v", got)
	}
	// Written at offset 10: however long it takes, a state that has not
	// read that far is a processor that lags.
	due(9)
	if got := r.pass(t, time.Hour); got != nil {
		t.Errorf("state at 9, proposal at 10: sent again %v", got)
	}
	// Past it and still due: the proposal was lost.
	due(10)
	if got := r.pass(t, time.Second); !slices.Equal(got, []string{"b"}) {
		t.Errorf("state past the proposal, still due: sent %v, want it again", got)
	}
}

func TestAFailedSendIsProposedAgainAtOnce(t *testing.T) {
	r := newRig(t)
	r.refuse["c"] = true
	r.due[r.parts[0]] = []Proposal[string]{{Key: "c", Msg: "c"}, {Key: "d", Msg: "d"}}
	if err := r.p.Pass(context.Background()); err == nil {
		t.Error("a pass whose send failed returned no error")
	}
	r.refuse["c"] = false
	if got := r.pass(t, time.Second); !slices.Equal(got, []string{"c"}) {
		t.Errorf("after a failed send, sent %v, want only the failed one", got)
	}
}

func TestAPartitionThatFailsDoesNotHoldUpTheOthers(t *testing.T) {
	r := newRig(t)
	r.fail[r.parts[0]] = errors.New("disk")
	r.due[r.parts[1]] = []Proposal[string]{{Key: "e", Msg: "e"}}
	r.now = r.now.Add(time.Second)
	err := r.p.Pass(context.Background())
	if err == nil || len(r.sent) != 1 || r.sent[0][0] != "e" {
		t.Errorf("Pass = %v, sent %v; want the scan's error and the other partition's proposal", err, r.sent)
	}
}

func TestWhatIsNoLongerDueIsForgotten(t *testing.T) {
	r := newRig(t)
	r.due[r.parts[0]] = []Proposal[string]{{Key: "f", Msg: "f"}}
	r.pass(t, 0)
	r.due[r.parts[0]] = nil
	r.pass(t, 30*time.Second)
	if _, ok := r.p.inFlight["f"]; !ok {
		t.Fatal("forgotten after one pass without it: a rebalance would resend everything")
	}
	r.pass(t, 31*time.Second)
	if _, ok := r.p.inFlight["f"]; ok {
		t.Error("still remembered a minute after the last pass that found it due")
	}
}

func TestLargePassesAreSentInBatches(t *testing.T) {
	r := newRig(t)
	for i := range 2*maxBatch + 1 {
		st := r.parts[i%2]
		r.due[st] = append(r.due[st], Proposal[string]{Key: fmt.Sprint(i), Msg: fmt.Sprint(i)})
	}
	if got := r.pass(t, 0); len(got) != 2*maxBatch+1 {
		t.Fatalf("sent %d of %d", len(got), 2*maxBatch+1)
	}
	var sizes []int
	for _, s := range r.sent {
		sizes = append(sizes, len(s))
	}
	if want := []int{maxBatch, maxBatch, 1}; !slices.Equal(sizes, want) {
		t.Errorf("sends of %v, want %v", sizes, want)
	}
}
