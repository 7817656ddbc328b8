//go:build !unix

package bench

import "time"

// processCPU is not measured here; the cpu metrics then read 0.
func processCPU() time.Duration { return 0 }

// maxRSS is not measured here; the memory metric then reads 0.
func maxRSS() int64 { return 0 }

// brokerCPU is not measured here; the broker cpu metrics are then left out.
func brokerCPU() (time.Duration, bool) { return 0, false }
