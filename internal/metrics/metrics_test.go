package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/caching-proxy/caching-proxy/internal/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsPassLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg, func() store.Stats { return store.Stats{} })
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestCountsAndRatio(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, func() store.Stats {
		return store.Stats{Entries: 2, Bytes: 300, MaxBytes: 1000, Evicted: 4, Rejected: 1}
	})
	for _, o := range []Outcome{Hit, Hit, Stale, Miss, Bypass, Revalidated} {
		m.Request(o)
	}
	for _, status := range []int{200, 0, 101, 304, 404, 503, 599, 600} {
		m.Origin(status, 10*time.Millisecond)
	}
	want := `
# HELP caching_proxy_hit_ratio Share of cacheable requests answered from the cache (hit, revalidated, stale) since start; see docs/metrics.md for the rate-based form.
# TYPE caching_proxy_hit_ratio gauge
caching_proxy_hit_ratio 0.8
# HELP caching_proxy_requests_total Requests answered, by cache outcome (hit, miss, revalidated, stale, bypass).
# TYPE caching_proxy_requests_total counter
caching_proxy_requests_total{cache="bypass"} 1
caching_proxy_requests_total{cache="hit"} 2
caching_proxy_requests_total{cache="miss"} 1
caching_proxy_requests_total{cache="revalidated"} 1
caching_proxy_requests_total{cache="stale"} 1
# HELP caching_proxy_cache_bytes Bytes held in the in-memory store, headers and bodies.
# TYPE caching_proxy_cache_bytes gauge
caching_proxy_cache_bytes 300
# HELP caching_proxy_cache_evictions_total Stored responses evicted for room or expired.
# TYPE caching_proxy_cache_evictions_total counter
caching_proxy_cache_evictions_total 4
# HELP caching_proxy_origin_requests_total Requests sent to the origin, by response status class or error.
# TYPE caching_proxy_origin_requests_total counter
caching_proxy_origin_requests_total{code="2xx"} 1
caching_proxy_origin_requests_total{code="3xx"} 1
caching_proxy_origin_requests_total{code="4xx"} 1
caching_proxy_origin_requests_total{code="5xx"} 2
caching_proxy_origin_requests_total{code="error"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"caching_proxy_hit_ratio", "caching_proxy_requests_total", "caching_proxy_cache_bytes",
		"caching_proxy_cache_evictions_total", "caching_proxy_origin_requests_total"); err != nil {
		t.Error(err)
	}
}
