//go:build unix

package bench

import (
	"runtime"
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
