package topology_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/tester"

	"github.com/titan-commerce/titan/internal/topology"
)

type punctuator func(ctx context.Context) error

func (p punctuator) Run(ctx context.Context) error { return p(ctx) }

func processor(t *testing.T, tt *tester.Tester, group string) *goka.Processor {
	t.Helper()
	g := goka.DefineGroup(goka.Group(group),
		goka.Input(goka.Stream(group+"-in"), new(codec.Bytes), func(ctx goka.Context, msg any) { ctx.SetValue(msg) }),
		goka.Persist(new(codec.Bytes)),
	)
	p, err := goka.NewProcessor(nil, g, goka.WithTester(tt))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A set runs its groups and punctuators together: it lists the groups by
// name, is recovered once every group is, and a punctuator that fails
// stops the groups and is what Run returns.
func TestSetRunsItsPartsAsOne(t *testing.T) {
	tt := tester.New(t)
	a, b := processor(t, tt, "a"), processor(t, tt, "b")
	boom := errors.New("punctuator failed")
	started := make(chan struct{})
	s := topology.NewSet(nil, []*goka.Processor{a, b}, punctuator(func(ctx context.Context) error {
		close(started)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
			return boom
		}
	}))
	if got := s.Processors(); len(got) != 2 || got["a"] != a || got["b"] != b {
		t.Fatalf("Processors() = %v", got)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	<-started
	deadline := time.Now().Add(5 * time.Second)
	for !s.Recovered() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !s.Recovered() {
		t.Error("both groups run on the tester, and the set is not recovered")
	}
	select {
	case err := <-done:
		if !errors.Is(err, boom) {
			t.Errorf("Run = %v, want the punctuator's failure", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the set ran on after its punctuator failed")
	}
}
