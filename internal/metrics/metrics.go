// Package metrics is the Prometheus side of Titan's hooks: it implements
// observe.Hooks for the processors and collects consumer lag from goka at
// scrape time. Everything registers with the Registerer it is given.
package metrics

import (
	"context"
	"strconv"
	"time"

	"github.com/lovoo/goka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/titan-commerce/titan/state"
)

// Processing counts and times every record the processors handle.
type Processing struct {
	processed *prometheus.CounterVec
	failed    *prometheus.CounterVec
	latency   *prometheus.HistogramVec
}

// NewProcessing registers the processing metrics with reg.
func NewProcessing(reg prometheus.Registerer) (*Processing, error) {
	p := &Processing{
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "titan", Subsystem: "processor", Name: "messages_processed_total",
			Help: "Records handled by a topology, per partition, failed ones included.",
		}, []string{"topology", "partition"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "titan", Subsystem: "processor", Name: "messages_failed_total",
			Help: "Records a topology dead-lettered or failed on, per partition and reason.",
		}, []string{"topology", "partition", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "titan", Subsystem: "processor", Name: "message_duration_seconds",
			Help:    "Time spent in a topology's callback per record.",
			Buckets: prometheus.ExponentialBuckets(0.00001, 3, 12),
		}, []string{"topology"}),
	}
	for _, c := range []prometheus.Collector{p.processed, p.failed, p.latency} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// OnProcessed implements observe.Hooks.
func (p *Processing) OnProcessed(topology string, partition int32, took time.Duration, reason string) {
	part := strconv.Itoa(int(partition))
	p.processed.WithLabelValues(topology, part).Inc()
	if reason != "" {
		p.failed.WithLabelValues(topology, part, reason).Inc()
	}
	p.latency.WithLabelValues(topology).Observe(took.Seconds())
}

// Lag reports, per topology and partition this instance owns, how many
// input records are waiting: goka's offset lag of each input stream.
type Lag struct {
	processors func() map[string]*goka.Processor
	desc       *prometheus.Desc
}

// NewLag registers a lag collector over the processors procs returns.
func NewLag(reg prometheus.Registerer, procs func() map[string]*goka.Processor) (*Lag, error) {
	l := &Lag{
		processors: procs,
		desc: prometheus.NewDesc("titan_processor_consumer_lag",
			"Records in an input partition not yet processed by its owner on this instance.",
			[]string{"topology", "topic", "partition"}, nil),
	}
	return l, reg.Register(l)
}

func (l *Lag) Describe(ch chan<- *prometheus.Desc) { ch <- l.desc }

func (l *Lag) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for name, p := range l.processors() {
		stats := p.StatsWithContext(ctx)
		if stats == nil {
			continue
		}
		for part, ps := range stats.Group {
			for topic, in := range ps.Input {
				ch <- prometheus.MustNewConstMetric(l.desc, prometheus.GaugeValue, float64(in.OffsetLag),
					name, topic, strconv.Itoa(int(part)))
			}
		}
	}
}

// RegisterStateCaches exports, at scrape time, the block cache of each
// state builder in stores (keyed by the name its metrics carry as "store").
func RegisterStateCaches(reg prometheus.Registerer, stores map[string]*state.Builder) error {
	figures := []struct {
		name, help string
		counter    bool
		of         func(state.CacheStats) int64
	}{
		{"block_cache_hits_total", "Block reads served from the store's shared Pebble block cache.", true,
			func(s state.CacheStats) int64 { return s.Hits }},
		{"block_cache_misses_total", "Block reads the store's Pebble block cache did not hold, read from the files.", true,
			func(s state.CacheStats) int64 { return s.Misses }},
		{"block_cache_bytes", "Bytes of blocks the store's Pebble block cache holds.", false,
			func(s state.CacheStats) int64 { return s.Bytes }},
		{"block_cache_capacity_bytes", "Size of the store's Pebble block cache, which its partitions' memtables are reserved from.", false,
			func(s state.CacheStats) int64 { return s.Capacity }},
	}
	for name, b := range stores {
		for _, f := range figures {
			read := func() float64 { return float64(f.of(b.CacheStats())) }
			opts := prometheus.Opts{Namespace: "titan", Subsystem: "state", Name: f.name, Help: f.help,
				ConstLabels: prometheus.Labels{"store": name}}
			var c prometheus.Collector = prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts), read)
			if f.counter {
				c = prometheus.NewCounterFunc(prometheus.CounterOpts(opts), read)
			}
			if err := reg.Register(c); err != nil {
				return err
			}
		}
	}
	return nil
}
