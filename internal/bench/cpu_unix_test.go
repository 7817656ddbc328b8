//go:build unix

package bench

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used so far, user and
// system. Divided by the work done, it is a cost that other tenants of a
// shared machine do not inflate the way they inflate wall-clock rates.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// maxRSS is the most memory this process has held resident, in bytes.
func maxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss)
	}
	// Linux and the BSDs count kilobytes.
	return int64(ru.Maxrss) << 10
}

// brokerCPU is the CPU time the broker named by TITAN_KAFKA_PID has used so
// far, user and system, from /proc (Linux counts it in ticks of 10 ms), and
// whether it could be read. A record's cost on a machine the broker shares
// is both processes' work: a change that moves work into the broker (more,
// smaller records or requests) shows here and not in processCPU.
func brokerCPU() (time.Duration, bool) {
	pid := os.Getenv("TITAN_KAFKA_PID")
	if pid == "" {
		return 0, false
	}
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name, in parentheses, may hold spaces; the fields after
	// it start with the state, field 3 of proc(5), so utime and stime
	// (fields 14 and 15) are the 12th and 13th.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	const tick = 10 * time.Millisecond // USER_HZ is 100 on every Linux port Go supports
	return time.Duration(utime+stime) * tick, true
}
