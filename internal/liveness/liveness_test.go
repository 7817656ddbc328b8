package liveness

import (
	"context"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// dropConns closes the connections held without closing the listener, as
// a network fault would.
func (b *Beacon) dropConns() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for c := range b.conns {
		_ = c.Close()
	}
}

func (b *Beacon) held() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.conns)
}

func listen(t *testing.T) *Beacon {
	t.Helper()
	b, err := Listen("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// watcher returns a watcher with no cluster, for awaitDeath alone.
func watcher() *Watcher {
	d := net.Dialer{Timeout: dialTimeout}
	return &Watcher{dial: func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }}
}

// awaitDeath runs w.awaitDeath(p) until the test ends; the channel gets
// its answer.
func awaitDeath(t *testing.T, w *Watcher, p Peer) <-chan bool {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	out := make(chan bool, 1)
	go func() { out <- w.awaitDeath(ctx, p) }()
	return out
}

func waitHeld(t *testing.T, b *Beacon, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for b.held() != n {
		if time.Now().After(deadline) {
			t.Fatalf("beacon holds %d connections, want %d", b.held(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func expect(t *testing.T, got <-chan bool, want bool, within time.Duration) {
	t.Helper()
	select {
	case v := <-got:
		if v != want {
			t.Fatalf("awaitDeath = %t, want %t", v, want)
		}
	case <-time.After(within):
		t.Fatalf("awaitDeath did not answer within %v", within)
	}
}

func expectNothing(t *testing.T, got <-chan bool, for_ time.Duration) {
	t.Helper()
	select {
	case v := <-got:
		t.Fatalf("awaitDeath = %t, want no answer yet", v)
	case <-time.After(for_):
	}
}

func TestAClosedBeaconIsDeadAtOnce(t *testing.T) {
	b := listen(t)
	got := awaitDeath(t, watcher(), b.Peer())
	waitHeld(t, b, 1)
	closeSeenAtOnce(t, b, got, "the dial after the drop should be refused at once")
}

// closeSeenAtOnce closes b and expects got to report its death within
// half a second.
func closeSeenAtOnce(t *testing.T, b *Beacon, got <-chan bool, why string) {
	t.Helper()
	began := time.Now()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	expect(t, got, true, 2*time.Second)
	if took := time.Since(began); took > 500*time.Millisecond {
		t.Errorf("death seen after %v; %s", took, why)
	}
}

// dialFunc is how a watcher reaches a beacon.
type dialFunc = func(ctx context.Context, addr string) (net.Conn, error)

// divertDials has w's n-th dial (from 1) answered by divert, which may
// call the real dial; it returns the count of dials made.
func divertDials(w *Watcher, divert func(ctx context.Context, n int32, addr string, dial dialFunc) (net.Conn, error)) *atomic.Int32 {
	var dials atomic.Int32
	dial := w.dial
	w.dial = func(ctx context.Context, addr string) (net.Conn, error) {
		return divert(ctx, dials.Add(1), addr, dial)
	}
	return &dials
}

func TestAResetAfterTheDropIsDialledAgainAtOnce(t *testing.T) {
	// A peer killed while the watcher redials: the dial after the drop
	// reaches the dying process's listener and is reset; the next is
	// refused.
	b := listen(t)
	w := watcher()
	dials := divertDials(w, func(ctx context.Context, n int32, addr string, dial dialFunc) (net.Conn, error) {
		if n == 2 {
			return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
		}
		return dial(ctx, addr)
	})
	got := awaitDeath(t, w, b.Peer())
	waitHeld(t, b, 1)
	closeSeenAtOnce(t, b, got, "a dial reset right after the drop should be tried again at once")
	if n := dials.Load(); n < 3 {
		t.Errorf("dialled %d times, want the reset one and a refused one after it", n)
	}
}

func TestADroppedConnectionIsNotDeath(t *testing.T) {
	b := listen(t)
	got := awaitDeath(t, watcher(), b.Peer())
	waitHeld(t, b, 1)
	b.dropConns()
	// The watcher dials again and is greeted by the same incarnation.
	expectNothing(t, got, 300*time.Millisecond)
	waitHeld(t, b, 1)
	_ = b.Close()
	expect(t, got, true, 3*time.Second)
}

func TestAPeerNeverReachedIsNeverDead(t *testing.T) {
	// An address nothing listens on: refused from the first dial, as a
	// peer's would be if its advertised address led elsewhere from here.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	got := awaitDeath(t, watcher(), Peer{Incarnation: newIncarnation(), Addr: addr})
	expectNothing(t, got, 2500*time.Millisecond)
}

func TestAPeerGreetingAsAnotherIsNeverReached(t *testing.T) {
	// The address answers, but as another incarnation, from the start.
	other := listen(t)
	got := awaitDeath(t, watcher(), Peer{Incarnation: newIncarnation(), Addr: other.Peer().Addr})
	expectNothing(t, got, 2500*time.Millisecond)
}

func TestAnotherIncarnationAfterTheDropIsDeath(t *testing.T) {
	old, successor := listen(t), listen(t)
	w := watcher()
	// The first dial reaches the old incarnation; later ones find the
	// address taken by a new one, as after a restart on the same port.
	divertDials(w, func(ctx context.Context, n int32, _ string, dial dialFunc) (net.Conn, error) {
		if n == 1 {
			return dial(ctx, old.Peer().Addr)
		}
		return dial(ctx, successor.Peer().Addr)
	})
	got := awaitDeath(t, w, old.Peer())
	waitHeld(t, old, 1)
	old.dropConns()
	expect(t, got, true, 2*time.Second)
}

func TestADialThatTimesOutIsNoEvidence(t *testing.T) {
	b := listen(t)
	w := watcher()
	dials := divertDials(w, func(ctx context.Context, n int32, addr string, dial dialFunc) (net.Conn, error) {
		if n == 1 {
			return dial(ctx, addr)
		}
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
	})
	got := awaitDeath(t, w, b.Peer())
	waitHeld(t, b, 1)
	_ = b.Close()
	expectNothing(t, got, 2500*time.Millisecond)
	if dials.Load() < 2 {
		t.Fatalf("dialled %d times; the watcher should keep trying", dials.Load())
	}
}

func TestABeaconGreetsWithItsIncarnation(t *testing.T) {
	b := listen(t)
	inc, c, err := watcher().greet(context.Background(), b.Peer().Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if inc != b.Peer().Incarnation {
		t.Fatalf("greeted as %q, want %q", inc, b.Peer().Incarnation)
	}
	// Something that is not a beacon greets otherwise.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			_ = c.Close()
		}
	}()
	if _, _, err := watcher().greet(context.Background(), ln.Addr().String()); err == nil || refused(err) {
		t.Fatalf("greet of a non-beacon: err %v, want a greeting error", err)
	}
}

func TestBeaconAdvertisesWhatPeersDial(t *testing.T) {
	b := listen(t)
	if b.Peer().Addr != b.ln.Addr().String() {
		t.Errorf("advertises %q, listens on %q", b.Peer().Addr, b.ln.Addr())
	}
	if _, err := Listen("127.0.0.1:0", "not-an-address"); err == nil {
		t.Error("Listen with advertise \"not-an-address\": no error")
	}
	// A beacon on every interface advertises the host name.
	got, err := advertised(&net.TCPAddr{IP: net.IPv4zero, Port: 7071})
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := os.Hostname(); got != net.JoinHostPort(want, "7071") {
		t.Errorf("listening on every interface advertises %q, want the host name and port", got)
	}
}

func TestMemberDataRoundTrips(t *testing.T) {
	p := Peer{Incarnation: newIncarnation(), Addr: "10.0.0.7:7071"}
	got, ok := ParseMemberData(MemberData(p))
	if !ok || got != p {
		t.Fatalf("ParseMemberData(MemberData(%v)) = %v, %t", p, got, ok)
	}
	for _, bad := range []string{
		"",
		"titan-liveness/1",
		"titan-liveness/2\n" + p.Incarnation + "\n" + p.Addr,
		"titan-liveness/1\nxyz\n" + p.Addr,
		"titan-liveness/1\n" + p.Incarnation + "\nno-port",
		"titan-liveness/1\n" + p.Incarnation + "\n127.0.0.1:0",
		"titan-liveness/1\n" + p.Incarnation + "\n" + p.Addr + "\n",
	} {
		if got, ok := ParseMemberData([]byte(bad)); ok {
			t.Errorf("ParseMemberData(%q) = %v, want refused", bad, got)
		}
	}
}

func FuzzParseMemberData(f *testing.F) {
	f.Add(MemberData(Peer{Incarnation: newIncarnation(), Addr: "127.0.0.1:7071"}))
	f.Add([]byte("titan-liveness/1\n\n"))
	f.Add([]byte{0xff, '\n', '\n'})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, ok := ParseMemberData(b)
		if !ok {
			return
		}
		if string(MemberData(p)) != string(b) {
			t.Fatalf("ParseMemberData(%q) = %v, which writes back as %q", b, p, MemberData(p))
		}
	})
}
