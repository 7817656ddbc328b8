package liveness

import (
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// maxBeaconConns bounds the connections a beacon holds: one per peer is
// what a deployment needs; past the bound a connection is closed at once.
const maxBeaconConns = 1024

// greetTimeout bounds the write of a greeting and a watcher's read of it.
const greetTimeout = time.Second

// acceptRetry is the wait after an accept failed while the beacon is open.
const acceptRetry = 100 * time.Millisecond

// Beacon is an instance's side of the watch: a listener that greets each
// connection with the incarnation and then holds it open until Close.
type Beacon struct {
	ln   net.Listener
	peer Peer

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Listen starts a beacon on addr with a fresh incarnation. advertise is
// the address peers dial; empty means the listener's own address, with
// the host name in place of an unspecified host (0.0.0.0, ::).
func Listen(addr, advertise string) (*Beacon, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("liveness: beacon: %w", err)
	}
	if advertise == "" {
		advertise, err = advertised(ln.Addr().(*net.TCPAddr))
		if err != nil {
			_ = ln.Close()
			return nil, err
		}
	}
	b := &Beacon{ln: ln, peer: Peer{Incarnation: newIncarnation(), Addr: advertise}, conns: map[net.Conn]struct{}{}}
	if err := b.peer.validate(); err != nil {
		_ = ln.Close()
		return nil, err
	}
	b.wg.Add(1)
	go b.accept()
	return b, nil
}

func advertised(a *net.TCPAddr) (string, error) {
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		h, err := os.Hostname()
		if err != nil {
			return "", fmt.Errorf("liveness: beacon listens on every interface and the host name is unknown: %w", err)
		}
		host = h
	}
	return net.JoinHostPort(host, fmt.Sprint(a.Port)), nil
}

// Peer is what the beacon announces: its incarnation and address.
func (b *Beacon) Peer() Peer { return b.peer }

// Close stops the beacon and drops every connection it holds, which tells
// the watchers that this incarnation is gone: call it only once the
// instance's processors have stopped writing.
func (b *Beacon) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	err := b.ln.Close()
	for c := range b.conns {
		_ = c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
	return err
}

func (b *Beacon) accept() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			if b.isClosed() {
				return
			}
			// Out of file descriptors, say: the connections held are
			// unaffected, and a peer that cannot get in waits.
			time.Sleep(acceptRetry)
			continue
		}
		if !b.hold(c) {
			_ = c.Close()
			continue
		}
		b.wg.Add(1)
		go b.serve(c)
	}
}

func (b *Beacon) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

func (b *Beacon) hold(c net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || len(b.conns) >= maxBeaconConns {
		return false
	}
	b.conns[c] = struct{}{}
	return true
}

// serve greets c and holds it until the peer hangs up or the beacon
// closes; what the peer sends is read and dropped, so its hang-up is seen.
func (b *Beacon) serve(c net.Conn) {
	defer b.wg.Done()
	defer b.drop(c)
	_ = c.SetWriteDeadline(time.Now().Add(greetTimeout))
	if _, err := io.WriteString(c, greeting+b.peer.Incarnation+"\n"); err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, c)
}

func (b *Beacon) drop(c net.Conn) {
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
	_ = c.Close()
}
