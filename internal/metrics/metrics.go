// Package metrics defines the proxy's Prometheus metrics on a registry passed in.
// Request outcomes and origin timings are recorded by the proxy as they happen; store
// figures are read from store.Stats at scrape time, so they are never stale or doubled.
package metrics

import (
	"sync/atomic"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Outcome is how the cache answered one request; each is a value of the "cache" label.
type Outcome string

const (
	Hit         Outcome = "hit"         // served from the cache without contacting the origin
	Miss        Outcome = "miss"        // fetched from the origin (and maybe stored)
	Revalidated Outcome = "revalidated" // stored response confirmed by a 304 and served
	Stale       Outcome = "stale"       // stored response served past its freshness
	Bypass      Outcome = "bypass"      // not cacheable: forwarded as is
)

var outcomes = []Outcome{Hit, Miss, Revalidated, Stale, Bypass}

// Metrics records what the proxy does.
type Metrics struct {
	requests       *prometheus.CounterVec
	byOutcome      map[Outcome]prometheus.Counter
	originRequests *prometheus.CounterVec
	originDuration prometheus.Histogram
	L2Hits         prometheus.Counter
	L2Misses       prometheus.Counter
	L2Errors       prometheus.Counter
	L2Up           prometheus.Gauge
	served, missed atomic.Uint64 // for the hit ratio
}

// StatsFunc reports the store's figures; it is called at scrape time.
type StatsFunc func() store.Stats

// New registers the proxy's metrics on reg.
func New(reg prometheus.Registerer, stats StatsFunc) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "caching_proxy_requests_total",
			Help: "Requests answered, by cache outcome (hit, miss, revalidated, stale, bypass).",
		}, []string{"cache"}),
		originRequests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "caching_proxy_origin_requests_total",
			Help: "Requests sent to the origin, by response status class or error.",
		}, []string{"code"}),
		originDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "caching_proxy_origin_request_duration_seconds",
			Help:    "Time from sending a request to the origin until its response headers arrived.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}),
		L2Hits:   f.NewCounter(prometheus.CounterOpts{Name: "caching_proxy_l2_hits_total", Help: "Lookups answered by the shared Redis tier."}),
		L2Misses: f.NewCounter(prometheus.CounterOpts{Name: "caching_proxy_l2_misses_total", Help: "Lookups the shared Redis tier did not have."}),
		L2Errors: f.NewCounter(prometheus.CounterOpts{Name: "caching_proxy_l2_errors_total", Help: "Failed or timed-out calls to the shared Redis tier."}),
		L2Up:     f.NewGauge(prometheus.GaugeOpts{Name: "caching_proxy_l2_up", Help: "1 when the shared Redis tier answers, 0 when it does not or is not configured."}),
	}
	m.byOutcome = make(map[Outcome]prometheus.Counter, len(outcomes))
	for _, o := range outcomes {
		m.byOutcome[o] = m.requests.WithLabelValues(string(o)) // present from the first scrape
	}
	for _, c := range []string{"2xx", "3xx", "4xx", "5xx", "error"} {
		m.originRequests.WithLabelValues(c)
	}
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "caching_proxy_hit_ratio",
		Help: "Share of cacheable requests answered from the cache (hit, revalidated, stale) since start; see docs/metrics.md for the rate-based form.",
	}, m.hitRatio)
	gauge := func(name, help string, v func(store.Stats) int64) {
		f.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return float64(v(stats())) })
	}
	gauge("caching_proxy_cache_entries", "Responses held in the in-memory store.", func(s store.Stats) int64 { return s.Entries })
	gauge("caching_proxy_cache_bytes", "Bytes held in the in-memory store, headers and bodies.", func(s store.Stats) int64 { return s.Bytes })
	gauge("caching_proxy_cache_max_bytes", "The in-memory store's byte budget (--cache-size).", func(s store.Stats) int64 { return s.MaxBytes })
	counter := func(name, help string, v func(store.Stats) int64) {
		f.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v(stats())) })
	}
	counter("caching_proxy_cache_evictions_total", "Stored responses evicted for room or expired.", func(s store.Stats) int64 { return s.Evicted })
	counter("caching_proxy_cache_rejected_total", "Responses the store's admission policy declined to keep.", func(s store.Stats) int64 { return s.Rejected })
	return m
}

// Request counts one answered request.
func (m *Metrics) Request(o Outcome) {
	m.byOutcome[o].Inc()
	switch o {
	case Hit, Revalidated, Stale:
		m.served.Add(1)
	case Miss:
		m.missed.Add(1)
	}
}

// Origin records one origin exchange: its status (0 for a transport error) and the
// time its response headers took.
func (m *Metrics) Origin(status int, took time.Duration) {
	m.originDuration.Observe(took.Seconds())
	m.originRequests.WithLabelValues(statusClass(status)).Inc()
}

func statusClass(status int) string {
	switch {
	case status >= 200 && status < 300:
		return "2xx"
	case status >= 300 && status < 400:
		return "3xx"
	case status >= 400 && status < 500:
		return "4xx"
	case status >= 500 && status < 600:
		return "5xx"
	}
	return "error"
}

// hitRatio is the lifetime share of cacheable requests the cache answered. Bypassed
// requests are left out: they could never have been hits.
func (m *Metrics) hitRatio() float64 {
	served, missed := m.served.Load(), m.missed.Load()
	if served+missed == 0 {
		return 0
	}
	return float64(served) / float64(served+missed)
}
