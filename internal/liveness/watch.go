package liveness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	// DefaultScan is how often a watcher reads the groups' members.
	DefaultScan = time.Second
	// dialTimeout bounds a dial of a beacon; a dial that times out is no
	// evidence of anything.
	dialTimeout = time.Second
	// retryDial is the wait before a beacon that could not be reached is
	// dialled again.
	retryDial = time.Second
	// A connection that drops is dialled again at once, unless it lasted
	// less than steadyConn: then after redialShort, so a flapping
	// network does not spin.
	steadyConn  = time.Second
	redialShort = 100 * time.Millisecond
	// A dial soon after a held connection dropped that fails without a
	// refusal is tried again after redialDropped, for up to afterDrop. A
	// process killed while the watcher redials may still have its
	// listener: the dial then connects, and is reset a moment later when
	// the listener closes. The next dial is refused.
	redialDropped = 25 * time.Millisecond
	afterDrop     = time.Second
	// removeFor bounds how long the members of a dead incarnation are
	// tried to be removed (their groups' coordinators may be moving).
	removeFor = 15 * time.Second
	// removeRetry is the wait between two tries.
	removeRetry = 250 * time.Millisecond
	// requestTimeout bounds a DescribeGroups or a LeaveGroup, retries
	// included: a coordinator that does not answer is asked again at the
	// next scan or try.
	requestTimeout = 5 * time.Second
)

// WatcherOptions configure a Watcher.
type WatcherOptions struct {
	// Client reaches the cluster; the watcher describes groups and sends
	// LeaveGroup through it.
	Client *kgo.Client
	// Groups are the consumer groups watched: those whose partitions this
	// instance may inherit.
	Groups []string
	// Self is this instance, never watched.
	Self Peer
	// Scan is how often the groups' members are read; zero means
	// DefaultScan.
	Scan   time.Duration
	Logger *slog.Logger
	// Removed, when set, is called after the members of a dead
	// incarnation were removed from a group, from as many goroutines as
	// there are groups.
	Removed func(group string, members int)
}

// Watcher watches the other instances in its groups and removes the
// members of one that died (see the package comment).
type Watcher struct {
	o    WatcherOptions
	adm  *kadm.Client
	log  *slog.Logger
	dial func(ctx context.Context, addr string) (net.Conn, error)
}

// NewWatcher returns a watcher; Run starts it.
func NewWatcher(o WatcherOptions) (*Watcher, error) {
	if o.Client == nil {
		return nil, errors.New("liveness: watcher without a client")
	}
	if len(o.Groups) == 0 {
		return nil, errors.New("liveness: watcher without groups")
	}
	if o.Scan == 0 {
		o.Scan = DefaultScan
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	d := net.Dialer{Timeout: dialTimeout}
	dial := func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	return &Watcher{o: o, adm: kadm.NewClient(o.Client), log: o.Logger.With("component", "liveness"), dial: dial}, nil
}

// member is one group member that announced a peer.
type member struct {
	group, id string
	peer      Peer
}

// members returns the groups' members that announce a Titan peer.
func (w *Watcher) members(ctx context.Context) ([]member, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	described, err := w.adm.DescribeGroups(ctx, w.o.Groups...)
	if err != nil {
		return nil, err
	}
	var out []member
	var errs []error
	for _, g := range described {
		if g.Err != nil {
			errs = append(errs, fmt.Errorf("group %s: %w", g.Group, g.Err))
			continue
		}
		for _, m := range g.Members {
			meta, ok := m.Join.AsConsumer()
			if !ok {
				continue
			}
			if p, ok := ParseMemberData(meta.UserData); ok {
				out = append(out, member{group: g.Group, id: m.MemberID, peer: p})
			}
		}
	}
	return out, errors.Join(errs...)
}

// Run watches until ctx ends.
func (w *Watcher) Run(ctx context.Context) error {
	watching := map[string]context.CancelFunc{}
	defer func() {
		for _, cancel := range watching {
			cancel()
		}
	}()
	dead := make(chan Peer)
	t := time.NewTicker(w.o.Scan)
	defer t.Stop()
	for {
		ms, err := w.members(ctx)
		if err != nil && ctx.Err() == nil {
			w.log.Debug("describe groups", "err", err)
		}
		seen := map[string]Peer{}
		for _, m := range ms {
			if m.peer.Incarnation != w.o.Self.Incarnation {
				seen[m.peer.Incarnation] = m.peer
			}
		}
		for inc, p := range seen {
			if _, ok := watching[inc]; !ok {
				wctx, cancel := context.WithCancel(ctx)
				watching[inc] = cancel
				go func() {
					if w.awaitDeath(wctx, p) {
						select {
						case dead <- p:
						case <-wctx.Done():
						}
					}
				}()
			}
		}
		// A partial answer (a group being moved) says nothing about
		// who left.
		if err == nil {
			for inc, cancel := range watching {
				if _, ok := seen[inc]; !ok {
					cancel()
					delete(watching, inc)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case p := <-dead:
			w.remove(ctx, p)
			if cancel, ok := watching[p.Incarnation]; ok {
				cancel()
				delete(watching, p.Incarnation)
			}
		}
	}
}

// awaitDeath returns true once p is known dead: a connection to its beacon
// that greeted with its incarnation was held, dropped, and the next dial
// was refused or greeted by another incarnation. It returns false when ctx
// ends first.
func (w *Watcher) awaitDeath(ctx context.Context, p Peer) bool {
	held := false
	var dropped time.Time
	for ctx.Err() == nil {
		inc, c, err := w.greet(ctx, p.Addr)
		switch {
		case err == nil && inc == p.Incarnation:
			held = true
			began := time.Now()
			w.hold(ctx, c)
			dropped = time.Now()
			if dropped.Sub(began) < steadyConn && !sleep(ctx, redialShort) {
				return false
			}
			continue
		case held && (refused(err) || (err == nil && inc != p.Incarnation)):
			if c != nil {
				_ = c.Close()
			}
			return true
		case c != nil:
			_ = c.Close()
		}
		wait := retryDial
		if held && time.Since(dropped) < afterDrop {
			wait = redialDropped
		}
		if !sleep(ctx, wait) {
			return false
		}
	}
	return false
}

// greet dials addr and reads the beacon's greeting; c is open when err is
// nil.
func (w *Watcher) greet(ctx context.Context, addr string) (inc string, c net.Conn, err error) {
	c, err = w.dial(ctx, addr)
	if err != nil {
		return "", nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(greetTimeout))
	line, err := bufio.NewReaderSize(c, 64).ReadString('\n')
	if err != nil {
		_ = c.Close()
		return "", nil, err
	}
	inc, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), greeting)
	if !ok {
		_ = c.Close()
		return "", nil, fmt.Errorf("liveness: %s does not greet as a beacon", addr)
	}
	_ = c.SetReadDeadline(time.Time{})
	return inc, c, nil
}

// hold blocks until c drops or ctx ends, and closes c.
func (w *Watcher) hold(ctx context.Context, c net.Conn) {
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	var b [1]byte
	for {
		if _, err := c.Read(b[:]); err != nil {
			_ = c.Close()
			return
		}
	}
}

func refused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// remove takes the members of dead p out of the groups, as though they
// had left, until none is left or removeFor has passed.
func (w *Watcher) remove(ctx context.Context, p Peer) {
	began := time.Now()
	w.log.Info("peer gone; removing its group members", "peer", p.Addr, "incarnation", p.Incarnation)
	for ctx.Err() == nil && time.Since(began) < removeFor {
		ms, err := w.members(ctx)
		byGroup := map[string][]string{}
		for _, m := range ms {
			if m.peer.Incarnation == p.Incarnation {
				byGroup[m.group] = append(byGroup[m.group], m.id)
			}
		}
		if err == nil && len(byGroup) == 0 {
			return
		}
		// Each group rebalances once its coordinator hears; none waits
		// for another's.
		errs := make([]error, 0, len(byGroup))
		var mu sync.Mutex
		var wg sync.WaitGroup
		for g, ids := range byGroup {
			wg.Go(func() {
				if lerr := w.leave(ctx, g, ids, p); lerr != nil {
					mu.Lock()
					errs = append(errs, lerr)
					mu.Unlock()
					return
				}
				w.log.Info("removed a dead peer's members", "group", g, "members", len(ids), "peer", p.Addr,
					"took", time.Since(began).Round(time.Millisecond))
				if w.o.Removed != nil {
					w.o.Removed(g, len(ids))
				}
			})
		}
		wg.Wait()
		if err = errors.Join(append(errs, err)...); err != nil {
			w.log.Warn("removing a dead peer's members", "peer", p.Addr, "err", err)
		}
		if !sleep(ctx, removeRetry) {
			return
		}
	}
}

// leave sends a LeaveGroup for the members ids of group; a member that is
// already gone is not an error.
func (w *Watcher) leave(ctx context.Context, group string, ids []string, p Peer) error {
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = group
	reason := "titan: the instance at " + p.Addr + " is gone"
	for _, id := range ids {
		m := kmsg.NewLeaveGroupRequestMember()
		m.MemberID = id
		m.Reason = &reason
		req.Members = append(req.Members, m)
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := req.RequestWith(ctx, w.o.Client)
	if err != nil {
		return err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return fmt.Errorf("leave group %s: %w", group, err)
	}
	var errs []error
	for _, m := range resp.Members {
		if err := kerr.ErrorForCode(m.ErrorCode); err != nil && !errors.Is(err, kerr.UnknownMemberID) {
			errs = append(errs, fmt.Errorf("leave group %s, member %s: %w", group, m.MemberID, err))
		}
	}
	return errors.Join(errs...)
}
