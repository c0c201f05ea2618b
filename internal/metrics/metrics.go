// Package metrics defines the proxy's Prometheus metrics on a registry passed in.
// Request outcomes and origin timings are recorded by the proxy as they happen; store
// figures are read from store.Stats at scrape time, so they are never stale or doubled.
package metrics

import (
	"time"

	"github.com/caching-proxy/caching-proxy/internal/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	dto "github.com/prometheus/client_model/go"
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

var outcomes = [...]Outcome{Hit, Miss, Revalidated, Stale, Bypass}

// statusClasses are the values of the origin requests' "code" label, in statusClass's order.
var statusClasses = [...]string{"2xx", "3xx", "4xx", "5xx", "error"}

// Metrics records what the proxy does. Counters are resolved once, by index, so
// recording one is an atomic add, with no label lookup on the request path.
type Metrics struct {
	byOutcome      [len(outcomes)]prometheus.Counter
	byStatus       [len(statusClasses)]prometheus.Counter
	originDuration prometheus.Histogram
	L2Hits         prometheus.Counter
	L2Misses       prometheus.Counter
	L2Errors       prometheus.Counter
	L2Up           prometheus.Gauge
	codings        codingMetrics // coding.go
	L2LeaseExpired prometheus.Counter
	purges         purges
}

// StatsFunc reports the store's figures; it is called at scrape time.
type StatsFunc func() store.Stats

// New registers the proxy's metrics on reg.
func New(reg prometheus.Registerer, stats StatsFunc) *Metrics {
	f := promauto.With(reg)
	requests := f.NewCounterVec(prometheus.CounterOpts{
		Name: "caching_proxy_requests_total",
		Help: "Requests answered, by cache outcome (hit, miss, revalidated, stale, bypass).",
	}, []string{"cache"})
	originRequests := f.NewCounterVec(prometheus.CounterOpts{
		Name: "caching_proxy_origin_requests_total",
		Help: "Requests sent to the origin, by response status class or error.",
	}, []string{"code"})
	m := &Metrics{
		originDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "caching_proxy_origin_request_duration_seconds",
			Help:    "Time from sending a request to the origin until its response headers arrived.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}),
		L2Hits:   f.NewCounter(prometheus.CounterOpts{Name: "caching_proxy_l2_hits_total", Help: "Lookups answered by the shared Redis tier."}),
		L2Misses: f.NewCounter(prometheus.CounterOpts{Name: "caching_proxy_l2_misses_total", Help: "Lookups the shared Redis tier did not have."}),
		L2Errors: f.NewCounter(prometheus.CounterOpts{Name: "caching_proxy_l2_errors_total", Help: "Failed or timed-out calls to the shared Redis tier."}),
		L2Up:     f.NewGauge(prometheus.GaugeOpts{Name: "caching_proxy_l2_up", Help: "1 when the shared Redis tier answers, 0 when it does not or is not configured."}),
		L2LeaseExpired: f.NewCounter(prometheus.CounterOpts{Name: "caching_proxy_l2_lease_expired_total",
			Help: "Fill leases that expired before their fill was written: the origin took longer than the lease, so other replicas may have fetched too."}),
	}
	m.registerCodings(f)
	m.purges = newPurges(f)
	for i, o := range outcomes {
		m.byOutcome[i] = requests.WithLabelValues(string(o)) // present from the first scrape
	}
	for i, c := range statusClasses {
		m.byStatus[i] = originRequests.WithLabelValues(c)
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
func (m *Metrics) Request(o Outcome) { m.byOutcome[outcomeIndex(o)].Inc() }

// outcomeIndex is o's place in outcomes; anything unknown counts as a bypass.
func outcomeIndex(o Outcome) int {
	for i, x := range outcomes {
		if x == o {
			return i
		}
	}
	return outcomeIndex(Bypass)
}

// Origin records one origin exchange: its status (0 for a transport error) and the
// time its response headers took.
func (m *Metrics) Origin(status int, took time.Duration) {
	m.originDuration.Observe(took.Seconds())
	m.byStatus[statusClass(status)].Inc()
}

// statusClass is the index in statusClasses of a status code's class.
func statusClass(status int) int {
	if status >= 200 && status < 600 {
		return status/100 - 2
	}
	return len(statusClasses) - 1 // "error": no response, or a status outside 2xx-5xx
}

// hitRatio is the lifetime share of cacheable requests the cache answered (hit,
// revalidated, stale against those and misses), read from the request counters at
// scrape time. Bypassed requests are left out: they could never have been hits.
func (m *Metrics) hitRatio() float64 {
	count := func(o Outcome) float64 { return counterValue(m.byOutcome[outcomeIndex(o)]) }
	served, missed := count(Hit)+count(Revalidated)+count(Stale), count(Miss)
	if served+missed == 0 {
		return 0
	}
	return served / (served + missed)
}

func counterValue(c prometheus.Counter) float64 {
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		return 0
	}
	return d.GetCounter().GetValue()
}
