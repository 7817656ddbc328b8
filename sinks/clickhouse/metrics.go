package clickhouse

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the sink's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	rows        *prometheus.CounterVec
	skippedRows *prometheus.CounterVec
	batchSize   prometheus.Histogram
	batchTime   prometheus.Histogram
	lagRecords  *prometheus.GaugeVec
	retries     prometheus.Counter
	deadLetters *prometheus.CounterVec
	held        prometheus.Gauge
}

// NewMetrics registers the sink's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "titan_sink_rows_written_total", Help: "Rows the sink wrote to ClickHouse, by table.",
		}, []string{"table"}),
		skippedRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "titan_sink_rows_skipped_total",
			Help: "Rows read again after a restart, a rebalance or a failed write, that ClickHouse already held, by table.",
		}, []string{"table"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "titan_sink_batch_records", Help: "Records per batch written.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		batchTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "titan_sink_batch_seconds", Help: "Time to write a batch, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		lagRecords: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "titan_sink_consumer_lag_records", Help: "Records of a partition the sink has not read yet, as of its last fetch.",
		}, []string{"topic", "partition"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "titan_sink_retries_total", Help: "Attempts to write a batch that failed and were retried.",
		}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "titan_sink_dead_letters_total", Help: "Records the sink could not convert, set aside on its dead-letter topic, by reason.",
		}, []string{"reason"}),
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "titan_sink_buffered_records", Help: "Records read and not yet written.",
		}),
	}
	reg.MustRegister(m.rows, m.skippedRows, m.batchSize, m.batchTime, m.lagRecords, m.retries, m.deadLetters, m.held)
	return m
}

func (m *Metrics) written(table string, n int) {
	if m != nil {
		m.rows.WithLabelValues(table).Add(float64(n))
	}
}

func (m *Metrics) skipped(table string, n int) {
	if m != nil {
		m.skippedRows.WithLabelValues(table).Add(float64(n))
	}
}

func (m *Metrics) flushed(records int, took time.Duration) {
	if m != nil {
		m.batchSize.Observe(float64(records))
		m.batchTime.Observe(took.Seconds())
	}
}

func (m *Metrics) lag(topic string, partition int32, n int64) {
	if m != nil {
		m.lagRecords.WithLabelValues(topic, strconv.Itoa(int(partition))).Set(float64(max(n, 0)))
	}
}

func (m *Metrics) forget(topic string, partition int32) {
	if m != nil {
		m.lagRecords.DeleteLabelValues(topic, strconv.Itoa(int(partition)))
	}
}

func (m *Metrics) retry() {
	if m != nil {
		m.retries.Inc()
	}
}

func (m *Metrics) deadLetter(reason string) {
	if m != nil {
		m.deadLetters.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) buffered(n int) {
	if m != nil {
		m.held.Set(float64(n))
	}
}
