package api

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// unmatched and options count the requests no route answers.
	unmatched, options *routeSeries
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "titan", Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "titan", Subsystem: "http", Name: "request_duration_seconds",
			Help:    "HTTP request latency by route, including the wait for a command's result.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 14),
		}, []string{"route"}),
		unmatched: &routeSeries{name: "unmatched"},
		options:   &routeSeries{name: "options"},
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// routeSeries holds one route's series once its first request has made
// them, so that a request does not hash its labels into the vectors again;
// /metrics still lists only the routes and codes that were answered.
type routeSeries struct {
	name    string
	once    sync.Once
	latency prometheus.Observer
	// codes is copied on write: requests read it without a lock.
	codes atomic.Pointer[[]codeCounter]
	mu    sync.Mutex // serialises writers of codes
}

type codeCounter struct {
	code int
	c    prometheus.Counter
}

func (m *httpMetrics) observe(rs *routeSeries, code int, took time.Duration) {
	rs.once.Do(func() { rs.latency = m.latency.WithLabelValues(rs.name) })
	rs.counter(m, code).Inc()
	rs.latency.Observe(took.Seconds())
}

func (rs *routeSeries) counter(m *httpMetrics, code int) prometheus.Counter {
	if cs := rs.codes.Load(); cs != nil {
		for _, c := range *cs {
			if c.code == code {
				return c.c
			}
		}
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var next []codeCounter
	if cs := rs.codes.Load(); cs != nil {
		for _, c := range *cs {
			if c.code == code {
				return c.c
			}
		}
		next = append(next, *cs...)
	}
	c := m.requests.WithLabelValues(rs.name, strconv.Itoa(code))
	next = append(next, codeCounter{code: code, c: c})
	rs.codes.Store(&next)
	return c
}
