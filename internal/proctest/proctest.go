// Package proctest runs `titan run` as child processes for tests that need
// what only a real process gives: a SIGKILL that leaves Pebble state and
// Kafka sessions exactly as a crash would.
package proctest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stopWait bounds how long a killed child takes to be reaped.
const stopWait = 90 * time.Second

// Build builds cmd/titan into a directory the test removes and returns the
// binary's path.
func Build(ctx context.Context, t testing.TB) string {
	t.Helper()
	root, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("proctest: finding the module root: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "titan")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/titan")
	cmd.Dir = strings.TrimSpace(string(root))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("proctest: go build ./cmd/titan: %v\n%s", err, out)
	}
	return bin
}

// Proc is one `titan run` child. Its log file collects the output of every
// start under the same id, so a restart's log follows the killed run's.
type Proc struct {
	ID, Addr, LogPath string
	cmd               *exec.Cmd
	done              chan struct{} // closed once the process has exited
}

// dumped keeps a log shared by several starts from being printed twice.
var dumped sync.Map

// Spawn starts `bin run args... --http-addr <free port>` with its output
// appended to logDir/<id>.log. The child is killed when the test ends (its
// log printed if the test failed), and when the test binary dies.
func Spawn(t testing.TB, bin, id, logDir string, args ...string) *Proc {
	t.Helper()
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	p := &Proc{ID: id, Addr: addr, LogPath: filepath.Join(logDir, id+".log"), done: make(chan struct{})}
	logf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(logf, "=== %s: start %s on %s\n", time.Now().Format(time.RFC3339Nano), id, addr)
	p.cmd = exec.Command(bin, append(append([]string{"run"}, args...), "--http-addr", addr)...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("proctest: starting %s: %v", id, err)
	}
	go func() {
		_ = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Kill()
		if _, done := dumped.LoadOrStore(p.LogPath, true); t.Failed() && !done {
			p.DumpLog(t)
		}
	})
	return p
}

// handedOut holds the addresses freeAddr has given: the kernel may give a
// port it has just closed again, and of two children told one address,
// one dies at start.
var handedOut sync.Map

// freeAddr is a loopback address nothing listened on when it was picked,
// and that no child of this test binary has been given before.
func freeAddr() (string, error) {
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := ln.Addr().String()
		ln.Close()
		if _, given := handedOut.LoadOrStore(addr, true); !given {
			return addr, nil
		}
	}
	return "", errors.New("proctest: every free address picked was given before")
}

// Kill sends SIGKILL and waits for the exit; a process already gone is
// left alone.
func (p *Proc) Kill() {
	if p.Exited() {
		return
	}
	_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
	timer := time.NewTimer(stopWait)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
	}
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) error { return syscall.Kill(p.cmd.Process.Pid, sig) }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// State describes how the process exited, empty while it runs.
func (p *Proc) State() string {
	if !p.Exited() {
		return ""
	}
	return p.cmd.ProcessState.String()
}

// DumpLog prints the last lines of the process's log.
func (p *Proc) DumpLog(t testing.TB) {
	f, err := os.Open(p.LogPath)
	if err != nil {
		t.Logf("%s: %v", p.ID, err)
		return
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	const keep = 150
	if len(lines) > keep {
		lines = append([]string{fmt.Sprintf("... %d lines before", len(lines)-keep)}, lines[len(lines)-keep:]...)
	}
	t.Logf("log of %s (%s):\n%s", p.ID, p.LogPath, strings.Join(lines, "\n"))
}

// WaitReady waits until the process answers /readyz with 200.
func (p *Proc) WaitReady(ctx context.Context) error {
	cl := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		if p.Exited() {
			return fmt.Errorf("%s exited: %s", p.ID, p.cmd.ProcessState)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.Addr+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := cl.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last: %s)", p.ID, ctx.Err(), last)
		case <-tick.C:
		}
	}
}
