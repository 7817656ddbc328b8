package bench

import (
	"testing"
	"time"
)

// cpuClock adds up the CPU spent while it runs: this process's, and the
// broker's where TITAN_KAFKA_PID names it (make bench sets it). On a
// machine the two share, a record costs the sum: a change that moves work
// into the broker, such as more or smaller records or requests, shows only
// in the second.
type cpuClock struct {
	proc, broker time.Duration
	// brokerLost is set once the broker's CPU could not be read at the
	// start or the end of a run: a partial sum would understate it.
	brokerLost bool

	proc0, broker0 time.Duration
	broker0OK      bool
}

func (c *cpuClock) start() {
	c.proc0 = processCPU()
	c.broker0, c.broker0OK = brokerCPU()
}

func (c *cpuClock) stop() {
	c.proc += processCPU() - c.proc0
	b, ok := brokerCPU()
	if !ok || !c.broker0OK {
		c.brokerLost = true
		return
	}
	c.broker += b - c.broker0
}

// report gives the CPU per unit of work: cpu-us/<per>, and
// broker-cpu-us/<per> when the broker's was read throughout.
func (c *cpuClock) report(b *testing.B, n float64, per string) {
	b.Helper()
	b.ReportMetric(float64(c.proc.Microseconds())/n, "cpu-us/"+per)
	if !c.brokerLost {
		b.ReportMetric(float64(c.broker.Microseconds())/n, "broker-cpu-us/"+per)
	}
}
